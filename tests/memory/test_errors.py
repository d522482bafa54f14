"""Bad input → the right code, details and decoded ErrorInfo / BadRequest / ResourceInfo."""

from __future__ import annotations

import math
import zlib

import grpc
import pytest
from google.rpc import error_details_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import errors as memory_errors
from mesh.runtime.exceptions import LiftosError
from mesh.runtime.status import STATUS_TABLE, code_for
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import ORG, reason_and_fields, rejection_paths, rich_error, scan_all, write

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _fail(call, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        result = call(*args, timeout=30)
        if hasattr(result, "__iter__") and not isinstance(result, memory_pb.SearchResponse):
            list(result)
    return err.value


def _bad_write(stub, org: str, mutate) -> memory_pb.WriteResponse:  # type: ignore[no-untyped-def]
    records = synthetic_records(org, 3)
    mutate(records[1])
    return stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=30)


@pytest.mark.parametrize(
    ("mutate", "field", "why"),
    [
        (lambda r: setattr(r, "id", ""), "records[1].id", "id is required"),
        (lambda r: setattr(r, "org_id", "someone-else"), "records[1].org_id", "differs"),
        (lambda r: r.ClearField("timestamp"), "records[1].timestamp", "required"),
        (lambda r: setattr(r, "spend", math.nan), "records[1].spend", "finite"),
        (lambda r: setattr(r, "clicks", -3), "records[1].clicks", "negative"),
        (lambda r: setattr(r, "data_source", 0), "records[1].data_source", "required"),
        (
            lambda r: r.embedding_vector.extend([0.1] * 17),
            "records[1].embedding_vector",
            "17 dimensions",
        ),
        (
            lambda r: r.embedding_vector.extend([0.0] * 256),
            "records[1].embedding_vector",
            "non-zero",
        ),
        (
            lambda r: r.embedding_vector.extend([math.nan] * 256),
            "records[1].embedding_vector",
            "NaN",
        ),
    ],
)
def test_bad_records_are_rejected_with_the_field(stub, mutate, field, why) -> None:
    """A bad record is refused alone, named by field path with its reason; the message's
    other records are stored (a wrong-dimension or zero embedding, found by the writer
    rather than the field rules, too)."""
    org = f"errs-{zlib.crc32((field + why).encode())}"
    reply = _bad_write(stub, org, mutate)
    assert (reply.refused_count, reply.inserted_count) == (1, 2)
    paths = rejection_paths(reply)
    assert list(paths) == [field] and why in paths[field]
    stored = {r.id for r in scan_all(stub, org_id=org)}
    assert len(stored) == 2 and reply.org_record_count == 2


def test_rejected_record_is_not_stored(stub) -> None:
    reply = _bad_write(stub, "errs", lambda r: setattr(r, "spend", -1.0))
    assert reply.refused_count == 1
    bad = synthetic_records("errs", 3)[1]
    assert bad.id not in {r.id for r in scan_all(stub, org_id="errs")}


def test_stream_must_keep_one_org(stub, org_records) -> None:
    a = memory_pb.WriteRequest(org_id="one", records=synthetic_records("one", 2))
    b = memory_pb.WriteRequest(org_id="two", records=synthetic_records("two", 2))
    code, reason, fields = reason_and_fields(_fail(stub.Write, iter([a, b])))
    assert (code, reason, fields) == (INVALID, "INVALID_RECORD", ["org_id"])


@pytest.mark.parametrize(
    ("request_kwargs", "field", "reason"),
    [
        ({"text": "x", "k": 0}, "k", "INVALID_QUERY"),
        ({"text": "x", "k": 1001}, "k", "INVALID_QUERY"),
        ({"k": 5}, "query", "INVALID_QUERY"),
        ({"text": "   ", "k": 5}, "text", "INVALID_QUERY"),
        (
            {"vector": memory_pb.Vector(values=[0.1, math.nan]), "k": 5},
            "vector.values",
            "INVALID_QUERY",
        ),
        (
            {"vector": memory_pb.Vector(values=[0.1] * 10), "k": 5},
            "vector.values",
            "DIMENSION_MISMATCH",
        ),
        (
            {"vector": memory_pb.Vector(values=[0.0] * 256), "k": 5},
            "vector.values",
            "DIMENSION_MISMATCH",
        ),
        (
            {"text": "x", "k": 5, "filter": memory_pb.SearchFilter(campaign_ids=["c1", "nope"])},
            "filter.campaign_ids[1]",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"text": "x", "k": 5, "filter": memory_pb.SearchFilter(conceptual_region="vibes/good")},
            "filter.conceptual_region",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"text": "x", "k": 5, "filter": memory_pb.SearchFilter(sources=[0])},
            "filter.sources[0]",
            "INVALID_QUERY",
        ),
        (
            {"text": "x", "k": 5, "filter": memory_pb.SearchFilter(min_quality_score=1.5)},
            "filter.min_quality_score",
            "INVALID_QUERY",
        ),
        (
            {"text": "x", "k": 5, "filter": memory_pb.SearchFilter(experiment_id="exp-unknown")},
            "filter.experiment_id",
            "UNKNOWN_FILTER_VALUE",
        ),
    ],
)
def test_bad_search_requests(stub, org_records, request_kwargs, field, reason) -> None:
    err = _fail(stub.Search, memory_pb.SearchRequest(org_id=ORG, **request_kwargs))
    code, got_reason, fields = reason_and_fields(err)
    assert (code, got_reason, fields[0]) == (INVALID, reason, field)


