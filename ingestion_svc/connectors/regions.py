"""A merchant's or platform's region as one ISO 3166-2 geo: "Bayern", "BY" and "DE-BY" are
DE-BY, "California" and "ca" are US-CA, "são paulo" is BR-SP.

The names are the holidays package's (``subdivisions_aliases``: each country's own spellings,
"Bayern", "Nordrhein-Westfalen", "São Paulo"); its abbreviations of three capitals or fewer
("B" for Burgenland, "GP" for Guadeloupe) are not names and are not read as such. Where its
list of a country's first-level subdivisions is whole (:data:`COMPLETE`), a region outside it
is refused naming the codes, rather than stored as a geo no other source spells alike
(Meta's English "Bavaria" beside the orders' "Bayern": s18 R34 F4); elsewhere any other text
is kept as written. A region is taken to carry its country only in the ISO shape ``XX-YYY``:
"Baden-Württemberg" and "Île-de-France" are names with a hyphen, and get the prefix.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

import numpy as np

from ingestion_svc.rejection_list import quoted
from mesh.runtime.region_names import SUBDIVISION_CODE as _CODE
from mesh.runtime.region_names import country_calendar as _calendar
from mesh.runtime.region_names import subdivision_names

__all__ = [
    "COMPLETE",
    "known_subdivisions",
    "named_subdivisions",
    "names_of",
    "nfc",
    "record_geos",
    "same_place",
    "subdivision_names",
    "subdivisions",
    "unknown_subdivision",
]

# Countries whose first-level ISO 3166-2 subdivisions the holidays package lists whole (its
# lists elsewhere hold only the regions with holidays of their own: GB's 4 nations, not its
# counties), so that a code outside them is known not to be one. Germany's 16 Länder are all
# there (with the city of Augsburg, which is no ISO code and is left out).
COMPLETE = ("US", "CA", "DE")
# A region that carries its country already ("DE-BY", "CA-ON"); its subdivision codes are
# mesh.runtime.region_names's, as are the names (memory's filters read regions by them too).
_PREFIXED = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}", re.ASCII | re.IGNORECASE)


@functools.cache
def subdivisions(country: str) -> Mapping[str, str] | None:
    """The country's first-level subdivisions, code and name (upper case) → code ("NEW
    YORK" → "NY", "BAYERN" → "BY"); None where no complete list is known (any code goes)."""
    if country not in COMPLETE or (calendar := _calendar(country)) is None:
        return None
    out = {code.upper(): code for code in calendar.subdivisions if _CODE.fullmatch(code)}
    codes = set(out.values())
    for name, code in getattr(calendar, "subdivisions_aliases", {}).items():
        if code in codes:
            out[unicodedata.normalize("NFC", name).upper()] = code
    return out


@functools.cache
def _names_by_code(country: str) -> Mapping[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {}
    calendar = _calendar(country)
    for name, code in getattr(calendar, "subdivisions_aliases", {}).items():
        if _CODE.fullmatch(code) and not _CODE.fullmatch(name):
            names.setdefault(code, []).append(unicodedata.normalize("NFC", name))
    return {code: tuple(spelt) for code, spelt in names.items()}


def names_of(country: str, code: str) -> tuple[str, ...]:
    """The names the holidays package spells the region ``code`` of ``country`` with ("BW" →
    "Baden-Württemberg"): what a record of it stored before names were mapped may carry."""
    return _names_by_code(country).get(code.upper(), ())


def nfc(values: np.ndarray) -> np.ndarray:
    """Text in Unicode NFC. A region typed as "a" + a combining tilde (macOS and some
    exports write NFD) renders as the precomposed "ã" of another file but compares as other
    text, so its media never met its orders (R30 F6). ASCII text is NFC already."""
    return np.array(
        [
            unicodedata.normalize("NFC", v) if type(v) is str and not v.isascii() else v
            for v in values.tolist()
        ],
        dtype=object,
    )


def named_subdivisions(code: np.ndarray, country: str) -> np.ndarray:
    """``code`` with each region name the country's holidays list knows as its code, whatever
    its case ("SÃO PAULO", "são paulo" → "SP"): an export that upper-cases names, or writes
    names where the orders write codes, is the same region. Other text unchanged."""
    names = subdivision_names(country)
    if not names:
        return code
    return np.array([names.get(c.casefold(), c) if c else c for c in code.tolist()], dtype=object)


def known_subdivisions(code: np.ndarray, country: str) -> tuple[np.ndarray, np.ndarray]:
    """(``code`` with each subdivision of ``country`` as its ISO 3166-2 code — "California",
    "ca", "US-CA" → "CA" —, the regions the country does not have). Where the country's list
    is not complete, only the names it knows are matched (:func:`named_subdivisions`), and
    none is unknown."""
    known = subdivisions(country)
    if known is None:
        return named_subdivisions(code, country), np.zeros(len(code), dtype=bool)
    prefix = country + "-"
    out = code.copy()
    bad = np.zeros(len(code), dtype=bool)
    for i, c in enumerate(code.tolist()):
        if not c:
            continue  # missing: rejected as such already
        if _PREFIXED.fullmatch(c) and not c.upper().startswith(prefix):
            continue  # another country's subdivision
        found = known.get(c.upper().removeprefix(prefix))
        if found is None:
            bad[i] = True
        else:
            out[i] = found
    return out, bad


def unknown_subdivision(value: str, country: str) -> str:
    """The refusal of a region ``country`` does not have: its codes, and the ways out."""
    codes = sorted(set((subdivisions(country) or {}).values()))
    return (
        f"geo {quoted(value)} is not a subdivision of {country} (one of its codes "
        f"{', '.join(codes)}, or its name as written there); a platform's own names (Meta's "
        "English region names) are mapped with the account's geo_keys (accounts.json: each "
        "name → its code); to keep other geo codes (DMAs, metros), ingest without a country "
        "(the holiday calendar is then unknown) or map them to subdivisions"
    )


def record_geos(code: np.ndarray, country: str) -> np.ndarray:
    """The record geo of each org geo code: a region without its country ("CA", "Bayern"
    after mapping, "Baden-Württemberg") gets ``country`` as an ISO 3166-2 prefix; one in the
    ``XX-YYY`` shape ("CA-ON") carries its own."""
    if not country:
        return code
    prefix = country + "-"
    return np.array(
        [c if not c or _PREFIXED.fullmatch(c) else prefix + c for c in code.tolist()],
        dtype=object,
    )


def same_place(geo: str) -> str:
    """A record geo as places are matched when a re-sent export restates stored rows: NFC,
    case folded, and "CC-<a name the country's list knows>" as "CC-<its code>", so a row
    stored as "BR-Bahia" or "DE-Bayern" before names were mapped to codes is the place
    "BR-BA" / "DE-BY" is now (ingestion_svc.history matches places by it)."""
    text = unicodedata.normalize("NFC", geo)
    country, sep, rest = text.partition("-")
    if sep and len(country) == 2 and country.isascii() and country.isalpha():
        code = subdivision_names(country.upper()).get(rest.casefold())
        if code is not None:
            text = f"{country}-{code}"
    return text.casefold()
