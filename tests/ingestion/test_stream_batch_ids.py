"""One batch id, one batch (R14-F6): the id is reserved in the ledger before the batch is
staged, so of two concurrent Ingest calls with one batch id and different rows one is stored
and acked and the other is ALREADY_EXISTS storing nothing; a concurrent call with the same
rows waits and is acked as the replay it is; a batch that fails releases its id, so its retry
runs (real memory and ingestion servers, real concurrent calls; the ledger's reservations
across processes on a real SQLite file)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from ingestion_svc.ledger import BatchLedger, InFlight, LedgerEntry
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs

ROWS = 500  # a batch long enough to be in flight while the other call arrives
ROUNDS = 4  # each round a new org and batch id: the calls overlap in most rounds


def _concurrently(
    ingestion: ingestion_grpc.IngestionServiceStub,
    requests: dict[str, ingestion_pb.IngestRequest],
) -> dict[str, list[ingestion_pb.IngestResponse] | grpc.RpcError]:
    """Each request on an Ingest call of its own, the calls started together."""
    start = threading.Barrier(len(requests))
    out: dict[str, list[ingestion_pb.IngestResponse] | grpc.RpcError] = {}

    def call(name: str, request: ingestion_pb.IngestRequest) -> None:
        start.wait()
        try:
            out[name] = list(ingestion.Ingest(iter([request]), timeout=120))
        except grpc.RpcError as err:
            out[name] = err

    threads = [threading.Thread(target=call, args=item) for item in requests.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert set(out) == set(requests), "a call did not end"
    return out


def test_concurrent_calls_with_one_batch_id_and_different_rows_store_one(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    rows = {"A": _meta_lines(world, ROWS), "B": _meta_lines(world, ROWS, ROWS)}
    keys = {
        "A": {world.raw["meta"].row_key(k) for k in range(ROWS)},
        "B": {world.raw["meta"].row_key(k) for k in range(ROWS, 2 * ROWS)},
    }
    for n in range(ROUNDS):
        org = f"race{n}"
        requests = {
            name: _request(world, lines, "race", org_id=org) for name, lines in rows.items()
        }
        out = _concurrently(ingestion, requests)
        acked = [name for name, got in out.items() if isinstance(got, list)]
        assert len(acked) == 1, f"round {n}: {out}"
        (winner,) = acked
        (loser,) = set(out) - {winner}
        (ack,) = out[winner]  # type: ignore[misc]
        assert (ack.batch_id, ack.replayed, ack.accepted_count) == ("race", False, ROWS)
        refused = out[loser]
        assert isinstance(refused, grpc.RpcError)
        code, reason, _, _ = rich_error(refused)
        assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "BATCH_ID_REUSED")
        assert "batch 'race'" in (refused.details() or "")  # type: ignore[attr-defined]
        # only the winner's rows are stored under the id
        assert {r.natural_key for r in _scan(memory, org)} == keys[winner]

        # the winner's retry (a lost ack) is its replay; the loser's is still refused
        (again,) = ingestion.Ingest(iter([requests[winner]]), timeout=60)
        assert again.replayed and again.accepted_count == ROWS
        with pytest.raises(grpc.RpcError) as err:
            list(ingestion.Ingest(iter([requests[loser]]), timeout=60))
        assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS  # type: ignore[attr-defined]
        assert len(_scan(memory, org)) == ROWS


def test_concurrent_calls_with_one_batch_and_the_same_rows_ack_one_write_and_one_replay(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    lines = _meta_lines(world, ROWS)
    for n in range(ROUNDS):
        org = f"twin{n}"
        request = _request(world, lines, "twin", org_id=org)
        out = _concurrently(ingestion, {"A": request, "B": request})
        acks = [got for got in out.values() if isinstance(got, list)]
        assert len(acks) == 2, f"round {n}: {out}"
        assert sorted(a.replayed for (a,) in acks) == [False, True]
        assert {a.accepted_count for (a,) in acks} == {ROWS}
        assert len(_scan(memory, org)) == ROWS


@pytest.fixture()
def mesh(tmp_path: Path) -> Iterator[tuple[BackgroundLoop, dict[str, RunningService]]]:
    """Memory and ingestion that a test can stop and restart memory under."""
    loop = BackgroundLoop()
    running = {"memory": _memory(loop, tmp_path, 0)}
    peers = PeerConfig.from_env().with_overrides(memory=running["memory"].address)
    running["ingestion"] = RunningService(
        loop, "ingestion", ingestion_build,
        ServerConfig("ingestion", "127.0.0.1", 0, tmp_path, peers),
    )  # fmt: skip
    try:
        yield loop, running
    finally:
        for service in reversed(list(running.values())):
            service.stop()
        loop.close()


def _memory(loop: BackgroundLoop, data: Path, port: int) -> RunningService:
    config = ServerConfig("memory", "127.0.0.1", port, data, PeerConfig.from_env())
    return RunningService(loop, "memory", memory_build, config)


def test_a_batch_that_fails_releases_its_batch_id(
    mesh: tuple[BackgroundLoop, dict[str, RunningService]], world: sim.SimResult, tmp_path: Path
) -> None:
    """Memory down: the batch fails UNAVAILABLE after its id was reserved; two concurrent
    calls with the same rows both fail (the second waited for the first, then tried
    itself) rather than hang; once memory is back, the id takes the same rows and, for
    another id that failed, different rows (a leaked reservation would refuse them)."""
    loop, running = mesh
    services: dict[str, Any] = running
    ingestion, memory = _stubs(services)
    port = running["memory"].port
    a = _request(world, _meta_lines(world, 50), "down")
    b = _request(world, _meta_lines(world, 50, 50), "down2")
    running["memory"].stop(grace=0)

    out = _concurrently(ingestion, {"first": a, "second": a})
    for got in out.values():
        assert isinstance(got, grpc.RpcError)
        code, _, _, retry = rich_error(got)
        assert code is grpc.StatusCode.UNAVAILABLE and retry is not None, got
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([b]), timeout=60))
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]

    running["memory"] = _memory(loop, tmp_path, port)
    (ack,) = _once_memory_is_back(ingestion, a)
    assert (ack.replayed, ack.accepted_count) == (False, 50)
    other_rows = _request(world, _meta_lines(world, 50, 100), "down2", row_offset=100)
    (ack,) = ingestion.Ingest(iter([other_rows]), timeout=60)
    assert (ack.replayed, ack.accepted_count) == (False, 50)
    assert len(_scan(memory)) == 100


def _once_memory_is_back(
    ingestion: ingestion_grpc.IngestionServiceStub, request: ingestion_pb.IngestRequest
) -> list[ingestion_pb.IngestResponse]:
    """The call retried while ingestion's channel reconnects to the restarted memory (as the
    SDK retries UNAVAILABLE)."""
    for _ in range(40):
        try:
            return list(ingestion.Ingest(iter([request]), timeout=60))
        except grpc.RpcError as err:
            if err.code() is not grpc.StatusCode.UNAVAILABLE:  # type: ignore[attr-defined]
                raise
            time.sleep(0.25)
    raise AssertionError("memory did not come back")


def test_a_reservation_is_held_until_acked_or_released_or_its_process_dies(
    tmp_path: Path,
) -> None:
    """The ledger alone: a second owner sees the first's reservation (its fingerprint),
    the ack replaces it, a release frees it, and a reservation left by a process that died
    is taken over."""
    path = tmp_path / "ledger.sqlite"
    ledger, other = BatchLedger(path), BatchLedger(path)  # two replicas' ledgers on one file
    mine, theirs = ledger.owner("s1"), other.owner("s2")
    assert ledger.reserve("o", "b", "fp1", mine) is None
    assert other.reserve("o", "b", "fp2", theirs) == InFlight("fp1")
    other.release("o", "b", theirs)  # not its reservation: nothing happens
    assert other.reserve("o", "b", "fp1", theirs) == InFlight("fp1")
    ledger.put("o", "b", "fp1", b"ack")
    assert other.reserve("o", "b", "fp2", theirs) == LedgerEntry("fp1", b"ack")

    assert ledger.reserve("o", "c", "fp1", mine) is None
    ledger.release("o", "c", mine)
    assert other.reserve("o", "c", "fp2", theirs) is None
    other.close()  # that replica stopped (or was killed) without releasing
    assert ledger.reserve("o", "c", "fp1", mine) is None

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    with ledger._lock:  # a reservation written by a process that has ended
        ledger._db.execute(
            "INSERT INTO reservations VALUES ('o', 'd', 'fp9', ?, 0)", (f"{gone}:x:s9",)
        )
    assert ledger.reserve("o", "d", "fp1", mine) is None
    ledger.close()
