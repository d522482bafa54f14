"""What the RPCs ask of the domain: OptimizeBudget's bounds as the service applies them."""

from __future__ import annotations

import datetime as dt

import pytest

from surfacing_svc.campaigns import CampaignSpend
from surfacing_svc.errors import InfeasibleConstraints, InvalidRequest
from surfacing_svc.optimizer import BoundStatus, Objective
from surfacing_svc.planning import (
    BoundRequest,
    CampaignBoundRequest,
    EffectEvidence,
    OptimizeQuestion,
    PlanningModel,
    RecommendQuestion,
    answer_optimize,
    answer_recommend,
    effect_channel,
)
from surfacing_svc.recommend import ActionKind
from tests.surfacing.curves_fixtures import hill

MODEL = PlanningModel(
    analysis_id="a", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 30),
    curves=(hill("meta", spend=100.0, scale=2000.0, kappa=2.0),
            hill("google", spend=100.0, scale=80.0, kappa=0.3)),
    baseline_total=1e4,
)  # fmt: skip


def _q(**kw: object) -> OptimizeQuestion:
    base: dict[str, object] = dict(org_id="o", analysis_id="a", budget=200.0, horizon_days=0,
                                   objective=Objective.REVENUE, metric=None)  # fmt: skip
    return OptimizeQuestion(**{**base, **kw})  # type: ignore[arg-type]


def test_channels_without_a_constraint_move_at_most_30_percent_by_default() -> None:
    plan, days = answer_optimize(MODEL, _q())
    meta, google = plan.channels
    assert meta.optimal_spend == pytest.approx(130.0) and meta.bound is BoundStatus.UPPER
    assert google.optimal_spend == pytest.approx(70.0)
    # With meta held at its bound, one more unit of budget would go to google: its marginal
    # return is the budget's multiplier, and its lower bound alone does not hold anything
    # back. But meta's default bound grows with the budget, so the price stated is what a
    # budget 1% larger buys, meta's bound with it (R10-F15); the warning gives google's.
    (held,) = [w for w in plan.warnings if "with every channel's bounds held where they are" in w]
    assert f"one more unit adds {google.marginal_optimal.estimate:.3g}" in held
    assert plan.shadow_price > 2 * google.marginal_optimal.estimate
    assert google.bound is BoundStatus.NONE
    assert days == 30 and any("±30%" in w for w in plan.warnings)
    free, _ = answer_optimize(MODEL, _q(max_change=0.0))
    assert free.channels[0].optimal_spend > 150.0
    assert free.optimal_outcome.estimate > plan.optimal_outcome.estimate


def test_the_default_bound_follows_the_budget_and_yields_to_a_constraint() -> None:
    plan, _ = answer_optimize(MODEL, _q(budget=400.0, bounds=(
        BoundRequest("google", "constraints[0]", min_ratio=0.0, max_ratio=5.0),)))  # fmt: skip
    meta, google = plan.channels
    assert meta.upper_bound == pytest.approx(260.0)  # 1.3 × 100 × (400 / 200)
    assert google.lower_bound == 0.0 and google.upper_bound == pytest.approx(500.0)


def test_a_budget_that_caps_the_spend_does_not_centre_the_default_bound_on_itself() -> None:
    # Profit at margin 0.4: meta returns 1.78 a unit at the margin, google 0.06. A cap five
    # times current spend is room, not an amount to spend: google is cut, meta raised, each
    # within ±30% of its current spend, and profit rises.
    plan, _ = answer_optimize(MODEL, _q(budget=1000.0, objective=Objective.PROFIT, margin=0.4))
    meta, google = plan.channels
    assert meta.optimal_spend == pytest.approx(130.0) and meta.bound is BoundStatus.UPPER
    assert google.optimal_spend == pytest.approx(70.0) and google.bound is BoundStatus.LOWER
    assert not plan.budget_binds and plan.uplift.estimate > 0 and plan.probability_better == 1
    # A cap below current spend still scales the bound down to it.
    low, _ = answer_optimize(MODEL, _q(budget=100.0, objective=Objective.PROFIT, margin=0.4))
    assert [c.upper_bound for c in low.channels] == pytest.approx([65.0, 65.0])
    assert sum(c.optimal_spend for c in low.channels) <= 100.0 + 1e-6
    # A target return under a tiny cap: the bounds scale down to it, so the target spend is
    # 1.3 (both channels at +30% of their scaled spend), and the warning says 1.3, not "1".
    tiny, _ = answer_optimize(MODEL, _q(budget=1.0, target_roas=1.0))
    assert sum(c.optimal_spend for c in tiny.channels) == pytest.approx(1.0)
    assert any("would spend 1.3 in all, more than the budget 1; 2 of 2 channel(s) are at the "
               "most their bounds allow: the plan spends the budget instead" in w
               for w in tiny.warnings), tiny.warnings  # fmt: skip
    # So with a target return under a budget cap.
    target, _ = answer_optimize(MODEL, _q(budget=1000.0, target_roas=1.0))
    assert [c.optimal_spend for c in target.channels] == pytest.approx([130.0, 70.0], rel=1e-4)


