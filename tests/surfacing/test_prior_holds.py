"""s21 P1 (s20 R48-F1 per channel): no planning move rests on a channel whose effect is mostly
the prior's. The analysis's planning model carries each channel's data share
(``ChannelResponseModel.data_share``); under ``MIN_DATA_SHARE`` the planner reads the channel as
not identified: Recommend tests it instead of cutting it (saying the share), OptimizeBudget holds
it at its current spend and optimises the others around it, and a bound the request sets on it
wins, said so. An analysis stored before the field (share unset) plans as before."""

from __future__ import annotations

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.runtime.data_share import prior_words
from surfacing_svc import convert
from surfacing_svc.optimizer import Objective
from surfacing_svc.planning import (
    BoundRequest,
    OptimizeQuestion,
    PlanningModel,
    RecommendQuestion,
    answer_optimize,
    answer_recommend,
)
from surfacing_svc.recommend import ActionKind
from tests.surfacing.curves_fixtures import hill

# Next-unit returns at current spend: meta ~2.2, tiktok ~1.6, google ~0.14 (the draws cut it).
CURVES = (
    hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1),
    hill("tiktok", spend=100.0, scale=650.0, kappa=1.5, spread=0.05, seed=3),
    hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2),
)


def _model(google_share: float | None) -> PlanningModel:
    """The curves as the causal service's AttributionResult carries them, read by the planner;
    google's effect has ``google_share`` of its precision from the data (None: unset)."""
    result = causal_pb.AttributionResult(
        analysis_id="a", outcome=common_pb.OUTCOME_METRIC_REVENUE,
        health=causal_pb.ModelHealth(verdict=causal_pb.HEALTH_VERDICT_PASS),
        channels=[causal_pb.ChannelAttribution(
            channel=c.channel, spend=common_pb.Money(amount=c.reference_spend, currency_code="USD"),
            identified=True) for c in CURVES],
        response_models=[causal_pb.ChannelResponseModel(
            channel=c.channel, reference_spend=c.reference_spend, period_days=c.period_days,
            scale=c.scale.tolist(), half_saturation=c.half_saturation.tolist(),
            shape=c.shape.tolist(), nodes=[1.0], node_weights=[1.0], identified=True,
            baseline_outcome=1e4,
            data_share=google_share if c.channel == "google" else 0.9) for c in CURVES],
    )  # fmt: skip
    result.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=1, day=1))
    result.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=1, day=30))
    return convert.planning_model(causal_pb.Analysis(
        analysis_id="a", kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, attribution=result))  # fmt: skip


def _ask(budget: float, *bounds: BoundRequest) -> OptimizeQuestion:
    return OptimizeQuestion("o", "a", budget, 0, Objective.REVENUE, None, bounds=bounds)


def test_the_planner_reads_a_channel_on_the_prior_as_not_identified() -> None:
    google = {c.channel: c for c in _model(0.05).curves}["google"]
    assert not google.identified and google.on_prior and google.data_share == pytest.approx(0.05)
    assert google.note.startswith(f"{prior_words(0.05)}, so no budget move rests on it")
    assert prior_words(0.05) == (
        "5% of its estimate's precision comes from the data; the rest is the prior's"
    )
    # at the threshold and above, or unset (stored before the field): as before
    for share in (0.2, 0.9, None):
        g = {c.channel: c for c in _model(share).curves}["google"]
        assert g.identified and not g.on_prior and g.note == ""


def test_recommend_tests_it_instead_of_cutting_it() -> None:
    before = answer_recommend(_model(None), RecommendQuestion("o", ("a",)), None)
    (cut,) = [a for a in before.actions if a.channel == "google"]
    assert cut.kind is ActionKind.CUT  # the old call, on what was the prior's
    after = answer_recommend(_model(0.05), RecommendQuestion("o", ("a",)), None)
    (test,) = [a for a in after.actions if a.channel == "google"]
    assert test.kind is ActionKind.TEST and test.proposed_spend == test.current_spend
    assert test.rationale == (
        f"google: {prior_words(0.05)}, so no budget move on it rests on a measurement (its draws "
        "alone ask to cut it, which is the prior speaking); an experiment measures it directly"
    )
    (fact,) = [f for f in test.facts if f.name == "data_share"]
    assert fact.value is not None and fact.value.estimate == pytest.approx(0.05)
    # nor does a reallocation move its money
    for a in after.actions:
        if a.kind is ActionKind.REALLOCATE:
            assert "google" not in dict(a.spends)
            assert not any(f.name == "proposed_spend[google]" for f in a.facts)


def test_optimize_holds_it_and_moves_the_others() -> None:
    before, _ = answer_optimize(_model(None), _ask(300.0))
    assert {p.channel: p.optimal_spend for p in before.channels}["google"] < 90.0
    plan, _ = answer_optimize(_model(0.05), _ask(300.0))
    spend = {p.channel: p.optimal_spend for p in plan.channels}
    assert spend["google"] == pytest.approx(100.0)
    assert spend["meta"] + spend["tiktok"] == pytest.approx(200.0)
    assert spend["meta"] > 105.0  # the others are optimised around it
    (said,) = [w for w in plan.warnings if w.startswith("google held at its current spend: ")]
    assert said == (f"google held at its current spend: {prior_words(0.05)}, so no budget move "
                    "rests on it; a lift test (liftos design) would measure it")  # fmt: skip


def test_a_bound_the_user_sets_on_it_wins_and_says_so() -> None:
    plan, _ = answer_optimize(
        _model(0.05), _ask(300.0, BoundRequest("google", "constraints[0]", max_ratio=0.5))
    )
    spend = {p.channel: p.optimal_spend for p in plan.channels}
    assert spend["google"] <= 50.0 + 1e-6
    (said,) = [w for w in plan.warnings if w.startswith("google: your constraint on it wins")]
    assert prior_words(0.05) in said and "without the constraint it is held" in said
    assert not [w for w in plan.warnings if w.startswith("google held at its current spend")]
