"""The rows a commit writes beside each record: ``record_regions`` holds exactly one (org,
"space/region", seq) row per current record and space — the regions its stored payload was
assigned — through group commits and restatements, and each region filter finds those
records (``insert_batch`` writes the rows in the table's key order, not record by record)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from mesh.runtime.synthetic_records import synthetic_records

ORG = "regions"


def _engine(path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(
        SQLiteRecordStore(path / "m.sqlite"),
        IndexManager(path / "index", index),
        MemorySettings(index=index),
    )


def _group(engine: MemoryEngine, *parts: list[md_pb.CausalMarketingData]) -> None:
    """The parts stored in one transaction, as WriteStream's group commit does."""
    batches = [
        convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=p), None) for p in parts
    ]
    records = [r for b in batches for r in b.records]
    frame = pd.concat([b.frame for b in batches], ignore_index=True)
    engine.write_group(
        ORG,
        frame,
        [v for b in batches for v in b.given_vectors],
        convert.serialiser(records),
        [len(p) for p in parts],
    )


def _restated(records: list[md_pb.CausalMarketingData]) -> list[md_pb.CausalMarketingData]:
    out = []
    for r in records[::5]:
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend * 3 + 50.0  # a new profile: other regions, likely
        new.revenue = r.revenue / 4
        out.append(new)
    return out


def test_region_rows_are_the_stored_records_regions(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    records = synthetic_records(ORG, 900, seed=11)
    try:
        _group(engine, records[:300], records[300:600])
        _group(engine, records[600:])
        _group(engine, _restated(records))
        db = sqlite3.connect(tmp_path / "m.sqlite")
        rows = db.execute("SELECT org_id, region, seq FROM record_regions").fetchall()
        want = set()
        spaces = 0
        for seq, payload in db.execute(
            "SELECT r.seq, p.payload FROM records r JOIN payloads p ON p.seq = r.seq"
        ):
            stored = md_pb.CausalMarketingData.FromString(payload)
            spaces = len(stored.conceptual_assignments)
            want |= {(ORG, f"{a.space}/{a.region}", seq) for a in stored.conceptual_assignments}
        assert spaces > 1
        assert len(rows) == len(set(rows)) == len(want) == 900 * spaces
        assert set(rows) == want
        # replaced versions left no rows behind, and every region filter finds its records
        current = {s for (s,) in db.execute("SELECT seq FROM records")}
        assert {seq for _, _, seq in rows} == current
        for region in sorted({r for _, r, _ in rows}):
            found = engine.store.scan_page(ORG, RecordFilter(region=region), None, 10_000, False)
            assert {r.seq for r in found} == {s for _, g, s in rows if g == region}
        db.close()
    finally:
        engine.close()
