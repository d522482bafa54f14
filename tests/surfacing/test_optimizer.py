"""OptimizeBudget's domain: the optimum against closed forms, bounds, shadow price,
infeasibility, held channels, profit and target-efficiency modes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from surfacing_svc.curves import HillCurve
from surfacing_svc.errors import InfeasibleConstraints
from surfacing_svc.optimizer import (
    BoundStatus,
    BudgetPlan,
    ChannelBounds,
    Objective,
    optimize_budget,
)
from tests.surfacing.curves_fixtures import hill

# f_c(s) = A s / (s + K) with K = κ s_ref: the optimum is s_c = sqrt(A K / λ) − K.
CURVES = (
    hill("meta", spend=100.0, scale=900.0, kappa=1.5),
    hill("google", spend=200.0, scale=700.0, kappa=0.8),
    hill("tiktok", spend=50.0, scale=300.0, kappa=2.0),
)


def _closed_form(curves: tuple[HillCurve, ...], budget: float) -> tuple[np.ndarray, float]:
    a = np.array([float(c.scale[0]) for c in curves])
    k = np.array([float(c.half_saturation[0]) * c.reference_spend for c in curves])
    root = (budget + k.sum()) / np.sqrt(a * k).sum()
    return np.sqrt(a * k) * root - k, 1.0 / root**2


def test_the_optimum_matches_the_closed_form_and_its_shadow_price() -> None:
    plan = optimize_budget(CURVES, objective=Objective.REVENUE, budget=600.0)
    want, price = _closed_form(CURVES, 600.0)
    got = np.array([c.optimal_spend for c in plan.channels])
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert plan.shadow_price == pytest.approx(price, rel=1e-3)
    assert plan.budget_binds and all(c.bound is BoundStatus.NONE for c in plan.channels)
    for c in plan.channels:  # equal marginal returns at the optimum
        assert c.marginal_optimal.estimate == pytest.approx(price, rel=1e-3)
    assert plan.uplift.estimate > 0
    assert sum(c.optimal_spend for c in plan.channels) == pytest.approx(600.0)


def test_the_shadow_price_is_the_value_of_more_budget() -> None:
    value = [
        optimize_budget(CURVES, objective=Objective.REVENUE, budget=b).optimal_outcome.estimate
        for b in (599.0, 601.0)
    ]
    price = optimize_budget(CURVES, objective=Objective.REVENUE, budget=600.0).shadow_price
    assert (value[1] - value[0]) / 2.0 == pytest.approx(price, rel=1e-3)


def test_the_shadow_price_when_every_channel_is_on_a_bound() -> None:
    """Minimum commitments that add up to the budget ("at least 300 on each" of 600): no
    channel is strictly inside its bounds, so the price is what one more unit buys, i.e. the
    best channel with room (meta, ~0.67), not the worst (google, ~0.53). Google would move
    below its floor at that price, so its lower bound binds; meta's does not."""
    curves = CURVES[:2]
    bounds = [
        ChannelBounds("meta", lower=300.0, field="constraints[0]"),
        ChannelBounds("google", lower=300.0, field="constraints[1]"),
    ]
    value = [
        optimize_budget(
            curves, objective=Objective.REVENUE, budget=b, bounds=bounds
        ).optimal_outcome.estimate
        for b in (600.0, 601.0)
    ]
    plan = optimize_budget(curves, objective=Objective.REVENUE, budget=600.0, bounds=bounds)
    assert [c.optimal_spend for c in plan.channels] == pytest.approx([300.0, 300.0])
    assert plan.budget_binds
    # One-sided difference (599 is infeasible): the curve is concave, so it sits just below.
    assert plan.shadow_price == pytest.approx(value[1] - value[0], rel=1e-2)
    meta, google = plan.channels
    assert meta.bound is BoundStatus.NONE
    assert google.bound is BoundStatus.LOWER
    assert google.marginal_optimal.estimate < plan.shadow_price


def test_a_binding_bound_is_named_and_the_rest_reoptimised() -> None:
    bounds = [ChannelBounds("meta", upper=150.0, field="constraints[0]")]
    plan = optimize_budget(CURVES, objective=Objective.REVENUE, budget=600.0, bounds=bounds)
    meta = plan.channels[0]
    assert meta.optimal_spend == pytest.approx(150.0)
    assert meta.bound is BoundStatus.UPPER
    assert meta.marginal_optimal.estimate > plan.shadow_price
    rest, price = _closed_form(CURVES[1:], 450.0)
    np.testing.assert_allclose([c.optimal_spend for c in plan.channels[1:]], rest, rtol=1e-4)
    assert plan.shadow_price == pytest.approx(price, rel=1e-3)


