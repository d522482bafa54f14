"""The calendar dimension: holidays, ISO weeks, seasons by hemisphere, retail events.

Holidays come from the ``holidays`` package (public holidays per country and optional
subdivision). Black Friday and Cyber Monday are added as retail events because they move
demand and budgets at least as much as public holidays do, which makes them confounders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays

from ingestion_svc.errors import InvalidCalendarRequest

MAX_CALENDAR_DAYS = 3660
# Countries wholly or mostly south of the equator: seasons are flipped.
SOUTHERN_HEMISPHERE = frozenset(
    {"AR", "AU", "BO", "BR", "BW", "CL", "FJ", "LS", "MG", "MZ", "NA", "NZ", "PE", "PG", "PY",
     "SZ", "UY", "ZA", "ZM", "ZW", "AO", "MW", "MU"}
)  # fmt: skip
_NORTH_SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring",
                  5: "spring", 6: "summer", 7: "summer", 8: "summer", 9: "autumn",
                  10: "autumn", 11: "autumn"}  # fmt: skip
_FLIP = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One date's calendar features."""

    date: dt.date
    country_code: str
    year: int
    quarter: int
    month: int
    iso_year: int
    week: int
    day_of_week: int  # ISO: Monday 1 … Sunday 7
    day_of_year: int
    is_weekend: bool
    is_holiday: bool
    holiday_name: str
    season: str
    days_to_next_holiday: int
    next_holiday_name: str
    days_since_last_holiday: int
    is_month_start: bool
    is_month_end: bool


def season_for(date: dt.date, country_code: str) -> str:
    """Meteorological season of ``date`` in the country's hemisphere."""
    north = _NORTH_SEASONS[date.month]
    return _FLIP[north] if country_code in SOUTHERN_HEMISPHERE else north


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _retail_events(year: int, thanksgiving: dt.date | None) -> dict[dt.date, str]:
    # US Thanksgiving is the 4th Thursday of November; Black Friday follows it everywhere.
    if thanksgiving is None:
        nov1 = dt.date(year, 11, 1)
        thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    black_friday = thanksgiving + dt.timedelta(days=1)
    return {black_friday: "Black Friday", black_friday + dt.timedelta(days=3): "Cyber Monday"}


@lru_cache(maxsize=256)
def holiday_table(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> dict[dt.date, str]:
    """Holidays (public + retail events) for the years, as date → name."""
    years = range(first_year, last_year + 1)
    try:
        public = holidays.country_holidays(country, subdiv=subdivision or None, years=years)
    except NotImplementedError:
        raise InvalidCalendarRequest(
            f"country {country!r} is not a supported ISO 3166-1 alpha-2 code", field="country"
        ) from None
    except ValueError as exc:
        raise InvalidCalendarRequest(str(exc), field="subdivision") from None
    table: dict[dt.date, str] = {d: name for d, name in public.items()}
    for year in years:
        thanksgiving = next(
            (
                d
                for d, n in table.items()
                if d.year == year and n.startswith("Thanksgiving") and d.month == 11
            ),
            None,
        )
        for d, name in _retail_events(year, thanksgiving).items():
            table.setdefault(d, name)
    return table


def build_calendar(
    country: str, start: dt.date, end: dt.date, *, subdivision: str | None = None
) -> list[CalendarDay]:
    """Calendar features for every date in [start, end] (inclusive).

    Raises
    ------
    InvalidCalendarRequest
        Unknown country (``country``), ``end`` before ``start`` (``end_date``), or a range
        longer than ``MAX_CALENDAR_DAYS`` days.
    """
    code = country.strip().upper()
    if not code:
        raise InvalidCalendarRequest("country is required", field="country")
    if code not in supported_countries():
        raise InvalidCalendarRequest(
            f"country {country!r} is not a supported ISO 3166-1 alpha-2 code", field="country"
        )
    if end < start:
        raise InvalidCalendarRequest(
            f"end_date {end} is before start_date {start}", field="end_date"
        )
    n_days = (end - start).days + 1
    if n_days > MAX_CALENDAR_DAYS:
        raise InvalidCalendarRequest(
            f"range of {n_days} days exceeds {MAX_CALENDAR_DAYS}", field="end_date"
        )
    # One year of margin each side so proximity to the nearest holiday is always known.
    table = holiday_table(code, subdivision, start.year - 1, end.year + 1)
    ordered = sorted(table)
    days = []
    for offset in range(n_days):
        d = start + dt.timedelta(days=offset)
        iso = d.isocalendar()
        nxt = next((h for h in ordered if h >= d), None)
        prev = next((h for h in reversed(ordered) if h <= d), None)
        tomorrow = d + dt.timedelta(days=1)
        days.append(
            CalendarDay(
                date=d,
                country_code=code,
                year=d.year,
                quarter=(d.month - 1) // 3 + 1,
                month=d.month,
                iso_year=iso.year,
                week=iso.week,
                day_of_week=iso.weekday,
                day_of_year=d.timetuple().tm_yday,
                is_weekend=iso.weekday >= 6,
                is_holiday=d in table,
                holiday_name=table.get(d, ""),
                season=season_for(d, code),
                days_to_next_holiday=(nxt - d).days if nxt else -1,
                next_holiday_name=table[nxt] if nxt else "",
                days_since_last_holiday=(d - prev).days if prev else -1,
                is_month_start=d.day == 1,
                is_month_end=tomorrow.month != d.month,
            )
        )
    return days
