"""GetCalendar: the request's country, range and subdivision; a calendar day as CalendarDimension; market conditions from external factors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.calendar import CalendarDay
from ingestion_svc.convert.text import COUNTRY
from ingestion_svc.errors import InvalidCalendarRequest
from ingestion_svc.external_factors import FactorTable, JoinedFactor, join_factors
from mesh.runtime.exceptions import FieldViolation, InvalidInput, shown
from mesh.runtime.protoconv import (
    date_from_proto,
    date_to_proto,
)
from mesh.runtime.reply_limit import (
    first_days_fit,
    limit_words,
    mb,
    reply_budget,
    reply_too_large,
)

# ISO 3166-2's part after the country (CA, NSW, 75), or one of the holidays package's own
# subdivision names ("Stadt Zurich", "São Paulo Capital").
_SUBDIVISION = re.compile(r"^\w[\w .'-]{0,31}$")
_SEASONS = {
    "winter": md_pb.SEASON_WINTER,
    "spring": md_pb.SEASON_SPRING,
    "summer": md_pb.SEASON_SUMMER,
    "autumn": md_pb.SEASON_AUTUMN,
}


def calendar_request(
    request: ingestion_pb.GetCalendarRequest,
) -> tuple[str, dt.date, dt.date, str | None]:
    violations: list[FieldViolation] = []
    reasons: list[str] = []
    start = end = None
    try:
        start = date_from_proto(request.start_date, "start_date")
    except InvalidInput as exc:  # collect every bad field, not just the first
        violations.extend(exc.violations)
        reasons.append(exc.reason)
    try:
        end = date_from_proto(request.end_date, "end_date")
    except InvalidInput as exc:
        violations.extend(exc.violations)
        reasons.append(exc.reason)
    if not request.country:
        violations.insert(0, FieldViolation("country", "country is required (ISO 3166-1 alpha-2)"))
    elif not COUNTRY.match(request.country.upper()):
        violations.insert(
            0,
            FieldViolation(
                "country", f"country {shown(request.country)} is not an ISO 3166-1 alpha-2 code"
            ),
        )
    if request.subdivision and not _SUBDIVISION.match(request.subdivision):
        violations.append(
            FieldViolation(
                "subdivision",
                f"subdivision {shown(request.subdivision)} is not an ISO 3166-2 subdivision code",
            )
        )
    if violations:  # a date's reason (DATE_OUT_OF_RANGE, INVALID_DATE) when it is the first
        first = reasons[0] if reasons and len(reasons) == len(violations) else None
        raise InvalidCalendarRequest(violations[0].description, violations=violations, reason=first)
    assert start is not None and end is not None
    return request.country, start, end, request.subdivision or None


def calendar_day_to_proto(day: CalendarDay) -> md_pb.CalendarDimension:
    return md_pb.CalendarDimension(
        date=date_to_proto(day.date),
        year=day.year,
        quarter=day.quarter,
        month=day.month,
        week=day.week,
        day_of_week=md_pb.DayOfWeek.ValueType(day.day_of_week),  # ISO numbering = the enum's
        is_weekend=day.is_weekend,
        is_holiday=day.is_holiday,
        holiday_name=day.holiday_name,
        season=_SEASONS[day.season],
        country_code=day.country_code,
        iso_year=day.iso_year,
        day_of_year=day.day_of_year,
        days_to_next_holiday=day.days_to_next_holiday,
        next_holiday_name=day.next_holiday_name,
        days_since_last_holiday=day.days_since_last_holiday,
        is_month_start=day.is_month_start,
        is_month_end=day.is_month_end,
    )


def _joined(
    days: list[md_pb.CalendarDimension], table: FactorTable, country: str, subdivision: str
) -> list[JoinedFactor]:
    """The org's factors on each calendar day (all-geo series, or the subdivision's where it
    has one)."""
    if table.frame.empty or not days:
        return []
    numbers = (
        np.array([dt.date(d.date.year, d.date.month, d.date.day).toordinal() for d in days])
        - dt.date(1970, 1, 1).toordinal()
    )
    geo = f"{country}-{subdivision}" if subdivision else ""
    geos = pd.Series([geo] * len(days), dtype=object)
    keys = pd.Series([subdivision] * len(days), dtype=object)
    return join_factors(table, numbers, geos, keys)


def _fill(days: Sequence[md_pb.CalendarDimension], joined: list[JoinedFactor]) -> None:
    """Fill each calendar day's economic indicators and market conditions from the org's
    factors."""
    for f in joined:
        for day, value in zip(days, f.value.tolist(), strict=True):
            if not np.isfinite(value):
                continue
            mc = day.market_conditions
            if f.type == "macro":
                day.economic_indicators.add(name=f.name, value=value, unit=f.unit, source=f.source)
            elif f.type == "demand" and not mc.demand_index:
                mc.demand_index = value
            elif f.type == "competitor" and not mc.competitor_index:
                mc.competitor_index = value
            elif f.type == "promotion" and value > 0 and not mc.promotion_active:
                mc.promotion_active = True
                mc.promotion_name = f.name


def _length_prefixed(size: int) -> int:
    """Bytes of an embedded message of ``size`` bytes in a repeated field: tag, length, body."""
    return 1 + max(1, (size.bit_length() + 6) // 7) + size


def _factor_bytes(days: int, joined: list[JoinedFactor]) -> tuple[np.ndarray, int]:
    """(estimated wire bytes per day, macro factors) the factors add to ``days`` calendar
    days: an EconomicIndicator per macro factor and day with a value (each factor's name,
    unit and source repeated), and a day's market conditions at their widest (a demand and a
    competitor index, the longest promotion name) where any other factor has a value; two
    bytes a day for the day's longer length prefix. At least the wire size."""
    size, macro = np.full(days, 2, dtype=np.int64), 0
    other, promotion = np.zeros(days, dtype=bool), 0
    for f in joined:
        finite = np.isfinite(f.value)
        if f.type == "macro":
            entry = md_pb.EconomicIndicator(name=f.name, value=1.0, unit=f.unit, source=f.source)
            size += finite * _length_prefixed(entry.ByteSize())
            macro += 1
        else:
            other |= finite
            if f.type == "promotion":
                promotion = max(promotion, len(f.name.encode()))
    conditions = md_pb.MarketConditions(demand_index=1.0, competitor_index=1.0,
                                        promotion_active=True, promotion_name="x" * promotion)  # fmt: skip
    return size + other * _length_prefixed(conditions.ByteSize()), macro


