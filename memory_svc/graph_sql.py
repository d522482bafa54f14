"""The knowledge graph's reads, written once for both stores: the SQL differs only in its
placeholders and in how a list binds (``IN (…)`` for SQLite, ``= ANY(array)`` for
PostgreSQL), as in ``store_sql.filter_sql``.

Each read takes ``query(sql, params) -> rows`` — the calling thread's connection — so the
stores keep their own connections and error mapping. Lists are read in chunks (SQLite binds
at most a few thousand parameters).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from memory_svc.graph import GraphEdgeRow, GraphNodeRow

__all__ = ["POSTGRES", "SQLITE", "GraphReads"]

Query = Callable[[str, Sequence[object]], Iterable[Sequence[object]]]

_CHUNK = 500
_NODE_COLUMNS = "node_id, type, label, properties, record_count"


@dataclass(frozen=True, slots=True)
class _Dialect:
    mark: str
    arrays: bool

    def member(self, column: str, values: Sequence[str]) -> tuple[str, list[object]]:
        """``column`` in ``values``: the SQL and its parameters."""
        if self.arrays:
            return f"{column} = ANY({self.mark}::text[])", [list(values)]
        return f"{column} IN ({','.join([self.mark] * len(values))})", list(values)


SQLITE = _Dialect("?", arrays=False)
POSTGRES = _Dialect("%s", arrays=True)


def _node(row: Sequence[object]) -> GraphNodeRow:
    node_id, kind, label, props, count = row
    return GraphNodeRow(str(node_id), str(kind), str(label), int(count), json.loads(str(props)))  # type: ignore[call-overload]


def _edge(row: Sequence[object]) -> GraphEdgeRow:
    source, target, kind, weight = row
    return GraphEdgeRow(str(source), str(target), str(kind), int(weight))  # type: ignore[call-overload]


class GraphReads:
    """Nodes with records and edges with weight, whole or around given nodes."""

    def __init__(self, dialect: _Dialect, query: Query) -> None:
        self._d = dialect
        self._query = query

    def _chunks(self, values: Sequence[str]) -> Iterable[Sequence[str]]:
        for i in range(0, len(values), _CHUNK):
            yield values[i : i + _CHUNK]

    def present(self, org_id: str, node_ids: Sequence[str]) -> set[str]:
        """Those of ``node_ids`` that some current record supports."""
        m = self._d.mark
        found: set[str] = set()
        for part in self._chunks(list(dict.fromkeys(node_ids))):
            where, params = self._d.member("node_id", part)
            found.update(
                str(r[0])
                for r in self._query(
                    f"SELECT node_id FROM graph_nodes WHERE org_id = {m} AND record_count > 0 "
                    f"AND {where}",
                    [org_id, *params],
                )
            )
        return found

    def names_of_kind(self, org_id: str, kind: str) -> list[str]:
        """The names of the org's nodes of ``kind`` ("geo": its geos) that some current
        record supports, sorted; a range of the (org_id, node_id) key."""
        m = self._d.mark
        rows = self._query(
            f"SELECT node_id FROM graph_nodes WHERE org_id = {m} AND node_id >= {m} "
            f"AND node_id < {m} AND record_count > 0 ORDER BY node_id",
            [org_id, f"{kind}:", f"{kind};"],  # ';' sorts right after ':'
        )
        return [str(r[0])[len(kind) + 1 :] for r in rows]

    def nodes(self, org_id: str, node_ids: Sequence[str]) -> dict[str, GraphNodeRow]:
        """The rows of those of ``node_ids`` that some current record supports."""
        m = self._d.mark
        out: dict[str, GraphNodeRow] = {}
        for part in self._chunks(list(dict.fromkeys(node_ids))):
            where, params = self._d.member("node_id", part)
            for row in self._query(
                f"SELECT {_NODE_COLUMNS} FROM graph_nodes WHERE org_id = {m} "
                f"AND record_count > 0 AND {where}",
                [org_id, *params],
            ):
                node = _node(row)
                out[node.node_id] = node
        return out

    def edges_of(self, org_id: str, node_ids: Sequence[str]) -> list[GraphEdgeRow]:
        """Edges with weight that start or end at one of ``node_ids``, each once."""
        m = self._d.mark
        out: dict[tuple[str, str, str], GraphEdgeRow] = {}
        for part in self._chunks(list(dict.fromkeys(node_ids))):
            sources, p1 = self._d.member("source", part)
            targets, p2 = self._d.member("target", part)
            sql = (
                f"SELECT source, target, type, weight FROM graph_edges WHERE org_id = {m} "
                f"AND weight > 0 AND {sources} UNION ALL "
                f"SELECT source, target, type, weight FROM graph_edges WHERE org_id = {m} "
                f"AND weight > 0 AND {targets}"
            )
            for row in self._query(sql, [org_id, *p1, org_id, *p2]):
                edge = _edge(row)
                out[(edge.source, edge.target, edge.type)] = edge
        return list(out.values())

    def whole(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]:
        """Every node with records and every edge with weight (a whole-org export)."""
        m = self._d.mark
        nodes = [
            _node(r)
            for r in self._query(
                f"SELECT {_NODE_COLUMNS} FROM graph_nodes WHERE org_id = {m} AND record_count > 0",
                [org_id],
            )
        ]
        edges = [
            _edge(r)
            for r in self._query(
                "SELECT source, target, type, weight FROM graph_edges "
                f"WHERE org_id = {m} AND weight > 0",
                [org_id],
            )
        ]
        return nodes, edges
