"""A full disk under memory's SQLite store (audit R19-F-DISKFULL): the caller gets
RESOURCE_EXHAUSTED naming the data dir and saying the batch was not stored, the log says so in
one line (no "cannot rollback - no transaction is active" over the cause), the store takes
writes again once there is room, and the checkpointer outlives a failed checkpoint.

The disk is filled with SQLite's ``PRAGMA max_page_count`` on the server's own writer
connection: past it SQLite fails a write with SQLITE_FULL, "database or disk is full", the
error a full file system gives (no root needed for a small mount)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from memory_svc.sqlite_checkpoint import Checkpointer
from mesh.runtime.channels import sync_channel
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import rich_error, scan_all, write


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[memory_grpc.MemoryServiceStub, Any]]:
    """A real memory server, and its record store (to fill its disk)."""
    held: list[Any] = []

    def keep(config):  # type: ignore[no-untyped-def]
        bindings, on_stop = build(config)
        held.append(bindings[0].servicer._engine.store)
        return bindings, on_stop

    with (
        running_services({"memory": keep}, tmp_path) as services,
        sync_channel(services["memory"].address) as channel,
    ):
        yield memory_grpc.MemoryServiceStub(channel), held[0]


def test_a_full_disk_is_resource_exhausted_and_the_store_recovers(
    served: tuple[memory_grpc.MemoryServiceStub, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub, store = served
    records = synthetic_records("full", 2400, campaigns=4, geos=5)
    assert write(stub, "full", records[:400]).inserted_count == 400
    writer = store._writer
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count={pages + 2}")  # the disk is full
    caplog.set_level(logging.INFO)
    with pytest.raises(grpc.RpcError) as err:
        write(stub, "full", records[400:1600])
    code, message, _ = rich_error(err.value)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, message
    assert f"memory's disk is full at {tmp_path / 'memory'}" in message
    assert "the batch was not stored" in message and "after freeing space" in message
    logged = caplog.text
    assert "cannot rollback" not in logged
    assert "unhandled error" not in logged
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "disk is full" in errors[0].getMessage()
    assert errors[0].exc_info is None  # the cause is known: no traceback

    writer.execute("PRAGMA max_page_count=1073741823")  # space freed
    reply = write(stub, "full", records[400:])
    assert reply.inserted_count == 2000
    assert len(scan_all(stub, org_id="full")) == 2400
    assert store._checkpointer.is_alive()


def test_the_checkpointer_survives_a_failed_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk gives out under a checkpoint (an OperationalError from the checkpoint, the one
    thing the test stands in for); the thread logs once, keeps going, and checkpoints the WAL
    into the database once the disk takes writes again."""
    path = tmp_path / "ckpt.sqlite"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x BLOB)")
    full = threading.Event()
    full.set()

    class Disk(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            if full.is_set() and "wal_checkpoint" in sql:
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, parameters)

    connect: Callable[[], sqlite3.Connection] = lambda: sqlite3.connect(  # noqa: E731
        path, isolation_level=None, check_same_thread=False, factory=Disk
    )
    caplog.set_level(logging.INFO)
    checkpointer = Checkpointer(connect, lambda: 0.01, str(path))
    try:
        writer.execute("INSERT INTO t VALUES (zeroblob(200000))")
        deadline = time.monotonic() + 30
        while checkpointer.failures < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.failures >= 5 and checkpointer.is_alive()
        assert path.stat().st_size < 100_000  # nothing checkpointed yet
        full.clear()
        while path.stat().st_size < 200_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.stat().st_size >= 200_000, "the WAL was never checkpointed again"
    finally:
        checkpointer.stop()
        writer.close()
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert any("works again" in r.getMessage() for r in caplog.records)