def test_s_curves_are_not_left_at_a_flat_start() -> None:
    """A steep S-curve (shape 3) whose slope at its current spend is tiny still gets budget
    when its payoff further up is large: the greedy start finds it."""
    curves = (
        hill("a", spend=10.0, scale=5000.0, kappa=10.0, shape=3.0),
        hill("b", spend=300.0, scale=400.0, kappa=1.0),
    )
    plan = optimize_budget(curves, objective=Objective.REVENUE, budget=400.0)
    assert plan.channels[0].optimal_spend > 90.0
    grid = np.linspace(0, 400, 4001)
    best = max(float(curves[0].mean_outcome(s) + curves[1].mean_outcome(400.0 - s)) for s in grid)
    assert plan.optimal_outcome.estimate >= best - 1e-6 * best


def test_infeasible_bounds_name_the_conflict() -> None:
    with pytest.raises(InfeasibleConstraints) as info:
        optimize_budget(CURVES, objective=Objective.REVENUE, budget=100.0,
                        bounds=[ChannelBounds("meta", lower=80.0), ChannelBounds("google", lower=50.0)])  # fmt: skip
    assert info.value.field == "total_budget"
    assert "meta ≥ 80" in info.value.message and "google ≥ 50" in info.value.message
    with pytest.raises(InfeasibleConstraints) as info:
        optimize_budget(CURVES, objective=Objective.REVENUE, budget=1000.0,
                        bounds=[ChannelBounds(c.channel, upper=100.0) for c in CURVES])  # fmt: skip
    assert "less than the 1,000.00 of budget" in info.value.message
    with pytest.raises(InfeasibleConstraints) as info:
        optimize_budget(CURVES, objective=Objective.REVENUE, budget=600.0,
                        bounds=[ChannelBounds("google", lower=5.0, upper=1.0, field="constraints[1]")])  # fmt: skip
    assert info.value.field == "constraints[1]"


def test_unidentified_channels_are_held_and_flagged() -> None:
    curves = (*CURVES[:2], hill("tiktok", spend=50.0, scale=300.0, kappa=2.0, identified=False))
    plan = optimize_budget(curves, objective=Objective.REVENUE, budget=600.0)
    tiktok = plan.channels[2]
    assert tiktok.held and tiktok.optimal_spend == 50.0
    assert any("tiktok held" in w for w in plan.warnings)
    want, _ = _closed_form(curves[:2], 550.0)
    np.testing.assert_allclose([c.optimal_spend for c in plan.channels[:2]], want, rtol=1e-4)
    with pytest.raises(InfeasibleConstraints, match="held channels"):
        optimize_budget(curves, objective=Objective.REVENUE, budget=40.0)


def test_profit_leaves_unprofitable_budget_unspent() -> None:
    plan = optimize_budget(CURVES, objective=Objective.PROFIT, budget=5000.0, margin=0.5)
    for c in plan.channels:  # margin · f'(s) = 1 at each channel's own optimum
        assert 0.5 * c.marginal_optimal.estimate == pytest.approx(1.0, rel=1e-3)
    assert sum(c.optimal_spend for c in plan.channels) < 5000.0
    assert not plan.budget_binds and plan.shadow_price == 0.0


def test_target_efficiency_finds_the_largest_budget_at_the_target() -> None:
    plan = optimize_budget(CURVES, objective=Objective.REVENUE, budget=None, target_roas=1.5)
    for c in plan.channels:
        assert c.marginal_optimal.estimate == pytest.approx(1.5, rel=1e-3)
    want, price = _closed_form(CURVES, plan.budget)
    assert price == pytest.approx(1.5, rel=1e-3)
    np.testing.assert_allclose([c.optimal_spend for c in plan.channels], want, rtol=1e-3)
    capped = optimize_budget(CURVES, objective=Objective.REVENUE, budget=100.0, target_roas=1.5)
    assert capped.budget == 100.0
    # Each channel's target spend, within its open bound (the budget, 100).
    wanted = f"{np.minimum(want, 100.0).sum():,.0f}"
    assert any(f"would spend {wanted} in all, more than the budget 100" in w
               and "the plan spends the budget instead" in w
               for w in capped.warnings), capped.warnings  # fmt: skip


def test_a_target_the_bounds_cannot_reach_is_called_unreachable() -> None:
    bounds = [ChannelBounds(c.channel, 0.7 * c.reference_spend, 1.3 * c.reference_spend)
              for c in CURVES]  # fmt: skip
    plan = optimize_budget(CURVES, objective=Objective.REVENUE, budget=None, target_roas=50.0,
                           bounds=bounds)  # fmt: skip
    best = max(c.marginal_optimal.estimate for c in plan.channels)
    assert all(c.bound is BoundStatus.LOWER for c in plan.channels)
    (note,) = [w for w in plan.warnings if "target marginal return 50" in w]
    assert "unreachable within the bounds" in note and f"the best marginal return there is " \
        f"{best:.2f}" in note  # fmt: skip
    # One channel short of a reachable target is named, the rest are not.
    part = optimize_budget(CURVES, objective=Objective.REVENUE, budget=None, target_roas=2.0,
                           bounds=bounds)  # fmt: skip
    short = [c.channel for c in part.channels if c.bound is BoundStatus.LOWER]
    assert 0 < len(short) < 3
    (note,) = [w for w in part.warnings if "target marginal return 2 " in w]
    assert f"not reached by {len(short)} channel(s)" in note and all(c in note for c in short)
    reached = optimize_budget(CURVES, objective=Objective.REVENUE, budget=None, target_roas=1.5)
    assert not any("target marginal return" in w for w in reached.warnings)


