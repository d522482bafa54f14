"""The causal graph: validation, edits, and identification facts against hand-derived answers."""

from __future__ import annotations

import itertools

import pytest

from causal_svc.default_graph import CALENDAR_CONFOUNDERS, default_marketing_graph
from causal_svc.errors import InvalidGraph, NotIdentifiable
from causal_svc.graph import (
    CausalGraph,
    Instrument,
    Node,
    NodeRole,
    analyze_graph,
    d_separated,
    is_valid_adjustment_set,
)


def graph(edges: str, *, hidden: str = "") -> CausalGraph:
    """Build a graph from ``"a->b b->c"``; ``hidden`` lists unobserved nodes."""
    pairs = [tuple(e.split("->")) for e in edges.split()]
    names = list(dict.fromkeys(n for p in pairs for n in p))
    unobserved = set(hidden.split())
    return CausalGraph(tuple(Node(n, observed=n not in unobserved) for n in names), tuple(pairs))  # type: ignore[arg-type]


def all_columns_but(*names: str) -> list[str]:
    return [n.data_column for n in default_marketing_graph().nodes if n.name not in names]


# -- the default marketing DAG -----------------------------------------------------------------


def test_default_dag_adjusts_for_confounders_not_mediators() -> None:
    g = default_marketing_graph()
    a = analyze_graph(g, "spend", "revenue")
    assert a.backdoor_identifiable
    assert {"demand", "seasonality"} <= set(a.adjustment_set)
    assert set(a.adjustment_set) == {*CALENDAR_CONFOUNDERS, "demand"}
    assert not {"impressions", "clicks", "conversions"} & set(a.adjustment_set)
    assert a.mediators == ("clicks", "conversions", "impressions")
    assert set(a.confounders) == {*CALENDAR_CONFOUNDERS, "demand"}
    assert {i.name for i in a.instruments} == {"cost_shock", "experiment_assignment"}
    assert "demand_index" in a.adjustment_columns  # the node's data column, not its name
    assert is_valid_adjustment_set(g, "spend", "revenue", a.adjustment_set)
    assert a.minimal_adjustment_set is not None
    assert is_valid_adjustment_set(g, "spend", "revenue", a.minimal_adjustment_set)
    assert not a.treatment_randomised


def test_default_dag_treatment_and_outcome_may_be_named_by_column() -> None:
    g = default_marketing_graph().with_edits(
        add_nodes=[Node("spend", NodeRole.TREATMENT, column="meta_spend")]
    )
    a = analyze_graph(g, "meta_spend", "conversions")
    assert (a.treatment, a.outcome) == ("spend", "conversions")
    assert a.mediators == ("clicks", "impressions")
    assert "revenue" not in a.adjustment_set  # a descendant of the treatment


def test_adjusting_for_a_mediator_or_nothing_is_invalid_in_default_dag() -> None:
    g = default_marketing_graph()
    valid = {*CALENDAR_CONFOUNDERS, "demand"}
    assert not is_valid_adjustment_set(g, "spend", "revenue", ())
    assert not is_valid_adjustment_set(g, "spend", "revenue", valid - {"demand"})
    assert not is_valid_adjustment_set(g, "spend", "revenue", valid | {"clicks"})


def test_unobserved_demand_is_not_identifiable_and_names_the_path() -> None:
    g = default_marketing_graph()
    a = analyze_graph(g, "spend", "revenue", available_columns=all_columns_but("demand"))
    assert not a.backdoor_identifiable
    assert a.unobserved_confounders == ("demand",)
    assert a.open_backdoor_path == "spend ← demand → revenue"
    with pytest.raises(NotIdentifiable) as err:
        a.require_backdoor()
    assert "spend ← demand → revenue" in err.value.message
    assert "unobserved demand" in err.value.message
    assert err.value.reason == "NOT_IDENTIFIABLE"
    # the funnel gives a frontdoor; the first stage is preferred
    assert a.frontdoor_set == ("impressions",)
    assert "frontdoor" in a.reason
    assert a.identifiable  # by frontdoor and by the cost-shock instrument


