"""The mesh's one holiday rule: which days a country's (or one of its subdivisions') calendar
calls holidays, whether it keeps the Black Friday–Cyber Monday retail events and the December
gift season, and which days are its weekend.

One definition for every service that reads a calendar: the ingestion service's ``GetCalendar``
and every record's ``cal_*`` columns (and so the confounder detector), the attribution model's
national design and the forecast. Before it, each kept its own table and they disagreed about
which days are controlled outside the US.

Public holidays come from the ``holidays`` package, per country and, where a geo names one,
per subdivision ("GB-ENG" observes Easter Monday and the August bank holiday, which the UK-wide
list lacks). The package knows no year after :data:`LAST_YEAR`: callers refuse or say so for
later days rather than read them as days without holidays.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from mesh.runtime.retail_calendar import retail_events

__all__ = [
    "GIFT_SEASON",
    "LAST_YEAR",
    "RETAIL_EVENT_COUNTRIES",
    "gift_season",
    "holiday_table",
    "retail_events_kept",
    "split_geo",
    "subdivisions_of",
    "weekend_days",
]

# The last year the ``holidays`` package lists (its HolidayBase.end_year: 2100 in 0.109).
LAST_YEAR: int = int(holidays.HolidayBase.end_year)

# Countries where Black Friday, its weekend and Cyber Monday are established retail events
# (national retail and e-commerce associations report them as the year's largest online sales
# days there): North America, Brazil, the UK and Ireland, the EU's larger e-commerce markets,
# the Nordics, Australia, New Zealand and South Africa. Elsewhere (Japan, China's Singles' Day,
# Mexico's El Buen Fin, the Gulf's White Friday on other dates…) the four days are ordinary
# days; an org there registers its own sales events as promotion factors.
RETAIL_EVENT_COUNTRIES: frozenset[str] = frozenset(
    {"US", "CA", "BR", "GB", "IE", "FR", "DE", "AT", "CH", "NL", "BE", "LU", "ES", "PT", "IT",
     "SE", "NO", "DK", "FI", "PL", "CZ", "SK", "HU", "RO", "GR", "AU", "NZ", "ZA"}
)  # fmt: skip

# The December gift season: 1–21 December, the weeks of Christmas shopping that end with the
# last shipping days. Kept where 25 December is a public holiday (the countries that shop for
# Christmas gifts); not where it is not (Japan, China, the Gulf, Orthodox 7 January calendars).
GIFT_SEASON: tuple[tuple[int, int], tuple[int, int]] = ((12, 1), (12, 21))


def retail_events_kept(country: str) -> bool:
    """Whether ``country``'s calendar keeps Black Friday–Cyber Monday (:data:`RETAIL_EVENT_COUNTRIES`)."""
    return country in RETAIL_EVENT_COUNTRIES


@lru_cache(maxsize=256)
def gift_season(country: str) -> bool:
    """Whether ``country`` has the December gift season: 25 December is a public holiday there
    (checked in 2024; an unknown country has none)."""
    try:
        return dt.date(2024, 12, 25) in holidays.country_holidays(country, years=2024)
    except NotImplementedError:
        return False


@lru_cache(maxsize=256)
def weekend_days(country: str) -> frozenset[int]:
    """The country's weekend as ISO weekdays (Monday 1 … Sunday 7): Friday–Saturday in Saudi
    Arabia and Israel, Friday in Iran, Saturday–Sunday where the package does not say."""
    try:
        weekend = holidays.country_holidays(country).weekend
    except NotImplementedError:
        return frozenset({6, 7})
    return frozenset(int(d) + 1 for d in weekend) or frozenset({6, 7})


@lru_cache(maxsize=256)
def subdivisions_of(country: str) -> frozenset[str]:
    """The subdivision codes the package keeps holidays for ("ENG", "NSW", "CA"…)."""
    try:
        cls = holidays.country_holidays(country).__class__
    except NotImplementedError:
        return frozenset()
    return frozenset(getattr(cls, "subdivisions", ()))


def split_geo(geo: str, country: str | None = None) -> tuple[str, str | None] | None:
    """(country, subdivision or None) of a record geo: an ISO 3166-2 code ("GB-ENG" →
    ("GB", "ENG")), or, given the geo's ``country``, a bare subdivision of it ("ENG") or any
    other geo in it (a DMA: national holidays). None where no country is known: a bare "CA" or
    "DE" is a US state as often as a country."""
    code = geo.strip().upper()
    head, sep, tail = code.partition("-")
    if sep and len(head) == 2 and _known(head):
        return head, tail if tail in subdivisions_of(head) else None
    if country and _known(country):
        return country, code if code in subdivisions_of(country) else None
    return None


@lru_cache(maxsize=1)
def _supported() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _known(country: str) -> bool:
    return country in _supported()


@lru_cache(maxsize=512)
def holiday_table(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> dict[dt.date, str]:
    """Holidays of the years (public, and the retail events where the country keeps them), as
    date → name. Years after :data:`LAST_YEAR` have none: callers say so.

    Raises
    ------
    NotImplementedError
        ``country`` (or its ``subdivision``) is not one the package knows.
    """
    years = range(first_year, min(last_year, LAST_YEAR) + 1)
    public = holidays.country_holidays(country, subdiv=subdivision or None, years=years)
    table: dict[dt.date, str] = {d: str(name) for d, name in public.items()}
    if retail_events_kept(country):
        for year in years:
            for d, name in retail_events(year).items():
                table.setdefault(d, name)  # a public holiday on the day keeps its own name
    return table
