"""The calendar dimension: holidays, ISO weeks, weekends and seasons by country, retail events.

Which days are holidays, weekends and retail events is :mod:`mesh.runtime.holiday_rules`' rule,
the one the attribution model and the forecast read too: public holidays from the ``holidays``
package per country and subdivision (a record's geo "GB-ENG" gets England's bank holidays),
Black Friday, its weekend and Cyber Monday where the country keeps them, and the country's own
weekend (Friday–Saturday in Saudi Arabia). Holidays are known to
:data:`~mesh.runtime.holiday_rules.LAST_YEAR`; a calendar asked for later days is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from ingestion_svc.errors import InvalidCalendarRequest
from mesh.runtime import holiday_rules
from mesh.runtime.exceptions import shown
from mesh.runtime.holiday_rules import LAST_YEAR, split_geo, weekend_days

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


def holiday_table(
    country: str, subdivision: str | None, first_year: int, last_year: int
) -> dict[dt.date, str]:
    """Holidays (public + the retail events the country keeps) for the years, as date → name
    (:func:`mesh.runtime.holiday_rules.holiday_table`); none after ``LAST_YEAR``."""
    try:
        return holiday_rules.holiday_table(country, subdivision or None, first_year, last_year)
    except NotImplementedError:
        if subdivision:  # the country is known (build_calendar checked it): its subdivision isn't
            raise InvalidCalendarRequest(
                f"subdivision {shown(subdivision)} is not one of {country}'s", field="subdivision"
            ) from None
        raise InvalidCalendarRequest(
            f"country {shown(country)} is not a supported ISO 3166-1 alpha-2 code", field="country"
        ) from None
    except ValueError as exc:
        raise InvalidCalendarRequest(str(exc), field="subdivision") from None


def build_calendar(
    country: str, start: dt.date, end: dt.date, *, subdivision: str | None = None
) -> list[CalendarDay]:
    """Calendar features for every date in [start, end] (inclusive).

    Raises
    ------
    InvalidCalendarRequest
        Unknown country (``country``), ``end`` before ``start`` (``end_date``), a range
        longer than ``MAX_CALENDAR_DAYS`` days, or one past ``LAST_YEAR``, whose holidays are
        not known (``end_date``).
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
    if end.year > LAST_YEAR:
        # Later days would read as days without any holiday: Christmas 2150 a working day.
        raise InvalidCalendarRequest(
            f"end_date {end} is after {LAST_YEAR}-12-31, the last day whose public holidays "
            f"are known: end the range in {LAST_YEAR} or before",
            field="end_date",
        )
    return _days(code, start, end, subdivision)


def _days(code: str, start: dt.date, end: dt.date, subdivision: str | None) -> list[CalendarDay]:
    """The days of [start, end]; days after ``LAST_YEAR`` get no holidays (records only: the
    mesh stores days to 2200, GetCalendar refuses them)."""
    n_days = (end - start).days + 1
    weekend = weekend_days(code)
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
                is_weekend=iso.weekday in weekend,
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


