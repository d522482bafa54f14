"""The store's file layout: new databases get ``PAGE_SIZE`` pages, and a database created by
an earlier layout (4 KB pages) opens, reads and writes exactly as a new one does."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc import sqlite_store as store
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from mesh.runtime.synthetic_records import synthetic_records

ORG = "layout"


def _engine(path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(
        SQLiteRecordStore(path / "m.sqlite"),
        IndexManager(path / "index", index),
        MemorySettings(index=index),
    )


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _restated(records: list[md_pb.CausalMarketingData]) -> list[md_pb.CausalMarketingData]:
    """New versions of every seventh record, some under a new id (same natural key)."""
    out = []
    for i, r in enumerate(records[::7]):
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend + 1.0
        if i % 2:
            new.id = f"{r.id}-moved"
        out.append(new)
    return out


def _observed(engine: MemoryEngine, keys: list[str]) -> dict[str, object]:
    """Everything a reader can see of the org, in comparable form."""
    s = engine.store
    rows = s.scan_page(ORG, RecordFilter(), None, 10_000, True)
    seqs = np.array([r.seq for r in rows], dtype=np.int64)
    got, matrix = s.vectors(seqs, 256)
    order = np.argsort(got)
    pages = list(s.iter_vectors(ORG, 256, 0, 97))
    filters = [  # each matches some records, not all
        RecordFilter(campaign_ids=("c1",), geos=("US-CA", "US-NY")),
        RecordFilter(region="scale/large"),
        RecordFilter(experiment_id="exp-bf", treatment_groups=("treatment",)),
        RecordFilter(start_us=rows[50].timestamp_us, end_us=rows[400].timestamp_us),
    ]
    nodes, edges = s.graph(ORG)
    return {
        "scan": [(r.seq, r.timestamp_us, r.id, r.payload, r.embedding) for r in rows],
        "vectors": (got[order].tolist(), matrix[order].tobytes()),
        "iter_vectors": [(a.tolist(), m.tobytes()) for a, m in pages],
        "filters": [sorted(s.candidates(ORG, f, None).tolist()) for f in filters],
        "scan_filtered": [
            [(r.seq, r.id) for r in s.scan_page(ORG, f, None, 10_000, False)] for f in filters
        ],
        "hits": s.hits(ORG, seqs[::13].tolist(), True),
        "graph": (
            sorted(nodes, key=lambda n: n.node_id),
            sorted(edges, key=lambda e: (e.source, e.target, e.type)),
        ),
        "removed": sorted(s.removed_since(ORG, 0).tolist()),
        "history": [s.history(ORG, k) for k in keys],
        "state": s.org_state(ORG),
    }


def _story(path: Path) -> dict[str, object]:
    """Writes, a restart, restatements (replacing stored records) and more writes."""
    records = synthetic_records(ORG, 600, seed=5, start=dt.date(2024, 11, 22))
    first = _engine(path)
    _write(first, records[:400])
    first.close()
    again = _engine(path)
    again.recover()
    _write(again, records[400:])
    _write(again, _restated(records))
    _write(again, records[:50])  # stale now: nothing changes
    seen = _observed(again, [r.natural_key for r in records[::3]])
    again.close()
    return seen


def test_a_new_database_gets_the_page_size(tmp_path: Path) -> None:
    s = SQLiteRecordStore(tmp_path / "m.sqlite")
    s.close()
    db = sqlite3.connect(tmp_path / "m.sqlite")
    assert db.execute("PRAGMA page_size").fetchone()[0] == store.PAGE_SIZE != 4096
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_4k_page_database_works_as_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = _story(tmp_path / "new")
    with monkeypatch.context() as m:
        m.setattr(store, "PAGE_SIZE", 4096)  # what every database had before
        SQLiteRecordStore(tmp_path / "old" / "m.sqlite").close()
    old = _story(tmp_path / "old")  # opened, written and restated with today's code
    db = sqlite3.connect(tmp_path / "old" / "m.sqlite")
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    db.close()
    assert old.keys() == new.keys()
    for key in new:
        assert old[key] == new[key], key
    scan = new["scan"]
    vectors = np.stack([np.frombuffer(row[4], np.float32) for row in scan])  # type: ignore[attr-defined]
    assert vectors.shape == (600, 256)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    state = new["state"]
    assert state is not None and state.record_count == 600  # type: ignore[attr-defined]
    assert len(new["removed"]) == 86  # type: ignore[arg-type]  # every 7th of 600 replaced