def test_a_plan_that_changes_the_spend_says_its_outcome_gain_is_not_net_of_it() -> None:
    total = sum(c.reference_spend for c in CURVES)
    more = optimize_budget(CURVES, objective=Objective.REVENUE, budget=10 * total, level=0.9)
    (note,) = [w for w in more.warnings if "not net of that spend" in w]
    moved = 9 * total
    net = more.uplift.estimate - moved
    assert more.probability_better == 1.0 and net < 0
    assert f"the plan spends {moved:,.0f} more than the current mix" in note
    assert f"net of it (revenue − spend) the change is {net:+,.0f} [" in note
    assert note.endswith("positive in 0% of draws")
    # Same spend, or a profit objective (already net of spend): nothing to add.
    same = optimize_budget(CURVES, objective=Objective.REVENUE, budget=total)
    profit = optimize_budget(CURVES, objective=Objective.PROFIT, budget=10 * total, margin=0.5)
    assert not any("not net" in w for w in (*same.warnings, *profit.warnings))


def test_intervals_propagate_the_draws() -> None:
    noisy = tuple(
        hill(
            c.channel,
            spend=c.reference_spend,
            scale=float(c.scale[0]),
            kappa=float(c.half_saturation[0]),
            spread=0.3,
            seed=i,
        )
        for i, c in enumerate(CURVES)
    )
    plan = optimize_budget(noisy, objective=Objective.REVENUE, budget=600.0, level=0.9)
    out = plan.optimal_outcome
    assert out.lower < out.estimate < out.upper and out.level == 0.9
    # The uplift is paired across draws: narrower than the difference of the two intervals.
    assert plan.uplift.upper - plan.uplift.lower < out.upper - plan.current_outcome.lower
    assert 0.0 <= plan.probability_better <= 1.0


def test_a_future_period_scales_the_curve() -> None:
    c = CURVES[0].over(60)
    assert c.reference_spend == 200.0 and c.period_days == 60
    assert float(c.mean_outcome(200.0)) == pytest.approx(2 * float(CURVES[0].mean_outcome(100.0)))
    plan = optimize_budget([x.over(60) for x in CURVES], objective=Objective.REVENUE, budget=1200.0)
    want, _ = _closed_form(CURVES, 600.0)
    np.testing.assert_allclose([p.optimal_spend for p in plan.channels], 2 * want, rtol=1e-4)


def test_marginal_is_the_derivative_of_the_outcome() -> None:
    c = HillCurve(
        "x", reference_spend=100.0, period_days=30, scale=np.array([500.0, 700.0]),
        half_saturation=np.array([0.7, 1.4]), shape=np.array([1.6, 0.8]),
        nodes=np.array([0.5, 1.0, 2.0]), node_weights=np.array([0.3, 0.4, 0.3]),
    )  # fmt: skip
    s = np.array([20.0, 100.0, 300.0])
    h = 1e-4
    numeric = (c.outcome(s + h) - c.outcome(s - h)) / (2 * h)
    np.testing.assert_allclose(c.marginal(s), numeric, rtol=1e-5)
    assert c.outcome(0.0).tolist() == [0.0, 0.0]
    assert c.marginal(0.0)[0] == 0.0 and np.isinf(c.marginal(0.0)[1])


def test_a_channel_worth_a_jump_is_entered() -> None:
    """An S-shaped channel (shape 2) worth nothing at the margin from zero but worth a large
    investment: water-filling in small chunks never starts it; the entry check at the shadow
    price does. Checked against a brute-force grid over the two free shares."""
    curves = (
        hill("a", spend=100.0, scale=400.0, kappa=1.0),
        hill("b", spend=100.0, scale=300.0, kappa=0.5),
        hill("s", spend=1.0, scale=120.0, kappa=60.0, shape=2.0),
    )
    plan = optimize_budget(curves, objective=Objective.REVENUE, budget=300.0)
    grid = np.linspace(0.0, 300.0, 301)
    x, y = np.meshgrid(grid, grid)
    ok = x + y <= 300.0
    total = (curves[0].mean_outcome(x[ok]) + curves[1].mean_outcome(y[ok])
             + curves[2].mean_outcome(300.0 - x[ok] - y[ok]))  # fmt: skip
    best = float(total.max())
    assert plan.optimal_outcome.estimate >= best * (1 - 1e-4)
    assert plan.channels[2].optimal_spend > 30.0


