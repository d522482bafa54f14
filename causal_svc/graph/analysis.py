"""What the graph says about one treatment → outcome question.

:func:`analyze_graph` answers the questions identification needs: which observed set blocks
every backdoor path, who confounds and who mediates, which variables are instruments, whether
the frontdoor criterion applies, and, when nothing observed can block a backdoor path, which path
through an unobserved node stays open.

Everything graph-theoretic goes through networkx (``nx.is_d_separator``,
``nx.find_minimal_d_separator``); the criteria are Pearl's (2009, *Causality*, 2nd ed., §3.3)
and the variance-optimal adjustment set of Henckel, Perković & Maathuis (2022).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import networkx as nx

from causal_svc.errors import InvalidGraph, NotIdentifiable

from .dag import CausalGraph, NodeRole

__all__ = [
    "GraphAnalysis",
    "Instrument",
    "analyze_graph",
    "d_separated",
    "format_path",
    "is_valid_adjustment_set",
]

# Frontdoor sets are searched exhaustively over observed mediators; beyond this many candidates
# the search stops at sets of three, which covers every marketing funnel we model.
_FRONTDOOR_FULL_SEARCH = 12
_FRONTDOOR_MAX_SIZE = 4
# Simple paths examined when naming an open backdoor path; the shortest ones come first.
_PATHS_TO_EXAMINE = 500


@dataclass(frozen=True, slots=True)
class Instrument:
    """A variable that moves the treatment and reaches the outcome only through it.

    ``conditioning_set`` is empty for an unconditional instrument; otherwise the instrument is
    valid only given these (observed) variables (Brito & Pearl 2002, conditional IV).
    """

    name: str
    conditioning_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphAnalysis:
    """What the graph says about the effect of ``treatment`` on ``outcome`` (node names)."""

    treatment: str
    outcome: str
    backdoor_identifiable: bool
    adjustment_set: tuple[str, ...]  # the recommended set: optimal when usable, else minimal
    minimal_adjustment_set: tuple[str, ...] | None
    optimal_adjustment_set: tuple[str, ...] | None
    confounders: tuple[str, ...]
    unobserved_confounders: tuple[str, ...]
    mediators: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    frontdoor_set: tuple[str, ...] | None
    open_backdoor_path: str | None  # e.g. "spend ← demand → revenue", when nothing can block it
    treatment_randomised: bool
    has_causal_path: bool
    reason: str
    column_map: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def identifiable(self) -> bool:
        """Identified by some graphical criterion: backdoor, frontdoor or an instrument."""
        return (
            self.backdoor_identifiable or self.frontdoor_set is not None or bool(self.instruments)
        )

    def column(self, node: str) -> str:
        return self.column_map.get(node, node)

    @property
    def adjustment_columns(self) -> tuple[str, ...]:
        return tuple(self.column(n) for n in self.adjustment_set)

    def require_backdoor(self) -> tuple[str, ...]:
        """The adjustment columns, or ``NotIdentifiable`` carrying the reason in words."""
        if not self.backdoor_identifiable:
            raise NotIdentifiable(self.reason, subject=f"{self.treatment} → {self.outcome}")
        return self.adjustment_columns


def d_separated(
    graph: CausalGraph, x: Collection[str], y: Collection[str], given: Collection[str] = ()
) -> bool:
    """Whether ``given`` d-separates node sets ``x`` and ``y`` in ``graph`` (Pearl 2009, §1.2.3)."""
    known = set(graph.names())
    for label, names in (("x", x), ("y", y), ("given", given)):
        for name in names:
            if name not in known:
                raise InvalidGraph(f"node {name!r} is not in the graph", field=label)
    return bool(nx.is_d_separator(graph.to_networkx(), set(x), set(y), set(given)))


def is_valid_adjustment_set(
    graph: CausalGraph, treatment: str, outcome: str, adjustment: Collection[str]
) -> bool:
    """Pearl's backdoor criterion: no descendant of the treatment, and every backdoor path blocked.

    Observability is not checked here; :func:`analyze_graph` only proposes observed sets.
    """
    g = graph.to_networkx()
    for name in (treatment, outcome, *adjustment):
        if name not in g:
            raise InvalidGraph(f"node {name!r} is not in the graph", field="adjustment")
    z = set(adjustment)
    if z & (nx.descendants(g, treatment) | {treatment, outcome}):
        return False
    return bool(nx.is_d_separator(_backdoor_graph(g, treatment), {treatment}, {outcome}, z))


def analyze_graph(
    graph: CausalGraph,
    treatment: str,
    outcome: str,
    *,
    available_columns: Collection[str] | None = None,
) -> GraphAnalysis:
    """Identification facts for the effect of ``treatment`` on ``outcome``.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str
        Node names, or the data column of a node.
    available_columns : collection of str, optional
        The columns the data has. A node whose column is missing counts as unobserved: it cannot
        be adjusted for, however the graph labels it.

    Returns
    -------
    GraphAnalysis
        Node names throughout; ``adjustment_columns`` / ``column()`` give data columns.

    Notes
    -----
    - Backdoor (Pearl 2009, Def. 3.3.1): a set with no descendant of the treatment that
      d-separates treatment and outcome once the treatment's outgoing edges are removed. The
      minimal set comes from ``nx.find_minimal_d_separator`` (van der Zander & Liśkiewicz 2020)
      restricted to observed non-descendants; the optimal set is
      O = pa(cn) \\ (de(cn) ∪ {T}) (Henckel, Perković & Maathuis 2022), used when observed,
      since it gives the smallest asymptotic variance among valid sets.
    - Frontdoor (Pearl 2009, Def. 3.3.3): M intercepts every directed path T → Y, no backdoor
      path T → M is open, and T blocks every backdoor path M → Y.
    - Instruments (Pearl 2009, §7.4.5; Brito & Pearl 2002): Z is a cause of T and is d-separated
      from Y, given a set W of observed non-descendants of T, once T's outgoing edges are removed,
      while staying d-connected to T given W. We do not condition on T itself: in the
      graph without T's outgoing edges T is a collider on Z → T ← U → Y, and conditioning on
      it would reject every instrument exactly when confounding makes one necessary.
    """
    if available_columns is not None:
        graph = graph.with_available_columns(set(available_columns))
    t = graph.resolve(treatment, "treatment")
    y = graph.resolve(outcome, "outcome")
    if t == y:
        raise InvalidGraph("treatment and outcome are the same node", field="outcome")
    g = graph.to_networkx()
    observed = {n.name for n in graph.nodes if n.observed}
    for name, role in ((t, "treatment"), (y, "outcome")):
        if name not in observed:
            raise InvalidGraph(f"{role} {name!r} is not observed in the data", field=role)

    desc_t = nx.descendants(g, t)
    has_path = y in desc_t
    forbidden = desc_t | {t, y} | nx.descendants(g, y)
    allowed = observed - forbidden
    bd = _backdoor_graph(g, t)

    minimal = nx.find_minimal_d_separator(bd, t, y, restricted=allowed)
    minimal_set = tuple(sorted(minimal)) if minimal is not None else None
    optimal_set = _optimal_set(g, bd, t, y, allowed) if minimal is not None else None
    adjustment = optimal_set if optimal_set is not None else minimal_set or ()

    mediators = tuple(sorted((desc_t & nx.ancestors(g, y)) - {t, y}))
    g_without_t = g.copy()
    g_without_t.remove_node(t)
    confounders = tuple(sorted(nx.ancestors(g, t) & nx.ancestors(g_without_t, y)))
    hidden = tuple(c for c in confounders if c not in observed)
    instruments = _instruments(g, bd, t, y, observed, forbidden)
    frontdoor = _frontdoor(g, t, y, observed, mediators)
    parents = set(g.predecessors(t))
    randomised = bool(parents) and all(g.nodes[p]["role"] is NodeRole.EXPERIMENT for p in parents)
    open_path = None if minimal is not None else _open_backdoor_path(g, bd, t, y, allowed)
    reason = _reason(
        t, y, minimal_set, adjustment, open_path, hidden, frontdoor, instruments, has_path
    )
    return GraphAnalysis(
        treatment=t,
        outcome=y,
        backdoor_identifiable=minimal is not None,
        adjustment_set=tuple(adjustment),
        minimal_adjustment_set=minimal_set,
        optimal_adjustment_set=optimal_set,
        confounders=confounders,
        unobserved_confounders=hidden,
        mediators=mediators,
        instruments=instruments,
        frontdoor_set=frontdoor,
        open_backdoor_path=open_path,
        treatment_randomised=randomised,
        has_causal_path=has_path,
        reason=reason,
        column_map={n.name: n.data_column for n in graph.nodes},
    )


def format_path(g: nx.DiGraph, path: list[str]) -> str:
    """``a ← b → c``: a path with each edge's direction shown."""
    out = [path[0]]
    for a, b in itertools.pairwise(path):
        out.append(f"→ {b}" if g.has_edge(a, b) else f"← {b}")
    return " ".join(out)


