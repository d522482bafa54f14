"""Recommend's product actions (surfacing_svc.products) on evidence built by hand: spend moves
between a channel's category campaigns only when the intervals of their marginal margins
(the analysis's, drawn over the response curve) separate,
and a promotion is stopped only when its category keeps less than half its lift."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from surfacing_svc.products import (
    CategoryCell,
    PairCell,
    ProductCell,
    ProductEvidence,
    Span,
    product_actions,
)


def _evidence(
    cells: tuple[CategoryCell, ...] = (),
    pairs: tuple[PairCell, ...] = (),
    products: tuple[ProductCell, ...] = (),
) -> ProductEvidence:
    return ProductEvidence("an-1", "USD", 100, 0.9, 0.95, cells, products, pairs)


def _cell(category: str, spend: float, marginal: Span | None, rate: float = 0.5,
          channel: str = "google_shopping") -> CategoryCell:  # fmt: skip
    """A cell whose next unit of spend returns ``marginal`` revenue (the analysis's interval);
    its total and curve are beside the point of a move."""
    revenue = Span(2.0 * spend, spend, 3.0 * spend)
    return CategoryCell(channel, category, spend, revenue, 2.0, math.inf, rate, marginal)


def test_spend_moves_to_the_category_whose_marginal_margin_is_clearly_higher() -> None:
    strong = _cell("Bags", 10_000, Span(6.0, 4.0, 8.0))
    weak = _cell("Tops", 10_000, Span(1.0, 0.5, 1.5))
    (a,) = product_actions(_evidence((strong, weak)))
    assert (a.kind, a.channel, a.category, a.target_category) == (
        "shift_product_spend", "google_shopping", "Tops", "Bags",
    )  # fmt: skip
    # 20% of Tops' spend at (6 - 1) x 0.5 margin per unit; the bounds combine the two
    # intervals as a difference of independent estimates (MOVER)
    assert a.impact.estimate == pytest.approx(2_000 * (3.0 - 0.5))
    assert a.impact.lower == pytest.approx(2_000 * (2.5 - math.hypot(3.0 - 2.0, 0.75 - 0.5)))
    assert a.impact.upper == pytest.approx(2_000 * (2.5 + math.hypot(4.0 - 3.0, 0.5 - 0.25)))
    assert "marginal_margin_Bags" in {name for name, _, _ in a.facts}


def test_overlap_another_channel_or_no_marginal_interval_moves_nothing() -> None:
    weak = _cell("Tops", 10_000, Span(1.0, 0.5, 1.5))
    # R2-F13: a point marginal far above with an interval reaching down to the other's
    close = _cell("Bags", 10_000, Span(3.0, 1.2, 3.4))
    assert product_actions(_evidence((close, weak))) == []
    other = _cell("Tops", 10_000, Span(1.0, 0.5, 1.5), channel="meta_catalogue")
    strong = _cell("Bags", 10_000, Span(6.0, 4.0, 8.0))
    assert product_actions(_evidence((strong, other))) == []  # never across channels
    # an analysis without the marginal's interval: no move on a point estimate
    assert product_actions(_evidence((_cell("Bags", 10_000, None), weak))) == []
    nan = Span(math.nan, math.nan, math.nan)
    assert product_actions(_evidence((_cell("Bags", 10_000, nan), weak))) == []


def test_the_move_is_between_the_cells_whose_intervals_separate_most() -> None:
    # the highest point marginal is too uncertain to move on; the next one is not
    vague = _cell("Shoes", 10_000, Span(3.0, 0.6, 5.0))
    sure = _cell("Bags", 10_000, Span(2.5, 2.2, 2.8))
    weak = _cell("Tops", 10_000, Span(1.0, 0.8, 1.2))
    (a,) = product_actions(_evidence((vague, sure, weak)))
    assert (a.category, a.target_category) == ("Tops", "Bags")


def _pair(affected: str, change: Span, kind: str, lift: float = 10_000) -> PairCell:
    return PairCell("Tops", "p1", affected, change, lift, kind)


def test_a_promotion_is_stopped_only_when_it_mostly_cannibalises() -> None:
    spend = (ProductCell("meta_catalogue", "Tops", "p1", 3_000),)
    cells = (_cell("Tops", 3_000, Span(1.3, 0.3, 2.3), channel="meta_catalogue"),)
    taking = (_pair("p2", Span(-6_000, -9_000, -3_000), "cannibalisation"),
              _pair("p3", Span(500, -800, 1_800), "none"))  # fmt: skip
    (a,) = product_actions(_evidence(cells, taking, spend))
    assert (a.kind, a.channel, a.product_id) == ("stop_promotion", "meta_catalogue", "p1")
    # net category lift 10,000 - 6,000 = 4,000 at a 0.5 margin, against 3,000 of spend
    assert a.impact.estimate == pytest.approx(3_000 - 4_000 * 0.5)
    assert "p2" in a.action and "p3" not in a.action
    modest = (_pair("p2", Span(-3_000, -5_000, -1_000), "cannibalisation"),)
    assert product_actions(_evidence(cells, modest, spend)) == []
    unclaimed = (_pair("p2", Span(-6_000, -13_000, 1_000), "none"),)
    assert product_actions(_evidence(cells, unclaimed, spend)) == []


def test_a_promotion_whose_category_keeps_most_of_its_lift_is_not_mostly_cannibalising() -> None:
    # R2-F14: 51% of the lift taken from one sibling, but halos on two others leave the
    # category 80% of it; "mostly cannibalises" and "its lift comes out of p2" were false.
    spend = (ProductCell("meta_catalogue", "Tops", "p1", 3_000),)
    cells = (_cell("Tops", 3_000, Span(1.3, 0.3, 2.3), channel="meta_catalogue"),)
    pairs = (_pair("p2", Span(-5_100, -7_000, -3_200), "cannibalisation"),
             _pair("p3", Span(1_200, 400, 2_000), "halo"),
             _pair("p4", Span(1_900, 900, 2_900), "halo"))  # fmt: skip
    assert product_actions(_evidence(cells, pairs, spend)) == []
    # Without the halos the category keeps 49%: the stop stands, and says what it kept.
    (a,) = product_actions(_evidence(cells, pairs[:1], spend))
    assert a.kind == "stop_promotion" and "mostly comes out of p2" in a.action
    assert "the category kept 4,900 USD net (49% of the lift)" in a.rationale


def test_an_action_s_confidence_agrees_with_its_interval() -> None:
    # R2-F14: a stop whose impact interval includes zero read "confidence 0.95" (the claim
    # level) beside an interval labelled 95% that was built from the pairs' 90% bounds.
    spend = (ProductCell("meta_catalogue", "Tops", "p1", 3_000),)
    cells = (_cell("Tops", 3_000, Span(1.3, 0.3, 2.3), channel="meta_catalogue"),)
    pairs = (_pair("p2", Span(-6_000, -9_000, -3_000), "cannibalisation"),)
    (a,) = product_actions(_evidence(cells, pairs, spend))
    assert a.impact.lower < 0 < a.impact.estimate  # 1,000 [-500, 2,500]
    assert a.level == 0.9  # the tables' level, not the claim level (0.95)
    sd = (a.impact.upper - a.impact.lower) / (2 * 1.6448536)
    assert a.confidence == pytest.approx(NormalDist().cdf(a.impact.estimate / sd), rel=1e-6)
    assert 0.5 < a.confidence < a.level
    strong = _cell("Bags", 10_000, Span(6.0, 4.0, 8.0))
    weak = _cell("Tops", 10_000, Span(1.0, 0.5, 1.5))
    (shift,) = product_actions(_evidence((strong, weak)))
    assert shift.impact.lower > 0 and shift.confidence > (1 + shift.level) / 2
    # On the wire: the interval carries its own level, the confidence beside it.
    from surfacing_svc.convert.products import product_recommendations

    (rec,) = product_recommendations([a], "an-1", 1, "USD")
    assert rec.expected_impact.level == pytest.approx(0.9)
    assert rec.confidence == pytest.approx(a.confidence)
