"""Why no channel is left on the panel when every channel has spend: the media's geos share
none with the outcome's (audits R25 F1, R31 F4).

The usual cause is an ad account ingested without ``--country``: its rows keep the platform's
spelling (``CA``, or Meta's region name), while the orders ingested with ``--country US`` are
``US-CA``. The panel keeps the outcome's geos only, so every channel's spend falls outside it
and "no channel has spend" named neither side nor the fix.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["no_channel_message"]

_SHOWN = 5


def _some(geos: Sequence[str]) -> str:
    named = [g or '""' for g in geos[:_SHOWN]]
    more = f" and {len(geos) - _SHOWN:,} more" if len(geos) > _SHOWN else ""
    return ", ".join(named) + more


def _country_of(outcome_geos: Sequence[str]) -> str:
    """The country every outcome geo is a subdivision of ("US" for US-CA, US-NY), else ""."""
    countries = {g.split("-", 1)[0] for g in outcome_geos if "-" in g}
    if len(countries) == 1 and all("-" in g for g in outcome_geos if g):
        return next(iter(countries))
    return ""


def spelling_twins(geos: Sequence[str], others: Sequence[str]) -> list[str]:
    """For each geo of ``geos`` not in ``others`` that is one of them in another Unicode form or
    letter case, the two as repr ("'BR-Sa\\u0303o Paulo' (media) vs 'BR-S\\xe3o Paulo'"): they
    print alike, so a message naming both must show how they differ (R30 F6)."""
    key = {unicodedata.normalize("NFC", g).casefold(): g for g in others}
    out = []
    for g in sorted(set(geos) - set(others)):
        twin = key.get(unicodedata.normalize("NFC", g).casefold())
        if twin is not None:
            out.append(f"{g!a} vs the outcome's {twin!a}")
    return out


def no_channel_message(media_geos: Sequence[str], outcome_geos: Sequence[str]) -> str:
    """The refusal when no channel has spend or impressions on the panel's geos.

    ``media_geos``: the geos where the window's media has spend or impressions (sorted);
    ``outcome_geos``: the panel's geos. When the two share none, both are named with the fix.
    """
    base = "no channel has spend or impressions in the window"
    media = sorted(set(media_geos))
    if not media or set(media) & set(outcome_geos):
        return base
    country = _country_of(outcome_geos)
    bare = all("-" not in g for g in media)
    twins = spelling_twins(media, outcome_geos)
    if twins:
        fix = (
            f"they differ only in Unicode form or letter case ({'; '.join(twins[:5])}): "
            "re-ingest the media files (ingestion now stores Unicode forms alike, and a "
            "region name its country's calendar knows in that spelling), or spell them as the "
            "outcome's"
        )
    elif country and bare:
        fix = (
            f"the ad rows look ingested without a country: re-ingest the ad files with "
            f"--country {country} (liftos ingest), which stores their geos as "
            f"{country}-<code>, the outcome's spelling"
        )
    else:
        fix = (
            "give the ads and the outcome the same geo codes: ingest both with the same "
            "--country, or map the platform's geo keys to the outcome's (accounts.json "
            "geo_keys)"
        )
    return (
        f"{base}'s outcome geos: the media's geos ({_some(media)}) share none with the "
        f"outcome's ({_some(sorted(outcome_geos))}), so every channel's spend is outside the "
        f"panel; {fix}"
    )
