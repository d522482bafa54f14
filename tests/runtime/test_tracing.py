"""OpenTelemetry traces across real servers: an in-memory exporter sees one Ingest as one
trace from ingestion into memory, and one AnalyzeAttribution from causal into memory."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime import tracing
from mesh.runtime.channels import sync_channel
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk import LiftOS

ACCOUNT = {"account_id": "shop", "timezone": "UTC", "currency": "USD", "country": "US"}
MAPPING = {"date": "date", "spend": "spend", "conversions": "orders", "revenue": "revenue"}


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    try:
        yield spans
    finally:
        tracing.uninstall()
        provider.shutdown()


@pytest.fixture(scope="module")
def mesh(
    exporter: InMemorySpanExporter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("traced")) as services:
        yield services


def peers(mesh: dict[str, RunningService]) -> PeerConfig:
    return PeerConfig.from_env().with_overrides(**{s: r.address for s, r in mesh.items()})


def wait_for(exporter: InMemorySpanExporter, name: str, kind: SpanKind) -> list[ReadableSpan]:
    """The finished spans once one named ``name`` of ``kind`` is among them (a client span
    ends just after its call, on the server's loop)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = list(exporter.get_finished_spans())
        if any(s.name == name and s.kind == kind for s in spans):
            time.sleep(0.2)  # the spans of the same call that end just after
            return list(exporter.get_finished_spans())
        time.sleep(0.05)
    raise AssertionError(f"no {kind.name} span {name}")


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(f"{span.kind.name}:{span.name}")
    return out


def rows(n: int) -> list[dict]:
    start = dt.date(2025, 1, 1)
    return [
        {"date": (start + dt.timedelta(days=i)).isoformat(), "spend": 10.0 + i % 7,
         "orders": 3, "revenue": 30.0}
        for i in range(n)
    ]  # fmt: skip


def test_one_ingest_is_one_trace_from_ingestion_into_memory(
    mesh: dict[str, RunningService], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    with LiftOS(peers(mesh)) as client:
        summary = client.ingest(
            "generic", rows(40), account=ACCOUNT, org_id="acme", mapping=MAPPING
        )
    assert summary.accepted == 40
    spans = wait_for(exporter, "liftos.v1.MemoryService/WriteStream", SpanKind.CLIENT)
    ingest = [s for s in spans if s.name == "liftos.v1.IngestionService/Ingest"]
    assert len(ingest) == 1 and ingest[0].kind == SpanKind.SERVER
    root = ingest[0]
    assert root.parent is None  # the SDK made no span: the ingestion server's is the root
    assert root.attributes["rpc.grpc.status_code"] == "OK"
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}  # one trace
    by_id = {s.context.span_id: s for s in spans}
    memory_write = [
        s
        for s in spans
        if s.name == "liftos.v1.MemoryService/WriteStream" and s.kind == SpanKind.SERVER
    ]
    assert len(memory_write) == 1
    assert ancestors(memory_write[0], by_id) == [
        "CLIENT:liftos.v1.MemoryService/WriteStream",
        "SERVER:liftos.v1.IngestionService/Ingest",
    ]


def test_one_attribution_is_one_trace_from_causal_into_memory(
    mesh: dict[str, RunningService], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    request = causal_pb.AnalyzeAttributionRequest(
        org_id="acme", outcome=common_pb.OUTCOME_METRIC_REVENUE, holdout_days=7
    )
    request.date_range.start_date.CopyFrom(common_pb.Date(year=2025, month=1, day=1))
    request.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=2, day=9))
    provider_tracer = tracing._tracer  # the client's own root span, sent by the blocking channel
    assert provider_tracer is not None
    channel = sync_channel(mesh["causal"].address)
    code = grpc.StatusCode.OK
    with provider_tracer.start_as_current_span("client") as client_span:
        try:
            for _ in causal_grpc.CausalServiceStub(channel).AnalyzeAttribution(
                request, timeout=120
            ):
                pass
        except grpc.RpcError as error:  # one geo and one channel may not support a model
            code = error.code()
    channel.close()
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION)
    spans = wait_for(exporter, "liftos.v1.CausalService/AnalyzeAttribution", SpanKind.SERVER)
    trace_id = client_span.get_span_context().trace_id
    mine = [s for s in spans if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in mine}
    memory = [
        s
        for s in mine
        if s.kind == SpanKind.SERVER and s.name.startswith("liftos.v1.MemoryService/")
    ]
    assert memory, [s.name for s in mine]
    for span in memory:
        chain = ancestors(span, by_id)
        assert chain[0] == f"CLIENT:{span.name}"
        assert chain[1:] == ["SERVER:liftos.v1.CausalService/AnalyzeAttribution", "INTERNAL:client"]


def test_tracing_is_off_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    before = tracing._provider, tracing._tracer
    try:
        monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
        assert tracing.configure_from_env("causal") is False
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        assert tracing.configure_from_env("causal") is False
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
        with pytest.raises(ValueError, match="unknown exporter 'zipkin'"):
            tracing.configure_from_env("causal")
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        with pytest.raises(ValueError, match="only grpc"):
            tracing.configure_from_env("causal")
    finally:
        tracing._provider, tracing._tracer = before
