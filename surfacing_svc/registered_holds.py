"""A channel under a registered test is held until the test is read out (R42-F1).

While a registered experiment of a channel runs, or has ended without its result recorded,
in or near the analysis window, Recommend does not move that channel's budget on the
observational model's word: the action is *hold*, naming the experiment, its dates and when
its read-out is due. Why: the test is the direct answer to "does this channel pay", and it is
weeks away; meanwhile the observational fit is at its weakest on that channel (a holdout takes
it dark in some geos, which a national fit reads as a fall in its spend with no fall in the
outcome). On the simulator's demo world (seed 42, a registered holdout of Meta prospecting in
3 of 5 geos), the weekly analysis read 0.00 [0.00, 1.85] against a true 2.00 and Recommend's
first action was "cut meta_prospecting by 30%, gains in 95% of the draws"; seed 7 read it at
0.00-0.11 with the truth outside the interval. What the model alone would do is still said,
as a fact, never as the action. The reallocation does not move the channel either.

A test whose result is recorded no longer holds the channel: an analysis run after it can be
calibrated by it (``liftos analyze`` reads recorded results as lift tests); one that already
is (its id among the analysis's calibration entries) is the model's own evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from mesh.runtime.usual_days import USUAL_DAYS, RegisteredTest
from surfacing_svc.actions import Action, ActionKind, Fact
from surfacing_svc.intervals import Interval

__all__ = ["NEAR_DAYS", "awaiting_read_out", "hold_for_test", "hold_warnings"]

# A test that ends this many days before the analysis window or starts this many days after
# it is "near" it: its read-out bears on the channel the plan would move now (USUAL_DAYS, the
# span a plan reads business as usual from).
NEAR_DAYS = USUAL_DAYS


def awaiting_read_out(
    tests: Sequence[RegisteredTest], start: dt.date, end: dt.date,
    calibrated_by: Collection[str] = (),
) -> dict[str, RegisteredTest]:  # fmt: skip
    """Channel -> the registered test (running or ended, without a recorded result, nor
    calibrating the analysis) whose window meets ``start``..``end`` widened by
    :data:`NEAR_DAYS` on each side; of several, the one that ends last."""
    lo, hi = start - dt.timedelta(days=NEAR_DAYS), end + dt.timedelta(days=NEAR_DAYS)
    out: dict[str, RegisteredTest] = {}
    for t in tests:
        if not t.channel or t.read_out or t.experiment_id in calibrated_by:
            continue
        if t.end < lo or t.start > hi:
            continue
        if t.channel not in out or t.end > out[t.channel].end:
            out[t.channel] = t
    return out


def _test_words(t: RegisteredTest, end: dt.date) -> str:
    """The test, its dates and its read-out in words, as of the analysis's last day ``end``."""
    geos = f", {len(t.moved)} geos with spend moved" if t.moved else ""
    if t.end > end:
        when = (f"as of the analysis's last day {end} it runs to {t.end}, and its read-out is "
                f"due after {t.end}")  # fmt: skip
    else:
        when = (f"it ended {t.end} and no result is recorded yet: its read-out is due now "
                f"(`liftos estimate --experiment {t.experiment_id} --record`)")  # fmt: skip
    return (f"registered experiment {t.experiment_id} ({t.status or 'registered'}, "
            f"{t.start}..{t.end}{geos}) tests {t.channel}: {when}")  # fmt: skip


def hold_for_test(
    action: Action, test: RegisteredTest, end: dt.date, level: float, p_up: float
) -> Action:
    """The channel's action while ``test`` awaits its read-out: a hold at current spend, with
    what the model alone would have done (``action``) as a fact. Its confidence is a hold's
    (how evenly the draws split: ``p_up`` of them find more spend pays), so that it reads as
    every hold's does; the hold itself rests on the test, not on the draws."""
    ch = action.channel
    words = _test_words(test, end)
    if action.kind in (ActionKind.SCALE, ActionKind.CUT):
        alone = (f"the observational model alone would {action.action} (impact "
                 f"{action.impact.text('{:+,.0f}')}, gaining in {action.confidence:.0%} of its "
                 "draws)")  # fmt: skip
    elif action.kind is ActionKind.TEST:
        alone = "the observational model alone cannot size it (it would propose a test)"
    else:
        alone = "the observational model alone would hold it too"
    s0 = action.current_spend
    return replace(
        action,
        kind=ActionKind.HOLD,
        action=f"hold {ch} at its current spend: {test.experiment_id} is testing it (read-out "
        f"due after {test.end})",
        rationale=f"{words}; a budget move on {ch} is not made from the observational model "
        "while its registered test runs or awaits its read-out: the test answers whether "
        f"{ch} pays directly, and the model's figures for it are the least reliable during "
        f"the test (its own spend pattern changes in the tested geos); {alone}. Once the "
        "result is recorded, re-run analyze: the test then calibrates the model",
        impact=Interval.exact(0.0, level),
        confidence=1.0 - abs(2 * p_up - 1.0),
        facts=(*action.facts, Fact("registered_test", None, words),
               Fact("model_alone", action.impact, alone)),
        proposed_spend=s0,
        design=None,
        spends=(),
    )  # fmt: skip


def hold_warnings(held: Mapping[str, RegisteredTest], end: dt.date, unread: str = "") -> list[str]:
    """One warning per channel held for its registered test, and, where the registry could
    not be read (``unread``: why), that no channel could be checked for one."""
    out = [
        f"{_test_words(t, end)}; {ch} is held at its current spend until the result is "
        "recorded and the analysis re-run (the model alone is not acted on for it)"
        for ch, t in sorted(held.items())
    ]
    if unread:
        out.append(f"the org's registered experiments could not be read ({unread}): a channel "
                   "whose test runs or awaits its read-out is not held for it here")  # fmt: skip
    return out