def test_unknown_org_is_not_found_with_resource_info(stub) -> None:
    err = _fail(stub.Search, memory_pb.SearchRequest(org_id="ghost", text="x", k=3))
    code, details, decoded = rich_error(err)
    assert code == grpc.StatusCode.NOT_FOUND and "ghost" in details
    info = next(d for d in decoded if isinstance(d, error_details_pb2.ErrorInfo))
    resource = next(d for d in decoded if isinstance(d, error_details_pb2.ResourceInfo))
    assert info.reason == "ORG_NOT_FOUND" and info.domain == "liftos.v1"
    assert (resource.resource_type, resource.resource_name) == ("org", "ghost")
    for call, request in (
        (stub.Scan, memory_pb.ScanRequest(org_id="ghost")),
        (stub.QueryGraph, memory_pb.QueryGraphRequest(org_id="ghost", node_id="org:ghost")),
        (stub.ListConceptualSpaces, memory_pb.ListConceptualSpacesRequest(org_id="ghost")),
    ):
        assert _fail(call, request).code() == grpc.StatusCode.NOT_FOUND


def test_bad_org_id_is_invalid(stub) -> None:
    err = _fail(stub.Search, memory_pb.SearchRequest(org_id="a/b", text="x", k=3))
    assert reason_and_fields(err)[2] == ["org_id"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batch_size": 10_001}, "batch_size"),
        ({"batch_size": -1}, "batch_size"),
        ({"treatment_groups": [md_pb.TREATMENT_GROUP_UNSPECIFIED]}, "treatment_groups[0]"),
        ({"geos": ["XX-ZZ"]}, "geos[0]"),
    ],
)
def test_bad_scan_requests(stub, org_records, kwargs, field) -> None:
    err = _fail(stub.Scan, memory_pb.ScanRequest(org_id=ORG, **kwargs))
    assert reason_and_fields(err)[0] == INVALID
    assert reason_and_fields(err)[2][0] == field


def test_reversed_time_range_is_invalid(stub, org_records) -> None:
    tr = common_pb.TimeRange()
    tr.start_time.FromSeconds(2_000_000_000)
    tr.end_time.FromSeconds(1_000_000_000)
    err = _fail(stub.Scan, memory_pb.ScanRequest(org_id=ORG, time_range=tr))
    assert reason_and_fields(err)[2] == ["time_range"]


def test_bad_graph_requests(stub, org_records) -> None:
    err = _fail(stub.QueryGraph, memory_pb.QueryGraphRequest(org_id=ORG, node_id="campaign:zz"))
    code, _, decoded = rich_error(err)
    assert code == grpc.StatusCode.NOT_FOUND
    assert any(
        isinstance(d, error_details_pb2.ResourceInfo) and d.resource_name == "campaign:zz"
        for d in decoded
    )
    err = _fail(
        stub.QueryGraph, memory_pb.QueryGraphRequest(org_id=ORG, node_id="campaign:c1", depth=5)
    )
    assert reason_and_fields(err)[2] == ["depth"]
    err = _fail(
        stub.QueryGraph,
        memory_pb.QueryGraphRequest(org_id=ORG, node_id="campaign:c1", edge_types=[99]),
    )
    assert reason_and_fields(err)[2] == ["edge_types[0]"]


def test_oversized_batch_is_resource_exhausted(stub) -> None:
    records = [md_pb.CausalMarketingData(id=str(i), org_id="big") for i in range(10_001)]
    err = _fail(stub.Write, iter([memory_pb.WriteRequest(org_id="big", records=records)]))
    assert reason_and_fields(err)[:2] == (grpc.StatusCode.RESOURCE_EXHAUSTED, "BATCH_TOO_LARGE")


def test_every_memory_error_maps_to_a_status() -> None:
    for name in memory_errors.__all__:
        exc = getattr(memory_errors, name)
        assert issubclass(exc, LiftosError)
        assert any(issubclass(exc, base) for base, _, _ in STATUS_TABLE), name
        assert code_for(exc) != 13, name  # never INTERNAL


def test_write_of_unknown_org_then_search_works(stub) -> None:
    write(stub, "fresh", synthetic_records("fresh", 5))
    response = stub.Search(memory_pb.SearchRequest(org_id="fresh", text="brand search", k=10))
    assert len(response.hits) == 5
