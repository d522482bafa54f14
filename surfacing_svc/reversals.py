"""Recommend against the org's previous analysis: a move that reverses last time's is not made
(R42-F2).

Between two weekly analyses of a rolling window, 173 of 180 days are the same, yet the
estimates of weakly identified channels move a long way inside their intervals (on the
simulator's demo world, seed 42, google_pmax read 1.41, 0.68, 1.53, 0.73 on four consecutive
Mondays, each fit converged: the optimum itself moves, the email and SMS channels trading off
by less than one standard error each). Each week's draws then agree on a different move, and
Recommend said HOLD, CUT, HOLD, CUT at 57-82% "confidence": the confidence is the spread of one
fit's draws, not of the refit. So Recommend reads the previous analysis — the newest one of the
same outcome made before this one whose window overlaps it — and computes what it would
recommend by the same rule (:func:`surfacing_svc.planning.answer_recommend`, no second copy of
the decision). Per channel:

- the move reverses the previous one (CUT after SCALE, SCALE after CUT, or after a HOLD whose
  draws leaned the other way: an unestablished effect's scale, a channel at risk, a registered
  test's hold): not made; the channel is *held*, saying both analyses' calls and estimates;
- the previous analysis moved it and this one holds it: the hold says so (the same words);
- the same move twice, or a move after a plain hold: kept;

and every compared channel carries a ``previous_analysis`` fact with the previous call and
estimate. Without a previous analysis, or when it cannot be read or failed its health checks,
nothing changes and the warnings say "not compared" and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from surfacing_svc.actions import Action, ActionKind, AnalysisEffect, Fact
from surfacing_svc.intervals import Interval
from surfacing_svc.planning import (
    EffectEvidence,
    PlanningModel,
    Recommendations,
    RecommendQuestion,
    answer_recommend,
    outcome_value,
)
from surfacing_svc.recommend import draws_lean, ranked, share_up
from surfacing_svc.usual_spend import RegisteredTest

__all__ = [
    "AnalysisListed",
    "PreviousCalls",
    "against_previous",
    "not_compared",
    "previous_analysis",
    "previous_calls",
]

_MOVES = (ActionKind.SCALE, ActionKind.CUT)
_OTHER_WAY = {ActionKind.SCALE: ActionKind.CUT, ActionKind.CUT: ActionKind.SCALE}


@dataclass(frozen=True, slots=True)
class AnalysisListed:
    """One attribution analysis of the org's list (ListAnalyses, newest first)."""

    analysis_id: str
    made: dt.datetime
    outcome: str
    start: dt.date | None
    end: dt.date | None