_DAY_NAMES = ("", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CALENDAR_COLUMNS = (
    "cal_date", "cal_year", "cal_quarter", "cal_month", "cal_week", "cal_day_of_week",
    "cal_is_weekend", "cal_is_holiday", "cal_holiday_name", "cal_season", "cal_country_code",
    "cal_iso_year", "cal_day_of_year", "cal_days_to_next_holiday", "cal_next_holiday_name",
    "cal_days_since_last_holiday", "cal_is_month_start", "cal_is_month_end",
)  # fmt: skip


@lru_cache(maxsize=512)
def year_frame(country: str, year: int, subdivision: str | None = None) -> pd.DataFrame:
    """One year of calendar features as ``mesh.runtime.frames`` ``cal_*`` columns, indexed by day
    number (days since 1970-01-01); cached per (country, year, subdivision). A year after
    ``LAST_YEAR`` has no holidays (its days are stored; their holidays are not known)."""
    days = _days(country, dt.date(year, 1, 1), dt.date(year, 12, 31), subdivision)
    frame = pd.DataFrame(
        {
            "cal_date": np.array([d.date for d in days], dtype="datetime64[s]"),
            "cal_year": [d.year for d in days],
            "cal_quarter": [d.quarter for d in days],
            "cal_month": [d.month for d in days],
            "cal_week": [d.week for d in days],
            "cal_day_of_week": [_DAY_NAMES[d.day_of_week] for d in days],
            "cal_is_weekend": [d.is_weekend for d in days],
            "cal_is_holiday": [d.is_holiday for d in days],
            "cal_holiday_name": [d.holiday_name for d in days],
            "cal_season": [d.season for d in days],
            "cal_country_code": [d.country_code for d in days],
            "cal_iso_year": [d.iso_year for d in days],
            "cal_day_of_year": [d.day_of_year for d in days],
            "cal_days_to_next_holiday": [d.days_to_next_holiday for d in days],
            "cal_next_holiday_name": [d.next_holiday_name for d in days],
            "cal_days_since_last_holiday": [d.days_since_last_holiday for d in days],
            "cal_is_month_start": [d.is_month_start for d in days],
            "cal_is_month_end": [d.is_month_end for d in days],
        }
    )
    for name in ("cal_day_of_week", "cal_holiday_name", "cal_season", "cal_country_code",
                 "cal_next_holiday_name"):  # fmt: skip
        frame[name] = frame[name].astype(object)  # plain str objects: cheap to take rows from
    frame.index = frame["cal_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return frame


def calendar_columns(
    country: str, days: np.ndarray, geos: np.ndarray | None = None
) -> pd.DataFrame:
    """The ``cal_*`` columns for each day number in ``days`` (same order and length).

    A row whose geo (``geos``, same length) names a subdivision of ``country`` that the
    holidays package keeps ("GB-ENG", "US-CA", "AU-NSW") gets that subdivision's holidays as
    well as the national ones; other rows get the national ones."""
    if days.size == 0:
        return year_frame(country, 2000).iloc[:0].reset_index(drop=True)
    if geos is None:
        return _take(country, None, days)
    codes, unique = pd.factorize(pd.Series(geos, dtype=object), use_na_sentinel=True)
    subs = [_subdivision(country, g) for g in unique.tolist()]
    kinds = sorted({x for x in subs if x})
    if not kinds:
        return _take(country, None, days)
    # one table of the national days (slot 0) and each subdivision's, keyed by (slot, day)
    slot = np.array([kinds.index(x) + 1 if x else 0 for x in subs] + [0], dtype=np.int64)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    table = _subdivisions_frame(country, tuple(np.unique(years).tolist()), (None, *kinds))
    keys = slot[np.where(codes >= 0, codes, len(subs))] * _BAND + days
    return table.take(table.index.get_indexer(keys)).reset_index(drop=True)


_BAND = 1 << 24  # more days than 1900-2200 holds, either side of 1970


def _subdivision(country: str, geo: object) -> str | None:
    where = split_geo(geo, country) if isinstance(geo, str) and geo else None
    return where[1] if where is not None and where[0] == country else None


@lru_cache(maxsize=8)  # a US account's tens of states × years: a few MB each
def _subdivisions_frame(
    country: str, years: tuple[int, ...], subdivisions: tuple[str | None, ...]
) -> pd.DataFrame:
    parts = []
    for k, sub in enumerate(subdivisions):
        part = _years_frame(country, years, sub)
        parts.append(part.set_axis(part.index + k * _BAND))
    return pd.concat(parts)


def _take(country: str, subdivision: str | None, days: np.ndarray) -> pd.DataFrame:
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    table = _years_frame(country, tuple(np.unique(years).tolist()), subdivision)
    return table.take(table.index.get_indexer(days)).reset_index(drop=True)


@lru_cache(maxsize=256)
def _years_frame(country: str, years: tuple[int, ...], subdivision: str | None) -> pd.DataFrame:
    return pd.concat([year_frame(country, y, subdivision) for y in years])
