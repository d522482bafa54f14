"""OptimizeBudget holds a channel the analysis did not establish at most at its current
spend, as Recommend's reallocation does (R6-F2): on the audit's demo analysis `liftos
optimize` raised meta_retargeting +3% while Recommend said it is "not raised", and the
report's Budget shift showed the raise beside Recommend's "the same allocation as
OptimizeBudget at this total" (R6-F1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from surfacing_svc.design.plan import MIN_GEOS, MIN_HISTORY_DAYS
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import Objective
from surfacing_svc.planning import (
    BoundRequest,
    OptimizeQuestion,
    PlanningModel,
    RecommendQuestion,
    answer_optimize,
    answer_recommend,
)
from surfacing_svc.recommend import ActionKind, AnalysisEffect
from tests.surfacing.curves_fixtures import hill

# Next-unit returns at current spend: meta ~2.2 (the best), tiktok ~1.6, google ~0.14.
CURVES = (
    hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1),
    hill("tiktok", spend=100.0, scale=650.0, kappa=1.5, spread=0.05, seed=3),
    hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2),
)


def _effect(channel: str, lower: float) -> AnalysisEffect:
    return AnalysisEffect(channel, Interval(200.0, lower, 600.0, 0.9), None, 30)


# The analysis's table cannot tell meta from zero (its lower bound gated to 0).
EFFECTS = (_effect("meta", 0.0), _effect("tiktok", 50.0), _effect("google", 50.0))
MODEL = PlanningModel(
    analysis_id="a", outcome="revenue", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 30),
    curves=CURVES, baseline_total=1e4, effects=EFFECTS,
)  # fmt: skip


def _ask(budget: float, **kw: object) -> OptimizeQuestion:
    return OptimizeQuestion("o", "a", budget, 0, Objective.REVENUE, None, **kw)  # type: ignore[arg-type]


def _spend(plan) -> dict[str, float]:
    return {p.channel: p.optimal_spend for p in plan.channels}


def test_an_established_best_channel_is_raised() -> None:
    # The reference: the same curves with meta established move money to meta.
    plan, _ = answer_optimize(replace(MODEL, effects=(_effect("meta", 50.0), *EFFECTS[1:])),
                              _ask(300.0))  # fmt: skip
    assert _spend(plan)["meta"] > 105.0
    assert not any("not raised above current spend" in w for w in plan.warnings)


def test_a_channel_the_analysis_did_not_establish_is_held_at_most_at_current_spend() -> None:
    plan, _ = answer_optimize(MODEL, _ask(300.0))
    spend = _spend(plan)
    assert spend["meta"] <= 100.0 * (1 + 1e-9)
    assert spend["tiktok"] > 100.0 and spend["google"] < 100.0  # the rest still moves
    note = next(w for w in plan.warnings if "not raised above current spend" in w)
    assert "meta" in note and "did not establish its effect" in note
    assert "the ceiling binds for meta" in note  # the curves' mean would raise it
    # R48-F3: a bare "(liftos design) would measure it" sent a 30-day, one-region shop to a
    # verb that refused it; the pointer says what design needs, as design's own refusals do.
    assert (
        "a geo experiment would measure it (`liftos design --channel CHANNEL` sizes one once "
        f"the org has at least {MIN_HISTORY_DAYS} days of history and orders in at least "
        f"{MIN_GEOS} regions, and says what it could detect; where turning the channel off "
        "cannot, it says what a heavy-up would)"
    ) in note
    meta = next(p for p in plan.channels if p.channel == "meta")
    assert meta.upper_bound == pytest.approx(100.0) and meta.bound.value == "upper"
    # A larger budget lifts the ceiling only to meta's share of today's spend (× 4/3 here):
    # it never gains share, and the budget is placed.
    bigger, _ = answer_optimize(MODEL, _ask(400.0))
    assert _spend(bigger)["meta"] <= 100.0 * 4 / 3 * (1 + 1e-9)
    assert sum(_spend(bigger).values()) == pytest.approx(400.0)
    assert any("current spend × 1.33, the budget's ratio to it" in w for w in bigger.warnings)
    # Nor does dropping the default bound (max_change 0).
    free, _ = answer_optimize(MODEL, _ask(300.0, max_change=0.0))
    assert _spend(free)["meta"] <= 100.0 * (1 + 1e-9)


def test_the_recommended_reallocation_is_optimize_budget_at_the_current_total() -> None:
    # What Recommend's reallocation says of itself ("OptimizeBudget's allocation at this
    # total"), checked channel by channel and on the uplift.
    rec = answer_recommend(MODEL, RecommendQuestion("o", ("a",)), None)
    realloc = next(a for a in rec.actions if a.kind is ActionKind.REALLOCATE)
    proposed = {f.name[len("proposed_spend["):-1]: f.value.estimate for f in realloc.facts
                if f.name.startswith("proposed_spend[") and f.value is not None}  # fmt: skip
    plan, _ = answer_optimize(MODEL, _ask(300.0))
    spend = _spend(plan)
    for channel, amount in proposed.items():
        assert spend[channel] == pytest.approx(amount, rel=1e-9)
    assert realloc.impact.estimate == pytest.approx(plan.uplift.estimate, rel=1e-9)


def test_a_request_bound_on_the_channel_replaces_the_ceiling_and_the_answer_says_so() -> None:
    plan, _ = answer_optimize(
        MODEL, _ask(300.0, bounds=(BoundRequest("meta", "constraints[0]", max_ratio=1.5),))
    )
    assert _spend(plan)["meta"] > 105.0
    assert any(w.startswith("raised within the request's own bound") and "meta" in w
               for w in plan.warnings)  # fmt: skip
    assert not any("not raised above current spend" in w for w in plan.warnings)


def test_the_reallocation_names_the_request_that_gives_it_where_channels_are_at_risk() -> None:
    # Budgets chased demand (the analysis's finding): every channel no lift test calibrates is
    # at risk and not raised by Recommend; OptimizeBudget answers the curves and would raise
    # google's money into meta, so the rationale names the bounds that give its plan.
    model = replace(MODEL, budget_response_share=0.4, calibrated=("tiktok",))
    rec = answer_recommend(model, RecommendQuestion("o", ("a",)), None)
    realloc = next(a for a in rec.actions if a.kind is ActionKind.REALLOCATE)
    assert "with meta, google also kept at or below current spend" in realloc.rationale
    assert "--bound CHANNEL=0.7:1 each" in realloc.rationale
    proposed = {f.name[len("proposed_spend["):-1]: f.value.estimate for f in realloc.facts
                if f.name.startswith("proposed_spend[") and f.value is not None}  # fmt: skip
    asked = tuple(BoundRequest(ch, f"constraints[{i}]", min_ratio=0.7, max_ratio=1.0)
                  for i, ch in enumerate(("meta", "google")))  # fmt: skip
    plan, _ = answer_optimize(model, _ask(300.0, bounds=asked))
    for channel, amount in proposed.items():
        assert _spend(plan)[channel] == pytest.approx(amount, rel=1e-9)
    assert realloc.impact.estimate == pytest.approx(plan.uplift.estimate, rel=1e-9)


def test_a_larger_budget_is_placed_when_no_channel_is_established() -> None:
    # Every channel unestablished: held at current spend, a larger total would have nowhere
    # to go (infeasible); each keeps its share of it instead.
    model = replace(MODEL, effects=tuple(_effect(c.channel, 0.0) for c in CURVES))
    plan, _ = answer_optimize(model, _ask(360.0))
    assert sum(_spend(plan).values()) == pytest.approx(360.0)
    for p in plan.channels:
        assert p.optimal_spend <= 120.0 * (1 + 1e-9)


def test_current_spend_over_the_window_is_said_as_its_total() -> None:
    # R6-F9: "mean daily spend over the analysis window ..., over that window" sat beside
    # figures that are the window's totals; over the window itself it is × its days.
    plan, days = answer_optimize(MODEL, _ask(300.0))
    note = next(w for w in plan.warnings if w.startswith("current spend is"))
    assert days == 30 and "over that window" not in note
    assert "(30 days), scaled to the 30-day horizon" in note
