"""A promotion whose category keeps less than half its lift "mostly cannibalises", and the verdict
says what the category still gained (it said "ONLY CANNIBALISES" beside Recommend's "the
category gained 569,639 USD net"); it is said only where the net's bound at the claim level
lies below half the lift, as Recommend's stop rule; `liftos products --top` must list at least
one."""

from __future__ import annotations

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.commands import build_parser
from mesh.report.products import Promotion, promotions


def _promotion(lift: float, pairs: list[tuple[float, float, int]], level: float = 0.9,
               claim_level: float = 0.95) -> Promotion:  # fmt: skip
    """The promotion ``promotions`` makes of a product analysis whose promoted product p1 has
    the pairs ``(estimate, sd, kind)``."""
    z = 1.6448536 if level == 0.9 else 1.959964
    r = causal_pb.ProductAnalysisResult(interval_level=level, claim_level=claim_level)
    for k, (est, sd, kind) in enumerate(pairs):
        r.pairs.add(category="shoes", promoted_product_id="p1", affected_product_id=f"p{k + 2}",
                    revenue_change=common_pb.Interval(estimate=est, lower=est - z * sd,
                                                      upper=est + z * sd, level=level),
                    promoted_lift=lift, kind=kind)  # fmt: skip
    (p,) = promotions(r)
    return p


CANN = causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION
HALO = causal_pb.CROSS_EFFECT_KIND_HALO
NONE = causal_pb.CROSS_EFFECT_KIND_NONE


def test_the_verdict_states_the_net_category_gain() -> None:
    taken = _promotion(1_000_000.0, [(-600_000.0, 5_000.0, CANN), (69_639.0, 5_000.0, HALO)])
    assert taken.mostly_cannibalises and taken.net == pytest.approx(469_639.0)
    assert taken.verdict("USD") == (
        "mostly cannibalises (on the point estimate the category kept 469,639 USD net, 47% of "
        "the lift; the net less half the lift (500,000 USD) is -30,361 USD, 95% interval (the "
        "claim level) -49,961 to -10,761 USD, wholly below zero: shown to keep less than half "
        "the lift)"
    )
    # the audit's case: half the lift taken from a sibling, but the halo leaves the category
    # 80% of it — not "mostly cannibalises" (the share taken alone said it was)
    audited = _promotion(407_644.0, [(-207_590.0, 5_000.0, CANN), (127_030.0, 5_000.0, HALO)])
    assert audited.share > 0.5 and not audited.mostly_cannibalises
    assert audited.verdict("USD") == "adds net revenue"
    # an unclaimed sibling the promotion lifts counts toward the net too
    lifted = _promotion(1_000_000.0, [(-600_000.0, 20_000.0, CANN), (150_000.0, 100_000.0, NONE)])
    assert lifted.net == pytest.approx(550_000.0) and not lifted.mostly_cannibalises


def test_mostly_cannibalises_needs_the_net_s_bound_below_half_the_lift() -> None:
    # products seed 0 (4 categories, 200 orders a day, 120 days): two claimed pairs from a
    # promotion the simulator gave no cannibalisation, leaving 1% of its lift as a point
    # estimate; the net's 95% bound reaches past half the lift, so it is not shown.
    false = _promotion(92_014.0, [(-61_982.0, 23_184.0, CANN), (-28_941.0, 13_172.0, CANN)])
    assert false.net < 0.5 * false.lift and not false.mostly_cannibalises
    assert false.verdict("USD").startswith("not shown to take most of its lift: on the point "
                                           "estimate the category kept 1,091 USD net, 1% of "
                                           "the lift")  # fmt: skip
    sure = _promotion(92_014.0, [(-61_982.0, 7_000.0, CANN), (-28_941.0, 4_000.0, CANN)])
    assert sure.mostly_cannibalises


def test_a_net_loss_reads_as_a_loss_with_the_bracket_s_unit_and_level() -> None:
    """R6-F11: "81% taken from siblings … not shown to take most of its lift (the category
    gained -8,501 USD net, -11% of the lift [-96,924, 79,922])" read as a contradiction, a
    loss as a gain, and the USD bracket as a percentage of unstated level."""
    lost = _promotion(75_220.0, [(-60_618.0, 30_000.0, CANN), (-23_103.0, 30_000.0, CANN)])
    assert lost.share > 0.8 and lost.net < 0 and not lost.mostly_cannibalises
    text = lost.verdict("USD")
    assert "gained" not in text and "-11%" not in text and "[" not in text
    assert text == (
        "not shown to take most of its lift: on the point estimate the category lost 8,501 USD "
        "net, more than the whole lift; the net less half the lift (37,610 USD) is -46,111 USD, "
        "95% interval (the claim level) -163,709 to 71,487 USD, not wholly below zero: not "
        "shown to keep less than half the lift"
    )


