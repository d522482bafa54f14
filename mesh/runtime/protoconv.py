"""Small proto ↔ Python conversions every converter needs (dates, timestamps, enums)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor
from liftos.v1 import common_pb2 as common_pb

from mesh.runtime.exceptions import FieldViolation, InvalidInput

# Every date and instant a request may name. Marketing data lives well inside it; outside it
# day arithmetic reaches datetime's limits (year 1 minus a day, 9999 plus one) and
# nanosecond timestamps overflow int64 (after 2262). Public holidays are known only to
# mesh.runtime.holiday_rules.LAST_YEAR (2100, the holidays package's end): GetCalendar refuses
# later days naming end_date and an attribution window past it is warned, rather than read as
# days without holidays.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
_MIN_SECONDS = int(dt.datetime(1900, 1, 1, tzinfo=dt.UTC).timestamp())
_MAX_SECONDS = int(dt.datetime(2201, 1, 1, tzinfo=dt.UTC).timestamp()) - 1


def date_from_proto(value: common_pb.Date, field: str, *, required: bool = True) -> dt.date | None:
    """A real calendar date in the supported range, or InvalidInput naming ``field`` (unset,
    impossible like 2024-02-30, or outside 1900-2200)."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    try:
        day = dt.date(value.year, value.month, value.day)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} {value.year:04d}-{value.month:02d}-{value.day:02d} is not a real date ({exc})",
            field=field,
            reason="INVALID_DATE",
        ) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise InvalidInput(
            f"{field} {day.isoformat()} is outside the supported range "
            f"{MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}",
            field=field,
            reason="DATE_OUT_OF_RANGE",
        )
    return day


def timestamp_from_proto(
    value: timestamp_pb2.Timestamp, field: str, *, required: bool = False
) -> dt.datetime | None:
    """An aware UTC datetime, or None when unset; InvalidInput naming ``field`` when its nanos
    are not 0-999,999,999 or the instant is outside 1900-2200."""
    if value.seconds == 0 and value.nanos == 0:
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    return instant_from_proto(value, field)


def instant_from_proto(value: timestamp_pb2.Timestamp, field: str) -> dt.datetime:
    """:func:`timestamp_from_proto` for a field known to be set (``HasField``), where
    0 s 0 ns is the epoch, not "unset"."""
    if not 0 <= value.nanos <= 999_999_999:
        raise InvalidInput(
            f"{field}.nanos {value.nanos} must be 0-999,999,999",
            field=f"{field}.nanos",
            reason="INVALID_TIMESTAMP",
        )
    if not _MIN_SECONDS <= value.seconds <= _MAX_SECONDS:
        raise InvalidInput(
            f"{field}.seconds {value.seconds} is outside the supported range "
            f"{MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}",
            field=f"{field}.seconds",
            reason="TIMESTAMP_OUT_OF_RANGE",
        )
    return value.ToDatetime(tzinfo=dt.UTC)


def enum_from_proto(value: int, enum: EnumDescriptor, field: str) -> int:
    """``value`` when ``enum`` defines it (proto3 keeps unknown numbers as plain ints)."""
    if value not in enum.values_by_number:
        raise InvalidInput(
            f"{field} {value} is not a {enum.full_name} value", field=field, reason="UNKNOWN_ENUM"
        )
    return value


def int_in_range(value: int, field: str, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``; InvalidInput naming ``field`` otherwise."""
    if not low <= value <= high:
        raise InvalidInput(
            f"{field} {value:,} must be between {low:,} and {high:,}",
            field=field,
            reason="OUT_OF_RANGE",
        )
    return value


def date_to_proto(value: dt.date) -> common_pb.Date:
    return common_pb.Date(year=value.year, month=value.month, day=value.day)


def set_date_range(
    date_range: common_pb.DateRange, start: dt.date | None, end: dt.date | None
) -> None:
    """Fill a request's DateRange in place, leaving an open end (None) unset."""
    if start is not None:
        date_range.start_date.CopyFrom(date_to_proto(start))
    if end is not None:
        date_range.end_date.CopyFrom(date_to_proto(end))


# The product sources are a product breakdown of the campaign sources' orders and spend (memory's
# AggregateProducts sums them for the product analyses). A campaign x geo x day read that names
# no source means these: with the product sources in, an org's orders and shopping spend count
# twice, and the catalogue, dated by its pull, stretches the window to the pull's day.
PRODUCT_SOURCES = frozenset(
    (
        common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
        common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
        common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
        common_pb.DATA_SOURCE_META_PRODUCTS,
    )
)
CAMPAIGN_SOURCES: tuple[common_pb.DataSource.ValueType, ...] = tuple(
    v for v in common_pb.DataSource.values() if v and v not in PRODUCT_SOURCES
)


def campaign_sources(
    sources: Sequence[int] = (),
) -> list[common_pb.DataSource.ValueType]:
    """The sources a campaign read asks memory for: those named, or every campaign source."""
    if not sources:
        return list(CAMPAIGN_SOURCES)
    return [common_pb.DataSource.ValueType(v) for v in sources]


def timestamp_to_datetime(value: timestamp_pb2.Timestamp) -> dt.datetime:
    return value.ToDatetime(tzinfo=dt.UTC)


def timestamp_from_datetime(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return ts


def require_org(org_id: str, field: str = "org_id") -> str:
    """org_id is present and well-formed (it keys every table and index)."""
    if not org_id:
        raise InvalidInput("org_id is required", field=field)
    if len(org_id) > 128 or not all(c.isalnum() or c in "-_." for c in org_id):
        raise InvalidInput(
            "org_id must be 1-128 characters of letters, digits, '-', '_' or '.'", field=field
        )
    return org_id


def collect(violations: list[FieldViolation]) -> None:
    """Raise one InvalidInput carrying every violation found, if any."""
    if violations:
        raise InvalidInput(violations[0].description, violations=violations)
