"""What one unit of outcome is worth: revenue is worth itself; a conversion only the caller
knows. On a conversions analysis Recommend valued a conversion at 1 unit of currency by default
and said 'cut every channel, confidence 100%' at a 10 USD cost per conversion (R4-F12)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from surfacing_svc.errors import InvalidRequest
from surfacing_svc.optimizer import Objective
from surfacing_svc.planning import (
    OptimizeQuestion,
    PlanningModel,
    RecommendQuestion,
    answer_optimize,
    answer_recommend,
    outcome_value,
)
from surfacing_svc.recommend import ActionKind
from tests.surfacing.curves_fixtures import hill

# Conversions over 30 days, on the margin (A κ / ((1 + κ)² s_ref)): 0.22 conversion per unit
# of spend for meta, 0.005 for google (a 4.5 and a 200 USD cost per next conversion).
ORDERS = PlanningModel(
    analysis_id="conv", outcome="conversions", start=dt.date(2024, 1, 1),
    end=dt.date(2024, 1, 30), currency="USD",
    curves=(hill("meta", spend=1000.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1),
            hill("google", spend=1000.0, scale=20.0, kappa=1.0, spread=0.05, seed=2)),
    baseline_total=1e4,
)  # fmt: skip


def test_a_conversions_analysis_without_a_value_per_outcome_is_refused_naming_it() -> None:
    q = RecommendQuestion("o", ("conv",))
    with pytest.raises(InvalidRequest) as refused:
        answer_recommend(ORDERS, q, None)
    assert [v.field for v in refused.value.violations] == ["value_per_outcome"]
    text = refused.value.message
    assert "models conversions" in text and "what one conversion is worth in USD" in text
    assert "--value-per-outcome" in text


def test_with_a_value_per_conversion_the_channels_are_weighed_against_their_cost() -> None:
    # At 80 USD an order, meta's next conversion (4.5 USD) pays and google's (200 USD) does not.
    actions = answer_recommend(ORDERS, RecommendQuestion("o", ("conv",), 80.0), None).actions
    kinds = {a.channel: a.kind for a in actions if a.channel}
    assert kinds == {"meta": ActionKind.SCALE, "google": ActionKind.CUT}


def test_revenue_is_worth_itself_by_default_and_a_huge_multiplier_is_refused() -> None:
    revenue = replace(ORDERS, outcome="revenue")
    assert outcome_value(revenue, RecommendQuestion("o", ("r",))) == 1.0
    assert outcome_value(revenue, RecommendQuestion("o", ("r",), 0.3)) == 0.3
    with pytest.raises(InvalidRequest):
        outcome_value(revenue, RecommendQuestion("o", ("r",), 150.0))
    assert outcome_value(ORDERS, RecommendQuestion("o", ("c",), 150.0)) == 150.0  # a B2B lead


def test_a_target_return_on_conversions_says_it_is_conversions_per_unit_of_spend() -> None:
    q = OptimizeQuestion(org_id="o", analysis_id="conv", budget=None, horizon_days=0,
                         objective=Objective.CONVERSIONS, metric=None, target_roas=0.05)  # fmt: skip
    plan, _ = answer_optimize(ORDERS, q)
    (said,) = [w for w in plan.warnings if "target_marginal_roas" in w]
    assert "conversions per unit of spend" in said and "costs 20 USD" in said


def test_a_revenue_value_above_one_is_said() -> None:
    """R12-F7: README's `--value-per-outcome 80` (a conversion's worth) on a revenue analysis
    valued each unit of revenue at 80 and scaled every impact by it without a word."""
    revenue = replace(ORDERS, outcome="revenue")
    said = answer_recommend(revenue, RecommendQuestion("o", ("r",), 80.0), None).warnings
    (line,) = [w for w in said if w.startswith("value_per_outcome")]
    assert "values each unit of revenue at 80" in line and "a margin is at most 1" in line
    for quiet in (None, 1.0, 0.3):
        said = answer_recommend(revenue, RecommendQuestion("o", ("r",), quiet), None).warnings
        assert not [w for w in said if w.startswith("value_per_outcome")]
