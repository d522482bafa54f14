"""Recommend's actions on a channel that ran on part of the analysis window only (a launch, a
stop, a seasonal flight). Its "current" spend is the window's mean, which counts the days it did
not run as none, so a move read from it needs the run-rate note OptimizeBudget already gives
(:func:`surfacing_svc.usual_spend.run_rate_notes`). A stopped channel spends nothing now: "cut
it by 30%" asks to cut a budget that does not exist (R51-F5: a Q4-only channel nine months
off), so the cut is said as leaving it off, which changes nothing and is what the draws back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from surfacing_svc.actions import Action, ActionKind, Fact
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import BudgetPlan
from surfacing_svc.recommend import ranked
from surfacing_svc.usual_spend import RanDays, run_rate_notes

__all__ = ["flighted"]


def flighted(
    actions: Sequence[Action],
    ran: Mapping[str, RanDays],
    horizon_days: int,
    reallocation: BudgetPlan | None = None,
) -> tuple[Action, ...]:
    """``actions`` with those on channels in ``ran`` said against their run rate; a stopped
    channel's cut said as leaving it off. ``reallocation`` is the plan behind the REALLOCATE
    action (its channels' current and proposed spends)."""
    if not ran:
        return tuple(actions)
    out = []
    for a in actions:
        if a.channel in ran:
            a = _channel(a, ran[a.channel], horizon_days)
        elif a.kind is ActionKind.REALLOCATE and reallocation is not None:
            moved = dict(a.spends)
            notes = run_rate_notes(
                ((p.channel, p.current_spend, p.optimal_spend) for p in reallocation.channels
                 if p.channel in moved), ran, horizon_days,
            )  # fmt: skip
            a = replace(a, facts=(*a.facts, *(Fact("ran_part_of_window", None, n) for n in notes)))
        out.append(a)
    return ranked(out)  # a cut said as a hold ranks with the holds


def _channel(a: Action, r: RanDays, horizon_days: int) -> Action:
    off = r.stopped and a.kind is ActionKind.CUT
    (note,) = run_rate_notes([(a.channel, a.current_spend, 0.0 if off else a.proposed_spend)],
                             {a.channel: r}, horizon_days) or ("",)  # fmt: skip
    facts = (*a.facts, Fact("ran_part_of_window", None, note)) if note else a.facts
    if not r.stopped or a.kind not in (ActionKind.CUT, ActionKind.SCALE):
        return replace(a, facts=facts)
    # It spends nothing now: "current" is 0, and the move is a restart or leaving it off
    # (V2-F4/F7: the wire's proposed_spend had said restart at the window mean).
    rate = r.run_rate(a.current_spend)
    said = (
        f"{a.channel} ran on {r.ran} of the analysis window's {r.window} days and has spent "
        f"nothing since it stopped; read at its window-mean spend ({a.current_spend:,.0f} over "
        f"{horizon_days} days) the model says: {a.rationale}"
    )
    if off:
        return replace(
            a, kind=ActionKind.HOLD, action=f"leave {a.channel} off",
            rationale=said + "; so there is no spend to cut, and restarting it at its former "
            "level is not recommended: the confidence is the share of the draws in which that "
            "level costs more than it returns",
            impact=Interval.exact(0.0, a.impact.level), facts=facts, current_spend=0.0,
            proposed_spend=0.0,
        )  # fmt: skip
    return replace(
        a, action=f"restart {a.channel} at {a.proposed_spend:,.0f} over {horizon_days} days "
        f"(while it ran it spent at {rate:,.0f} per {horizon_days} days)",
        rationale=said + "; the impact is against its window mean, not against leaving it off",
        facts=facts, current_spend=0.0,
    )  # fmt: skip
