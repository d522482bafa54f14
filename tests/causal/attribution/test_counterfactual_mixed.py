"""A plan that raises one channel and cuts another: its total keeps within what its rows allow."""

from __future__ import annotations

import pytest

from causal_svc.attribution import Evaluator, SpendChange, counterfactual


@pytest.mark.parametrize(
    "plan",
    [
        (("meta_prospecting", 2.0), ("tiktok", 0.5)),
        (("klaviyo_sms", 2.0), ("tiktok", 0.5)),
        (("klaviyo_email", 2.0), ("meta_prospecting", 0.5)),
        (("meta_prospecting", 2.0), ("klaviyo_email", 0.5)),
    ],
)
def test_mixed_plan_total_lies_within_its_rows_bounds(demo_fit, plan) -> None:
    r = counterfactual(Evaluator(demo_fit), [SpendChange(n, multiplier=m) for n, m in plan])
    rows = [c.delta for c in r.channels]
    # Each row keeps its sign: the raise cannot lose, the cut cannot gain.
    assert rows[0].lower >= 0.0 and rows[1].upper <= 0.0
    lo, hi = sum(x.lower for x in rows), sum(x.upper for x in rows)
    d = r.delta
    assert lo - 1e-6 <= d.lower <= d.estimate <= d.upper <= hi + 1e-6
    assert d.estimate == pytest.approx(sum(x.estimate for x in rows), rel=1e-9)
    ref = r.reference_outcome.estimate
    cf = r.counterfactual_outcome
    assert (cf.lower, cf.upper) == pytest.approx((ref + d.lower, ref + d.upper), rel=1e-12)


def test_mixed_plan_total_is_bounded_by_the_raise_when_the_cut_is_unestablished(
    demo_fit,
) -> None:
    # tiktok's cut row is [lower, 0] (no gain possible): the plan cannot gain more than the
    # raise's row allows, though the plain interval of the sum reached beyond it.
    ev = Evaluator(demo_fit)
    r = counterfactual(
        ev, [SpendChange("klaviyo_sms", multiplier=2.0), SpendChange("tiktok", multiplier=0.5)]
    )
    sms, tiktok = r.channels
    assert tiktok.delta.upper == 0.0
    assert r.delta.upper == pytest.approx(sms.delta.upper, rel=1e-12)
