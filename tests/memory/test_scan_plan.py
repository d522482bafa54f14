"""How a scan page is read: the campaign index for campaign filters (with or without SQLite's
statistics), and pages that equal the plain ordered join page for page, ties included."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter, ScanRow
from memory_svc.store_sql import filter_sql as _where
from memory_svc.store_sql import scan_sql
from mesh.runtime.synthetic_records import synthetic_records

ORG = "plan"
DAY_US = 86_400 * 10**6


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MemoryEngine:
    root = tmp_path_factory.mktemp("plan")
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    eng = MemoryEngine(
        SQLiteRecordStore(root / "m.sqlite"),
        IndexManager(root / "index", index),
        MemorySettings(index=index),
    )
    records = synthetic_records(ORG, 4000, seed=3, start=dt.date(2024, 10, 1), campaigns=10, geos=8)
    for i in range(0, len(records), 500):
        batch = convert.write_batch(
            memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 500]), None
        )
        eng.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
    return eng


def _plan(db: sqlite3.Connection, flt: RecordFilter) -> str:
    sql, params = scan_sql(ORG, flt, (0, ""), 100, True)
    return "\n".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _first_day(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT min(timestamp_us) FROM records").fetchone()[0])


def test_a_campaign_filter_reads_the_campaign_index(engine: MemoryEngine, tmp_path: Path) -> None:
    path = tmp_path / "copy.sqlite"
    with sqlite3.connect(path) as copy:
        engine.store._read().backup(copy)  # type: ignore[attr-defined]
    db = sqlite3.connect(path)
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall()
    start = _first_day(db)
    series = RecordFilter(
        start_us=start + 3 * DAY_US,
        end_us=start + 40 * DAY_US,
        campaign_ids=("c3",),
        geos=("US-CA",),
    )
    # the failure this guards: with no statistics the planner took the time index
    plain, params = _where(ORG, series)
    unguided = db.execute(
        f"EXPLAIN QUERY PLAN SELECT r.seq FROM records r WHERE {plain} "
        "ORDER BY r.timestamp_us, r.id LIMIT 100",
        params,
    ).fetchall()
    assert "records_time" in unguided[0][3]
    for stats in (False, True):
        if stats:
            db.execute("ANALYZE")
        plan = _plan(db, series)
        assert "USING INDEX records_campaign_time" in plan, plan
        assert "records_time " not in plan, plan
        assert "records_campaign_time" not in _plan(db, RecordFilter(geos=("US-CA",)))
    db.close()


def _reference(db: sqlite3.Connection, flt: RecordFilter, with_embeddings: bool) -> list[ScanRow]:
    """Every match in scan order, by the plain join (no subquery, no index hint)."""
    where, params = _where(ORG, flt)
    emb = "v.embedding" if with_embeddings else "NULL"
    return [
        ScanRow(*row)
        for row in db.execute(
            f"SELECT r.seq, r.timestamp_us, r.id, p.payload, {emb} FROM records r "
            f"JOIN payloads p ON p.seq = r.seq JOIN vectors v ON v.seq = r.seq WHERE {where} "
            "ORDER BY r.timestamp_us, r.id",
            params,
        )
    ]


@pytest.mark.parametrize("size", [1, 7, 333, 5000])
def test_pages_equal_the_plain_ordered_join(engine: MemoryEngine, size: int) -> None:
    store = engine.store
    db = store._read()  # type: ignore[attr-defined]
    start = _first_day(db)
    filters = [
        RecordFilter(campaign_ids=("c1", "c4", "c7")),
        RecordFilter(
            start_us=start + 5 * DAY_US,
            end_us=start + 30 * DAY_US,
            campaign_ids=("c2", "c9"),
            geos=("US-NY", "US-TX", "US-CA"),
        ),
        RecordFilter(campaign_ids=("c0",), experiment_id="exp-bf"),
        RecordFilter(start_us=start + 2 * DAY_US, end_us=start + 9 * DAY_US),
        RecordFilter(),
    ]
    for flt in filters:
        with_embeddings = size % 2 == 1
        want = _reference(db, flt, with_embeddings)
        assert want, flt
        got: list[ScanRow] = []
        after = None
        while True:
            page = store.scan_page(ORG, flt, after, size, with_embeddings)
            got.extend(page)
            if len(page) < size:
                break
            after = (page[-1].timestamp_us, page[-1].id)
        assert got == want, flt
