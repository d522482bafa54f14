"""Memory stopped on a full disk (audit R49-F7): the first search index whose save failed
used to abort ``MemoryEngine.close`` with a traceback, so the later orgs' indexes were not
saved and the store was not closed. Now each org is tried, a failure is one log line naming
the org, the half-written copy is removed, the store closes, and the next start brings the
unsaved org back from the store.

Real SQLite store and FAISS indexes; the full disk is the one org's temporary index file
pointing at ``/dev/full``, where every write fails with ENOSPC as on a full file system."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings, _file_stem
from memory_svc.sqlite_store import SQLiteRecordStore
from mesh.runtime.synthetic_records import synthetic_records

SETTINGS = IndexSettings(save_min_changes=10**9)  # nothing saved before close


def _engine(path: Path) -> MemoryEngine:
    store = SQLiteRecordStore(path / "m.sqlite")
    return MemoryEngine(store, IndexManager(path / "index", SETTINGS, store),
                        MemorySettings(index=SETTINGS))  # fmt: skip


def _write(engine: MemoryEngine, org_id: str, n: int) -> None:
    records = synthetic_records(org_id, n, campaigns=3, geos=4)
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=org_id, records=records), None)
    engine.write(org_id, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_index_save_at_shutdown_is_one_line_and_the_rest_still_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = _engine(tmp_path)
    _write(engine, "first", 300)  # saved first, and fails
    _write(engine, "second", 200)
    index = tmp_path / "index"
    full = index / f"{_file_stem('first')}.faiss.tmp"
    full.symlink_to("/dev/full")
    caplog.set_level(logging.ERROR, logger="memory_svc.engine")
    engine.close()
    said = [r.getMessage() for r in caplog.records if r.name == "memory_svc.engine"]
    assert len(said) == 1, said
    assert "index of org 'first' was not saved at shutdown" in said[0]
    assert "No space left on device" in said[0] and "nothing is lost" in said[0]
    assert (index / f"{_file_stem('second')}.faiss").exists()  # the next org was saved
    assert not (index / f"{_file_stem('first')}.faiss").exists()
    assert not full.is_symlink() and not full.exists()  # the half-written copy is gone
    with pytest.raises(sqlite3.ProgrammingError):  # the store was closed
        engine.store._writer.execute("SELECT 1")  # type: ignore[attr-defined]
    # the next start: the unsaved org from the store, the saved one from its file
    engine = _engine(tmp_path)
    try:
        how = {r.org_id: (r.how, r.size) for r in engine.recover()}
        assert how == {"first": ("rebuilt", 300), "second": ("loaded", 200)}
    finally:
        engine.close()
