"""The geo spellings a stored record of a place may carry, for the geo filter of a late
series' history scan.

A record keeps the geo it was stored with, and ingestion has spelt one place several ways: with
and without the account's country ("US-CA", "CA": an account first ingested without
--country), as the platform wrote its region name ("California": no country and no geo_keys
then), in the case and Unicode form the export used (“BR-BAHIA”, or NFD, before names were
normalised), or as the platform's key the account's geo_keys map. A re-send must find such a
record to restate it (R31 F4, V1 review F2), but memory matches geos exactly, and a scan with no
geo filter reads every geo of the campaign: ~13× the memory time per late row at 51 geos
(s18 R35 F1). So the scan asks for every spelling of the row's geo these rules give, and for
every geo the stream has loaded that is the same place once country, case and Unicode form are
set aside (``StreamHistory.geo_spellings``: a spelling seen in the account's recent days).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from ingestion_svc.connectors.regions import names_of, subdivision_names, subdivisions
from ingestion_svc.raw_batch import Account

__all__ = ["MAX_SCAN_GEOS", "stored_spellings"]

# memory's limit on a Scan's geo filter
MAX_SCAN_GEOS = 10_000


def _forms(text: str) -> set[str]:
    """``text`` in the cases and Unicode forms an export may have written it."""
    out: set[str] = set()
    for cased in (text, text.upper(), text.lower(), text.title()):
        out.update((cased, *(unicodedata.normalize(f, cased) for f in ("NFC", "NFD"))))
    return out


def _place(geo: str, prefix: str) -> str:
    """A geo as a place, whatever its spelling: without the account's country prefix, in one
    Unicode form, case folded."""
    bare = geo[len(prefix) :] if prefix and geo.upper().startswith(prefix) else geo
    return unicodedata.normalize("NFC", bare).casefold()


def _names(bare: str, account: Account) -> set[str]:
    """The names and platform keys that ingestion turns, or turned, into the code ``bare``:
    the country's subdivision names ("CALIFORNIA" for "CA"), the holidays list's names of it
    ("Bayern" for "BY": stored as written before names were mapped to codes, s18 R34 F4),
    the account's geo_keys that map to it. ``bare`` a name the list knows: its code too."""
    out = {k for k, code in account.geo_keys.items() if code == bare}
    if not account.country:
        return out
    known = subdivisions(account.country)
    if known is not None:
        out.update(name for name, code in known.items() if code == bare)
    named = subdivision_names(account.country).get(unicodedata.normalize("NFC", bare).casefold())
    out.update(names_of(account.country, bare))
    if named:
        out.update((named, *names_of(account.country, named)))
    return out


def stored_spellings(
    geos: Iterable[str], account: Account, seen: Iterable[str] = ()
) -> list[str] | None:
    """Every geo a stored record of these geos' places may carry (sorted), ``seen`` (geos
    the stream has loaded) included where they are the same place; None where that is more
    than a Scan may ask for (scan every geo)."""
    prefix = f"{account.country}-" if account.country else ""
    out: set[str] = set()
    places: set[str] = set()
    for geo in geos:
        bare = geo[len(prefix) :] if prefix and geo.upper().startswith(prefix) else geo
        bases = {geo, bare, *_names(bare, account)}
        if not prefix and "-" in geo:  # a prefixed geo stored by an account without country
            bases.add(geo.split("-", 1)[1])
        for base in bases:
            places.add(_place(base, prefix))
            for form in _forms(base):
                out.add(form)
                if prefix and not form.upper().startswith(prefix):
                    out.add(prefix + form)
    out.update(g for g in seen if g and _place(g, prefix) in places)
    return sorted(out) if len(out) <= MAX_SCAN_GEOS else None
