"""The knowledge graph: typed nodes and edges derived from records, and its neighbourhoods.

Every record links to a fixed pattern of nodes (its org, campaign, channel, source, geo,
month, experiment and treatment group, confounders in play, conceptual regions); the edges
between them follow from the node types alone (campaign RUNS_ON channel, …), so a record's
node list is all that is needed to add or withdraw its contribution. Counts (node
record_count, edge weight) are the number of current records supporting them; the store
keeps them in the same transaction as the records, and a neighbourhood is read from its
tables a level at a time (``neighbourhood``), so no process holds an org's whole graph: its
size follows the org's campaigns, geos and months, which grow with the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memory_svc.features import CONFOUNDER_STRENGTH_IN_TEXT

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "GraphDelta",
    "GraphEdgeRow",
    "GraphNodeRow",
    "Neighbourhood",
    "Roles",
    "batch_delta",
    "edges_of",
    "neighbourhood",
    "roles",
]

# node-id prefix → node type name (as in the GraphNodeType enum, lower case).
NODE_TYPES = {
    "org": "org",
    "campaign": "campaign",
    "channel": "channel",
    "experiment": "experiment",
    "group": "treatment_group",
    "confounder": "confounder",
    "region": "conceptual_region",
    "period": "time_period",
    "source": "data_source",
    "geo": "geo",
}
EDGE_TYPES = (
    "owns",
    "runs_on",
    "part_of",
    "has_group",
    "confounded_by",
    "in_region",
    "active_in",
    "from_source",
    "targets",
    "assigns",
)


@dataclass(frozen=True, slots=True)
class GraphNodeRow:
    """A stored node with its aggregate count and display data."""

    node_id: str
    type: str
    label: str
    record_count: int
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphEdgeRow:
    """A stored edge with the number of records supporting it."""

    source: str
    target: str
    type: str
    weight: int


@dataclass(slots=True)
class GraphDelta:
    """Count changes from one write: +1 per new record, -1 per replaced one."""

    nodes: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    labels: dict[str, tuple[str, str, dict[str, str]]] = field(default_factory=dict)

    def add(self, nodes: Sequence[str], sign: int) -> None:
        for n in nodes:
            self.nodes[n] += sign
        for e in edges_of(nodes):
            self.edges[e] += sign


def node_type(node_id: str) -> str:
    return NODE_TYPES[node_id.split(":", 1)[0]]


def edges_of(nodes: Sequence[str]) -> list[tuple[str, str, str]]:
    """The typed edges a record with these nodes supports (source, target, type)."""
    by: dict[str, list[str]] = {}
    for n in nodes:
        by.setdefault(n.split(":", 1)[0], []).append(n)

    def one(prefix: str) -> str | None:
        found = by.get(prefix)
        return found[0] if found else None

    org, campaign, channel = one("org"), one("campaign"), one("channel")
    source, geo, period = one("source"), one("geo"), one("period")
    experiment, group = one("experiment"), one("group")
    out: list[tuple[str, str, str]] = []

    def link(a: str | None, b: str | None, kind: str) -> None:
        if a and b:
            out.append((a, b, kind))

    link(org, campaign, "owns")
    link(campaign, channel, "runs_on")
    link(channel, source, "from_source")
    link(campaign, experiment, "part_of")
    link(geo, experiment, "part_of")
    link(experiment, group, "has_group")
    link(group, geo, "assigns")
    link(campaign, period, "active_in")
    link(campaign, geo, "targets")
    for c in by.get("confounder", ()):
        link(campaign, c, "confounded_by")
    for r in by.get("region", ()):
        link(campaign, r, "in_region")
    return out


@dataclass(slots=True)
class Roles:
    """Each record's node in each role (None where absent), column by column."""

    org: list[str | None]
    campaign: list[str | None]
    channel: list[str | None]
    source: list[str | None]
    geo: list[str | None]
    period: list[str | None]
    experiment: list[str | None]
    group: list[str | None]
    confounders: list[list[str]]
    regions: list[list[str]]

    def node_lists(self) -> list[list[str]]:
        singles = zip(
            self.org,
            self.campaign,
            self.channel,
            self.source,
            self.geo,
            self.period,
            self.experiment,
            self.group,
            strict=True,
        )
        return [
            [*filter(None, row), *c, *r]
            for row, c, r in zip(singles, self.confounders, self.regions, strict=True)
        ]