@pytest.mark.parametrize("top", ["0", "-1"])
def test_products_top_must_list_at_least_one(top: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["products", "an-1", "--top", top])
    assert "must be at least 1" in capsys.readouterr().err


def test_the_report_and_the_shared_rule_give_the_same_verdicts() -> None:
    """The report restates mesh.runtime.promotions (the import floors keep it on wire
    messages); Recommend and the explanation import it. On pair sets near the boundary the two
    must agree, or the page and the explanation would contradict each other."""
    import numpy as np

    from mesh.runtime.promotions import mostly_cannibalises, net_category_lift

    rng = np.random.default_rng(0)
    z = 1.6448536
    seen = set()
    for _ in range(300):
        lift = 1_000_000.0
        pairs = [(float(rng.uniform(-700_000, 100_000)), float(rng.uniform(1_000, 150_000)),
                  CANN if k == 0 else int(rng.choice([CANN, HALO, NONE])))
                 for k in range(int(rng.integers(1, 4)))]  # fmt: skip
        page = _promotion(lift, pairs)
        net, sd = net_category_lift(lift, [(e, e - z * s, e + z * s) for e, s, _ in pairs], 0.9)
        shared = mostly_cannibalises(lift, net, sd, 0.95)
        assert page.mostly_cannibalises == shared, pairs
        assert page.net == pytest.approx(net)
        seen.add(shared)
    assert seen == {True, False}


def _joint(lift: float, siblings: float, sds: tuple[float, float, float],
           claim_level: float = 0.95) -> causal_pb.ProductAnalysisResult:  # fmt: skip
    """A product analysis whose promoted product p1 has one claimed cannibalisation of
    ``siblings`` and the joint intervals (lift, sibling change, net) with sds ``sds``."""
    z = 1.6448536
    r = causal_pb.ProductAnalysisResult(interval_level=0.9, claim_level=claim_level)
    r.pairs.add(category="shoes", promoted_product_id="p1", affected_product_id="p2",
                revenue_change=common_pb.Interval(estimate=siblings, lower=siblings - 3 * lift,
                                                  upper=siblings + lift, level=0.9),
                promoted_lift=lift, kind=CANN)  # fmt: skip
    n = r.promotion_nets.add(category="shoes", promoted_product_id="p1")
    for i, (est, sd) in zip((n.promoted_lift, n.sibling_change, n.net_category_change),
                            ((lift, sds[0]), (siblings, sds[1]), (lift + siblings, sds[2])),
                            strict=True):  # fmt: skip
        i.CopyFrom(common_pb.Interval(estimate=est, lower=est - z * sd, upper=est + z * sd,
                                      level=0.9))  # fmt: skip
    return r


def test_the_verdict_reads_the_analysis_s_joint_net_where_it_reports_one() -> None:
    """With the joint intervals the net and its bracket are the analysis's own (the pair's
    interval here is far wider: its sds summed would show nothing), and the rule agrees with
    mesh.runtime.promotions.joint_sd on random joint intervals."""
    import numpy as np

    from mesh.runtime.promotions import joint_sd, mostly_cannibalises

    (p,) = promotions(_joint(100_000.0, -80_000.0, (5_000.0, 10_000.0, 9_000.0)))
    assert p.net == pytest.approx(20_000.0) and p.mostly_cannibalises
    assert (p.net_low, p.net_high) == pytest.approx((20_000 - 1.6448536 * 9_000,
                                                     20_000 + 1.6448536 * 9_000))  # fmt: skip
    # the same pair without the joint intervals: the pair's own sd, not shown
    r = _joint(100_000.0, -80_000.0, (5_000.0, 10_000.0, 9_000.0))
    del r.promotion_nets[:]
    (old,) = promotions(r)
    assert not old.mostly_cannibalises
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(300):
        lift, sib = 100_000.0, float(rng.uniform(-90_000, 0))
        sl, ss = float(rng.uniform(1_000, 30_000)), float(rng.uniform(1_000, 40_000))
        sn = float(rng.uniform(abs(sl - ss), sl + ss))  # a net sd one covariance can give
        (page,) = promotions(_joint(lift, sib, (sl, ss, sn)))
        z = 1.6448536
        t = [(e, e - z * s, e + z * s) for e, s in ((lift, sl), (sib, ss), (lift + sib, sn))]
        shared = mostly_cannibalises(lift, lift + sib, joint_sd(*t, 0.9), 0.95)
        assert page.mostly_cannibalises == shared
        seen.add(shared)
    assert seen == {True, False}
