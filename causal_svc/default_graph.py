"""The default marketing DAG: what we assume about spend and outcomes before the caller edits it.

::

    seasonality ─┐                       ┌─▶ conversions ─▶ revenue
    holiday      │                       │         ▲
    macro_index  ├──▶ spend, conversions, revenue  │
    competitor   │                                 │
    promotion  ──┘    seasonality, holiday, macro_index ─▶ demand (often unobserved)
                      demand ─▶ spend, conversions, revenue
    cost_shock ─▶ spend                 (moves spend only: a candidate instrument)
    experiment_assignment ─▶ spend      (randomised assignment)
    spend ─▶ impressions ─▶ clicks ─▶ conversions ─▶ revenue

``demand`` is labelled observed here with column ``demand_index`` (a branded-search or
organic-traffic proxy); when the data lacks that column, :func:`causal_svc.graph.analyze_graph`
with ``available_columns`` treats it as unobserved, and spend → revenue stops being identifiable
by adjustment (the funnel then offers a frontdoor through ``impressions``; ``cost_shock`` an
instrument).
"""

from __future__ import annotations

from causal_svc.graph import CausalGraph, Node, NodeRole

__all__ = ["CALENDAR_CONFOUNDERS", "default_marketing_graph"]

CALENDAR_CONFOUNDERS = ("seasonality", "holiday", "macro_index", "competitor_activity", "promotion")


def default_marketing_graph() -> CausalGraph:
    """The default marketing DAG (see the module docstring for its edges)."""
    c, r = NodeRole.CONFOUNDER, NodeRole.MEDIATOR
    nodes = (
        Node("seasonality", c, description="calendar seasonality (week of year, month)"),
        Node("holiday", c, description="public holidays and retail events"),
        Node("macro_index", c, description="macroeconomic index (consumer confidence)"),
        Node("competitor_activity", c, description="competitors' promotions and share of voice"),
        Node("promotion", c, description="own promotions and discounts"),
        Node(
            "demand",
            c,
            observed=True,
            column="demand_index",
            description="underlying demand; often unobserved, proxied by branded search",
        ),
        Node("cost_shock", NodeRole.INSTRUMENT, description="auction price shocks (CPM/CPC)"),
        Node("experiment_assignment", NodeRole.EXPERIMENT, description="randomised assignment"),
        Node("spend", NodeRole.TREATMENT, description="media spend"),
        Node("impressions", r),
        Node("clicks", r),
        Node("conversions", r),
        Node("revenue", NodeRole.OUTCOME),
    )
    edges: list[tuple[str, str]] = []
    for conf in CALENDAR_CONFOUNDERS:
        edges += [(conf, "spend"), (conf, "conversions"), (conf, "revenue")]
    edges += [("seasonality", "demand"), ("holiday", "demand"), ("macro_index", "demand")]
    edges += [("demand", "spend"), ("demand", "conversions"), ("demand", "revenue")]
    edges += [("cost_shock", "spend"), ("experiment_assignment", "spend")]
    edges += [
        ("spend", "impressions"),
        ("impressions", "clicks"),
        ("clicks", "conversions"),
        ("conversions", "revenue"),
    ]
    return CausalGraph(nodes, tuple(edges))
