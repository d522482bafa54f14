"""Recommend's reallocation never raises a channel the analysis did not establish (README:
'never raises spend on a channel whose effect the analysis did not establish'): on an audit's
world it raised the true-zero email channel by 30% while its own HOLD line said hold it
(R4-F5). The draws' mean of such a channel is the prior's tail, not evidence."""

from __future__ import annotations

import pytest

from surfacing_svc.intervals import Interval
from surfacing_svc.recommend import ActionKind, AnalysisEffect, recommend
from tests.surfacing.curves_fixtures import hill

# Draws' mean next-unit returns at current spend (A κ / ((1 + κ)² s_ref)): meta 2.2,
# tiktok ~1.6, google 0.14.
META = hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1)
TIKTOK = hill("tiktok", spend=100.0, scale=650.0, kappa=1.5, spread=0.05, seed=3)
GOOGLE = hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2)
CURVES = [META, TIKTOK, GOOGLE]


def _effect(channel: str, lower: float) -> AnalysisEffect:
    return AnalysisEffect(channel, Interval(200.0, lower, 600.0, 0.9), None, 30)


ESTABLISHED = {c.channel: _effect(c.channel, 50.0) for c in CURVES}
# The analysis's table cannot tell meta from zero (its lower bound gated to 0).
META_UNPROVEN = {**ESTABLISHED, "meta": _effect("meta", 0.0)}


def _reallocation(actions):
    return next(a for a in actions if a.kind is ActionKind.REALLOCATE)


def _proposed(action) -> dict[str, float]:
    return {f.name[len("proposed_spend["):-1]: f.value.estimate for f in action.facts
            if f.name.startswith("proposed_spend[") and f.value is not None}  # fmt: skip


def test_an_established_channel_with_the_best_return_is_raised_by_the_reallocation() -> None:
    # The reference: with meta established, the reallocation moves money to it.
    moved = _proposed(_reallocation(recommend(CURVES, effects=ESTABLISHED)))
    assert moved["meta"] > 100.0 * 1.05


def test_a_channel_the_analysis_did_not_establish_is_not_raised_by_the_reallocation() -> None:
    actions = recommend(CURVES, effects=META_UNPROVEN)
    meta = next(a for a in actions if a.channel == "meta")
    assert meta.kind is ActionKind.HOLD and "did not establish" in meta.rationale
    realloc = _reallocation(actions)  # still worth making: google's money goes to tiktok
    moved = _proposed(realloc)
    assert moved.get("meta", 100.0) <= 100.0 * (1 + 1e-9)
    assert moved["tiktok"] > 100.0 and moved["google"] < 100.0
    # The action says why meta is held there, in its rationale and in a fact of its own.
    assert "did not establish their effect" in realloc.rationale and "meta" in realloc.rationale
    held = next(f for f in realloc.facts if f.name == "held[meta]")
    assert held.value is not None and held.value.estimate == pytest.approx(100.0, rel=1e-6)
    assert "not raised above its current spend 100" in held.text
    assert "did not establish its effect" in held.text
