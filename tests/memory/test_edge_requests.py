"""Requests at the edges of what a field can hold: refused with the field named, never
INTERNAL, and never answered with an error bigger than the request deserved."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import memory_pb2 as memory_pb

from .conftest import ORG, reason_and_fields

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _time_range(start: int | None = None, end: int | None = None, nanos: int = 0):  # type: ignore[no-untyped-def]
    tr = common_pb.TimeRange()
    if start is not None:
        tr.start_time.seconds, tr.start_time.nanos = start, nanos
    if end is not None:
        tr.end_time.seconds = end
    return tr


EDGES = [
    (_time_range(start=-(2**62)), "time_range.start_time.seconds"),
    (_time_range(start=2**62), "time_range.start_time.seconds"),
    (_time_range(end=2**63 - 1), "time_range.end_time.seconds"),
    (_time_range(start=-62_135_596_800), "time_range.start_time.seconds"),  # 0001-01-01
    (_time_range(start=1_730_000_000, nanos=-1), "time_range.start_time.nanos"),
    (_time_range(start=1_730_000_000, nanos=1_000_000_000), "time_range.start_time.nanos"),
]


@pytest.mark.parametrize(("time_range", "field"), EDGES)
def test_scan_time_range_outside_supported_instants(stub, org_records, time_range, field) -> None:
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, time_range=time_range), timeout=30))
    code, reason, fields = reason_and_fields(err.value)
    assert (code, fields[0]) == (INVALID, field)
    assert reason


@pytest.mark.parametrize(("time_range", "field"), EDGES)
def test_search_filter_time_range_outside_supported_instants(
    stub, org_records, time_range, field
) -> None:
    request = memory_pb.SearchRequest(
        org_id=ORG, text="black friday", k=5, filter=memory_pb.SearchFilter(time_range=time_range)
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.Search(request, timeout=30)
    code, _, fields = reason_and_fields(err.value)
    assert (code, fields[0]) == (INVALID, f"filter.{field}")


def test_two_thousand_unknown_campaigns_get_a_small_error(stub, org_records) -> None:
    ids = [f"unknown-campaign-{i:05d}-" + "x" * 40 for i in range(2_000)]
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, campaign_ids=ids), timeout=30))
    code, reason, fields = reason_and_fields(err.value)
    assert (code, reason) == (INVALID, "UNKNOWN_FILTER_VALUE")
    assert fields[0] == "campaign_ids[0]"
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None and len(status.SerializeToString()) < 4096
    assert len(err.value.details() or "") < 700


def test_filter_lists_and_ids_are_bounded(stub, org_records) -> None:
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, geos=["CA"] * 10_001), timeout=30))
    assert reason_and_fields(err.value)[2][0] == "geos"
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, experiment_id="e" * 5_000), timeout=30))
    assert reason_and_fields(err.value)[2][0] == "experiment_id"


def test_unknown_filter_values_match_nothing_when_allowed(stub, org_records) -> None:
    known = org_records[0].campaign_id
    unknown = [f"new-campaign-{i}" for i in range(50)]
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Scan(memory_pb.ScanRequest(org_id=ORG, campaign_ids=[known, *unknown])))
    assert reason_and_fields(err.value)[0] == INVALID
    request = memory_pb.ScanRequest(
        org_id=ORG, campaign_ids=[*unknown, known], geos=["ZZ"], allow_unknown_values=True
    )
    assert [r for reply in stub.Scan(request) for r in reply.records] == []
    request.ClearField("geos")
    got = [r for reply in stub.Scan(request) for r in reply.records]
    assert got and {r.campaign_id for r in got} == {known}
    assert len(got) == sum(r.campaign_id == known for r in org_records)
    only_unknown = memory_pb.ScanRequest(
        org_id=ORG, campaign_ids=unknown, allow_unknown_values=True
    )
    assert [r for reply in stub.Scan(only_unknown) for r in reply.records] == []


def test_the_epoch_is_an_instant_not_unset(stub, org_records) -> None:
    request = memory_pb.ScanRequest(org_id=ORG, time_range=_time_range(start=0, end=1))
    assert list(stub.Scan(request, timeout=30)) == []
