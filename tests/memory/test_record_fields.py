"""Write checks every field of a record as the proto documents it (audit R7-F1, R7-F2): a record
with a bad field is refused with its path and reason and not stored, the other records of its
message are, and the same records without the bad field are written."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import rejection_paths, scan_all

INVALID = grpc.StatusCode.INVALID_ARGUMENT
Mutation = Callable[[md_pb.CausalMarketingData], None]


def _set(path: str, value: object) -> Mutation:
    """Set the (dotted) field ``path`` of a record to ``value``."""

    def mutate(record: md_pb.CausalMarketingData) -> None:
        *parents, name = path.split(".")
        holder = record
        for part in parents:
            holder = getattr(holder, part)
        setattr(holder, name, value)

    return mutate


def _refused(stub, org: str, mutate: Mutation) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Write three records, the second mutated: the call answers OK, storing the first and
    the third and refusing the second (first field named, its reason, every field named →
    reason)."""
    records = synthetic_records(org, 3)
    mutate(records[1])
    reply = stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    assert reply.refused_count == 1 and len(reply.rejections) == 1
    assert reply.unlisted_rejection_count == 0 and not reply.rejection_summaries
    rejection = reply.rejections[0]
    assert (rejection.message_index, rejection.record_index) == (0, 1)
    assert rejection.record_id == repr(records[1].id)
    assert reply.inserted_count + reply.unchanged_count == 2
    named = rejection_paths(reply)
    _assert_only_good_stored(stub, org, records)
    return next(iter(named)), rejection.reason, named


def _assert_only_good_stored(stub, org: str, records: list[md_pb.CausalMarketingData]) -> None:  # type: ignore[no-untyped-def]
    """The refused record is not stored (the old code stored the wrapped instant as 1970);
    the two good ones of its message are."""
    assert {r.id for r in scan_all(stub, org_id=org)} == {records[0].id, records[2].id}


INSTANTS = [
    ("timestamp.seconds", 2**62, "records[1].timestamp"),
    ("timestamp.seconds", 2**63 - 1, "records[1].timestamp"),
    ("timestamp.seconds", -(2**63), "records[1].timestamp"),
    ("timestamp.seconds", 18_446_744_073_709, "records[1].timestamp"),
    ("timestamp.seconds", 253_402_300_799, "records[1].timestamp"),  # 9999-12-31
    ("timestamp.nanos", -5, "records[1].timestamp.nanos"),
    ("timestamp.nanos", 1_000_000_000, "records[1].timestamp.nanos"),
    ("causal_metadata.ingested_at.seconds", -(2**62), "records[1].causal_metadata.ingested_at"),
    ("causal_metadata.pulled_at.seconds", 2**63 - 1, "records[1].causal_metadata.pulled_at"),
    ("causal_metadata.pulled_at.nanos", -1, "records[1].causal_metadata.pulled_at.nanos"),
]


@pytest.mark.parametrize(("path", "value", "field"), INSTANTS)
def test_instants_outside_their_range_are_refused(stub, path, value, field) -> None:
    org = "r7-instants"
    named, reason, _ = _refused(stub, org, _set(path, value))
    assert named == field
    assert "1900-2200" in reason or "nanos" in reason


def test_the_same_records_in_range_are_written(stub) -> None:
    org = "r7-instants-ok"
    records = synthetic_records(org, 3)
    edge = copy.deepcopy(records[1])
    edge.timestamp.nanos = 999_999_999
    records[1].CopyFrom(edge)
    response = stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    assert response.inserted_count == 3
    got = {r.id: r for r in scan_all(stub, org_id=org)}
    assert got[edge.id].timestamp == edge.timestamp


def _add_factor(value: float) -> Mutation:
    def mutate(record: md_pb.CausalMarketingData) -> None:
        record.external_factors.add(name="consumer_confidence", value=0.0)
        record.external_factors.add(name="competitor_index", value=value)

    return mutate


