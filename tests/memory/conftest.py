"""Fixtures: a real memory server on a free port, a stub, a written synthetic org, and a
throwaway PostgreSQL cluster (one per session) with a fresh database per test."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from memory_svc.engine import MemorySettings
from memory_svc.faiss_index import IndexSettings
from memory_svc.postgres.cluster import PostgresNotInstalled, ThrowawayCluster
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService, running_services
from mesh.runtime.status import decode_status
from mesh.runtime.synthetic_records import synthetic_records

ORG = "acme"
ORG_RECORDS = 1600
# A message limit no test reply comes near (the clients of the reply-size tests read this much).
BIG_MESSAGES = 64 << 20


def write(
    stub: memory_grpc.MemoryServiceStub,
    org: str,
    records: Sequence[md_pb.CausalMarketingData],
    batch: int = 400,
) -> memory_pb.WriteResponse:
    requests = [
        memory_pb.WriteRequest(org_id=org, records=records[i : i + batch])
        for i in range(0, len(records), batch)
    ]
    return stub.Write(iter(requests), timeout=60)


def scan_all(
    stub: memory_grpc.MemoryServiceStub, **kwargs: object
) -> list[md_pb.CausalMarketingData]:
    return [r for b in stub.Scan(memory_pb.ScanRequest(**kwargs), timeout=60) for r in b.records]


def rejection_paths(
    reply: memory_pb.WriteResponse | memory_pb.WriteStreamResponse,
) -> dict[str, str]:
    """Each listed refused record's field as the message's path (``records[1].spend``;
    ``records[1]`` for the record as a whole) → its reason."""
    return {
        f"records[{r.record_index}]" + ("" if r.field == "$" else f".{r.field}"): r.reason
        for r in reply.rejections
    }


def rich_error(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, list[object]]:
    """Code, details and decoded google.rpc details of a failed call."""
    status = decode_status(err)
    assert status.carried, "the error carries no google.rpc.Status"
    return status.code, status.message, list(status.details)


def reason_and_fields(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, list[str]]:
    code, _, details = rich_error(err)
    info = next(d for d in details if isinstance(d, error_details_pb2.ErrorInfo))
    fields = [
        v.field
        for d in details
        if isinstance(d, error_details_pb2.BadRequest)
        for v in d.field_violations
    ]
    return code, info.reason, fields


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("memory")
    with running_services({"memory": build}, data) as services:
        yield services["memory"].address


def small_ivf_build():  # type: ignore[no-untyped-def]
    """A build whose IVF switch, candidate threshold and nprobe are tiny, so a test-sized
    org exercises the ANN paths (over-fetch, selector fallback, nprobe escalation)."""
    settings = MemorySettings(
        index=IndexSettings(ivf_threshold=300, nprobe=1, save_min_changes=100),
        exact_candidates=40,
    )
    return functools.partial(build, settings=settings)


@pytest.fixture(scope="module")
def stub(server: str) -> Iterator[memory_grpc.MemoryServiceStub]:
    with grpc.insecure_channel(server) as channel:
        yield memory_grpc.MemoryServiceStub(channel)


@pytest.fixture(scope="module")
def org_records(stub: memory_grpc.MemoryServiceStub) -> list[md_pb.CausalMarketingData]:
    """ORG: 10 campaigns × 4 geos × 40 days from 2024-10-20 (geo experiment from Nov 1,
    Black Friday build-up from Nov 21)."""
    records = synthetic_records(
        ORG, ORG_RECORDS, seed=7, campaigns=10, geos=4, start=dt.date(2024, 10, 20)
    )
    response = write(stub, ORG, records)
    assert response.inserted_count == ORG_RECORDS
    return records


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[ThrowawayCluster]:
    """initdb in a temp folder, pg_ctl on a free port, unix socket only; skipped (with the
    reason) where PostgreSQL's server is not installed — CI installs it
    (scripts/install-postgres.sh)."""
    try:
        cluster = ThrowawayCluster().start()
    except PostgresNotInstalled as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: ThrowawayCluster) -> Iterator[str]:
    """The URL of a new empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture(scope="module")
def loop() -> Iterator[BackgroundLoop]:
    """An event loop on a thread for the module's servers (restarted on the same data)."""
    background = BackgroundLoop()
    yield background
    background.close()


def serve_limited(loop: BackgroundLoop, data: Path, limit: int) -> RunningService:
    """A real memory server on ``data`` with a ``limit`` bytes message limit."""
    config = ServerConfig(service="memory", host="127.0.0.1", port=0, data_dir=data,
                          peers=PeerConfig.from_env(), max_message_bytes=limit)  # fmt: skip
    return RunningService(loop, "memory", build, config)


def date_window(start: dt.date, days: int) -> dict[str, object]:
    """A date_range of ``days`` days from ``start``, as request keywords."""
    end = start + dt.timedelta(days=days - 1)
    return {"start_date": {"year": start.year, "month": start.month, "day": start.day},
            "end_date": {"year": end.year, "month": end.month, "day": end.day}}  # fmt: skip
