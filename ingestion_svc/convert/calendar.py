"""GetCalendar: the request's country, range and subdivision; a calendar day as CalendarDimension; market conditions from external factors."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.calendar import CalendarDay
from ingestion_svc.convert.text import COUNTRY
from ingestion_svc.errors import InvalidCalendarRequest
from ingestion_svc.external_factors import FactorTable, join_factors
from mesh.runtime.exceptions import FieldViolation, InvalidInput, shown
from mesh.runtime.protoconv import (
    date_from_proto,
    date_to_proto,
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


def add_market_conditions(
    days: list[md_pb.CalendarDimension], table: FactorTable, country: str, subdivision: str
) -> None:
    """Fill each calendar day's economic indicators and market conditions from the org's
    factors (all-geo series, or the subdivision's where it has one)."""
    if table.frame.empty or not days:
        return
    numbers = (
        np.array([dt.date(d.date.year, d.date.month, d.date.day).toordinal() for d in days])
        - dt.date(1970, 1, 1).toordinal()
    )
    geo = f"{country}-{subdivision}" if subdivision else ""
    geos = pd.Series([geo] * len(days), dtype=object)
    keys = pd.Series([subdivision] * len(days), dtype=object)
    for f in join_factors(table, numbers, geos, keys):
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