def _note(text: str) -> Mutation:
    return lambda r: r.causal_metadata.notes.extend(["read through the mapping", text])


def _big(record: md_pb.CausalMarketingData) -> None:
    """Every field within its bounds, the record 300 KB: 300 confounders of 1,000 characters."""
    for k in range(300):
        record.confounders.add(name=f"c{k}", strength=0.5, description="d" * 1_000)


FIELDS = [
    (_add_factor(math.inf), "records[1].external_factors[1].value", "finite"),
    (
        _set("causal_metadata.quality.temporal_consistency", math.nan),
        "records[1].causal_metadata.quality.temporal_consistency",
        "finite",
    ),
    (
        _set("causal_metadata.quality.confounder_coverage", -5.0),
        "records[1].causal_metadata.quality.confounder_coverage",
        "in [0, 1]",
    ),
    (_set("treatment_group", 99), "records[1].treatment_group", "not a TreatmentGroup"),
    (
        _set("calendar_features.day_of_week", 99),
        "records[1].calendar_features.day_of_week",
        "not a DayOfWeek",
    ),
    (
        _set("calendar_features.date.month", 13),
        "records[1].calendar_features.date",
        "not a calendar date",
    ),
    (_set("calendar_features.month", 13), "records[1].calendar_features.month", "1..12"),
    (_set("calendar_features.year", 99_999), "records[1].calendar_features.year", "1,900..2,200"),
    (
        _set("calendar_features.days_to_next_holiday", -(2**31)),
        "records[1].calendar_features.days_to_next_holiday",
        "-1..",
    ),
    (_set("local_date.year", 2300), "records[1].local_date", "1900-2200"),
    (_set("campaign_name", "x" * 5_000_000), "records[1].campaign_name", "1,024 characters"),
    (_set("campaign_id", "a\x00b"), "records[1].campaign_id", "control characters"),
    (_set("geo", "US-\x1b[2J"), "records[1].geo", "control characters"),
    (_note("\x1b[31mred"), "records[1].causal_metadata.notes[1]", "control characters"),
    (
        lambda r: r.knowledge_graph_nodes.extend(["n"] * 1_001),
        "records[1].knowledge_graph_nodes",
        "1,000 items",
    ),
    (
        lambda r: setattr(r.confounders[0], "strength", 1.5),
        "records[1].confounders[0].strength",
        "in [0, 1]",
    ),
    (_set("lag_features.spend_lag_7", -1.0), "records[1].lag_features.spend_lag_7", "in [0,"),
    (_big, "records[1]", "at most 262,144"),
]


@pytest.mark.parametrize(("mutate", "field", "why"), FIELDS)
def test_bad_nested_fields_are_refused_with_their_path(stub, mutate, field, why) -> None:
    org = "r7-fields"
    _, reason, named = _refused(stub, org, mutate)
    assert why in named[field]
    assert len(reason) < 1_000  # the 5 MB name is not quoted back


def test_real_text_and_documented_sentinels_are_written(stub) -> None:
    """What real exports and the pipeline write stays accepted: tabs and newlines in free
    text, non-ASCII names, -1 day counts, unset calendar parts, 1,024-character names."""
    org = "r7-fields-ok"
    records = synthetic_records(org, 3)
    r = records[1]
    r.campaign_name = "Sommerschlussverkauf – Ü\t(DE)\n" + "x" * 990
    r.confounders[0].description = "promotion\nrunning"
    r.calendar_features.days_to_next_holiday = -1
    r.calendar_features.days_since_last_holiday = -1
    r.causal_metadata.notes.append("spend from metrics.costMicros / 1e6")
    r.external_factors.add(name="fx_eur_usd", value=1.08)
    response = stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    assert response.inserted_count == 3
    got = {x.id: x for x in scan_all(stub, org_id=org)}
    assert got[r.id].campaign_name == r.campaign_name