def test_an_objective_the_model_does_not_measure_is_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        answer_optimize(MODEL, _q(metric="conversions"))
    assert info.value.field == "objective"
    with pytest.raises(InvalidRequest) as info:
        answer_optimize(MODEL, _q(bounds=(BoundRequest("meta", "constraints[0]"),
                                          BoundRequest("meta", "constraints[1]"))))  # fmt: skip
    assert info.value.field == "constraints[1].channel"


CAMPAIGNS = PlanningModel(
    analysis_id="a", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 30),
    curves=MODEL.curves, baseline_total=1e4,
    campaigns=(CampaignSpend("m1", "meta", 60.0), CampaignSpend("m2", "meta", 40.0),
               CampaignSpend("g1", "google", 100.0)),
    unpriced=(hill("email", spend=5000.0, scale=300.0, kappa=1.0),),  # 5000 sends
)  # fmt: skip


def test_campaign_bounds_bound_the_channel_and_split_it_in_current_proportions() -> None:
    free, _ = answer_optimize(CAMPAIGNS, _q(max_change=0.0))
    assert free.channels[0].optimal_spend > 150.0 and not free.campaigns  # meta wants more
    plan, _ = answer_optimize(CAMPAIGNS, _q(max_change=0.0, campaign_bounds=(
        CampaignBoundRequest("m1", "campaign_constraints[0]", max_spend=66.0),
        CampaignBoundRequest("m2", "campaign_constraints[1]", max_ratio=1.5))))  # fmt: skip
    meta = plan.channels[0]
    assert meta.optimal_spend == pytest.approx(126.0, rel=1e-6)  # 66 + 1.5 × 40: the ceiling
    assert meta.bound is BoundStatus.UPPER and meta.upper_bound == pytest.approx(126.0)
    m1, m2 = plan.campaigns  # google's campaigns are not asked about, so not split
    assert (m1.optimal_spend, m2.optimal_spend) == pytest.approx((66.0, 60.0))
    # m1's share (60% of 126) is above its maximum, which holds it; m2 takes the rest.
    assert m1.bound is BoundStatus.UPPER and m2.bound is BoundStatus.NONE
    # One campaign bounded, the other open: the channel is free, the open one takes the rest.
    plan, _ = answer_optimize(CAMPAIGNS, _q(max_change=0.0, campaign_bounds=(
        CampaignBoundRequest("m1", "campaign_constraints[0]", max_spend=70.0),)))  # fmt: skip
    m1, m2 = plan.campaigns
    assert plan.channels[0].optimal_spend == pytest.approx(free.channels[0].optimal_spend)
    assert m1.optimal_spend == pytest.approx(70.0) and m1.bound is BoundStatus.UPPER
    assert m1.optimal_spend + m2.optimal_spend == pytest.approx(plan.channels[0].optimal_spend)


def test_conflicting_campaign_bounds_name_every_field() -> None:
    with pytest.raises(InfeasibleConstraints) as info:
        answer_optimize(CAMPAIGNS, _q(
            bounds=(BoundRequest("meta", "constraints[0]", max_spend=80.0),),
            campaign_bounds=(CampaignBoundRequest("m1", "campaign_constraints[0]", min_spend=50.0),
                             CampaignBoundRequest("m2", "campaign_constraints[1]", min_ratio=1.0))))  # fmt: skip
    assert [v.field for v in info.value.violations] == [
        "campaign_constraints[0]", "campaign_constraints[1]", "constraints[0]"]  # fmt: skip
    assert "need 90.00" in info.value.message and "allows 0.00 to 80.00" in info.value.message
    with pytest.raises(InfeasibleConstraints) as info:
        answer_optimize(CAMPAIGNS, _q(campaign_bounds=(CampaignBoundRequest(
            "g1", "campaign_constraints[0]", min_spend=50.0, max_ratio=0.4),)))  # fmt: skip
    assert info.value.field == "campaign_constraints[0]"
    with pytest.raises(InvalidRequest) as bad:
        answer_optimize(CAMPAIGNS, _q(campaign_bounds=(
            CampaignBoundRequest("nope", "campaign_constraints[0]", max_spend=1.0),)))  # fmt: skip
    assert bad.value.field == "campaign_constraints[0].campaign_id"


