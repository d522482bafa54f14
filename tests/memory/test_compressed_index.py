"""The compressed index: above its threshold an org's IVF keeps PQ codes and re-ranks a
shortlist from the store's float vectors — hits are scored by exact cosine, recall against
exact search stays high, it survives a restart and restatements, and it holds a fraction of
the uncompressed index's bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings, OrgIndex
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from mesh.runtime.synthetic_records import synthetic_records

ORG = "sq"
SETTINGS = IndexSettings(
    ivf_threshold=400, compress_threshold=1500, save_min_changes=10**9, nprobe=8
)


def _engine(path: Path) -> MemoryEngine:
    store = SQLiteRecordStore(path / "m.sqlite")
    return MemoryEngine(store, IndexManager(path / "index", SETTINGS, store),
                        MemorySettings(index=SETTINGS))  # fmt: skip


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    for i in range(0, len(records), 500):
        batch = convert.write_batch(
            memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 500]), None
        )
        engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _exact(engine: MemoryEngine, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    seqs = engine.store.candidates(ORG, RecordFilter(), None)
    got, vectors = engine.store.vectors(seqs, 256)
    scores = vectors @ q
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top], got[top]


def _queries(engine: MemoryEngine, n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    seqs = engine.store.candidates(ORG, RecordFilter(), None)
    _, base = engine.store.vectors(rng.choice(seqs, n, replace=False), 256)
    q = base + rng.normal(0, 0.3 / 16, size=base.shape).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_above_the_threshold_the_index_is_compressed_and_reranked(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        _write(engine, synthetic_records(ORG, 2400, seed=2, campaigns=20, geos=10))
        idx = engine.indexes.get(ORG)
        assert idx is not None and idx.compressed and idx.kind == "ivf" and idx.size == 2400
        assert idx.scan_cost(8) == float("inf")  # re-ranking reads the store: never inline
        recall = []
        for q in _queries(engine, 40):
            result = engine.search(ORG, q, RecordFilter(), 10)
            want_scores, want = _exact(engine, q, 10)
            rows = engine.store.hits(ORG, want.tolist(), False)
            exact = {
                rows[s].id: float(sc) for s, sc in zip(want.tolist(), want_scores, strict=True)
            }
            recall.append(len({h.record_id for h in result.hits} & exact.keys()))
            # scores are exact cosines from the stored vectors, not the codes' estimates
            for hit in result.hits:
                if hit.record_id in exact:
                    assert hit.score == pytest.approx(exact[hit.record_id], abs=1e-5)
        assert np.mean(recall) / 10 >= 0.9
        assert engine.search_now(ORG, _queries(engine, 1)[0], 10) is None
    finally:
        engine.close()


def test_a_compressed_index_survives_restart_and_restatements(tmp_path: Path) -> None:
    records = synthetic_records(ORG, 2000, seed=4, campaigns=20, geos=10)
    engine = _engine(tmp_path)
    _write(engine, records)
    engine.indexes.save(ORG)
    engine.close()
    engine = _engine(tmp_path)
    try:
        (recovery,) = engine.recover()
        assert recovery.how == "loaded"
        idx = engine.indexes.get(ORG)
        assert idx is not None and idx.compressed and idx.stored is engine.store
        restated = []
        for r in records[:100]:
            new = md_pb.CausalMarketingData()
            new.CopyFrom(r)
            new.version = r.version + 1
            restated.append(new)
        _write(engine, restated)
        assert idx.size == 2000 and idx.checksum() == engine.store.org_state(ORG).checksum  # type: ignore[union-attr]
        q = _queries(engine, 1)[0]
        hits = engine.search(ORG, q, RecordFilter(), 10).hits
        assert len(hits) == 10
        assert len(engine.search(ORG, q, RecordFilter(campaign_ids=("c2",)), 5).hits) == 5
    finally:
        engine.close()


def test_compressed_holds_a_fraction_of_the_floats(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5000, 256)).astype(np.float32)
    ids = np.arange(1, 5001, dtype=np.int64)
    flat = OrgIndex.ivf(ids, vectors, SETTINGS, 5000)
    packed = OrgIndex.compressed_from(iter([(ids, vectors)]), vectors[:2000], 5000, SETTINGS, 5000)
    assert packed.size == flat.size == 5000
    assert packed.bytes_held() < 0.3 * flat.bytes_held()
    with pytest.raises(ValueError, match="rebuild from the store"):
        packed.export()


def test_a_memory_budget_keeps_the_recent_orgs_and_loads_the_others_on_use(
    tmp_path: Path,
) -> None:
    settings = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9, memory_budget=400_000)
    store = SQLiteRecordStore(tmp_path / "m.sqlite")
    manager = IndexManager(tmp_path / "index", settings, store)
    engine = MemoryEngine(store, manager, MemorySettings(index=settings))
    orgs = ["a", "b", "c"]
    try:
        for org in orgs:  # 300 × (1 KiB + ids) ≈ 0.3 MB each: two do not fit in 0.4 MB
            records = synthetic_records(org, 300, seed=len(org))
            batch = convert.write_batch(memory_pb.WriteRequest(org_id=org, records=records), None)
            engine.write(org, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
        assert manager.loaded() == ["c"]  # a and b saved and dropped, least recent first
        assert sum(manager.bytes_held(o) for o in orgs) <= settings.memory_budget
        q = np.ones(256, np.float32) / 16
        found = engine.search("a", q, RecordFilter(), 5)  # loaded again on use
        assert len(found.hits) == 5 and found.index_size == 300
        assert manager.loaded() == ["a"]
        # a write to an evicted org loads it first, then applies the batch once
        more = synthetic_records("b", 400, seed=1)[300:]
        batch = convert.write_batch(memory_pb.WriteRequest(org_id="b", records=more), None)
        engine.write("b", batch.frame, batch.given_vectors, convert.serialiser(batch.records))
        idx = manager.get("b")
        state = store.org_state("b")
        assert idx is not None and state is not None
        assert (
            (idx.size, idx.checksum())
            == (state.record_count, state.checksum)
            == (400, idx.checksum())
        )
        record_ids = manager.record_ids("b")
        assert record_ids is not None and len(record_ids) == 400
    finally:
        engine.close()