def test_unobserved_flag_via_edits_matches_missing_column() -> None:
    g = default_marketing_graph().with_edits(unobserved=["demand"])
    assert not analyze_graph(g, "spend", "revenue").backdoor_identifiable


def test_no_frontdoor_when_the_hidden_confounder_reaches_the_mediator() -> None:
    g = default_marketing_graph().with_edits(
        add_edges=[("demand", "impressions"), ("demand", "clicks")], unobserved=["demand"]
    )
    a = analyze_graph(g, "spend", "revenue")
    assert not a.backdoor_identifiable
    assert a.frontdoor_set is None
    assert "No observed set of mediators satisfies the frontdoor criterion" in a.reason


# -- edits and validation ----------------------------------------------------------------------


def test_edge_creating_a_cycle_is_rejected_with_the_cycle_named() -> None:
    with pytest.raises(InvalidGraph) as err:
        default_marketing_graph().with_edits(
            add_edges=[("demand", "promotion"), ("revenue", "spend")]
        )
    assert err.value.field == "add_edges[1]"
    assert err.value.reason == "GRAPH_CYCLE"
    assert (
        "'spend' → 'impressions' → 'clicks' → 'conversions' → 'revenue' → 'spend'"
        in err.value.message
    )


def test_cycle_in_a_constructed_graph_is_rejected() -> None:
    with pytest.raises(InvalidGraph) as err:
        graph("a->b b->c c->a")
    assert err.value.field == "edges[2]"
    assert "'a' → 'b' → 'c' → 'a'" in err.value.message
    # a node's name is the caller's text: escaped in the message, not written to the terminal
    with pytest.raises(InvalidGraph) as err:
        graph("x\x1b[2J->x\x1b[2J")
    assert "\x1b" not in err.value.message and "'x\\x1b[2J'" in err.value.message


def test_self_loop_and_unknown_removals_are_rejected() -> None:
    g = default_marketing_graph()
    with pytest.raises(InvalidGraph, match="self-loop") as err:
        g.with_edits(add_edges=[("spend", "spend")])
    assert err.value.field == "add_edges[0]"
    with pytest.raises(InvalidGraph, match="'tv_spend' is not in the graph") as err:
        g.with_edits(remove_edges=[("holiday", "spend"), ("tv_spend", "revenue")])
    assert err.value.field == "remove_edges[1]"
    with pytest.raises(InvalidGraph, match="no such edge") as err:
        g.with_edits(remove_edges=[("revenue", "spend")])
    assert err.value.field == "remove_edges[0]"
    with pytest.raises(InvalidGraph) as err:
        g.with_edits(unobserved=["nope"])
    assert err.value.field == "unobserved[0]"


def test_edge_can_be_reversed_in_one_edit_and_new_nodes_join() -> None:
    g = default_marketing_graph().with_edits(
        remove_edges=[("conversions", "revenue")],
        add_edges=[("revenue", "conversions"), ("weather", "spend"), ("weather", "revenue")],
    )
    assert ("revenue", "conversions") in g.edges
    weather = g.node("weather")
    assert weather.observed and weather.role is NodeRole.COVARIATE
    a = analyze_graph(g, "spend", "revenue")
    assert "weather" in a.adjustment_set and "weather" in a.confounders
    assert not a.has_causal_path  # the funnel no longer reaches revenue
    assert "asserts the effect is zero" in a.reason


def test_unknown_treatment_is_an_invalid_graph() -> None:
    with pytest.raises(InvalidGraph) as err:
        analyze_graph(default_marketing_graph(), "tv", "revenue")
    assert err.value.field == "treatment"


def test_treatment_caused_only_by_an_experiment_is_randomised() -> None:
    g = default_marketing_graph()
    removals = [(p, "spend") for p in (*CALENDAR_CONFOUNDERS, "demand", "cost_shock")]
    a = analyze_graph(g.with_edits(remove_edges=removals), "spend", "revenue")
    assert a.treatment_randomised


# -- textbook graphs ---------------------------------------------------------------------------