def test_a_channel_without_spend_is_planned_once_its_input_is_priced() -> None:
    plan, _ = answer_optimize(CAMPAIGNS, _q())
    assert [c.channel for c in plan.channels] == ["meta", "google"]
    assert any("email" in w for w in CAMPAIGNS.notes()) and not CAMPAIGNS.notes(["email"])
    priced, _ = answer_optimize(CAMPAIGNS, _q(budget=250.0, bounds=(
        BoundRequest("email", "constraints[0]", cost_per_input=0.01),)))  # fmt: skip
    email = priced.channels[2]
    assert email.channel == "email" and email.current_spend == pytest.approx(50.0)
    # Its curve read in spend: 300 · s/(s + 50) at 0.01 per send; the default bound holds it.
    assert email.optimal_outcome.estimate == pytest.approx(
        300.0 * email.optimal_spend / (email.optimal_spend + 50.0), rel=1e-6)  # fmt: skip
    with pytest.raises(InvalidRequest) as bad:
        answer_optimize(CAMPAIGNS, _q(bounds=(
            BoundRequest("meta", "constraints[0]", cost_per_input=0.01),)))  # fmt: skip
    assert bad.value.field == "constraints[0].cost_per_input"


def test_a_failed_effect_estimate_makes_its_channel_a_test() -> None:
    q = RecommendQuestion("o", ("a",), design_tests=False)
    before = {a.channel: a.kind for a in answer_recommend(MODEL, q, None).actions if a.channel}
    assert before["meta"] is ActionKind.SCALE
    evidence = (EffectEvidence("e1", "meta", False, "placebo_treatment: the placebo moved"),
                EffectEvidence("e2", "google", True))  # fmt: skip
    after = answer_recommend(MODEL, q, None, evidence).actions
    meta = next(a for a in after if a.channel == "meta")
    assert meta.kind is ActionKind.TEST and meta.proposed_spend == meta.current_spend
    assert any("'e1' failed its checks: placebo_treatment" in f.text for f in meta.facts)
    google = next(a for a in after if a.channel == "google")
    assert google.kind is before["google"]  # a supported estimate moves nothing by itself


def test_an_effect_estimate_names_its_channel() -> None:
    channels = ["meta", "meta_retargeting", "google"]
    assert effect_channel(["google"], "treated", channels) == "google"
    assert effect_channel([], "meta_retargeting_spend", channels) == "meta_retargeting"
    assert effect_channel([], "meta", channels) == "meta"
    assert effect_channel([], "treated", channels) is None
    assert effect_channel(["google", "meta"], "treated", channels) is None


SPREAD = PlanningModel(
    analysis_id="b", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 30),
    curves=(hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.1, seed=1),
            hill("google", spend=150.0, scale=80.0, kappa=0.3, spread=0.1, seed=2),
            hill("tiktok", spend=60.0, scale=300.0, kappa=1.5, shape=1.6, spread=0.3, seed=3),
            hill("sms", spend=40.0, scale=90.0, kappa=1.0, identified=False)),
    baseline_total=1e4,
)  # fmt: skip


@pytest.mark.parametrize(("value", "days"), [(1.0, 0), (0.5, 14)])
def test_recommend_moves_budgets_exactly_as_optimize_budget_does(value: float, days: int) -> None:
    """One code path: Recommend's reallocation is OptimizeBudget's allocation of the current
    total, and its scale/cut targets are OptimizeBudget's target-efficiency answer at the
    break-even return, both under the default ±30% bound."""
    answer = answer_recommend(SPREAD, RecommendQuestion("o", ("b",), value_per_outcome=value,
                                                        horizon_days=days), None)  # fmt: skip
    curves = SPREAD.horizon(days)
    total = sum(c.reference_spend for c in curves)
    plan, _ = answer_optimize(SPREAD, _q(budget=total, horizon_days=days))
    target, _ = answer_optimize(SPREAD, _q(budget=None, target_roas=1.0 / value,
                                           horizon_days=days))  # fmt: skip
    (realloc,) = [a for a in answer.actions if a.kind is ActionKind.REALLOCATE]
    proposed = {f.name[len("proposed_spend["):-1]: f.value.estimate for f in realloc.facts
                if f.name.startswith("proposed_spend[") and f.value is not None}  # fmt: skip
    assert proposed  # the reallocation moves something
    for p in plan.channels:
        if p.channel in proposed:
            assert proposed[p.channel] == pytest.approx(p.optimal_spend, rel=1e-9)
        else:  # left out of the action: it moves less than 1% of the total
            assert abs(p.optimal_spend - p.current_spend) <= 0.01 * total
        assert p.current_spend * 0.7 - 1e-6 <= p.optimal_spend <= p.current_spend * 1.3 + 1e-6
    assert realloc.impact.estimate == pytest.approx(plan.uplift.estimate * value)
    moves = {a.channel: a for a in answer.actions if a.kind in (ActionKind.SCALE, ActionKind.CUT)}
    assert moves  # scale and cut are there to compare
    for p in target.channels:
        if p.channel in moves:
            assert moves[p.channel].proposed_spend == pytest.approx(p.optimal_spend, rel=1e-9)
    assert "sms" not in moves and "sms" not in proposed  # unidentified: a test, never a move
