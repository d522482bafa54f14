"""Admission on real servers: a key is checked from metadata when a call starts (all four
call shapes, client streams that send nothing included), each principal calls only what
its scopes allow, every org_id anywhere in a request is checked, and bytes that are not a
valid request are INVALID_ARGUMENT, for an authenticated caller only."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records
from tests.support import error_details

KEYS = AuthConfig.parse(
    "key-a:org_a,key-b:org_b,load-b:org_b:public+records.write,legacy:*,"
    "svc-ing:service=ingestion,svc-causal:service=causal,svc-llm:service=llm,"
    "svc-surf:service=surfacing"
)
MEMORY = "/liftos.v1.MemoryService/"
INGESTION = "/liftos.v1.IngestionService/"
CAUSAL = "/liftos.v1.CausalService/"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(
        builds,
        tmp_path_factory.mktemp("admission"),
        auth=KEYS,
        api_keys={"ingestion": "svc-ing", "causal": "svc-causal"},
    ) as services:
        channels = {s: grpc.insecure_channel(r.address) for s, r in services.items()}
        yield channels
        for channel in channels.values():
            channel.close()


def _raw(channel: grpc.Channel, method: str, shape: str):  # type: ignore[no-untyped-def]
    """A multicallable that sends bytes as they are and returns bytes."""
    return getattr(channel, shape)(method, request_serializer=None, response_deserializer=None)


def _code(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), error_details(error)[0]


def _md(key: str | None) -> tuple[tuple[str, str], ...]:
    return auth_metadata(key or "")


# -- authentication at stream start ---------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "shape"),
    [
        ("memory", "Write", "stream_unary"),
        ("memory", "WriteStream", "stream_stream"),
        ("ingestion", "Ingest", "stream_stream"),
        ("memory", "Scan", "unary_stream"),
        ("memory", "Search", "unary_unary"),
    ],
)
@pytest.mark.parametrize("key", [None, "stolen"])
def test_every_call_shape_is_refused_without_a_known_key(
    mesh, service: str, method: str, shape: str, key: str | None
) -> None:
    """Client streams that send no message at all were answered OK (the key was only checked
    when a message arrived)."""
    prefix = MEMORY if service == "memory" else INGESTION
    call = _raw(mesh[service], prefix + method, shape)
    request = iter(()) if shape.startswith("stream") else b""
    with pytest.raises(grpc.RpcError) as info:
        reply = call(request, metadata=_md(key), timeout=10)
        if shape.endswith("stream"):
            list(reply)
    assert _code(info.value) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")


def test_a_keyless_stream_is_closed_before_it_sends_anything(mesh) -> None:
    """A keyless client stream that never sends is answered at once, not held open."""
    release = threading.Event()

    def never() -> Iterator[bytes]:
        release.wait(30)
        return
        yield b""

    write = _raw(mesh["memory"], MEMORY + "Write", "stream_unary")
    future = write.future(never(), timeout=30)
    try:
        with pytest.raises(grpc.RpcError) as info:
            future.result(timeout=20)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        release.set()


# -- scopes ---------------------------------------------------------------------------------


ALLOWED = [
    # (key, service, method, shape): admitted, whatever the handler then answers
    ("svc-ing", "memory", "WriteStream", "stream_stream"),
    ("svc-ing", "memory", "Write", "stream_unary"),
    ("svc-ing", "memory", "Scan", "unary_stream"),
    ("svc-causal", "memory", "Scan", "unary_stream"),
    ("svc-causal", "memory", "Search", "unary_unary"),
    ("svc-causal", "ingestion", "GetExperiment", "unary_unary"),
    ("svc-llm", "causal", "GetAnalysis", "unary_unary"),
    # a claimed spend change judged on the analysis's own Counterfactual (R10-F2)
    ("svc-llm", "causal", "Counterfactual", "unary_unary"),
    ("svc-surf", "causal", "GetAnalysis", "unary_unary"),
    ("svc-surf", "causal", "Counterfactual", "unary_unary"),
    ("svc-surf", "causal", "ListAnalyses", "unary_unary"),
    ("svc-surf", "memory", "AggregateRecords", "unary_unary"),
    # the records of a channel billed in two currencies, converted one by one (R31-F2)
    ("svc-surf", "memory", "Scan", "unary_stream"),
    ("svc-causal", "memory", "AggregateRecords", "unary_unary"),
    ("svc-surf", "ingestion", "CreateExperiment", "unary_unary"),
    # the tests that ran: their windows are not business as usual (R5-F4)
    ("svc-surf", "ingestion", "ListExperiments", "unary_unary"),
    ("key-a", "memory", "Search", "unary_unary"),
    ("key-a", "causal", "GetAnalysis", "unary_unary"),
    ("load-b", "memory", "Write", "stream_unary"),
    ("legacy", "memory", "Write", "stream_unary"),  # KEY:* keeps working (and is warned of)
]
DENIED = [
    ("key-a", "memory", "Write", "stream_unary"),  # internal: services only
    ("key-a", "memory", "WriteStream", "stream_stream"),
    ("svc-ing", "memory", "Search", "unary_unary"),
    ("svc-ing", "causal", "GetAnalysis", "unary_unary"),
    ("svc-ing", "ingestion", "CreateExperiment", "unary_unary"),
    ("svc-causal", "memory", "Write", "stream_unary"),
    ("svc-causal", "memory", "WriteStream", "stream_stream"),
    ("svc-llm", "memory", "Scan", "unary_stream"),
    ("svc-llm", "causal", "ListAnalyses", "unary_unary"),
    ("svc-llm", "ingestion", "ListExperiments", "unary_unary"),
    ("svc-surf", "memory", "Search", "unary_unary"),
    ("svc-surf", "memory", "Write", "stream_unary"),
    ("svc-surf", "ingestion", "RecordExperimentResult", "unary_unary"),
]
PREFIX = {"memory": MEMORY, "ingestion": INGESTION, "causal": CAUSAL}


def _call_empty(channel: grpc.Channel, method: str, shape: str, key: str) -> grpc.StatusCode:
    call = _raw(channel, method, shape)
    request = iter(()) if shape.startswith("stream") else b""
    try:
        reply = call(request, metadata=_md(key), timeout=20)
        if shape.endswith("stream"):
            list(reply)
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.PERMISSION_DENIED:
            assert error_details(error)[0] == "METHOD_NOT_ALLOWED"
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("key", "service", "method", "shape"), ALLOWED)
def test_a_principal_calls_what_its_scopes_allow(mesh, key, service, method, shape) -> None:
    code = _call_empty(mesh[service], PREFIX[service] + method, shape, key)
    assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)


@pytest.mark.parametrize(("key", "service", "method", "shape"), DENIED)
def test_a_principal_calls_nothing_else(mesh, key, service, method, shape) -> None:
    code = _call_empty(mesh[service], PREFIX[service] + method, shape, key)
    assert code is grpc.StatusCode.PERMISSION_DENIED


# -- every org_id ---------------------------------------------------------------------------


def _experiment(org: str, experiment_id: str) -> md_pb.CausalExperiment:
    return md_pb.CausalExperiment(
        org_id=org, experiment_id=experiment_id,
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
        start_date=common_pb.Date(year=2024, month=11, day=1),
        end_date=common_pb.Date(year=2024, month=11, day=2),
    )  # fmt: skip


def test_an_org_id_nested_in_a_resource_is_checked(mesh) -> None:
    """CreateExperiment's experiment.result.org_id naming another org was stored as is."""
    stub = ingestion_grpc.IngestionServiceStub(mesh["ingestion"])
    experiment = _experiment("org_b", "nested-org")
    experiment.result.org_id = "org_a"
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(experiment=experiment), metadata=_md("key-b")
        )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:  # it was not stored
        stub.GetExperiment(
            ingestion_pb.GetExperimentRequest(org_id="org_b", experiment_id="nested-org"),
            metadata=_md("key-b"),
        )
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    experiment.result.org_id = "org_b"  # the same request naming only its own org is fine
    stub.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(experiment=experiment), metadata=_md("key-b")
    )


