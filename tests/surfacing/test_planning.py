"""What the RPCs ask of the domain: OptimizeBudget's bounds as the service applies them."""

from __future__ import annotations

import datetime as dt

import pytest

from surfacing_svc.errors import InvalidRequest
from surfacing_svc.optimizer import BoundStatus, Objective
from surfacing_svc.planning import BoundRequest, OptimizeQuestion, PlanningModel, answer_optimize
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
    # return is the budget's price, and its lower bound alone does not hold anything back.
    assert plan.shadow_price == pytest.approx(google.marginal_optimal.estimate)
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


def test_an_objective_the_model_does_not_measure_is_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        answer_optimize(MODEL, _q(metric="conversions"))
    assert info.value.field == "objective"
    with pytest.raises(InvalidRequest) as info:
        answer_optimize(MODEL, _q(bounds=(BoundRequest("meta", "constraints[0]"),
                                          BoundRequest("meta", "constraints[1]"))))  # fmt: skip
    assert info.value.field == "constraints[1].channel"
