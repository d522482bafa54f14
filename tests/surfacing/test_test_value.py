"""The value of testing a channel (EVPPI over the model's draws): large where the channel's
response decides the plan, zero where it does not or is known, unbiased on noise; Recommend
carries it on its tests and holds and orders its tests by it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from surfacing_svc.curves import HillCurve
from surfacing_svc.intervals import Interval
from surfacing_svc.recommend import (
    ActionKind,
    AnalysisEffect,
    equal_budget_plan,
    recommend,
    recommend_plans,
)
from surfacing_svc.test_value import information_values, value_fact
from tests.surfacing.curves_fixtures import hill

# f(s) = A r / (r + 1), r = s / 100: the marginal return at current spend is A / 400.
STEADY = hill("steady", spend=100.0, scale=400.0, kappa=1.0)  # 1.0, no uncertainty
# Its return (1.0 × e^N(0, 0.8)) is above the steady channel's in half the draws: the plan
# moves budget between the two one way or the other depending on it.
DECISIVE = hill("decisive", spend=100.0, scale=400.0, kappa=1.0, spread=0.8, seed=3)
# Its return (10 × e^N(0, 0.3)) beats every other channel's in every draw: the plan raises it
# to its bound whatever it is.
WINNER = hill("winner", spend=100.0, scale=4000.0, kappa=1.0, spread=0.3, seed=5)
# Its return (0.1, known) is below every other's: the plan cuts it to its bound, which frees
# the budget the winner takes.
LOSER = hill("loser", spend=100.0, scale=40.0, kappa=1.0)


def _values(curves: list[HillCurve], seed: int = 0, **kw: object) -> dict:
    plan = equal_budget_plan(curves, 0.9, 0.3, 1.0)
    return information_values(curves, plan, [c.channel for c in curves], seed=seed, **kw)  # type: ignore[arg-type]


def test_the_channel_whose_response_decides_the_plan_is_worth_testing_the_other_not() -> None:
    v = _values([STEADY, DECISIVE, WINNER, LOSER])
    decisive, winner, steady = v["decisive"], v["winner"], v["steady"]
    # Knowing the decisive channel's return moves its spend from its lower bound (low draws)
    # to its upper one (high draws), and is worth it well beyond the estimate's noise.
    assert decisive.moves[0] < 0.8 and decisive.moves[-1] > 1.1
    assert decisive.value > 4 * decisive.noise > 0 and not decisive.negligible
    # The winner sits at its upper bound in every bin: knowing it changes nothing.
    assert all(m == pytest.approx(1.3, abs=0.01) for m in winner.moves)
    assert winner.negligible and abs(winner.value) < 0.05 * decisive.value
    # A channel without uncertainty: nothing to learn, exactly.
    assert steady.value == 0.0 and steady.noise == 0.0 and steady.negligible


def test_the_value_scales_with_the_value_of_an_outcome_and_is_reproducible() -> None:
    one = _values([STEADY, DECISIVE, WINNER, LOSER])["decisive"]
    again = _values([STEADY, DECISIVE, WINNER, LOSER])["decisive"]
    valued = _values([STEADY, DECISIVE, WINNER, LOSER], value_per_outcome=0.3)["decisive"]
    assert again == one
    assert valued.value == pytest.approx(0.3 * one.value)


def test_on_a_channel_whose_draws_are_noise_the_value_is_not_biased_upward() -> None:
    # A channel with no effect whose κ and S draws are noise: its bins carry nothing about the
    # plan, but each is a small group of the other channels' draws, on which a plan re-chosen
    # and scored on the same draws would look better than it is (the plain partition
    # estimator's bias). Over many worlds and partitions, the mean value is ~0.
    out = []
    for seed in range(24):
        rng = np.random.default_rng(100 + seed)
        noise = HillCurve("noise", 100.0, 30, np.full(200, 1e-3), np.exp(rng.normal(0, 1, 200)),
                          np.exp(rng.normal(0, 0.5, 200)))  # fmt: skip
        decisive = replace(DECISIVE, scale=400.0 * np.exp(rng.normal(0, 0.8, 200)))
        other = replace(STEADY, channel="other", scale=400.0 * np.exp(rng.normal(0, 0.5, 200)))
        v = information_values([decisive, other, noise], equal_budget_plan([decisive, other, noise],
                        0.9, 0.3, 1.0), ["noise", "decisive"], seed=seed)  # fmt: skip
        out.append((v["noise"].value, v["decisive"].value))
    noise_values, decisive_values = np.array(out).T
    se = noise_values.std(ddof=1) / np.sqrt(noise_values.size)
    assert abs(noise_values.mean()) < 3 * se + 1e-9
    assert abs(noise_values.mean()) < 0.02 * decisive_values.mean()
    assert decisive_values.mean() > 10 * se


def test_an_unidentified_channel_is_not_valued_on_its_draws() -> None:
    unknown = replace(DECISIVE, channel="unknown", identified=False)
    v = _values([STEADY, DECISIVE, unknown])
    assert np.isnan(v["unknown"].value)
    fact = value_fact(v["unknown"])
    assert fact.value is None and "not computed" in fact.text


def test_too_few_draws_or_one_channel_to_move_give_no_value() -> None:
    few = [replace(c, scale=np.asarray(c.scale)[:30], half_saturation=np.asarray(
        c.half_saturation)[:30], shape=np.asarray(c.shape)[:30]) for c in (STEADY, DECISIVE)]  # fmt: skip
    assert _values(few) == {}
    assert _values([DECISIVE]) == {}


def test_the_facts_say_what_the_value_means_and_no_more() -> None:
    v = _values([STEADY, DECISIVE, WINNER, LOSER])
    worth = value_fact(v["decisive"])
    assert worth.value is not None and worth.value.lower > 0
    assert "would let the plan earn about" in worth.text and "30 days" in worth.text
    assert "upper bound" in worth.text
    nothing = value_fact(v["winner"])
    assert "would not change the plan" in nothing.text and "earn" not in nothing.text


# Two channels the analysis puts at risk, both of which the draws would scale: tiktok's return
# (2 × e^N(0, 0.6)) is above or below the steady channel's (2.0) depending on the draw, meta's
# (1.5, nearly known) below it in every draw.
TIKTOK = hill("tiktok", spend=100.0, scale=800.0, kappa=1.0, spread=0.6, seed=7)
META = hill("meta", spend=100.0, scale=600.0, kappa=1.0, spread=0.02, seed=8)
SURE = hill("search", spend=100.0, scale=800.0, kappa=1.0)


def test_recommend_orders_its_tests_by_their_value_and_says_it() -> None:
    at_risk = {"tiktok": "budgets chase demand", "meta": "budgets chase demand"}
    actions = recommend([SURE, META, TIKTOK], at_risk=at_risk)
    tests = [a for a in actions if a.kind is ActionKind.TEST]
    # Alphabetically meta comes first; by value tiktok does.
    assert [a.channel for a in tests] == ["tiktok", "meta"]
    facts = {a.channel: next(f for f in a.facts if f.name == "test_value") for a in tests}
    assert facts["tiktok"].value is not None and facts["tiktok"].value.lower > 0
    assert "would let the plan raise it" in facts["tiktok"].text
    assert "would not change the plan" in facts["meta"].text
    # The value is a fact, not the test's impact: tests still rank after every move.
    assert all(a.impact.estimate == 0.0 for a in tests)
    assert actions[-2:] == tuple(tests)


def test_a_hold_for_an_unestablished_channel_carries_the_value_of_testing_it() -> None:
    shown = AnalysisEffect("tiktok", Interval(100.0, 0.0, 900.0, 0.9), None, 30)
    plans = recommend_plans([SURE, TIKTOK], effects={"tiktok": shown})
    assert set(plans.test_values) == {"tiktok"}
    actions = recommend([SURE, TIKTOK], effects={"tiktok": shown}, plans=plans)
    (held,) = [a for a in actions if a.channel == "tiktok"]
    assert held.kind is ActionKind.HOLD
    assert any(f.name == "test_value" and f.value is not None for f in held.facts)
    # Without a reallocation asked for, nothing is valued (the value is the reallocation's).
    assert recommend_plans([SURE, TIKTOK], effects={"tiktok": shown},
                           reallocate=False).test_values == {}  # fmt: skip