def _node_column(
    prefix: str,
    values: Sequence[str] | np.ndarray,
    skip: tuple[str, ...] = ("",),
    *,
    space: str = "",
) -> list[str | None]:
    """``prefix:value`` (``prefix:space/value`` for a region) per row, None where the value
    is in ``skip``; each distinct value formatted once."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    key = f"{prefix}:{space}/" if space else f"{prefix}:"
    table = [None if u in skip else f"{key}{u}" for u in uniques.tolist()]
    return np.array([*table, None], dtype=object)[codes].tolist()


def roles(
    org_id: str,
    columns: dict[str, list[str]],
    confounders: dict[str, np.ndarray],
    regions: Sequence[tuple[str, np.ndarray]],
    months: list[str],
) -> Roles:
    """Each record's nodes by role.

    Parameters
    ----------
    columns : dict of str → list[str]
        ``campaign_id``, ``channel``, ``data_source``, ``geo``, ``experiment_id``,
        ``treatment_group`` per record.
    confounders : dict of name → strength array
        A confounder links when its strength is at least the causal-text threshold.
    regions : sequence of (space, region names array)
    months : list[str]
        ``YYYY-MM`` per record.
    """
    n = len(months)
    experiments = columns["experiment_id"]
    group = [
        f"group:{e}/{g}" if e and g in ("treatment", "control") else None
        for e, g in zip(experiments, columns["treatment_group"], strict=True)
    ]
    in_play: list[list[str]] = [[] for _ in range(n)]
    for name, strength in confounders.items():
        node = f"confounder:{name}"
        for i in np.flatnonzero(strength >= CONFOUNDER_STRENGTH_IN_TEXT).tolist():
            in_play[i].append(node)
    per_space = [_node_column("region", names, space=space) for space, names in regions]
    region_nodes = (
        [list(row) for row in zip(*per_space, strict=True)] if per_space else [[] for _ in range(n)]
    )
    return Roles(
        org=[f"org:{org_id}"] * n,
        campaign=_node_column("campaign", columns["campaign_id"]),
        channel=_node_column("channel", columns["channel"]),
        source=_node_column("source", columns["data_source"], ("", "unspecified")),
        geo=_node_column("geo", columns["geo"]),
        period=_node_column("period", months, ()),
        experiment=_node_column("experiment", experiments),
        group=group,
        confounders=in_play,
        regions=region_nodes,
    )


def _counts(values: Sequence[str | None]) -> dict[str, int]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    found = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return dict(zip(uniques.tolist(), found.tolist(), strict=True))


def _pair_counts(
    a: Sequence[str | None], b: Sequence[str | None], kind: str
) -> dict[tuple[str, str, str], int]:
    """Count of each (a, b) pair over rows where both are set."""
    ca, ua = pd.factorize(np.asarray(a, dtype=object))
    cb, ub = pd.factorize(np.asarray(b, dtype=object))
    both = (ca >= 0) & (cb >= 0)
    if not both.any():
        return {}
    keys, found = np.unique(ca[both] * len(ub) + cb[both], return_counts=True)
    left, right = ua[keys // len(ub)].tolist(), ub[keys % len(ub)].tolist()
    return {(x, y, kind): c for x, y, c in zip(left, right, found.tolist(), strict=True)}


def batch_delta(r: Roles, labels: dict[str, tuple[str, str, dict[str, str]]]) -> GraphDelta:
    """+1 counts for a batch of new records, counted column-wise (same result as
    :func:`edges_of` per record, each distinct node and pair counted once with numpy)."""
    delta = GraphDelta()
    for column in (r.org, r.campaign, r.channel, r.source, r.geo, r.period, r.experiment, r.group):
        delta.nodes.update(_counts(column))
    # one row per (record, confounder / region) for the many-valued roles
    for many, kind in ((r.confounders, "confounded_by"), (r.regions, "in_region")):
        flat = [x for xs in many for x in xs]
        if not flat:
            continue
        delta.nodes.update(_counts(flat))
        owners = [c for c, xs in zip(r.campaign, many, strict=True) for _ in xs]
        delta.edges.update(_pair_counts(owners, flat, kind))
    for a, b, kind in (
        (r.org, r.campaign, "owns"),
        (r.campaign, r.channel, "runs_on"),
        (r.channel, r.source, "from_source"),
        (r.campaign, r.experiment, "part_of"),
        (r.geo, r.experiment, "part_of"),
        (r.experiment, r.group, "has_group"),
        (r.group, r.geo, "assigns"),
        (r.campaign, r.period, "active_in"),
        (r.campaign, r.geo, "targets"),
    ):
        delta.edges.update(_pair_counts(a, b, kind))
    delta.labels.update(labels)
    return delta


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """Nodes (start first, breadth-first), edges among them, and whether the cap cut it."""

    nodes: list[GraphNodeRow]
    edges: list[GraphEdgeRow]
    truncated: bool


NodeReader = Callable[[Sequence[str]], dict[str, GraphNodeRow]]
EdgeReader = Callable[[Sequence[str]], list[GraphEdgeRow]]

# Frontier nodes whose edges are read at once: a hub's level is read a slice at a time, so a
# query cut by max_nodes reads little past the cut.
_FRONTIER_SLICE = 256


def neighbourhood(
    nodes_of: NodeReader,
    edges_of: EdgeReader,
    start: GraphNodeRow,
    *,
    depth: int,
    edge_types: frozenset[str] = frozenset(),
    max_nodes: int,
) -> Neighbourhood:
    """Breadth-first neighbourhood of ``start`` following edges either way, up to ``depth``,
    read from the store a level at a time (never the whole graph).

    ``nodes_of(ids)`` gives the rows of those ids that have records, ``edges_of(ids)`` the
    weighted edges touching them. Only edges of ``edge_types`` are followed and returned
    (all when empty), and only between nodes with records. Nodes are visited in BFS order
    with neighbours sorted by id, so the answer is deterministic.
    """

    def allowed(kind: str) -> bool:
        return not edge_types or kind in edge_types

    known: dict[str, GraphNodeRow] = {start.node_id: start}
    absent: set[str] = set()
    found: dict[tuple[str, str, str], GraphEdgeRow] = {}

    def around(part: Sequence[str]) -> dict[str, set[str]]:
        """Neighbours with records of each node in ``part`` over allowed edges; those edges
        are kept for the answer."""
        touching = [e for e in edges_of(part) if allowed(e.type)]
        unknown = {n for e in touching for n in (e.source, e.target)} - known.keys() - absent
        if unknown:
            rows = nodes_of(sorted(unknown))
            known.update(rows)
            absent.update(unknown - rows.keys())
        adjacent: dict[str, set[str]] = {}
        for e in touching:
            if e.source in known and e.target in known:
                found[(e.source, e.target, e.type)] = e
                adjacent.setdefault(e.source, set()).add(e.target)
                adjacent.setdefault(e.target, set()).add(e.source)
        return adjacent

    seen = {start.node_id}
    order = [start.node_id]
    frontier = [start.node_id]
    expanded: set[str] = set()
    truncated = False
    for _ in range(depth):
        nxt: list[str] = []
        for i in range(0, len(frontier), _FRONTIER_SLICE):
            part = frontier[i : i + _FRONTIER_SLICE]
            adjacent = around(part)
            expanded.update(part)
            for u in part:
                for v in sorted(adjacent.get(u, ())):
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
            if truncated:
                break
        if truncated or not nxt:
            break
        frontier = nxt
    rest = [n for n in order if n not in expanded]
    for i in range(0, len(rest), _FRONTIER_SLICE):
        around(rest[i : i + _FRONTIER_SLICE])  # edges among nodes never expanded
    edges = [e for e in found.values() if e.source in seen and e.target in seen]
    edges.sort(key=lambda e: (e.source, e.target, e.type))
    return Neighbourhood([known[n] for n in order], edges, truncated)
