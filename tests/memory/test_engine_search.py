"""The engine's inline search path (``search_now``) against the full one, without gRPC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from mesh.runtime.synthetic_records import synthetic_records

ORG = "o"


def _write(engine: MemoryEngine, records) -> None:  # type: ignore[no-untyped-def]
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _engine(path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=300, nprobe=4, save_min_changes=10**9)
    return MemoryEngine(
        SQLiteRecordStore(path / "m.sqlite"),
        IndexManager(path / "index", index),
        MemorySettings(index=index),
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryEngine]:
    path = tmp_path_factory.mktemp("engine")
    first = _engine(path)
    records = synthetic_records(ORG, 900, seed=3, start=dt.date(2024, 11, 1))
    for i in range(0, 900, 300):
        _write(first, records[i : i + 300])
    first.close()
    again = _engine(path)  # the id map is rebuilt from the store on start
    again.recover()
    _write(again, synthetic_records(ORG, 40, seed=4, start=dt.date(2025, 3, 1)))
    # a restatement under another id: the natural key's new version replaces the old seq
    moved = records[5].__class__()
    moved.CopyFrom(records[5])
    moved.id, moved.version = "restated-under-a-new-id", 2
    _write(again, [moved])
    yield again
    again.close()


def _queries(engine: MemoryEngine, n: int = 40) -> np.ndarray:
    rows = engine.store.scan_page(ORG, RecordFilter(), None, 2000, True)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(rows), n, replace=False)
    base = np.stack([np.frombuffer(rows[i].embedding or b"", np.float32) for i in pick])
    return base + rng.normal(0, 0.05, base.shape).astype(np.float32)


def test_inline_search_returns_what_the_full_search_returns(engine: MemoryEngine) -> None:
    assert engine.indexes.get(ORG).kind == "ivf"  # type: ignore[union-attr]
    for k in (1, 10, 57):
        for q in _queries(engine):
            now = engine.search_now(ORG, q, k)
            full = engine.search(ORG, engine.query_vector(ORG, None, q), RecordFilter(), k)
            assert now is not None and now == full
            assert len(now.hits) == k


def test_ids_follow_restatements_and_restarts(engine: MemoryEngine) -> None:
    rows = engine.store.scan_page(ORG, RecordFilter(), None, 5000, True)
    by_id = {r.id: r for r in rows}
    assert "restated-under-a-new-id" in by_id and len(by_id) == 940
    ids, idx = engine.indexes.record_ids(ORG), engine.indexes.get(ORG)
    assert ids is not None and idx is not None and len(ids) == idx.size == 940
    pages = list(engine.store.iter_record_ids(ORG, 97))
    assert len(pages) == 10 and sorted(i for _, p in pages for i in p) == sorted(by_id)
    for rid in ("restated-under-a-new-id", rows[-1].id):  # restated; written after restart
        q = np.frombuffer(by_id[rid].embedding or b"", np.float32)
        now = engine.search_now(ORG, q, 1)
        assert now is not None and now.hits[0].record_id == rid


def test_inline_search_declines_what_it_cannot_do_at_once(engine: MemoryEngine) -> None:
    q = _queries(engine, 1)[0]
    assert engine.search_now("nobody", q, 5) is None  # unknown org: the full path raises
    assert engine.search_now(ORG, q[:-1], 5) is None  # wrong dimension: likewise
    assert engine.search_now(ORG, np.zeros_like(q), 5) is None
    with engine.indexes.lock(ORG):  # a writer is changing the index: never wait on the loop
        assert engine.search_now(ORG, q, 5) is None
    costly = MemoryEngine(
        engine.store,
        engine.indexes,
        MemorySettings(index=engine.indexes.settings, inline_search_cost=1),
    )
    assert costly.search_now(ORG, q, 5) is None