def test_an_org_id_in_a_repeated_record_is_checked(mesh) -> None:
    stub = memory_grpc.MemoryServiceStub(mesh["memory"])
    records = [*synthetic_records("org_b", 3), *synthetic_records("org_a", 1)]
    with pytest.raises(grpc.RpcError) as info:
        stub.Write(
            iter([memory_pb.WriteRequest(org_id="org_b", records=records)]),
            metadata=_md("load-b"),
        )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "not 'org_a'" in (info.value.details() or "")


# -- bytes that are not a request -----------------------------------------------------------

CORRUPT = b"\x0a\x50abc"  # field 1, length 80, three bytes follow
BAD_UTF8 = b"\x0a\x02\xff\xfe"  # field 1 (a string) holding invalid UTF-8


@pytest.mark.parametrize("payload", [CORRUPT, BAD_UTF8], ids=["corrupt", "bad-utf8"])
def test_corrupt_bytes_are_invalid_argument(mesh, payload: bytes) -> None:
    calendar = _raw(mesh["ingestion"], INGESTION + "GetCalendar", "unary_unary")
    with pytest.raises(grpc.RpcError) as info:
        calendar(payload, metadata=_md("key-a"), timeout=10)
    assert _code(info.value) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    assert info.value.details() == "the request is not a valid liftos.v1.GetCalendarRequest"


@pytest.mark.parametrize(
    ("service", "method", "shape", "key", "type_name"),
    [
        ("ingestion", "Ingest", "stream_stream", "key-a", None),
        ("memory", "WriteStream", "stream_stream", "svc-ing", "WriteStreamRequest"),
        ("memory", "Write", "stream_unary", "svc-ing", "WriteRequest"),
        ("memory", "Scan", "unary_stream", "key-a", "ScanRequest"),
    ],
)
def test_corrupt_bytes_in_every_call_shape(mesh, service, method, shape, key, type_name) -> None:
    """The interceptor decodes with each handler's own deserializer: Ingest's (a custom
    decoder that keeps a batch's decodable rows) answers in its own words, the rest say
    which message the bytes are not."""
    call = _raw(mesh[service], PREFIX[service] + method, shape)
    request = iter([BAD_UTF8]) if shape.startswith("stream") else BAD_UTF8
    with pytest.raises(grpc.RpcError) as info:
        reply = call(request, metadata=_md(key), timeout=20)
        if shape.endswith("stream"):
            list(reply)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    if type_name is not None:
        assert error_details(info.value)[0] == "MALFORMED_REQUEST"
        assert info.value.details() == f"the request is not a valid liftos.v1.{type_name}"


def test_corrupt_bytes_from_a_stranger_learn_nothing(mesh) -> None:
    """Decoding happens after authentication: no key, no word on the bytes."""
    calendar = _raw(mesh["ingestion"], INGESTION + "GetCalendar", "unary_unary")
    for key in (None, "stolen"):
        with pytest.raises(grpc.RpcError) as info:
            calendar(CORRUPT, metadata=_md(key), timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_valid_request_still_works(mesh) -> None:
    stub = causal_grpc.CausalServiceStub(mesh["causal"])
    with pytest.raises(grpc.RpcError) as info:
        stub.GetAnalysis(
            causal_pb.GetAnalysisRequest(org_id="org_a", analysis_id="nope"), metadata=_md("key-a")
        )
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