def _backdoor_graph(g: nx.DiGraph, t: str) -> nx.DiGraph:
    bd = g.copy()
    bd.remove_edges_from(list(g.out_edges(t)))
    return bd


def _optimal_set(
    g: nx.DiGraph, bd: nx.DiGraph, t: str, y: str, allowed: set[str]
) -> tuple[str, ...] | None:
    # cn: nodes on proper causal paths T → Y other than T (Henckel et al. 2022, Def. 3.1)
    causal = (
        (nx.descendants(g, t) & (nx.ancestors(g, y) | {y})) if y in nx.descendants(g, t) else set()
    )
    if not causal:
        return None
    forbidden = {t}.union(*(nx.descendants(g, c) | {c} for c in causal))
    o_set = set().union(*(set(g.predecessors(c)) for c in causal)) - forbidden
    if not o_set <= allowed or not nx.is_d_separator(bd, {t}, {y}, o_set):
        return None
    return tuple(sorted(o_set))


def _instruments(
    g: nx.DiGraph, bd: nx.DiGraph, t: str, y: str, observed: set[str], forbidden: set[str]
) -> tuple[Instrument, ...]:
    found = []
    for z in sorted(nx.ancestors(g, t) & observed - forbidden):
        if nx.is_d_separator(bd, {z}, {y}, set()):
            found.append(Instrument(z))
            continue
        w = nx.find_minimal_d_separator(bd, z, y, restricted=observed - forbidden - {z})
        if w is not None and not nx.is_d_separator(g, {z}, {t}, set(w)):
            found.append(Instrument(z, tuple(sorted(w))))
    return tuple(found)


