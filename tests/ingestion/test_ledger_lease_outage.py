"""The batch ledger's lease through a storage outage (audit R49-F1): a renewal that fails on
an unwritable ledger (a ``StorageFailure``, not an ``sqlite3.Error``) used to end the lease
thread for the life of the process, so the lease lapsed for good, the process's own in-flight
batch ids counted as dead, and two calls with one batch id and different rows were both
written and acked. Now the thread survives and renews once the file can be written, the
releases that failed are retried, a live process's own reservations are never dead to it,
and an ack is refused for an id a replica took over meanwhile for different rows.

Real SQLite ledgers, a real second process, and real memory + ingestion servers; the failure is SQLite's own SQLITE_READONLY
(``PRAGMA query_only`` on the ledger's connection, which the connection raises as
``StorageFailure`` as it does a read-only or full disk), and a lapse as another replica sees
it is the lease's end written into the file."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import grpc
import pytest

import ingestion_svc.app
import sim
from ingestion_svc.convert.ingest import fingerprint
from ingestion_svc.errors import BatchIdReused
from ingestion_svc.ledger import BatchLedger, InFlight
from mesh.runtime.storage import StorageFailure
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs
from tests.ingestion.test_ledger_leases import _until

# A replica in another process: takes over batch ids "b1" (acked, then closed) and "b2"
# (held: the process lives on as `sleep`, its lease valid) of a ledger whose lease lapsed.
_REPLICA = """
import os, sys
from pathlib import Path
from typing import ClassVar
from ingestion_svc.ledger import BatchLedger
ledger = BatchLedger(Path(sys.argv[1]))
owner = ledger.owner("stream-9")
print(ledger.reserve("o", "b1", "fp-other", owner), flush=True)
print(ledger.put("o", "b1", "fp-other", b"other ack"), flush=True)
print(ledger.reserve("o", "b2", "fp-other", owner), flush=True)
os.execv("/bin/sleep", ["sleep", "300"])
"""


def _lease_left_s(path: Path, ledger: BatchLedger) -> float:
    """The instance's lease left in the file, as another replica reads it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (until,) = db.execute(
            "SELECT lease_until_us FROM instances WHERE instance = ?", (ledger._instance,)
        ).fetchone()
    return (until - time.time() * 1e6) / 1e6


def _unwritable(ledger: BatchLedger, on: bool) -> None:
    with ledger._lock:
        ledger._db.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")


