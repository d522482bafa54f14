"""Recommend's product actions (surfacing_svc.products) on evidence built by hand: spend moves
between a channel's category campaigns only when the intervals of their marginal margins
(the analysis's, drawn over the response curve) separate,
and a promotion is stopped only when its category keeps less than half its lift."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import pytest

from surfacing_svc.products import (
    CategoryCell,
    NetCell,
    PairCell,
    ProductCell,
    ProductEvidence,
    Span,
    losing_cells,
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
    # 90% intervals: sd 500 and 200 (half-width / 1.645)
    taking = (_pair("p2", Span(-8_000, -8_000 - 822.4, -8_000 + 822.4), "cannibalisation"),
              _pair("p3", Span(500, 500 - 329.0, 500 + 329.0), "none"))  # fmt: skip
    (a,) = product_actions(_evidence(cells, taking, spend))
    assert (a.kind, a.channel, a.product_id) == ("stop_promotion", "meta_catalogue", "p1")
    # the net is the lift plus every pair, claimed or not: 10,000 - 8,000 + 500 = 2,500, at a
    # 0.5 margin, against 3,000 of spend; its sd the sum of the pairs' (500 + 200)
    assert a.impact.estimate == pytest.approx(3_000 - 2_500 * 0.5)
    net = {name: v for name, v, _ in a.facts}["net_category_lift"]
    assert net is not None
    assert net.upper - net.estimate == pytest.approx(1.6448536 * 700, rel=1e-4)
    assert "p2" in a.action and "p3" not in a.action
    modest = (_pair("p2", Span(-3_000, -3_822.4, -2_177.6), "cannibalisation"),)
    assert product_actions(_evidence(cells, modest, spend)) == []
    unclaimed = (_pair("p2", Span(-8_000, -15_000, -1_000), "none"),)
    assert product_actions(_evidence(cells, unclaimed, spend)) == []


def test_a_stop_needs_the_net_s_bound_below_half_the_lift_not_its_point() -> None:
    # The false stop of a world with no cannibalisation from the promoted product (products
    # seed 0, 4 categories, 200 orders a day, 120 days): two claimed pairs whose point
    # estimates leave the category 1% of the lift, but the net's 95% bound (the claim level)
    # reaches well past half of it.
    spend = (ProductCell("google_shopping", "Bottoms", "p1", 43_006),)
    pairs = (PairCell("Bottoms", "p1", "p2", Span(-61_982, -100_117, -23_848), 92_014,
                      "cannibalisation"),
             PairCell("Bottoms", "p1", "p3", Span(-28_941, -50_607, -7_276), 92_014,
                      "cannibalisation"))  # fmt: skip
    assert product_actions(_evidence((), pairs, spend)) == []
    # The same pairs with a third of their width: the bound lies below half the lift.
    narrow = tuple(
        PairCell(q.category, q.promoted, q.affected,
                 Span(q.change.estimate, q.change.estimate - (q.change.estimate - q.change.lower) / 3,
                      q.change.estimate + (q.change.upper - q.change.estimate) / 3),
                 q.promoted_lift, q.kind)
        for q in pairs
    )  # fmt: skip
    (a,) = product_actions(_evidence((), narrow, spend))
    assert a.kind == "stop_promotion" and "shown to keep less than half the lift" in a.rationale
    # A sibling the promotion lifts (halo, claimed or not) counts toward the net
    lifted = (
        *narrow,
        PairCell("Bottoms", "p1", "p4", Span(60_000, 50_000, 70_000), 92_014, "none"),
    )
    assert product_actions(_evidence((), lifted, spend)) == []


def test_a_promotion_whose_category_keeps_most_of_its_lift_is_not_mostly_cannibalising() -> None:
    # R2-F14: 51% of the lift taken from one sibling, but halos on two others leave the
    # category 80% of it; "mostly cannibalises" and "its lift comes out of p2" were false.
    spend = (ProductCell("meta_catalogue", "Tops", "p1", 3_000),)
    cells = (_cell("Tops", 3_000, Span(1.3, 0.3, 2.3), channel="meta_catalogue"),)
    pairs = (_pair("p2", Span(-5_100, -5_150, -5_050), "cannibalisation"),
             _pair("p3", Span(1_200, 1_100, 1_300), "halo"),
             _pair("p4", Span(1_900, 1_800, 2_000), "halo"))  # fmt: skip
    assert product_actions(_evidence(cells, pairs, spend)) == []
    # Without the halos the category keeps 49%: the stop stands, and says what it kept.
    (a,) = product_actions(_evidence(cells, pairs[:1], spend))
    assert a.kind == "stop_promotion" and "mostly comes out of p2" in a.action
    assert "the category kept 4,900 USD net (49% of the lift)" in a.rationale


def test_an_action_s_confidence_agrees_with_its_interval() -> None:
    # R2-F14: a stop whose impact interval includes zero read "confidence 0.95" (the claim
    # level) beside an interval labelled 95% that was built from the pairs' 90% bounds.
    spend = (ProductCell("meta_catalogue", "Tops", "p1", 1_800),)
    cells = (_cell("Tops", 3_000, Span(1.3, 0.3, 2.3), channel="meta_catalogue"),)
    pairs = (_pair("p2", Span(-7_000, -8_000, -6_000), "cannibalisation"),)
    (a,) = product_actions(_evidence(cells, pairs, spend))
    # 1,800 - 3,000 [2,000, 4,000] x 0.5: 300 [-200, 800]
    assert a.impact.lower < 0 < a.impact.estimate
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


def test_a_stop_reads_the_analysis_s_joint_net_where_it_reports_one() -> None:
    """The seed-0 pairs above (summed sds: not shown) with the analysis's joint intervals of
    the lift, the sibling changes and the net: the sum's sd is half the summed one, so the net
    less half the lift is shown below zero and the stop is made, with the net's own interval
    in the fact; a joint net near half the lift is not."""
    spend = (ProductCell("google_shopping", "Bottoms", "p1", 43_006),)
    pairs = (PairCell("Bottoms", "p1", "p2", Span(-61_982, -100_117, -23_848), 92_014,
                      "cannibalisation"),
             PairCell("Bottoms", "p1", "p3", Span(-28_941, -50_607, -7_276), 92_014,
                      "cannibalisation"))  # fmt: skip
    z = NormalDist().inv_cdf(0.95)

    def net(siblings: float, sd_lift: float, sd_sib: float, sd_net: float) -> NetCell:
        lift = 92_014.0
        return NetCell("p1", Span(lift, lift - z * sd_lift, lift + z * sd_lift),
                       Span(siblings, siblings - z * sd_sib, siblings + z * sd_sib),
                       Span(lift + siblings, lift + siblings - z * sd_net,
                            lift + siblings + z * sd_net))  # fmt: skip

    joint = net(-90_923.0, 8_000.0, 18_000.0, 17_000.0)
    e = ProductEvidence("an-1", "USD", 100, 0.9, 0.95, (), spend, pairs, (joint,))
    (a,) = product_actions(e)
    assert a.kind == "stop_promotion"
    (fact,) = [f for f in a.facts if f[0] == "net_category_lift"]
    assert fact[1] == joint.net
    # sd of the net less half the lift: var(sib) + var(lift)/4 + (var(net) - var(lift) -
    # var(sib))/2 = 18,000^2 + 16e6 + (17,000^2 - 8,000^2 - 18,000^2)/2 -> 17,044 (the pairs'
    # summed: 36,356); its claim bound 1,091 - 46,007 + 1.96 x 17,044 = -11,510 < 0
    near = net(-40_000.0, 8_000.0, 18_000.0, 17_000.0)  # keeps 57%: not below half
    assert product_actions(dataclasses.replace(e, nets=(near,))) == []
    # without the joint intervals (an analysis stored before them) the summed bound holds
    assert product_actions(ProductEvidence("an-1", "USD", 100, 0.9, 0.95, (), spend, pairs)) == []


def test_a_cell_shown_to_lose_money_is_cut_and_one_a_shift_gives_from_is_named() -> None:
    # R20-F7: the product view said meta_catalogue loses money on Bottoms (margin 286,599
    # [231,164, 342,033] against a spend of 454,810) while Recommend answered nothing.
    losing = dataclasses.replace(_cell("Bottoms", 454_810, None, channel="meta_catalogue"),
                                 margin=Span(300_000, 240_000, 360_000), refund_rate=0.05)  # fmt: skip
    unsure = dataclasses.replace(_cell("Tops", 100_000, None, channel="meta_catalogue"),
                                 margin=Span(80_000, 40_000, 120_000))  # fmt: skip
    unreported = _cell("Shoes", 100_000, None)
    e = _evidence((losing, unsure, unreported))
    assert [(a.kind, a.category) for a in product_actions(e)] == [("cut_product_spend", "Bottoms")]
    assert losing_cells(e) == []  # its cut says it
    # A losing cell a shift takes spend from keeps that one action; the warning says it loses.
    giver = dataclasses.replace(_cell("Tops", 10_000, Span(1.0, 0.5, 1.5)),
                                margin=Span(4_000, 3_000, 5_000))  # fmt: skip
    strong = _cell("Bags", 10_000, Span(6.0, 4.0, 8.0))
    e = _evidence((strong, giver))
    assert [a.kind for a in product_actions(e)] == ["shift_product_spend"]
    (said,) = losing_cells(e)
    assert said.startswith(
        "google_shopping on Tops: incremental margin net of refunds 4,000 (90% interval "
        "3,000 to 5,000) against a spend of 10,000 USD: the whole interval is below the "
        "spend, so at that margin the channel loses money on the category."
    )
    assert "shift of its spend to Bags campaigns (on their margin returns)" in said


def test_no_shift_moves_spend_into_a_cell_shown_to_lose_money() -> None:
    """J's note: Bags' next unit returns more than Tops', but Bags loses money on the whole
    (margin 6,000 [4,000, 8,000] against 10,000): a shift into it and a cut of it read as
    'move spend into Bags' beside 'cut Bags'. Bags is cut; Tops is left as it is."""
    losing = dataclasses.replace(_cell("Bags", 10_000, Span(6.0, 4.0, 8.0)),
                                 margin=Span(6_000, 4_000, 8_000))  # fmt: skip
    weak = _cell("Tops", 10_000, Span(1.0, 0.5, 1.5))
    actions = product_actions(_evidence((losing, weak)))
    assert [(a.kind, a.category) for a in actions] == [("cut_product_spend", "Bags")]


def test_the_evidence_reads_each_cells_margin_off_the_wire() -> None:
    from liftos.v1 import causal_pb2 as causal_pb
    from liftos.v1 import common_pb2 as common_pb

    from surfacing_svc.convert.products import product_evidence

    cell = causal_pb.ChannelCategoryEffect(
        channel="meta_catalogue", category="Bottoms",
        spend=common_pb.Money(amount=454_810.0, currency_code="USD"),
        incremental_revenue=common_pb.Interval(estimate=600_000, lower=500_000, upper=700_000),
        incremental_margin=common_pb.Interval(estimate=286_599, lower=231_164, upper=342_033),
    )  # fmt: skip
    bare = causal_pb.ChannelCategoryEffect(channel="meta_catalogue", category="Tops")
    analysis = causal_pb.Analysis(analysis_id="an-p", products=causal_pb.ProductAnalysisResult(
        cells=[cell, bare], currency_code="USD", interval_level=0.9))  # fmt: skip
    e = product_evidence(analysis)
    assert e.cells[0].margin == Span(286_599, 231_164, 342_033) and e.cells[1].margin is None
    assert [a.kind for a in product_actions(e)] == ["cut_product_spend"]


def test_a_cell_whose_whole_margin_interval_is_below_its_spend_is_cut() -> None:
    losing = dataclasses.replace(_cell("Bottoms", 454_810, None, channel="meta_catalogue"),
                                 margin=Span(300_000, 240_000, 360_000), refund_rate=0.05)  # fmt: skip
    unsure = dataclasses.replace(_cell("Tops", 100_000, None, channel="meta_catalogue"),
                                 margin=Span(80_000, 40_000, 120_000))  # fmt: skip
    (a,) = product_actions(_evidence((losing, unsure)))
    assert (a.kind, a.channel, a.category) == ("cut_product_spend", "meta_catalogue", "Bottoms")
    cut = 0.2 * 454_810
    assert (a.current_spend, a.proposed_spend) == (454_810, pytest.approx(454_810 - cut))
    net = Span(285_000, 228_000, 342_000)  # net of 5% refunds
    # The least a 20% cut saves: its spend less at most 20% of the margin (a concave response).
    assert a.impact.estimate == pytest.approx(cut - 0.2 * net.estimate)
    assert a.impact.lower == pytest.approx(cut - 0.2 * net.upper) and a.impact.lower > 0
    assert a.impact.upper == pytest.approx(cut - 0.2 * net.lower)
    assert a.confidence > 0.9
    negative = dataclasses.replace(losing, margin=Span(-10_000, -50_000, 20_000))
    (b,) = product_actions(_evidence((negative,)))
    assert b.impact.lower == pytest.approx(cut - 0.2 * 20_000 * 0.95)
    assert b.impact.upper == pytest.approx(cut)


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _around(estimate: float, sd: float, level: float = 0.9) -> Span:
    return Span(estimate, estimate - _z(level) * sd, estimate + _z(level) * sd)


def test_a_stop_prints_the_quantity_it_judges_at_the_claim_level() -> None:
    """R25-F2: "the category kept -15,222 USD net [-63,003, 32,559] (90%), below half the lift
    at 95%": the printed 90% interval reached above half the lift (32,340), and so did the
    net's own 95% bound (41,700), while the rule judged net less half the lift, with the lift's
    uncertainty and covariance in it. The stop now prints that quantity at the claim level, its
    interval wholly below zero, and no interval of another level."""
    lift, net = 64_680.0, -15_222.0
    joint = NetCell("p1", _around(lift, 20_000), _around(net - lift, 22_000),
                    _around(net, 29_046))  # fmt: skip
    pairs = (PairCell("Accessories", "p1", "p2", _around(-71_148, 25_000), lift,
                      "cannibalisation"),)  # fmt: skip
    spend = (ProductCell("meta_catalogue", "Accessories", "p1", 21_815),)
    e = dataclasses.replace(_evidence((), pairs, spend), nets=(joint,))
    assert net + _z(0.95) * 29_046 > lift / 2  # the net's own 95% bound: above half the lift
    (a,) = product_actions(e)
    assert a.kind == "stop_promotion"
    sd = math.sqrt(0.5 * 22_000**2 - 0.25 * 20_000**2 + 0.5 * 29_046**2)
    d = net - lift / 2
    low, high = d - _z(0.95) * sd, d + _z(0.95) * sd
    assert high < 0
    assert (
        f"the category kept -15,222 USD net (-24% of the lift); the net less half the lift "
        f"(32,340 USD) is -47,562 USD, 95% interval (the claim level) {low:,.0f} to "
        f"{high:,.0f} USD, wholly below zero: shown to keep less than half the lift; for "
        "21,815 USD of spend"
    ) in a.rationale
    assert "(90%)" not in a.rationale and "32,559" not in a.rationale


def test_a_stop_names_its_products_by_title_and_id() -> None:
    """R25-F3: "stop promoting 8446397950781 ... comes out of 8345182907812" named products by
    bare id where every other line says "Coastal Accessorie 1 (8446397950781)"; the titles
    come off the wire's product summaries."""
    from liftos.v1 import causal_pb2 as causal_pb
    from liftos.v1 import common_pb2 as common_pb

    from surfacing_svc.convert.products import product_evidence

    def interval(estimate: float, sd: float) -> common_pb.Interval:
        return common_pb.Interval(estimate=estimate, lower=estimate - 1.645 * sd,
                                  upper=estimate + 1.645 * sd, level=0.9)  # fmt: skip

    r = causal_pb.ProductAnalysisResult(currency_code="USD", interval_level=0.9, claim_level=0.95)
    r.pairs.add(category="Accessories", promoted_product_id="8446397950781",
                affected_product_id="8345182907812", revenue_change=interval(-90_000, 5_000),
                promoted_lift=64_680.0, kind=causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION)  # fmt: skip
    r.products.add(product_id="8446397950781", category="Accessories",
                   title="Coastal Accessorie 1")  # fmt: skip
    r.products.add(product_id="8345182907812", category="Accessories",
                   title="Classic Accessorie 5")  # fmt: skip
    r.product_cells.add(channel="meta_catalogue", category="Accessories",
                        product_id="8446397950781",
                        spend=common_pb.Money(amount=21_815.0, currency_code="USD"))  # fmt: skip
    e = product_evidence(causal_pb.Analysis(analysis_id="an-t", products=r))
    (a,) = product_actions(e)
    assert a.action == (
        "stop promoting Coastal Accessorie 1 (8446397950781) (or its discount): its lift mostly "
        "comes out of Classic Accessorie 5 (8345182907812)"
    )
    assert a.rationale.startswith("promoting Coastal Accessorie 1 (8446397950781) lifted it")
    assert a.product_id == "8446397950781"
    assert a.facts[0][0] == "cannibalised_8345182907812"
    assert a.facts[0][2] == "Classic Accessorie 5 (8345182907812)'s revenue change"
    untitled = dataclasses.replace(e, titles={})
    assert product_actions(untitled)[0].action.startswith("stop promoting 8446397950781 (or")
