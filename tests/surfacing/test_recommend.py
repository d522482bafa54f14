"""Recommend's domain: ranked actions with impact, confidence and facts; untested channels get
a test, never a budget move."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from surfacing_svc.curves import HillCurve
from surfacing_svc.design import DesignSpec, design_experiment
from surfacing_svc.design.power import power_at
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import DEFAULT_MAX_CHANGE
from surfacing_svc.recommend import (
    DEMAND_CHASE_SHARE,
    ActionKind,
    AnalysisEffect,
    equal_budget_plan,
    identification_at_risk,
    recommend,
    with_counterfactual,
)
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.worlds import geo_history

# f(s) = A r / (r + κ), r = s / s_ref: at current spend the marginal return is
# A κ / ((1 + κ)² s_ref).
PROFITABLE = hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1)  # 2.2
SATURATED = hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2)  # 0.14
UNIDENTIFIED = hill("meta_unknown", spend=100.0, scale=150.0, kappa=1.0, spread=0.05,
                    identified=False)  # fmt: skip


def _channel_actions(actions):
    return [a for a in actions if a.kind is not ActionKind.REALLOCATE]


def test_profitable_saturated_and_unidentified_give_scale_cut_and_test_in_that_order() -> None:
    actions = recommend([UNIDENTIFIED, SATURATED, PROFITABLE])
    kinds = [(a.kind, a.channel) for a in _channel_actions(actions)]
    assert kinds == [
        (ActionKind.SCALE, "meta"),
        (ActionKind.CUT, "google"),
        (ActionKind.TEST, "meta_unknown"),
    ]
    scale, cut, test = _channel_actions(actions)
    assert scale.impact.estimate > cut.impact.estimate > test.impact.estimate == 0.0
    assert scale.impact.lower > 0 and scale.confidence > 0.95
    # Both stop at OptimizeBudget's default bound, ±30% of current spend: meta's break-even
    # lies far beyond it, google's at 19 (below).
    assert scale.proposed_spend == pytest.approx(130.0)
    assert "default bound" in scale.rationale and "extrapolation" in scale.rationale
    assert cut.proposed_spend == pytest.approx(70.0) and cut.confidence > 0.95
    assert test.proposed_spend == test.current_spend == 100.0
    assert test.impact.lower < 0 < test.impact.upper
    names = {f.name for f in scale.facts}
    assert {"marginal_roas", "incremental_roas", "current_spend"} <= names
    assert any("not identified" in f.text for f in test.facts)
    realloc = [a for a in actions if a.kind is ActionKind.REALLOCATE]
    assert realloc and realloc[0] is actions[0]  # the largest impact: money from google to meta
    assert "google" in realloc[0].action and "meta" in realloc[0].action


def test_an_uncertain_channel_is_held() -> None:
    unsure = hill("tiktok", spend=100.0, scale=400.0, kappa=1.0, spread=0.8, seed=4)  # ~1.0
    (action,) = _channel_actions(recommend([unsure]))
    assert action.kind is ActionKind.HOLD and action.impact.estimate == 0.0
    assert action.proposed_spend == action.current_spend


def test_the_facts_quote_the_analysis_and_an_unestablished_channel_is_not_scaled() -> None:
    # The draws' mean outcome of meta at current spend is ~333; the analysis's table says 212
    # and, in one case, cannot tell it from zero (its lower bound gated to 0).
    shown = AnalysisEffect("meta", Interval(212.0, 0.0, 900.0, 0.9), Interval(2.12, 0, 9, 0.9), 30)
    (held,) = _channel_actions(recommend([PROFITABLE], effects={"meta": shown}))
    assert held.kind is ActionKind.HOLD and held.proposed_spend == held.current_spend
    assert "did not establish" in held.rationale
    fact = next(f for f in held.facts if f.name == "incremental_outcome")
    assert fact.value == shown.incremental and "does not establish" in fact.text
    assert "212 [0, 900] (90%)" in fact.text
    draws = next(f for f in held.facts if f.name == "incremental_outcome_draws")
    assert draws.value is not None and draws.value.estimate == pytest.approx(333.3, rel=0.02)
    assert "mean over the model's parameter draws" in draws.text
    sure = AnalysisEffect("meta", Interval(212.0, 50.0, 900.0, 0.9), None, 30)
    (scale,) = _channel_actions(recommend([PROFITABLE], effects={"meta": sure}))
    assert scale.kind is ActionKind.SCALE
    assert "the analysis estimates it added 212 [50, 900] (90%)" in " ".join(
        f.text for f in scale.facts
    )
    # The confidence is named where the draws' share of the next unit is too.
    assert f"gains in {scale.confidence:.0%} of them: its confidence" in scale.rationale


def test_a_cut_needs_as_many_draws_as_a_raise() -> None:
    # 160 of 200 draws return less than the spend at the margin (scale 300: 0.75 a unit), 40
    # more (scale 500: 1.25): exactly CONFIDENT, as a raise at 160 of 200 would be scaled.
    curve = HillCurve("tiktok", 100.0, 30, np.r_[np.full(160, 300.0), np.full(40, 500.0)],
                      np.ones(200), np.ones(200))  # fmt: skip
    (cut,) = _channel_actions(recommend([curve]))
    assert cut.kind is ActionKind.CUT
    up = replace(curve, scale=np.r_[np.full(160, 500.0), np.full(40, 300.0)])
    assert _channel_actions(recommend([up]))[0].kind is ActionKind.SCALE


def test_a_margin_raises_the_hurdle() -> None:
    (action,) = _channel_actions(recommend([PROFITABLE], value_per_outcome=0.3))
    assert action.kind is ActionKind.CUT  # 2.2 × 0.3 < 1: each unit of spend loses money


def test_a_test_carries_its_design() -> None:
    h = geo_history(n_geos=20, n_days=200)
    curve = hill("meta", spend=100.0, scale=150.0, kappa=1.0, identified=False)
    design = design_experiment(h, DesignSpec("meta"))
    (action,) = recommend([curve], designs={"meta": design})
    assert action.kind is ActionKind.TEST and action.design is design
    assert f"for {design.cells[0].recommended_duration_days} days" in action.action
    assert any(f.name == "design" for f in action.facts)
    # Its confidence is the design's power at the break-even return: the power curve's own
    # power at the same lift, between the test's size and 1, and lower at a higher hurdle.
    cell = design.cells[0]
    point = cell.recommended
    lift = point.spend_change / (cell.daily_outcome * point.duration_days)
    assert action.confidence == pytest.approx(power_at(lift, point.noise, design.alpha))
    assert design.alpha < action.confidence < 1
    (dearer,) = recommend([curve], designs={"meta": design}, value_per_outcome=0.5)
    assert dearer.confidence > action.confidence  # a return of 2 is easier to detect than 1
    assert "just pays for itself (iROAS 1.00)" in next(f.text for f in action.facts
                                                       if f.name == "design")  # fmt: skip


def test_a_test_without_a_design_claims_no_confidence() -> None:
    # R3: a test with no experiment designed read "confidence 50%", a number nothing measured.
    curve = hill("meta", spend=100.0, scale=150.0, kappa=1.0, identified=False)
    (action,) = recommend([curve])
    assert action.kind is ActionKind.TEST and action.design is None
    assert np.isnan(action.confidence)


def test_max_results_keeps_the_best() -> None:
    actions = recommend([UNIDENTIFIED, SATURATED, PROFITABLE], max_results=2)
    assert len(actions) == 2 and actions[0].kind is ActionKind.REALLOCATE


def test_without_the_default_bound_a_cut_stops_at_break_even() -> None:
    cut = next(a for a in recommend([SATURATED, PROFITABLE], max_change=0.0)
               if a.channel == "google")  # fmt: skip
    assert cut.kind is ActionKind.CUT and 0 < cut.proposed_spend < 70.0
    # Where the marginal return meets break-even: A κ / ((r + κ)² s_ref) = 1.
    r = cut.proposed_spend / 100.0
    assert 80.0 * 0.3 / ((r + 0.3) ** 2 * 100.0) == pytest.approx(1.0, rel=1e-3)
    assert "meets break-even" in cut.rationale


def test_the_reallocation_takes_and_states_its_risk_weight() -> None:
    curves = [UNIDENTIFIED, SATURATED, PROFITABLE]
    for risk in (0.0, 1.0, 2.5):
        realloc = next(a for a in recommend(curves, risk=risk) if a.kind is ActionKind.REALLOCATE)
        plan = equal_budget_plan(curves, 0.9, DEFAULT_MAX_CHANGE, risk)
        spend = {f.name: f.value.estimate for f in realloc.facts
                 if f.name.startswith("proposed_spend[") and f.value is not None}  # fmt: skip
        assert spend == {f"proposed_spend[{p.channel}]": p.optimal_spend
                         for p in plan.channels if f"proposed_spend[{p.channel}]" in spend}  # fmt: skip
        assert spend and f"risk weight {risk:g}" in realloc.rationale


def test_a_channel_at_risk_is_tested_not_scaled_and_not_raised_by_the_reallocation() -> None:
    # The analysis flagged 41% of its geo-days for budgets moving with demand (confounded,
    # 10 geos): meta's draws say scale, but they may carry the demand the budgets chased.
    curves = [SATURATED, PROFITABLE]
    assert identification_at_risk(curves, DEMAND_CHASE_SHARE * 0.99) == {}
    assert identification_at_risk(curves, None) == {}
    at_risk = identification_at_risk(curves, 0.41)
    assert set(at_risk) == {"google", "meta"} and "41%" in at_risk["meta"]
    before = recommend(curves)
    assert [a.kind for a in before if a.channel == "meta"] == [ActionKind.SCALE]
    assert any(a.kind is ActionKind.REALLOCATE for a in before)
    h = geo_history(n_geos=20, n_days=200)
    design = design_experiment(h, DesignSpec("meta"))
    after = recommend(curves, at_risk=at_risk, designs={"meta": design})
    test = next(a for a in after if a.channel == "meta")
    assert test.kind is ActionKind.TEST and test.design is design
    assert test.proposed_spend == test.current_spend and test.impact.estimate == 0.0
    assert "raise meta spend by 30%" in test.rationale and "41%" in test.rationale
    assert any(f.name == "identification" for f in test.facts)
    # The cut stands (the bias inflates the effect) and says what is at risk.
    cut = next(a for a in after if a.channel == "google")
    assert cut.kind is ActionKind.CUT and cut.proposed_spend == pytest.approx(70.0)
    assert any(f.name == "identification" and "stands" in f.text for f in cut.facts)
    # At equal total, nothing may be raised: no reallocation is left to propose.
    assert not any(a.kind is ActionKind.REALLOCATE for a in after)
    plan = equal_budget_plan(curves, 0.9, DEFAULT_MAX_CHANGE, capped=["meta"])
    meta = next(p for p in plan.channels if p.channel == "meta")
    assert meta.optimal_spend <= meta.current_spend * (1 + 1e-9)
    # A channel a lift test calibrates is exempt.
    assert set(identification_at_risk(curves, 0.41, calibrated=["meta"])) == {"google"}


def test_a_move_names_both_next_unit_returns() -> None:
    # The draws' mean next-unit return (what the move is decided on) and the analysis table's
    # point fit can sit on opposite sides of break-even (R2-F4: 0.94 vs 1.12); both are named.
    unsure = hill("tiktok", spend=100.0, scale=400.0, kappa=1.0, spread=0.8, seed=4)
    mean = float(np.mean(unsure.marginal(100.0)))
    table = AnalysisEffect("tiktok", Interval(300.0, 100.0, 500.0, 0.9), None, 30,
                           marginal=Interval(1.12, 0.26, 1.98, 0.9))  # fmt: skip
    (held,) = _channel_actions(recommend([unsure], effects={"tiktok": table}))
    assert held.kind is ActionKind.HOLD
    assert f"planning curve mean mROAS {mean:.2f}" in held.rationale
    assert "the analysis table's point-fit mROAS 1.12, which the plans are not computed on" in (
        held.rationale
    )
    fact = next(f for f in held.facts if f.name == "marginal_roas")
    assert "the analysis's table shows mROAS 1.12 [0.26, 1.98] (90%), its point fit" in fact.text
    (cut,) = _channel_actions(recommend([SATURATED], value_per_outcome=1.0))
    assert "planning curve mean mROAS" in cut.rationale  # no table given: the curve's alone


def test_the_reallocation_says_what_its_gain_is_and_takes_counterfactuals_beside_it() -> None:
    # R10-F5: the same plan read +1.58M over the draws and +2.11M from Counterfactual (the
    # point fit), and no surface said why.
    curves = [UNIDENTIFIED, SATURATED, PROFITABLE]
    realloc = next(a for a in recommend(curves) if a.kind is ActionKind.REALLOCATE)
    draws = PROFITABLE.n_draws
    assert f"over the analysis's {draws} posterior draws of the response curves" in (
        realloc.rationale
    )
    assert "Counterfactual on the same spends reads the analysis's point fit" in realloc.rationale
    plan = equal_budget_plan(curves, 0.9, DEFAULT_MAX_CHANGE)
    assert dict(realloc.spends) == {p.channel: p.optimal_spend for p in plan.channels if not p.held}
    checked = with_counterfactual(realloc, Interval(2000.0, -1000.0, 4000.0, 0.9), 0.5)
    assert checked.rationale == (
        f"{realloc.rationale}; Counterfactual on the same spends: +1,000 [-500, +2,000] (90%)"
    )
    (fact,) = [f for f in checked.facts if f.name == "counterfactual_delta"]
    assert fact.value == Interval(1000.0, -500.0, 2000.0, 0.9)
