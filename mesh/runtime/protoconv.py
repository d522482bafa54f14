"""Small proto ↔ Python conversions every converter needs (dates, timestamps, enums)."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb

from mesh.errors import FieldViolation, InvalidInput


def date_from_proto(value: common_pb.Date, field: str, *, required: bool = True) -> dt.date | None:
    """A real calendar date, or InvalidInput naming ``field`` (unset, or e.g. 2024-02-30)."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    try:
        return dt.date(value.year, value.month, value.day)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} {value.year:04d}-{value.month:02d}-{value.day:02d} is not a real date ({exc})",
            field=field,
            reason="INVALID_DATE",
        ) from None


def date_to_proto(value: dt.date) -> common_pb.Date:
    return common_pb.Date(year=value.year, month=value.month, day=value.day)


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
