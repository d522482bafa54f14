"""A country's region names (the holidays package's), and which stored geos a region spelt
another way stands for.

Ingestion stores a region as one ISO 3166-2 geo whatever the file wrote: "CA", "ca",
"California" and "US-CA" of a US account are all "US-CA" (ingestion_svc.connectors.regions,
which reads its names from here). A reader of the stored records (memory's filters) is given
the place as its user spells it; :func:`geos_of_place` finds the stored geos it is, by the
same rules, without knowing the account's country: the country is the stored geo's.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

import holidays

__all__ = [
    "SUBDIVISION_CODE",
    "country_calendar",
    "country_of",
    "geos_of_place",
    "names_of_geo",
    "place_of",
    "subdivision_names",
]

# An ISO 3166-2 subdivision code after its country's prefix.
SUBDIVISION_CODE = re.compile(r"[A-Z0-9]{1,3}", re.ASCII)


def country_calendar(country: str) -> holidays.HolidayBase | None:
    """The holidays package's calendar of ``country``; None where it has none."""
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:
        return None


@functools.cache
def subdivision_names(country: str) -> Mapping[str, str]:
    """The region names the holidays package knows for a country, case-folded → their ISO
    3166-2 code ("são paulo" → "SP"); empty where it knows none. Names only: a code is kept
    as written, and an alias that is no ISO code (France's "Zone A") is left out."""
    calendar = country_calendar(country)
    if calendar is None:
        return {}
    out: dict[str, str] = {}
    for name, code in getattr(calendar, "subdivisions_aliases", {}).items():
        if SUBDIVISION_CODE.fullmatch(code) and not SUBDIVISION_CODE.fullmatch(name):  # "GP"
            out.setdefault(unicodedata.normalize("NFC", name).casefold(), code)
    return out


def _split(geo: str) -> tuple[str, str]:
    """(country upper-cased or "", the region) of a geo: "US-CA" → ("US", "CA"); a geo
    without a two-letter country before its first hyphen ("CA", "Baden-Württemberg") →
    ("", geo). NFC: an export in NFD is the same text."""
    text = unicodedata.normalize("NFC", geo.strip())
    country, sep, rest = text.partition("-")
    if sep and rest and len(country) == 2 and country.isascii() and country.isalpha():
        return country.upper(), rest
    return "", text


def country_of(geo: str) -> str:
    """The country a geo carries ("US" of "us-ca"); "" where it carries none."""
    return _split(geo)[0]


def names_of_geo(geo: str) -> list[str]:
    """The names the stored geo's country has for its region ("California" for "US-CA"),
    case-folded; none for a geo without a country."""
    country, region = _split(geo)
    if not country:
        return []
    code = region.casefold()
    return [name for name, c in subdivision_names(country).items() if c.casefold() == code]


def _code(region: str, country: str) -> str:
    """The region as its code where ``country``'s names know it ("California" → "CA"),
    case-folded."""
    folded = region.casefold()
    return subdivision_names(country).get(folded, region).casefold() if country else folded


def place_of(geo: str) -> tuple[str, str]:
    """The place a stored geo is: its country and its region's code, case-folded ("US-CA",
    "us-California" → ("US", "ca")); a geo without a country is a place of its own, its
    text case-folded ("CA" → ("", "ca")): it may be Canada or a country-less California,
    so it is never another country's region."""
    country, region = _split(geo)
    return country, _code(region, country)


def geos_of_place(value: str, geos: Iterable[str]) -> list[str]:
    """Those of ``geos`` (stored geos) that are the place ``value`` names, spelt as ingestion
    would have stored it. The geos spelt as ``value``, case, Unicode form and surrounding
    spaces aside, where any is, alone ("ca" of an org with "CA" and "US-CA" → its "CA");
    otherwise the geos that are the value's region with or without the country ("us-ca" →
    "US-CA"), or by its name in the stored geo's country ("California" → "US-CA", "Bayern" →
    "DE-BY"); a value with a country also matches a stored geo without one by that
    country's names. Sorted; empty where none is. Several of them may be several places (:func:`place_of`): the caller
    decides."""
    folded = _folded(value)
    same = [geo for geo in geos if _folded(geo) == folded]
    if same:
        return sorted(same)
    country, region = _split(value)
    out = []
    for geo in geos:
        stored_country, stored_region = _split(geo)
        if country and stored_country and country != stored_country:
            continue
        # the stored geo's country names the region where the value gives none
        named_in = country or stored_country
        if _code(region, named_in) == _code(stored_region, named_in) and region:
            out.append(geo)
    return sorted(out)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip()).casefold()
