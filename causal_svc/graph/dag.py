"""The causal DAG: typed nodes and directed edges, validated on construction, and the edits a
caller makes to it.

A :class:`CausalGraph` is immutable: no self-loops, no cycles, no edges to unknown nodes.
:meth:`CausalGraph.with_edits` merges the edges a caller adds or removes and says which edit
broke the graph.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import networkx as nx

from causal_svc.errors import InvalidGraph
from mesh.runtime.quoting import shown

__all__ = ["CausalGraph", "Node", "NodeRole"]


class NodeRole(enum.StrEnum):
    """What a node is in the marketing model (a label; the analysis derives roles per question)."""

    TREATMENT = "treatment"
    OUTCOME = "outcome"
    CONFOUNDER = "confounder"
    MEDIATOR = "mediator"
    INSTRUMENT = "instrument"
    EXPERIMENT = (
        "experiment"  # randomised assignment; a treatment whose only causes are these is randomised
    )
    COVARIATE = "covariate"


@dataclass(frozen=True, slots=True)
class Node:
    """One variable: its role label, whether the data can contain it, and its column name."""

    name: str
    role: NodeRole = NodeRole.COVARIATE
    observed: bool = True
    column: str | None = None  # data column; the node's name when None
    description: str = ""

    @property
    def data_column(self) -> str:
        return self.column or self.name


@dataclass(frozen=True, slots=True)
class CausalGraph:
    """An immutable DAG of typed nodes. Invalid graphs cannot be constructed."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        names: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            if not node.name:
                raise InvalidGraph("a node has an empty name", field=f"nodes[{i}]")
            if node.name in names:
                raise InvalidGraph(f"node {node.name!r} is declared twice", field=f"nodes[{i}]")
            names[node.name] = i
        g = nx.DiGraph()
        g.add_nodes_from(names)
        for i, (a, b) in enumerate(self.edges):
            for end in (a, b):
                if end not in names:
                    raise InvalidGraph(
                        f"edge {a} → {b} names unknown node {end!r}", field=f"edges[{i}]"
                    )
            _check_edge(g, a, b, f"edges[{i}]")
            g.add_edge(a, b)

    # -- reading -------------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InvalidGraph(f"node {name!r} is not in the graph", field="node")

    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def to_networkx(self) -> nx.DiGraph:
        """A fresh ``nx.DiGraph`` (node attributes: role, observed, column)."""
        g = nx.DiGraph()
        for n in self.nodes:
            g.add_node(n.name, role=n.role, observed=n.observed, column=n.data_column)
        g.add_edges_from(self.edges)
        return g

    def resolve(self, name_or_column: str, field_name: str) -> str:
        """The node called ``name_or_column``, or else the node whose data column it is."""
        for n in self.nodes:
            if n.name == name_or_column:
                return n.name
        matches = [n.name for n in self.nodes if n.data_column == name_or_column]
        if len(matches) == 1:
            return matches[0]
        raise InvalidGraph(
            f"{name_or_column!r} is neither a node nor the column of exactly one node",
            field=field_name,
        )

    # -- editing -------------------------------------------------------------------------------

    def with_edits(
        self,
        *,
        add_edges: Iterable[tuple[str, str]] = (),
        remove_edges: Iterable[tuple[str, str]] = (),
        add_nodes: Iterable[Node] = (),
        unobserved: Iterable[str] = (),
        observed: Iterable[str] = (),
    ) -> CausalGraph:
        """Merge a caller's changes into this graph.

        Parameters
        ----------
        add_edges, remove_edges : iterable of (cause, effect)
            Removals are applied first, so a caller can reverse an edge in one request.
            Removing an edge between unknown nodes, or one that is absent, is an error. An added
            edge may introduce a new node: it is taken as an observed covariate whose column has
            the node's name (declare it in ``add_nodes`` to say otherwise).
        add_nodes : iterable of Node
            New nodes, or replacements for existing ones (same name).
        unobserved, observed : iterable of str
            Node names whose observed flag to set.

        Returns
        -------
        CausalGraph

        Raises
        ------
        InvalidGraph
            Naming the offending field (``add_edges[2]``) and, for a cycle, the cycle itself.
        """
        nodes = {n.name: n for n in self.nodes}
        for node in add_nodes:
            nodes[node.name] = node
        g = nx.DiGraph()
        g.add_nodes_from(nodes)
        g.add_edges_from(self.edges)
        for i, (a, b) in enumerate(remove_edges):
            where = f"remove_edges[{i}]"
            for end in (a, b):
                if end not in nodes:
                    raise InvalidGraph(
                        f"cannot remove {a} → {b}: node {end!r} is not in the graph", field=where
                    )
            if not g.has_edge(a, b):
                raise InvalidGraph(
                    f"cannot remove {a} → {b}: the graph has no such edge", field=where
                )
            g.remove_edge(a, b)
        for i, (a, b) in enumerate(add_edges):
            for end in (a, b):
                if end not in nodes:
                    nodes[end] = Node(end, NodeRole.COVARIATE, observed=True)
                    g.add_node(end)
            _check_edge(g, a, b, f"add_edges[{i}]")
            g.add_edge(a, b)
        for flag, names, label in ((False, unobserved, "unobserved"), (True, observed, "observed")):
            for i, name in enumerate(names):
                if name not in nodes:
                    raise InvalidGraph(f"node {name!r} is not in the graph", field=f"{label}[{i}]")
                old = nodes[name]
                nodes[name] = Node(old.name, old.role, flag, old.column, old.description)
        return CausalGraph(tuple(nodes.values()), tuple(g.edges))

    def with_available_columns(self, columns: Collection[str]) -> CausalGraph:
        """Mark unobserved every node whose data column is not among ``columns``."""
        missing = [n.name for n in self.nodes if n.observed and n.data_column not in columns]
        return self.with_edits(unobserved=missing) if missing else self


def _check_edge(g: nx.DiGraph, a: str, b: str, where: str) -> None:
    if a == b:
        raise InvalidGraph(f"edge {shown(a)} → {shown(b)} is a self-loop", field=where)
    if g.has_node(a) and g.has_node(b) and nx.has_path(g, b, a):
        cycle = [*nx.shortest_path(g, b, a), b]
        raise InvalidGraph(
            f"edge {shown(a)} → {shown(b)} would create the cycle "
            + " → ".join(shown(n, 60) for n in cycle[:20])
            + (" → …" if len(cycle) > 20 else ""),
            field=where,
            reason="GRAPH_CYCLE",
        )