def _frontdoor(
    g: nx.DiGraph, t: str, y: str, observed: set[str], mediators: tuple[str, ...]
) -> tuple[str, ...] | None:
    # nearest the treatment first, so the funnel's first stage is preferred among equals
    order = {n: i for i, n in enumerate(nx.topological_sort(g))}
    candidates = sorted((m for m in mediators if m in observed), key=order.__getitem__)
    if not candidates:
        return None
    largest = _FRONTDOOR_MAX_SIZE if len(candidates) <= _FRONTDOOR_FULL_SEARCH else 3
    bd_t = _backdoor_graph(g, t)
    for size in range(1, min(largest, len(candidates)) + 1):
        for combo in itertools.combinations(candidates, size):
            m = set(combo)
            cut = g.copy()
            cut.remove_nodes_from(m)
            if nx.has_path(cut, t, y):
                continue  # (i) some directed path avoids M
            if not nx.is_d_separator(bd_t, {t}, m, set()):
                continue  # (ii) an open backdoor path T → M
            bd_m = g.copy()
            bd_m.remove_edges_from([e for node in m for e in g.out_edges(node)])
            if nx.is_d_separator(bd_m, m, {y}, {t}):
                return tuple(sorted(m))  # (iii) T blocks every backdoor path M → Y
    return None


def _open_backdoor_path(
    g: nx.DiGraph, bd: nx.DiGraph, t: str, y: str, allowed: set[str]
) -> str | None:
    """A backdoor path no allowed set can block: no colliders and no adjustable node on it."""
    skeleton = bd.to_undirected(as_view=True)
    try:
        paths = nx.shortest_simple_paths(skeleton, t, y)
        for path in itertools.islice(paths, _PATHS_TO_EXAMINE):
            inner = path[1:-1]
            if not bd.has_edge(path[1], t) or any(n in allowed for n in inner):
                continue
            colliders = [
                b
                for a, b, c in zip(path, path[1:], path[2:], strict=False)
                if bd.has_edge(a, b) and bd.has_edge(c, b)
            ]
            if not colliders:
                return format_path(g, path)
    except nx.NetworkXNoPath:
        return None
    return None


def _reason(
    t: str,
    y: str,
    minimal: tuple[str, ...] | None,
    adjustment: tuple[str, ...],
    open_path: str | None,
    hidden: tuple[str, ...],
    frontdoor: tuple[str, ...] | None,
    instruments: tuple[Instrument, ...],
    has_path: bool,
) -> str:
    parts = []
    if not has_path:
        parts.append(
            f"The graph has no directed path from {t} to {y}: it asserts the effect is zero."
        )
    if minimal is not None:
        if minimal and adjustment:
            parts.append(
                f"Adjusting for {{{', '.join(adjustment)}}} blocks every backdoor path from {t} to {y}."
            )
        elif adjustment:
            parts.append(
                f"No backdoor path connects {t} and {y}; adjusting for {{{', '.join(adjustment)}}} "
                "(other causes of the outcome) is not needed for identification but sharpens the "
                "estimate."
            )
        else:
            parts.append(f"No backdoor path connects {t} and {y}: no adjustment is needed.")
    else:
        where = f" ({open_path})" if open_path else ""
        via = f" through unobserved {', '.join(hidden)}" if hidden else ""
        parts.append(
            f"The effect of {t} on {y} is not identifiable by adjustment from this graph: a backdoor "
            f"path{via}{where} stays open whatever observed variables are adjusted for."
        )
        if frontdoor is not None:
            parts.append(
                f"The frontdoor criterion holds through {{{', '.join(frontdoor)}}}: the effect is "
                "identified by the frontdoor formula."
            )
        else:
            parts.append("No observed set of mediators satisfies the frontdoor criterion.")
        if instruments:
            names = ", ".join(i.name for i in instruments)
            parts.append(f"Candidate instruments: {names}.")
    return " ".join(parts)