def calendar_response(
    days: list[md_pb.CalendarDimension], table: FactorTable | None, country: str,
    subdivision: str, *, limit: int, org_id: str,
) -> ingestion_pb.GetCalendarResponse:  # fmt: skip
    """The GetCalendar reply of ``days`` with the org's factors (``table``; None: no org)
    filled in, within ``limit`` bytes (the server's message limit). The factors' share is
    estimated before they are added, so a reply that would pass the limit is never built.

    Raises
    ------
    ResourceExhausted
        REPLY_TOO_LARGE: the reply passes the limit (a long range of many macro factors:
        each adds ~40 bytes a day), naming its size, the days from the start that fit, and
        the calendar's size without org_id.
    """
    budget = reply_budget(limit)
    response = ingestion_pb.GetCalendarResponse(days=days)
    plain = np.array([_length_prefixed(d.ByteSize()) for d in days], dtype=np.int64)
    joined = [] if table is None else _joined(days, table, country, subdivision)
    factors, macro = _factor_bytes(len(days), joined)
    day_bytes = plain + factors
    if int(day_bytes.sum()) <= budget:
        _fill(response.days, joined)
        if response.ByteSize() <= budget:
            return response
        # the estimate fell short: still not sent; what each day came to
        day_bytes = np.array([_length_prefixed(d.ByteSize()) for d in response.days])
    base, size = int(plain.sum()), int(day_bytes.sum())
    fixes = f"leave org_id unset (the calendar alone is ~{mb(base)})"
    can_drop = bool(org_id) and base <= budget
    dates = [dt.date(d.date.year, d.date.month, d.date.day) for d in days]
    fit = first_days_fit(day_bytes, budget, dates,
                         other=fixes if can_drop else "a single day passes this server's limit")  # fmt: skip
    factors_words = (
        f" with {macro:,} macro factors of org {org_id!r} as economic_indicators, "
        f"~{(size - base) // max(len(days), 1):,} bytes a day" if org_id else ""
    )  # fmt: skip
    raise reply_too_large(
        f"GetCalendar would answer ~{mb(size)} ({len(days):,} days{factors_words}), over this "
        f"server's {limit_words(limit)} message limit; ask for a shorter range ({fit})"
        + (f" or {fixes}" if can_drop and fixes not in fit else "")
    )
