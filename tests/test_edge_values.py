"""The shared edge checks every converter uses, and the bounds on what an error sends back."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf import timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from liftos.v1 import causal_pb2, common_pb2

from mesh.runtime.exceptions import FieldViolation, InvalidInput, ResourceExhausted, shown
from mesh.runtime.protoconv import (
    date_from_proto,
    enum_from_proto,
    int_in_range,
    timestamp_from_proto,
)
from mesh.runtime.status import read_status, to_rpc_status


@pytest.mark.parametrize(
    ("y", "m", "d", "reason"),
    [
        (1, 1, 1, "DATE_OUT_OF_RANGE"),
        (9999, 12, 31, "DATE_OUT_OF_RANGE"),
        (2024, 2, 30, "INVALID_DATE"),
    ],
)
def test_date_outside_range_or_impossible_names_field(y: int, m: int, d: int, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        date_from_proto(common_pb2.Date(year=y, month=m, day=d), "records.date_range.start_date")
    assert err.value.field == "records.date_range.start_date"
    assert err.value.reason == reason


def test_dates_at_the_range_ends_are_accepted() -> None:
    assert date_from_proto(common_pb2.Date(year=1900, month=1, day=1), "d") == dt.date(1900, 1, 1)
    assert date_from_proto(common_pb2.Date(year=2200, month=12, day=31), "d") == dt.date(
        2200, 12, 31
    )


@pytest.mark.parametrize(
    ("seconds", "nanos", "field"),
    [
        (-(2**62), 0, "time_range.start_time.seconds"),
        (2**62, 0, "time_range.start_time.seconds"),
        (1_700_000_000, -1, "time_range.start_time.nanos"),
        (1_700_000_000, 1_000_000_000, "time_range.start_time.nanos"),
    ],
)
def test_timestamp_out_of_range_names_the_part(seconds: int, nanos: int, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        timestamp_from_proto(
            timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos), "time_range.start_time"
        )
    assert err.value.field == field


def test_timestamp_unset_and_valid() -> None:
    assert timestamp_from_proto(timestamp_pb2.Timestamp(), "t") is None
    with pytest.raises(InvalidInput):
        timestamp_from_proto(timestamp_pb2.Timestamp(), "t", required=True)
    got = timestamp_from_proto(timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5), "t")
    assert got == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_unknown_enum_number_and_int_range() -> None:
    assert enum_from_proto(causal_pb2.ESTIMAND_ATT, causal_pb2.Estimand.DESCRIPTOR, "estimand")
    with pytest.raises(InvalidInput, match="estimand 999"):
        enum_from_proto(999, causal_pb2.Estimand.DESCRIPTOR, "estimand")
    with pytest.raises(InvalidInput) as err:
        int_in_range(2**31 - 1, "options.event_study_leads", 0, 60)
    assert err.value.field == "options.event_study_leads"


def test_shown_clips_long_input() -> None:
    assert shown("abc") == "'abc'"
    long = shown("x" * 100_000)
    assert len(long) < 240 and "100,002 characters" in long


def _unpack(status: status_pb2.Status, kind: type) -> list:  # type: ignore[type-arg]
    return [d for d in read_status(status).details if isinstance(d, kind)]


def test_status_stays_small_whatever_the_handler_put_in_it() -> None:
    huge = "c" * 150_000
    exc = InvalidInput(
        f"unknown campaigns {huge}",
        violations=[FieldViolation(f"campaign_ids[{i}]", huge) for i in range(2_000)],
    )
    status = to_rpc_status(exc)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert len(status.SerializeToString()) < 4 * 1024
    (bad,) = _unpack(status, error_details_pb2.BadRequest)
    assert bad.field_violations[0].field == "campaign_ids[0]"
    assert bad.field_violations[-1].description == "and 1,992 more"


def test_overload_carries_retry_info_and_a_hard_limit_does_not() -> None:
    busy = to_rpc_status(ResourceExhausted("busy", retry_after_s=1.5))
    (retry,) = _unpack(busy, error_details_pb2.RetryInfo)
    assert retry.retry_delay.seconds == 1 and retry.retry_delay.nanos == 500_000_000
    too_big = to_rpc_status(ResourceExhausted("batch too large"))
    assert _unpack(too_big, error_details_pb2.RetryInfo) == []
