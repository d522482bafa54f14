"""A batch id never stays reserved for good (audit R19 #2): a holder whose ledger instance is
gone is taken over once its lease lapses even while its pid is alive here (a replica in
another pid namespace or on another host; a pid reused), a live holder keeps its id, a
release that failed on a full disk is taken over by a retry on the same server and released
by the lease thread once the ledger can be written, and a call waiting for a batch another
call holds is told so (UNAVAILABLE naming the batch and its holder) before its deadline
instead of hanging. Real SQLite ledgers, real processes, real memory + ingestion servers;
the disk's failure is the one thing injected."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import ingestion_svc.app
import sim
from ingestion_svc.convert.ingest import fingerprint
from ingestion_svc.ledger import BatchLedger, InFlight
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs

# A ledger instance that reserves a batch id and then becomes `sleep`: the pid lives on, the
# instance (and its lease thread) is gone — what another host's or namespace's dead replica
# looks like to a kernel that finds its pid alive.
_HOLDER = """
import os, sys
from pathlib import Path
from ingestion_svc.ledger import BatchLedger
ledger = BatchLedger(Path(sys.argv[1]), lease_s=2.0)
owner = ledger.owner("stream-0")
assert ledger.reserve("o", "b", "fp", owner) is None
print(owner, flush=True)
os.execv("/bin/sleep", ["sleep", "300"])
"""


def _until(check, what: str, bound_s: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something true (a bound, not a timing assertion)."""
    end = time.monotonic() + bound_s
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {bound_s:.0f} s")


def test_a_holder_gone_while_its_pid_lives_is_taken_over_once_its_lease_lapses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        owner = holder.stdout.readline().strip()
        assert owner.startswith(f"{holder.pid}:")
        ledger = BatchLedger(path)
        mine = ledger.owner("s1")
        _until(lambda: ledger.reserve("o", "b", "fp", mine) is None, "taken over")
        os.kill(holder.pid, 0)  # alive: the pid alone said the holder lives
        ledger.close()
    finally:
        holder.kill()
        holder.wait()


def test_a_live_holder_keeps_its_batch_id_past_its_lease(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    holder, other = BatchLedger(path, lease_s=0.6), BatchLedger(path)
    assert holder.reserve("o", "b", "fp", holder.owner("s0")) is None
    time.sleep(2.0)  # three leases: renewed by its thread
    held = other.reserve("o", "b", "fp", other.owner("s1"))
    assert isinstance(held, InFlight) and held.owner == holder.owner("s0")
    holder.close()  # a clean stop frees it at once
    assert other.reserve("o", "b", "fp", other.owner("s1")) is None
    other.close()


class _FullDisk(BatchLedger):
    """A ledger on a disk that fills up: releases fail while ``full`` (the error SQLite
    gives, R19's ingestion.log), and counts them."""

    full = False
    failed = 0

    def release(self, org_id: str, batch_id: str, owner: str) -> None:
        if type(self).full:
            type(self).failed += 1
            raise sqlite3.OperationalError("database or disk is full")
        super().release(org_id, batch_id, owner)


def test_a_failed_release_is_retried_by_the_lease_thread(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _FullDisk.full, _FullDisk.failed = True, 0
    mine = _FullDisk(path, lease_s=0.6)
    owner = mine.owner("stream-1")
    assert mine.reserve("o", "b", "fp", owner) is None
    with pytest.raises(sqlite3.OperationalError):
        mine.release("o", "b", owner)
    mine.abandon("o", "b", owner)
    _until(lambda: _FullDisk.failed >= 2, "the lease thread retried")
    _FullDisk.full = False  # space freed: the next retry releases it, in the file itself
    with sqlite3.connect(path) as reader:
        _until(
            lambda: reader.execute("SELECT COUNT(*) FROM reservations").fetchone() == (0,),
            "released",
        )
    mine.close()


@pytest.fixture()
def full_disk_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:  # type: ignore[type-arg]
    from ingestion_svc.app import build as ingestion_build
    from memory_svc.app import build as memory_build
    from mesh.runtime.inprocess import running_services

    monkeypatch.setattr(ingestion_svc.app, "BatchLedger", _FullDisk)
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


def test_a_retry_after_a_release_failed_on_a_full_disk_completes(
    full_disk_services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """R19's repro: the stream ends with batches reserved, their release fails on a full
    disk, and the retry of the same batches (the process still running) used to hang."""
    ingestion, memory = _stubs(full_disk_services)
    batches = [
        _request(world, _meta_lines(world, 200, 200 * i), f"f{i}", row_offset=200 * i)
        for i in range(6)
    ]
    _FullDisk.full, _FullDisk.failed = True, 0
    call = ingestion.Ingest(iter(batches), timeout=60)
    assert next(call).batch_id == "f0"
    call.cancel()
    with pytest.raises(grpc.RpcError):
        list(call)
    _until(lambda: _FullDisk.failed, "a release failed")
    acks = list(ingestion.Ingest(iter(batches), timeout=60))
    assert [a.batch_id for a in acks] == [f"f{i}" for i in range(6)]
    stored = _scan(memory)
    assert len(stored) == len({r.natural_key for r in stored}) == 1200
    _FullDisk.full = False


def test_a_call_waiting_for_a_held_batch_is_told_who_holds_it_before_its_deadline(
    services, world: sim.SimResult, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ingestion, _ = _stubs(services)
    request = _request(world, _meta_lines(world, 20), "held")
    # another replica on the same ledger file is writing this batch (and stays alive)
    replica = BatchLedger(tmp_path / "ingestion" / "ledger.sqlite")
    owner = replica.owner("stream-7")
    assert replica.reserve("acme", "held", fingerprint(request), owner) is None
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(ingestion.Ingest(iter([request]), timeout=8))
        code, reason, _, retry = rich_error(err.value)
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "BATCH_IN_FLIGHT")
        assert retry is not None
        message = str(err.value.details())  # type: ignore[attr-defined]
        assert "batch 'held' of org 'acme' is being written by another call" in message
        assert owner in message and "retry it with the same batch_id" in message
    finally:
        replica.close()
    # once the holder is gone the same call goes through
    (ack,) = ingestion.Ingest(iter([request]), timeout=60)
    assert (ack.batch_id, ack.accepted_count) == ("held", 20)