def _lapse(path: Path, ledger: BatchLedger) -> None:
    """End the instance's lease in the file: what other replicas see when its renewals fail
    (or its host's clock is behind theirs)."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE instances SET lease_until_us = ? WHERE instance = ?",
            (int(time.time() * 1e6) - 1_000_000, ledger._instance),
        )


@pytest.fixture()
def path(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "ingestion").mkdir()
    yield tmp_path / "ingestion" / "ledger.sqlite"


def test_the_lease_outlives_an_unwritable_ledger_and_its_failed_releases_are_retried(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ingestion_svc.ledger")
    ledger = BatchLedger(path, lease_s=0.6)
    owner = ledger.owner("stream-1")
    assert ledger.reserve("o", "b", "fp", owner) is None
    _unwritable(ledger, True)
    with pytest.raises(StorageFailure):
        ledger.release("o", "b", owner)
    ledger.abandon("o", "b", owner)
    _until(lambda: _lease_left_s(path, ledger) < 0, "the lease lapsed while unwritable")
    _unwritable(ledger, False)  # the disk has room again; no restart
    _until(lambda: _lease_left_s(path, ledger) > 0, "the lease renewed by its thread")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        _until(
            lambda: db.execute("SELECT COUNT(*) FROM reservations").fetchone() == (0,),
            "the failed release retried",
        )
    assert ledger._leases.is_alive()
    said = [r.getMessage() for r in caplog.records]
    assert sum("could not renew its lease" in m for m in said) == 1, said  # once per outage
    assert any("renewed its lease again" in m for m in said), said
    ledger.close()


def test_a_live_process_keeps_its_batch_ids_while_its_lease_reads_lapsed(path: Path) -> None:
    ledger = BatchLedger(path, lease_s=600.0)  # its thread renews after the checks below
    assert ledger.reserve("o", "b", "fp-a", ledger.owner("stream-1")) is None
    _lapse(path, ledger)
    held = ledger.reserve("o", "b", "fp-b", ledger.owner("stream-2"))
    assert isinstance(held, InFlight) and held.owner == ledger.owner("stream-1")
    ledger.close()


def test_an_id_a_replica_took_over_during_a_lapse_is_not_acked_twice(path: Path) -> None:
    ledger = BatchLedger(path, lease_s=600.0)
    mine = ledger.owner("stream-1")
    for batch in ("b1", "b2"):
        assert ledger.reserve("o", batch, "fp-mine", mine) is None
    _lapse(path, ledger)
    replica = subprocess.Popen(
        [sys.executable, "-c", _REPLICA, str(path)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert replica.stdout is not None
        said = [replica.stdout.readline().strip() for _ in range(3)]
        assert said == ["None", "True", "None"]  # it took both over: the lease had lapsed
        for batch, done in (("b1", "was acked meanwhile"), ("b2", "is being written")):
            with pytest.raises(BatchIdReused) as err:
                ledger.put("o", batch, "fp-mine", b"my ack")
            assert done in str(err.value) and "send them again with a new batch_id" in str(
                err.value
            )
        entry = ledger.get("o", "b1")
        assert entry is not None and entry.ack == b"other ack"
        assert ledger.get("o", "b2") is None
        os.kill(replica.pid, 0)  # the replica holding b2 still runs
    finally:
        replica.kill()
        replica.wait()
    # the same request as the holder's is acked as before (a retry of one batch)
    assert ledger.reserve("o", "b3", "fp-same", mine) is None
    assert ledger.put("o", "b3", "fp-same", b"ack") is True
    ledger.close()


class _Kept(BatchLedger):
    """The server's ledger, kept for the test (its file made unwritable and writable again),
    its lease short so it lapses within the test."""

    made: ClassVar[list[BatchLedger]] = []

    def __init__(self, path: Path, *, lease_s: float = 0.6) -> None:
        super().__init__(path, lease_s=lease_s)
        type(self).made.append(self)


@pytest.fixture()
def kept_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:  # type: ignore[type-arg]
    from ingestion_svc.app import build as ingestion_build
    from memory_svc.app import build as memory_build
    from mesh.runtime.inprocess import running_services

    _Kept.made = []
    monkeypatch.setattr(ingestion_svc.app, "BatchLedger", _Kept)
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


def test_after_a_ledger_outage_a_batch_id_being_written_is_not_written_again_for_other_rows(
    kept_services, world: sim.SimResult, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """R49-F1's repro on real servers: the ledger cannot be written for longer than its lease
    (no restart after), then a call of this server is writing batch 'race-1' when another
    Ingest sends 'race-1' with different rows: refused at once, as with a healthy lease (it
    was written and acked beside the first)."""
    ingestion, memory = _stubs(kept_services)
    (ledger,) = _Kept.made
    path = tmp_path / "ingestion" / "ledger.sqlite"
    _unwritable(ledger, True)  # the disk full under the ledger
    _until(lambda: _lease_left_s(path, ledger) < 0, "the lease lapsed")
    _unwritable(ledger, False)  # room again
    _until(lambda: _lease_left_s(path, ledger) > 0, "the lease renewed")
    first = _request(world, _meta_lines(world, 50), "race-1")
    # a call of this server holds race-1 (its rows being written to memory now)
    assert ledger.reserve("acme", "race-1", fingerprint(first), ledger.owner("stream-x")) is None
    other = _request(world, _meta_lines(world, 50, 50), "race-1", row_offset=50)
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([other]), timeout=30))
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "BATCH_ID_REUSED")
    assert "is being written" in str(err.value.details())  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as nothing:  # the other rows were not written
        _scan(memory)
    assert nothing.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
