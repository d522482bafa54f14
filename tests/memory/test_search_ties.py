"""Exact score ties rank by record id, not by the order the records were written in (R47-F2):
the same records written in two orders, on the exact and the IVF index, filtered and not,
inline and full, give the same hits in the same order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.search import SearchHit
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter
from mesh.runtime.synthetic_records import synthetic_records

ORG = "o"
SINCE_US = int(dt.datetime(2025, 1, 15, tzinfo=dt.UTC).timestamp() * 1_000_000)
DIM = 256  # the default (hashing) embedder's
TWINS = 40  # records with one embedding: more than k + the fetch margin, so the cut is a tie


def _records() -> tuple[list[md_pb.CausalMarketingData], np.ndarray]:
    """Background records plus ``TWINS`` records that share one embedding, and that vector."""
    background = synthetic_records(ORG, 400, seed=7, start=dt.date(2024, 11, 1))
    vector = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    twins = []
    for base in synthetic_records(ORG, TWINS, seed=8, start=dt.date(2025, 2, 1)):
        r = md_pb.CausalMarketingData()
        r.CopyFrom(base)
        del r.embedding_vector[:]
        r.embedding_vector.extend(vector.tolist())
        twins.append(r)
        assert r.id  # distinct natural keys, so distinct ids
    for i, r in enumerate(background):
        del r.embedding_vector[:]
        noise = np.random.default_rng(100 + i).normal(size=vector.size)
        r.embedding_vector.extend((noise / np.linalg.norm(noise)).astype(np.float32).tolist())
    return [*background, *twins], vector


def _engine(path: Path, records: list[md_pb.CausalMarketingData], ivf: bool) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=300 if ivf else 10**6, nprobe=64, save_min_changes=10**9)
    engine = MemoryEngine(
        SQLiteRecordStore(path / "m.sqlite"),
        IndexManager(path / "index", index),
        MemorySettings(index=index),
    )
    for i in range(0, len(records), 150):
        batch = convert.write_batch(
            memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 150]), None
        )
        engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
    return engine


@pytest.mark.parametrize("ivf", [False, True])
def test_tied_records_rank_by_id_whatever_the_write_order(tmp_path: Path, ivf: bool) -> None:
    records, vector = _records()
    # one order, then the twins first and reversed: FAISS numbers them otherwise
    forward = _engine(tmp_path / "a", records, ivf)
    backward = _engine(tmp_path / "b", records[400:][::-1] + records[:400][::-1], ivf)
    twin_ids = sorted(r.id for r in records[400:])
    try:
        assert forward.indexes.get(ORG).kind == ("ivf" if ivf else "exact")  # type: ignore[union-attr]
        query = forward.query_vector(ORG, None, vector)
        for k in (1, 5, 10, TWINS + 3):
            got = []
            for engine in (forward, backward):
                full = engine.search(ORG, query, RecordFilter(), k)
                hits: list[SearchHit] = full.hits
                got.append([h.record_id for h in hits])
                tied = [h.record_id for h in hits[:TWINS]]
                assert tied == twin_ids[: len(tied)]
                now = engine.search_now(ORG, vector, k)
                assert now is None or now == full
                # only the twins are this recent: the filtered paths rank them by id too
                flt = RecordFilter(start_us=SINCE_US)
                filtered = engine.search(ORG, query, flt, k, include_payloads=True)
                assert [h.record_id for h in filtered.hits] == twin_ids[: min(k, TWINS)]
                assert all(h.payload for h in filtered.hits)
            assert got[0] == got[1]
    finally:
        forward.close()
        backward.close()


def test_a_huge_tie_is_read_only_up_to_the_cap() -> None:
    """s20 V2-F3: the fetch grew until the whole tie group was read (a k=10 search over a
    group of 20k identical vectors: 40 -> 392 ms). It stops MAX_TIE_FETCH past k."""
    from memory_svc.search import MAX_TIE_FETCH, _tie_cut

    tied = np.zeros(5000, dtype=np.float32)
    assert _tie_cut(tied, 10, 26) and _tie_cut(tied, 10, 416)  # still growing
    assert not _tie_cut(tied, 10, 10 + MAX_TIE_FETCH)
    assert not _tie_cut(tied, 10, 1664)
