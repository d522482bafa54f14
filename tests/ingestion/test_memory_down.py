"""Memory stops mid-stream: the batch in flight is not acked (UNAVAILABLE), nothing is half
written, and the client's retry with the same batch ids completes with every acked row
stored exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import PULLED, dumps, rich_error

ROWS, BATCH = 3000, 100  # more batches than the service keeps in flight


@pytest.fixture()
def mesh(tmp_path: Path) -> Iterator[tuple[BackgroundLoop, dict[str, RunningService], Path]]:
    loop = BackgroundLoop()
    memory = RunningService(
        loop, "memory", memory_build,
        ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env()),
    )  # fmt: skip
    peers = PeerConfig.from_env().with_overrides(memory=memory.address)
    ingestion = RunningService(
        loop, "ingestion", ingestion_build,
        ServerConfig("ingestion", "127.0.0.1", 0, tmp_path, peers),
    )  # fmt: skip
    running = {"memory": memory, "ingestion": ingestion}
    try:
        yield loop, running, tmp_path
    finally:
        for service in reversed(list(running.values())):
            service.stop()
        loop.close()


def _restart_memory(loop: BackgroundLoop, running: dict[str, RunningService], data: Path) -> None:
    port = running["memory"].port
    running["memory"] = RunningService(
        loop, "memory", memory_build,
        ServerConfig("memory", "127.0.0.1", port, data, PeerConfig.from_env()),
    )  # fmt: skip


def _stored(address: str) -> list[str]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    request = memory_pb.ScanRequest(org_id="acme", batch_size=5000)
    return [r.natural_key for b in stub.Scan(request, timeout=30) for r in b.records]


def test_memory_down_mid_stream_then_retry_stores_every_row_once(
    mesh: tuple[BackgroundLoop, dict[str, RunningService], Path], world: sim.SimResult
) -> None:
    loop, running, data = mesh
    export = world.raw["google_ads"]
    lines = [dumps(export.base_row(k)) for k in range(ROWS)]
    account = {**next(a for a in world.accounts if a["source"] == "google_ads"), "country": "US"}
    peers = PeerConfig.from_env().with_overrides(
        ingestion=running["ingestion"].address, memory=running["memory"].address
    )
    acked_before_failure: list[int] = []

    def stop_after_two(summary) -> None:  # type: ignore[no-untyped-def]
        acked_before_failure.append(summary.written)
        if summary.batches == 2:
            running["memory"].stop(grace=0)  # gone now, with batches in flight

    with LiftOS(peers, org_id="acme") as client:
        # No retries: the stream ends UNAVAILABLE once memory is gone.
        with pytest.raises(Exception) as err:
            client.ingest(
                "google_ads", lines, account=account, pulled_at=PULLED, batch_size=BATCH,
                progress=stop_after_two, retries=0,
            )  # fmt: skip
        failure = err.value
        assert failure.code == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert failure.reason == "MEMORY_UNAVAILABLE"  # type: ignore[attr-defined]
        assert "retry it with the same batch_id" in failure.message  # type: ignore[attr-defined]
        # Batches 1-2 were acked, in order, and the stream failed before its end.
        acked = len(acked_before_failure)
        assert acked_before_failure == [BATCH * (k + 1) for k in range(acked)]
        assert 2 <= acked < ROWS // BATCH

        _restart_memory(loop, running, data)
        # Every acked row is stored; a batch memory committed as it went down may be stored
        # without its ack (the retry below finds it), but never in part: one transaction.
        stored = len(_stored(running["memory"].address))
        assert stored >= acked_before_failure[-1] and stored % BATCH == 0

        # Memory goes down again under the SDK, which retries the un-acked batches with
        # the same ids once it is back.
        def flap(summary) -> None:  # type: ignore[no-untyped-def]
            if summary.batches == 4 and not flapped.is_set():
                flapped.set()
                running["memory"].stop(grace=0)
                threading.Timer(1.0, _restart_memory, (loop, running, data)).start()

        flapped = threading.Event()
        summary = client.ingest(
            "google_ads", lines, account=account, pulled_at=PULLED, batch_size=BATCH,
            progress=flap, retries=6,
        )  # fmt: skip
        assert flapped.is_set() and summary.retries >= 1
        assert summary.replayed_batches >= 2  # the batches acked before the first failure
        assert summary.accepted == ROWS and summary.rejected == 0

    deadline = time.monotonic() + 10
    while running["memory"].address and time.monotonic() < deadline:
        try:
            keys = _stored(running["memory"].address)
            break
        except grpc.RpcError:
            time.sleep(0.2)
    assert len(keys) == ROWS and len(set(keys)) == ROWS
    assert set(keys) == {export.row_key(k) for k in range(ROWS)}
    _, reason, _, retry = rich_error(_unavailable_error(running))
    assert reason == "MEMORY_UNAVAILABLE" and retry is not None and retry.retry_delay.seconds == 1


def _unavailable_error(running: dict[str, RunningService]) -> grpc.RpcError:
    """A raw-stub call while memory is down, to read the status details."""
    from liftos.v1 import common_pb2 as common_pb
    from liftos.v1 import ingestion_pb2 as ingestion_pb
    from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

    running["memory"].stop()
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(running["ingestion"].address))
    request = ingestion_pb.IngestRequest(
        org_id="acme", source=common_pb.DATA_SOURCE_GOOGLE_ADS, batch_id="down",
        json_rows=['{"customer":{"id":"1","timeZone":"UTC","currencyCode":"USD"},'
                   '"campaign":{"id":"2"},"segments":{"date":"2024-09-15","geoTargetRegion":"x"}}'],
    )  # fmt: skip
    try:
        list(stub.Ingest(iter([request]), timeout=30))
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        return err
    raise AssertionError("Ingest succeeded with memory down")
