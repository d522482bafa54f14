"""The knowledge graph is read from the store a level at a time, not held: neighbourhoods
answered from SQL equal those of the whole graph loaded into networkx (the way they were
answered before) on both stores, for every kind of start node, depth, edge-type filter and
cap; no query reads the whole graph; answers kept between requests stay under their byte
budget, and a write is seen at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.byte_lru import ByteLRU
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.errors import NodeNotFound
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.graph import GraphEdgeRow, GraphNodeRow, Neighbourhood
from memory_svc.org_graphs import OrgGraphs
from memory_svc.postgres import PostgresRecordStore
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordStore
from mesh.runtime.synthetic_records import synthetic_records

ORG = "kg"


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], RecordStore]:
    if request.param == "sqlite":
        return lambda: SQLiteRecordStore(tmp_path / "m.sqlite")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresRecordStore(url)


def _engine(store: RecordStore, path: Path, cache_bytes: int = 1 << 20) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    settings = MemorySettings(index=index, graph_cache_bytes=cache_bytes)
    return MemoryEngine(store, IndexManager(path, index), settings)


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _restated(records: list[md_pb.CausalMarketingData]) -> list[md_pb.CausalMarketingData]:
    """New versions of every 5th record moved to another geo: counts move, some nodes and
    edges drop to zero (no longer in the graph)."""
    out = []
    for r in records[::5]:
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.geo = "US-WA"
        out.append(new)
    return out


def _reference(
    nodes: list[GraphNodeRow],
    edges: list[GraphEdgeRow],
    start: str,
    depth: int,
    edge_types: frozenset[str],
    max_nodes: int,
) -> Neighbourhood:
    """The neighbourhood as it was answered before: the whole graph in networkx."""
    g = nx.MultiDiGraph()
    for n in nodes:
        g.add_node(n.node_id, row=n)
    for e in edges:
        if e.source in g and e.target in g:
            g.add_edge(e.source, e.target, key=e.type, weight=e.weight)

    def allowed(kind: str) -> bool:
        return not edge_types or kind in edge_types

    seen, order, frontier, truncated = {start}, [start], [start], False
    for _ in range(depth):
        nxt: list[str] = []
        for u in frontier:
            around = {v for _, v, k in g.out_edges(u, keys=True) if allowed(k)} | {
                v for v, _, k in g.in_edges(u, keys=True) if allowed(k)
            }
            for v in sorted(around):
                if v in seen:
                    continue
                if len(order) >= max_nodes:
                    truncated = True
                    break
                seen.add(v)
                order.append(v)
                nxt.append(v)
            if truncated:
                break
        if truncated or not nxt:
            break
        frontier = nxt
    out = [
        GraphEdgeRow(u, v, k, d["weight"])
        for u, v, k, d in g.edges(keys=True, data=True)
        if u in seen and v in seen and allowed(k)
    ]
    out.sort(key=lambda e: (e.source, e.target, e.type))
    return Neighbourhood([g.nodes[n]["row"] for n in order], out, truncated)


def test_neighbourhoods_from_sql_equal_the_whole_graph_ones(
    open_store: Callable[[], RecordStore], tmp_path: Path
) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    try:
        records = synthetic_records(ORG, 1200, seed=7, campaigns=12, geos=6)
        _write(engine, records)
        _write(engine, _restated(records))
        nodes, edges = engine.store.graph(ORG)
        ids = sorted(n.node_id for n in nodes)
        starts = [ids[0], *(ids[i] for i in range(0, len(ids), max(1, len(ids) // 25)))]
        starts += [n for n in ("org:kg", "campaign:c0", "geo:US-WA", "group:exp-bf/control")
                   if n in ids]  # fmt: skip
        assert "geo:US-WA" in starts
        filters = [
            frozenset(),
            frozenset({"targets"}),
            frozenset({"has_group", "assigns", "part_of"}),
            frozenset({"in_region", "owns"}),
        ]
        whole = engine.store.graph
        engine.store.graph = None  # type: ignore[method-assign, assignment]  # never read whole
        try:
            checked = 0
            for start in dict.fromkeys(starts):
                for depth in (1, 2, 3):
                    for types in filters:
                        for cap in (3, 40, 1000):
                            got = engine.query_graph(ORG, start, depth, types, cap)
                            want = _reference(nodes, edges, start, depth, types, cap)
                            assert got == want, (start, depth, types, cap)
                            checked += 1
        finally:
            engine.store.graph = whole  # type: ignore[method-assign]
        assert checked >= 25 * 36
        # the cap cut some of them and the filters emptied some, so both paths ran
        assert _reference(nodes, edges, "org:kg", 3, frozenset(), 3).truncated
        with pytest.raises(NodeNotFound):
            engine.query_graph(ORG, "geo:nowhere", 1, frozenset(), 10)
    finally:
        engine.close()


def test_answers_kept_stay_under_their_byte_budget_and_follow_writes(tmp_path: Path) -> None:
    budget = 64 << 10
    engine = _engine(SQLiteRecordStore(tmp_path / "m.sqlite"), tmp_path / "index", budget)
    try:
        records = synthetic_records(ORG, 1500, seed=8, campaigns=15, geos=8)
        _write(engine, records[:1000])
        graphs: OrgGraphs = engine._graphs
        nodes, _ = engine.store.graph(ORG)
        held = []
        for n in nodes:
            engine.query_graph(ORG, n.node_id, 2, frozenset(), 1000)
            held.append(graphs.cache.bytes_held)
        assert max(held) <= budget
        assert max(held) > budget // 2  # it filled up, so eviction ran
        assert len(graphs.cache) < len(nodes)
        before = engine.query_graph(ORG, "campaign:c1", 1, frozenset(), 1000)
        assert engine.query_graph(ORG, "campaign:c1", 1, frozenset(), 1000) is before  # kept
        _write(engine, records[1000:])  # more of campaign c1: a new data version
        after = engine.query_graph(ORG, "campaign:c1", 1, frozenset(), 1000)
        assert after.nodes[0].record_count > before.nodes[0].record_count
        assert after == _reference(*engine.store.graph(ORG), "campaign:c1", 1, frozenset(), 1000)
    finally:
        engine.close()


def test_spaces_counts_read_from_the_store(tmp_path: Path) -> None:
    engine = _engine(SQLiteRecordStore(tmp_path / "m.sqlite"), tmp_path / "index")
    try:
        _write(engine, synthetic_records(ORG, 600, seed=9, campaigns=6, geos=5))
        nodes, _ = engine.store.graph(ORG)
        by_id = {n.node_id: n.record_count for n in nodes}
        spaces = engine.spaces(ORG)
        assert spaces and all(sum(s.counts.values()) == 600 for s in spaces)
        for s in spaces:
            for region, count in s.counts.items():
                assert count == by_id.get(f"region:{s.name}/{region}", 0)
    finally:
        engine.close()


def test_byte_lru_drops_least_recent_first() -> None:
    lru: ByteLRU[str] = ByteLRU(100)
    lru.put("a", "A", 40)
    lru.put("b", "B", 40)
    assert lru.get("a") == "A"  # a is now the most recent
    lru.put("c", "C", 40)  # over 100: b goes
    assert (lru.get("b"), lru.get("a"), lru.get("c")) == (None, "A", "C")
    assert lru.bytes_held == 80
    lru.put("huge", "H", 101)  # larger than the budget alone: not kept, nothing dropped
    assert lru.get("huge") is None and len(lru) == 2
    lru.put("a", "A2", 10)  # replacing re-counts
    assert lru.bytes_held == 50 and lru.get("a") == "A2"


def test_no_cache_still_answers(tmp_path: Path) -> None:
    engine = _engine(SQLiteRecordStore(tmp_path / "m.sqlite"), tmp_path / "index", 0)
    try:
        _write(engine, synthetic_records(ORG, 200, seed=1, campaigns=4, geos=3))
        got = engine.query_graph(ORG, "org:kg", 1, frozenset(), 100)
        assert [n.node_id for n in got.nodes][:1] == ["org:kg"] and len(got.nodes) == 5
        assert engine._graphs.cache.bytes_held == 0
    finally:
        engine.close()
