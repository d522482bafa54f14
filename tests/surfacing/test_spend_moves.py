"""One rule for "this spend is a move" (R20-F5): the optimiser's output, Recommend's moves
and the Counterfactual it asks all read a spend within a relative 1e-9 of current as current."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from causal_svc.attribution.counterfactual import SAME_SPEND_RTOL as CAUSAL_RTOL
from surfacing_svc.optimizer import DEFAULT_MAX_CHANGE
from surfacing_svc.recommend import ActionKind, _reallocation, equal_budget_plan, recommend
from surfacing_svc.spend_moves import SAME_SPEND_RTOL, same_spend, snap_to
from tests.surfacing.curves_fixtures import hill

PROFITABLE = hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1)
SATURATED = hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2)
# Profitable too, but capped at its current spend (as an unestablished channel is).
CAPPED = hill("tiktok", spend=100.0, scale=900.0, kappa=2.0, spread=0.05, seed=3)


def test_the_services_state_one_tolerance() -> None:
    assert SAME_SPEND_RTOL == CAUSAL_RTOL


def test_same_spend_is_relative_and_snap_sets_current_exactly() -> None:
    assert same_spend(1106822.1999999988, 1106822.2)
    assert not same_spend(1106822.2 * (1 - 1e-6), 1106822.2)
    assert same_spend(0.0, 0.0) and not same_spend(1e-3, 0.0)
    current = np.array([1106822.2, 100.0, 50.0])
    planned = np.array([1106822.1999999988, 130.0, 50.0 * (1 + 1e-12)])
    snapped = snap_to(planned, current)
    assert snapped.tolist() == [1106822.2, 130.0, 50.0]


def test_a_channel_held_at_its_spend_comes_back_at_it_exactly() -> None:
    plan = equal_budget_plan([SATURATED, PROFITABLE, CAPPED], 0.9, DEFAULT_MAX_CHANGE,
                             capped=("tiktok",))  # fmt: skip
    tiktok = next(p for p in plan.channels if p.channel == "tiktok")
    assert not tiktok.held and tiktok.optimal_spend == tiktok.current_spend


def test_recommend_asks_counterfactual_for_the_moved_channels_only() -> None:
    curves = [SATURATED, PROFITABLE, CAPPED]
    plan = equal_budget_plan(curves, 0.9, DEFAULT_MAX_CHANGE, capped=("tiktok",))
    # The optimiser's float noise on the channel it leaves at current spend.
    noisy = replace(plan, channels=tuple(
        replace(p, optimal_spend=p.current_spend * (1 - 1e-15)) if p.channel == "tiktok" else p
        for p in plan.channels))  # fmt: skip
    action = _reallocation(noisy, 1.0, unproven=("tiktok",))
    assert action is not None and action.kind is ActionKind.REALLOCATE
    moved = {p.channel for p in plan.channels if p.optimal_spend != p.current_spend}
    assert moved == {"google", "meta"}
    assert {c for c, _ in action.spends} == moved
    # Through recommend() too.
    realloc = next(a for a in recommend(curves) if a.kind is ActionKind.REALLOCATE)
    assert all(not same_spend(s, 100.0) for _, s in realloc.spends)
