"""R42-F2: Recommend compares its calls with the org's previous analysis of the same outcome;
a move that reverses the previous one is not made (the channel is held, saying both calls and
how the estimate moved), a hold after a move says so, a move in the same direction is kept.
Constructed analyses: the curves' draws fix each call (see test_recommend)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from surfacing_svc.actions import AnalysisEffect
from surfacing_svc.intervals import Interval
from surfacing_svc.planning import PlanningModel, RecommendQuestion, answer_recommend
from surfacing_svc.recommend import ActionKind
from surfacing_svc.reversals import (
    AnalysisListed,
    against_previous,
    not_compared,
    previous_analysis,
    previous_calls,
)
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests
from tests.surfacing.curves_fixtures import hill

START, END = dt.date(2025, 1, 1), dt.date(2025, 1, 30)
WEEK = dt.timedelta(days=7)
# Draws' next-unit returns at current spend: 2.2 (scale), 0.14 (cut), ~1.0 wide (hold).
SCALE = {"scale": 1000.0, "kappa": 2.0, "spread": 0.05}
CUT = {"scale": 80.0, "kappa": 0.3, "spread": 0.05}
HOLD = {"scale": 400.0, "kappa": 1.0, "spread": 0.8}
Q = RecommendQuestion("o", ("now",), design_tests=False)


def _effect(channel: str, roas: float, lower: float = 0.1, upper: float = 4.0) -> AnalysisEffect:
    return AnalysisEffect(channel, Interval(roas * 100, lower * 100, upper * 100, 0.9),
                          Interval(roas, lower, upper, 0.9), 30)  # fmt: skip


def _model(aid: str, calls: dict[str, dict[str, float]], roas: dict[str, float],
           shift: int = 0, unproven: tuple[str, ...] = ()) -> PlanningModel:  # fmt: skip
    return PlanningModel(
        analysis_id=aid, outcome="revenue", start=START + shift * WEEK, end=END + shift * WEEK,
        curves=tuple(hill(ch, spend=100.0, seed=i, **kw)
                     for i, (ch, kw) in enumerate(sorted(calls.items()))),
        baseline_total=10_000.0,
        effects=tuple(_effect(ch, r, 0.0 if ch in unproven else 0.1) for ch, r in roas.items()),
    )  # fmt: skip


def _compared(before: PlanningModel, now: PlanningModel, tests=()):
    answer = answer_recommend(now, Q, None, tests=RegisteredTests(list(tests)))
    calls = previous_calls(before, Q, tests=RegisteredTests(list(tests)))
    out = against_previous(answer, now, calls, 1.0)
    return {a.channel: a for a in answer.actions}, {a.channel: a for a in out.actions}, out


def test_a_reversed_move_is_held_and_says_both_calls() -> None:
    before = _model("an-1", {"meta": SCALE, "google": CUT}, {"meta": 2.2, "google": 0.4})
    now = _model("an-2", {"meta": CUT, "google": CUT}, {"meta": 0.5, "google": 0.3}, shift=1)
    alone, out, answer = _compared(before, now)
    assert alone["meta"].kind is ActionKind.CUT  # what this analysis alone says
    meta = out["meta"]
    assert meta.kind is ActionKind.HOLD and meta.impact.estimate == 0.0
    assert meta.proposed_spend == meta.current_spend == 100.0 and meta.spends == ()
    prev_call = f"SCALE at {previous_calls(before, Q).actions['meta'].confidence:.0%}"
    assert meta.rationale.startswith(
        f"last analysis an-1 said {prev_call}; this one says CUT at "
        f"{alone['meta'].confidence:.0%}; the estimate (iROAS) moved 2.20 [0.10, 4.00] (90%) → "
        "0.50 [0.10, 4.00] (90%), each inside the other's interval: the data cannot tell these "
        "apart — hold, or test it (liftos design --channel meta)"
    )
    assert alone["meta"].action in meta.rationale
    (fact,) = [f for f in meta.facts if f.name == "previous_analysis"]
    assert fact.value == Interval(2.2, 0.1, 4.0, 0.9)
    assert "an-1 (2025-01-01..2025-01-30) said SCALE" in fact.text
    (alone_fact,) = [f for f in meta.facts if f.name == "model_alone"]
    assert alone_fact.value == alone["meta"].impact
    # The same move twice is kept, with the previous call as a fact.
    assert out["google"] == replace(alone["google"], facts=out["google"].facts)
    assert out["google"].kind is ActionKind.CUT
    assert any(f.name == "previous_analysis" and "said CUT" in f.text for f in out["google"].facts)
    (said,) = [w for w in answer.warnings if w.startswith("compared with")]
    assert said == (f"compared with the previous analysis an-1 (2025-01-01..2025-01-30): held "
                    f"rather than reversed: meta ({prev_call} then, CUT at "
                    f"{alone['meta'].confidence:.0%} now)")  # fmt: skip


def test_a_hold_after_a_move_says_so_and_a_move_after_a_plain_hold_stands() -> None:
    before = _model("an-1", {"meta": CUT, "tiktok": HOLD}, {"meta": 0.68, "tiktok": 1.0})
    now = _model("an-2", {"meta": HOLD, "tiktok": CUT}, {"meta": 1.53, "tiktok": 0.2}, shift=1)
    alone, out, answer = _compared(before, now)
    assert alone["meta"].kind is ActionKind.HOLD and out["meta"].kind is ActionKind.HOLD
    assert out["meta"].rationale == (
        f"last analysis an-1 said CUT at {previous_calls(before, Q).actions['meta'].confidence:.0%}"
        "; this one says HOLD; the estimate (iROAS) moved 0.68 [0.10, 4.00] (90%) → 1.53 [0.10, "
        "4.00] (90%), each inside the other's interval: the data cannot tell these apart — hold, "
        f"or test it (liftos design --channel meta); {alone['meta'].rationale}"
    )
    # tiktok was a plain hold (its draws split): a cut now is a new move, not a reversal.
    assert out["tiktok"].kind is ActionKind.CUT and out["tiktok"].action == alone["tiktok"].action
    assert "no channel's move reverses its call" in answer.warnings[-1]


def test_a_hold_whose_draws_leaned_the_other_way_counts_as_that_move() -> None:
    # meta's draws asked to scale, but the analysis did not establish its effect: held then.
    before = _model("an-1", {"meta": SCALE}, {"meta": 2.2}, unproven=("meta",))
    assert previous_calls(before, Q).actions["meta"].kind is ActionKind.HOLD
    now = _model("an-2", {"meta": CUT}, {"meta": 0.1}, shift=1)
    alone, out, _ = _compared(before, now)
    assert alone["meta"].kind is ActionKind.CUT and out["meta"].kind is ActionKind.HOLD
    assert "said HOLD (its draws leaned to SCALE)" in out["meta"].rationale


def test_an_estimate_moved_beyond_its_interval_is_said_so() -> None:
    before = _model("an-1", {"meta": SCALE}, {"meta": 2.2})
    now = replace(_model("an-2", {"meta": CUT}, {}, shift=1),
                  effects=(_effect("meta", 0.05, 0.01, 0.09),))  # fmt: skip
    _, out, _ = _compared(before, now)
    assert out["meta"].kind is ActionKind.HOLD
    assert (
        "outside an interval: the data under the window changed the estimate"
        in out["meta"].rationale
    )


def test_a_hold_for_a_registered_test_is_left_to_the_test() -> None:
    test = RegisteredTest("exp_1", "meta", START, END + 3 * WEEK, "running", ("US-TX",),
                          ("US-CA",), frozenset({"control"}))  # fmt: skip
    before = _model("an-1", {"meta": SCALE}, {"meta": 2.2})
    now = _model("an-2", {"meta": CUT}, {"meta": 0.1}, shift=1)
    alone, out, _ = _compared(before, now, [test])
    assert out["meta"] == alone["meta"] and "exp_1" in out["meta"].action


def _listed(aid: str, made: int, outcome: str = "revenue", shift: int = 0) -> AnalysisListed:
    return AnalysisListed(aid, dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=made),
                          outcome, START + shift * WEEK, END + shift * WEEK)  # fmt: skip


def test_the_previous_analysis_is_the_newest_earlier_overlapping_one_of_the_outcome() -> None:
    listed = [
        _listed("later", 9, shift=2),
        _listed("now", 8, shift=1),
        _listed("conv", 7, "conversions", shift=1),  # another outcome
        _listed("far", 6, shift=9),  # no overlap
        _listed("prev", 5),
        _listed("older", 4),
    ]
    start, end = START + WEEK, END + WEEK
    assert previous_analysis(listed, "now", "revenue", start, end) == ("prev", "")
    assert previous_analysis(listed, "later", "revenue", START + 2 * WEEK, END + 2 * WEEK) == (
        "now",
        "",
    )
    none, why = previous_analysis(listed, "older", "revenue", START, END)
    assert none == "" and why == (
        "no attribution analysis of revenue made before it has a window that overlaps "
        "2025-01-01..2025-01-30"
    )
    assert previous_analysis(listed, "gone", "revenue", start, end) == (
        "",
        "analysis 'gone' is not among the org's 6 newest attribution analyses",
    )


def test_not_compared_changes_nothing_and_says_why() -> None:
    now = _model("an-2", {"meta": CUT}, {"meta": 0.1})
    answer = answer_recommend(now, Q, None)
    out = not_compared(answer, "analysis 'an-1' failed its health checks")
    assert out.actions == answer.actions
    assert out.warnings[-1] == (
        "not compared with a previous analysis (analysis 'an-1' failed its health checks): a "
        "move here that reverses an earlier recommendation is not caught"
    )
