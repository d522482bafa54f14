"""The WAL is checkpointed into the database file by the store's own thread, while the
service runs, not by the Writes' commits and not only at close."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import sqlite_store as store
from memory_svc.app import build
from mesh.runtime.channels import sync_channel
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import scan_all, write


def test_wal_is_checkpointed_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first round comes after the write: at 5 s a loaded CI machine took longer to write
    # the 3,000 records, the thread checkpointed first and the commit-side check failed.
    monkeypatch.setattr(store, "CHECKPOINT_INTERVAL_S", 15.0)
    with running_services({"memory": build}, tmp_path) as services:
        (db,) = tmp_path.rglob("memory.sqlite")
        empty = db.stat().st_size
        stub = memory_grpc.MemoryServiceStub(sync_channel(services["memory"].address))
        records = synthetic_records("ckpt", 3000, campaigns=4, geos=5)
        assert write(stub, "ckpt", records).inserted_count == 3000
        # 3,000 records are ~1,270 WAL pages of 8 KB, past SQLite's default checkpoint in the
        # commit (1,000 pages): the commits left them in the WAL, the checkpointer moves them.
        assert db.stat().st_size < empty + 1_000_000
        deadline = time.monotonic() + 45
        while db.stat().st_size <= empty + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db.stat().st_size > empty + 1_000_000
        assert len(scan_all(stub, org_id="ckpt")) == 3000