def previous_analysis(
    listed: Sequence[AnalysisListed], current: str, outcome: str, start: dt.date, end: dt.date
) -> tuple[str, str]:
    """The id of the newest analysis of ``outcome`` made before ``current`` whose window meets
    ``start``..``end`` ("" if none), and, if none, why not (``listed`` newest first)."""
    at = next((i for i, a in enumerate(listed) if a.analysis_id == current), None)
    if at is None:
        return "", (f"analysis {current!r} is not among the org's {len(listed)} newest "
                    "attribution analyses")  # fmt: skip
    made = listed[at].made
    for a in listed[at + 1 :]:
        if a.made >= made or a.outcome != outcome or a.start is None or a.end is None:
            continue
        if a.start <= end and a.end >= start:
            return a.analysis_id, ""
    return "", (f"no attribution analysis of {outcome} made before it has a window that "
                f"overlaps {start}..{end}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PreviousCalls:
    """What the previous analysis recommends per channel (by the same rule), which way its
    draws alone lean, and its estimate of each channel."""

    analysis_id: str
    start: dt.date
    end: dt.date
    actions: dict[str, Action]
    leans: dict[str, ActionKind]
    effects: dict[str, AnalysisEffect]


def previous_calls(
    previous: PlanningModel, question: RecommendQuestion,
    evidence: Sequence[EffectEvidence] = (), tests: Sequence[RegisteredTest] = (),
) -> PreviousCalls:  # fmt: skip
    """Recommend's answer on ``previous`` for the same question (no designs nor reallocation:
    only the call per channel is read), with its evidence and registered tests."""
    q = replace(question, analysis_ids=(previous.analysis_id,), design_tests=False,
                max_results=len(previous.curves) + 1)  # fmt: skip
    answer = answer_recommend(previous, q, None, evidence, tests, reallocate=False)
    value = outcome_value(previous, question)
    return PreviousCalls(
        previous.analysis_id, previous.start, previous.end,
        {a.channel: a for a in answer.actions if a.channel},
        {c.channel: draws_lean(c, value) for c in previous.horizon(question.horizon_days)
         if c.identified},
        {e.channel: e for e in previous.effects},
    )  # fmt: skip


def not_compared(answer: Recommendations, why: str) -> Recommendations:
    """``answer`` as it is, saying it was not compared with a previous analysis, and why."""
    return replace(answer, warnings=(*answer.warnings, (
        f"not compared with a previous analysis ({why}): a move here that reverses an earlier "
        "recommendation is not caught")))  # fmt: skip


def _call(a: Action) -> str:
    if a.kind in _MOVES:
        return f"{a.kind.value.upper()} at {a.confidence:.0%}"
    return a.kind.value.upper()


def _moved(before: AnalysisEffect | None, now: AnalysisEffect | None) -> str:
    """How the channel's estimate moved between the two analyses, and whether either interval
    tells them apart."""
    if before is None or now is None or before.roas is None or now.roas is None:
        return "its estimate is not in both analyses' tables"
    b, n = before.roas, now.roas
    words = f"the estimate (iROAS) moved {b.text('{:.2f}')} → {n.text('{:.2f}')}"
    if b.lower <= n.estimate <= b.upper and n.lower <= b.estimate <= n.upper:
        return f"{words}, each inside the other's interval: the data cannot tell these apart"
    return f"{words}, outside an interval: the data under the window changed the estimate"


def _compare(
    now: Action, before: Action, lean: ActionKind | None, effects: tuple[AnalysisEffect | None, ...],
    previous: PreviousCalls, p_up: float,
) -> tuple[Action, bool]:  # fmt: skip
    """The channel's action against the previous analysis's, and whether a reversed move was
    held."""
    ch = now.channel
    was = before.kind if before.kind in _MOVES else lean if lean in _MOVES else None
    said = _call(before) + (f" (its draws leaned to {was.value.upper()})"
                            if before.kind not in _MOVES and was is not None else "")  # fmt: skip
    moved = _moved(*effects)
    fact = Fact("previous_analysis", effects[0].roas if effects[0] else None,
                f"the previous analysis {previous.analysis_id} ({previous.start}..{previous.end}) "
                f"said {said} for {ch}; {moved}")  # fmt: skip
    reversed_move = now.kind in _MOVES and was is not None and now.kind is _OTHER_WAY[was]
    told = (f"last analysis {previous.analysis_id} said {said}; this one says {_call(now)}; "
            f"{moved} — hold, or test it (liftos design --channel {ch})")  # fmt: skip
    if reversed_move:
        return replace(
            now, kind=ActionKind.HOLD, action=f"hold {ch} at its current spend: the previous "
            f"analysis said {before.kind.value if before.kind in _MOVES else 'otherwise'}",
            rationale=f"{told}. The move this analysis alone would make ({now.action}, gaining "
            f"in {now.confidence:.0%} of its draws) reverses the previous one, so it is not "
            "made: two analyses of mostly the same days disagree on the direction",
            impact=Interval.exact(0.0, now.impact.level), confidence=1.0 - abs(2 * p_up - 1.0),
            facts=(*now.facts, fact, Fact("model_alone", now.impact,
                                          f"this analysis alone would {now.action}")),
            proposed_spend=now.current_spend, design=None, spends=(),
        ), True  # fmt: skip
    if now.kind is ActionKind.HOLD and before.kind in _MOVES:
        return replace(now, rationale=f"{told}; {now.rationale}", facts=(*now.facts, fact)), False
    return replace(now, facts=(*now.facts, fact)), False


def against_previous(
    answer: Recommendations, current: PlanningModel, previous: PreviousCalls, value: float,
    horizon_days: int = 0,
) -> Recommendations:  # fmt: skip
    """``answer`` with each channel's call compared to ``previous``'s: a reversed move held,
    a hold after a move saying so, every compared channel with its ``previous_analysis`` fact;
    the warnings say which analysis it was compared with and what was held."""
    curves = {c.channel: c for c in current.horizon(horizon_days)}
    effects = {e.channel: e for e in current.effects}
    out: list[Action] = []
    held: list[str] = []
    for a in answer.actions:
        before = previous.actions.get(a.channel)
        compared = a.kind in (*_MOVES, ActionKind.HOLD) and before is not None
        # A hold for a registered test stands on the test, not on the draws: left as it is.
        if not compared or before is None or any(f.name == "registered_test" for f in a.facts):
            out.append(a)
            continue
        action, flipped = _compare(
            a, before, previous.leans.get(a.channel),
            (previous.effects.get(a.channel), effects.get(a.channel)), previous,
            share_up(curves[a.channel], value),
        )  # fmt: skip
        out.append(action)
        if flipped:
            held.append(f"{a.channel} ({_call(before)} then, {_call(a)} now)")
    words = (f"compared with the previous analysis {previous.analysis_id} "
             f"({previous.start}..{previous.end}): ")  # fmt: skip
    words += (f"held rather than reversed: {', '.join(held)}" if held
              else "no channel's move reverses its call")  # fmt: skip
    return replace(answer, actions=ranked(out), warnings=(*answer.warnings, words))
