"""What the SQLite store keeps between requests is bounded by bytes: the orgs' identity maps
(the write path's id / natural-key lookups) and their sums (AggregateRecords). Past the
budget the least recently used org's go, the org in use always keeps its own, and answers
are what they were: a restatement of an org whose maps were dropped still replaces, and
aggregates equal a fresh store's."""

from __future__ import annotations

from pathlib import Path

from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.writer import WriteOutcome
from mesh.runtime.synthetic_records import synthetic_records

ORGS = ("a", "b", "c")


def _engine(store: SQLiteRecordStore, path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(store, IndexManager(path, index), MemorySettings(index=index))


def _write(
    engine: MemoryEngine, org: str, records: list[md_pb.CausalMarketingData]
) -> WriteOutcome:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=org, records=records), None)
    return engine.write(org, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _restated(records: list[md_pb.CausalMarketingData]) -> list[md_pb.CausalMarketingData]:
    out = []
    for r in records[::4]:
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend + 2.0
        out.append(new)
    return out


def test_identity_maps_stay_under_budget_and_rebuild_on_use(tmp_path: Path) -> None:
    # one org's maps are 2 keys × 16 bytes × 400 records = 12.8 kB: two fit, three do not
    store = SQLiteRecordStore(tmp_path / "m.sqlite", key_maps_bytes=30_000)
    engine = _engine(store, tmp_path / "index")
    try:
        written = {org: synthetic_records(org, 400, seed=i) for i, org in enumerate(ORGS)}
        for org, records in written.items():
            _write(engine, org, records)
            held = store.key_maps_held()
            assert sum(held.values()) <= 30_000 and org in held
        assert list(store.key_maps_held()) == ["b", "c"]  # a, least recently written, went
        again = _write(engine, "a", _restated(written["a"]))  # its maps are rebuilt
        assert (again.replaced, again.inserted) == (100, 0)
        old = _write(engine, "a", written["a"][:50])  # every 4th of them restated above
        assert (old.stale, old.unchanged) == (13, 37)
        held = store.key_maps_held()  # a's grew by its restatements: c may have gone too
        assert list(held)[-1] == "a" and (sum(held.values()) <= 30_000 or len(held) == 1)
        assert engine.record_count("a") == 400
    finally:
        engine.close()


def test_a_single_org_larger_than_the_budget_keeps_its_maps(tmp_path: Path) -> None:
    store = SQLiteRecordStore(tmp_path / "m.sqlite", key_maps_bytes=1_000)
    engine = _engine(store, tmp_path / "index")
    try:
        records = synthetic_records("a", 300, seed=1)
        _write(engine, "a", records)
        assert store.key_maps_held()["a"] > 1_000  # the org in use is never left without
        assert _write(engine, "a", _restated(records)).replaced == 75
    finally:
        engine.close()


def test_sums_stay_under_budget_and_answer_alike(tmp_path: Path) -> None:
    store = SQLiteRecordStore(tmp_path / "m.sqlite", sums_cache_bytes=20_000)
    engine = _engine(store, tmp_path / "index")
    try:
        for i, org in enumerate(ORGS):
            _write(engine, org, synthetic_records(org, 600, seed=10 + i, campaigns=5, geos=6))
        answers = {org: engine.aggregate(org, None, None, ()) for org in ORGS}
        for org in ORGS:
            held = sum(h.nbytes for h in store._sums.values())
            assert held <= 20_000 or len(store._sums) == 1
            assert engine.aggregate(org, None, None, ()) == answers[org]
        assert 1 <= len(store._sums) < len(ORGS)
    finally:
        engine.close()
    fresh = SQLiteRecordStore(tmp_path / "m.sqlite")
    try:
        for org in ORGS:
            assert fresh.aggregate(org, None, None, ()) == answers[org]
    finally:
        fresh.close()