def test_the_risk_adjustment_moves_less_into_a_channel_the_draws_disagree_on() -> None:
    sure = hill("meta", spend=100.0, scale=600.0, kappa=1.0)
    unsure = hill("tiktok", spend=100.0, scale=900.0, kappa=1.0, spread=0.3, seed=3)
    mean = optimize_budget([sure, unsure], objective=Objective.REVENUE, budget=200.0)
    lcb = optimize_budget([sure, unsure], objective=Objective.REVENUE, budget=200.0, risk=1.0)

    def bound(plan: BudgetPlan) -> float:  # mean − sd of the gain over the current mix
        gain = sum(c.outcome(p.optimal_spend) - c.outcome(100.0)
                   for c, p in zip((sure, unsure), plan.channels, strict=True))  # fmt: skip
        return float(gain.mean() - gain.std())

    # The posterior mean says tiktok returns more; its draws disagree on how much, so the
    # risk-adjusted plan moves part of the way, and is the better bet by its own criterion.
    assert 100.0 < lcb.channels[1].optimal_spend < mean.channels[1].optimal_spend - 10.0
    assert bound(lcb) > bound(mean) and lcb.uplift.lower > mean.uplift.lower
    assert lcb.optimal_outcome.estimate < mean.optimal_outcome.estimate
    assert "risk-adjusted" in lcb.message and "risk" not in mean.message
    # Both channels inside their bounds: the risk-adjusted marginal values are equal there,
    # and they, not the posterior-mean ones, are the budget's price.
    assert all(p.bound is BoundStatus.NONE for p in lcb.channels)
    assert lcb.shadow_price < lcb.channels[1].marginal_optimal.estimate


# Three channels the draws know unequally well (independent draws per channel).
_RISKY = (
    hill("meta", spend=100.0, scale=600.0, kappa=1.0, spread=0.05, seed=5),
    hill("tiktok", spend=100.0, scale=900.0, kappa=1.0, spread=0.35, seed=6),
    hill("snap", spend=100.0, scale=800.0, kappa=1.2, spread=0.2, seed=7),
)


def _gain(plan: BudgetPlan) -> np.ndarray:
    """The plan's gain over the current mix, per draw."""
    return sum(  # type: ignore[return-value]
        c.outcome(p.optimal_spend) - c.outcome(c.reference_spend)
        for c, p in zip(_RISKY, plan.channels, strict=True)
    )


def test_a_larger_risk_weight_never_raises_the_plans_sd_nor_its_mean_gain() -> None:
    plans = [optimize_budget(_RISKY, objective=Objective.REVENUE, budget=300.0, risk=z)
             for z in (0.0, 0.5, 1.0, 2.0, 4.0)]  # fmt: skip
    sd = [float(_gain(p).std()) for p in plans]
    mean = [float(_gain(p).mean()) for p in plans]
    # At each weight's optimum, adding the two optimality inequalities of weights z1 < z2
    # gives sd(z2) ≤ sd(z1), then mean(z2) ≤ mean(z1): the trade the weight sets.
    tol = 1e-6 * max(sd)
    assert all(b <= a + tol for a, b in itertools.pairwise(sd)), sd
    assert all(b <= a + tol for a, b in itertools.pairwise(mean)), mean
    assert sd[-1] < 0.7 * sd[0] and mean[-1] < mean[0]  # the weight does something
    assert [p.risk for p in plans] == [0.0, 0.5, 1.0, 2.0, 4.0]


def test_risk_weight_zero_is_the_posterior_mean_plan() -> None:
    mean = optimize_budget(_RISKY, objective=Objective.REVENUE, budget=300.0)
    zero = optimize_budget(_RISKY, objective=Objective.REVENUE, budget=300.0, risk=0.0)
    assert [c.optimal_spend for c in zero.channels] == [c.optimal_spend for c in mean.channels]
    assert zero.risk == mean.risk == 0.0 and "risk-adjusted" not in zero.message
    # The posterior mean's optimum: equal mean marginal returns inside the bounds.
    slopes = [float(c.marginal(p.optimal_spend).mean()) for c, p in zip(_RISKY, zero.channels,
                                                                          strict=True)]  # fmt: skip
    assert max(slopes) == pytest.approx(min(slopes), rel=1e-3)


@pytest.mark.parametrize("risk", [-0.1, float("nan"), float("inf"), 11.0])
def test_a_risk_weight_out_of_range_is_refused(risk: float) -> None:
    with pytest.raises(ValueError, match="risk"):
        optimize_budget(_RISKY, objective=Objective.REVENUE, budget=300.0, risk=risk)