def test_d_separation_chain_fork_collider() -> None:
    chain = graph("a->b b->c")
    assert d_separated(chain, {"a"}, {"c"}, {"b"})
    assert not d_separated(chain, {"a"}, {"c"})
    fork = graph("b->a b->c")
    assert d_separated(fork, {"a"}, {"c"}, {"b"})
    assert not d_separated(fork, {"a"}, {"c"})
    collider = graph("a->c b->c c->d")
    assert d_separated(collider, {"a"}, {"b"})
    assert not d_separated(collider, {"a"}, {"b"}, {"c"})
    assert not d_separated(collider, {"a"}, {"b"}, {"d"})  # a descendant of the collider opens it
    with pytest.raises(InvalidGraph):
        d_separated(chain, {"a"}, {"z"})


# Pearl (2009), Causality, Fig. 3.4: the backdoor criterion's worked example.
PEARL_3_4 = "x1->x3 x1->x4 x2->x4 x2->x5 x3->x x4->x x4->y x5->y x->x6 x6->y"


@pytest.mark.parametrize(
    ("adjust", "valid"),
    [
        ({"x3", "x4"}, True),
        ({"x4", "x5"}, True),
        ({"x1", "x4"}, True),
        ({"x2", "x4"}, True),
        ({"x1", "x2", "x3", "x4", "x5"}, True),
        ({"x4"}, False),  # x4 is a collider on x ← x3 ← x1 → x4 ← x2 → x5 → y
        (set(), False),
        ({"x3", "x5"}, False),  # leaves x ← x4 → y open
        ({"x3", "x4", "x6"}, False),  # x6 descends from x
    ],
)
def test_pearl_fig_3_4_backdoor_sets(adjust: set[str], valid: bool) -> None:
    assert is_valid_adjustment_set(graph(PEARL_3_4), "x", "y", adjust) is valid


def test_pearl_fig_3_4_minimal_set_is_a_minimal_valid_set() -> None:
    g = graph(PEARL_3_4)
    a = analyze_graph(g, "x", "y")
    assert a.minimal_adjustment_set is not None
    found = set(a.minimal_adjustment_set)
    assert found in ({"x3", "x4"}, {"x4", "x5"}, {"x1", "x4"}, {"x2", "x4"})
    for smaller in itertools.combinations(found, len(found) - 1):
        assert not is_valid_adjustment_set(g, "x", "y", smaller)
    # the optimal set keeps the outcome's other parent x5 for precision
    assert a.adjustment_set == ("x4", "x5")
    assert a.mediators == ("x6",)


def test_m_bias_does_not_adjust_for_the_collider() -> None:
    g = graph("u1->t u1->m u2->m u2->y t->y", hidden="u1 u2")
    assert is_valid_adjustment_set(g, "t", "y", ())
    assert not is_valid_adjustment_set(g, "t", "y", {"m"})
    a = analyze_graph(g, "t", "y")
    assert a.backdoor_identifiable
    assert a.adjustment_set == ()
    assert a.confounders == ()
    assert "no adjustment is needed" in a.reason


def test_smoking_frontdoor() -> None:
    # Pearl (2009), §3.3.2: smoking → tar → cancer with an unobserved genotype confounder.
    g = graph("u->smoking u->cancer smoking->tar tar->cancer", hidden="u")
    a = analyze_graph(g, "smoking", "cancer")
    assert not a.backdoor_identifiable
    assert a.open_backdoor_path == "smoking ← u → cancer"
    assert a.frontdoor_set == ("tar",)


def test_instrument_unconditional_conditional_and_excluded() -> None:
    iv = graph("z->x x->y u->x u->y", hidden="u")
    a = analyze_graph(iv, "x", "y")
    assert a.instruments == (Instrument("z"),)
    assert not a.backdoor_identifiable
    # Z reaches Y directly: the exclusion restriction fails
    assert analyze_graph(graph("z->x x->y u->x u->y z->y", hidden="u"), "x", "y").instruments == ()
    # Z valid only given W (Brito & Pearl 2002)
    conditional = graph("w->z w->y z->x x->y u->x u->y", hidden="u")
    assert analyze_graph(conditional, "x", "y").instruments == (Instrument("z", ("w",)),)
    # ... and not at all when W is unobserved
    hidden_w = graph("w->z w->y z->x x->y u->x u->y", hidden="u w")
    assert analyze_graph(hidden_w, "x", "y").instruments == ()
