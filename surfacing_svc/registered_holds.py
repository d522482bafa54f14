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
is (its id among the analysis's calibration entries) is the model's own evidence, and so is
the channel's calibration against an older test of it left unread: the newer test calibrates
the model past it (s19 V2-F10).

A test that ended without a recorded result holds for a read-out period of
:data:`READ_OUT_DAYS` after its end, not for as long as an analysis window near it lasts (a
180-day window held a channel 208 days after its test ended, V2-F5): a test that cannot be
estimated (too few units, stopped early) or was read outside LiftOS and never recorded would
otherwise keep its channel off every move for months. The hold says when it lapses and how to
record the result; once lapsed, the model alone is acted on, as for any channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from mesh.runtime.geo_units import fold
from mesh.runtime.usual_days import USUAL_DAYS, RegisteredTest
from surfacing_svc.actions import Action, ActionKind, Fact
from surfacing_svc.intervals import Interval

__all__ = [
    "NEAR_DAYS",
    "READ_OUT_DAYS",
    "awaiting_read_out",
    "held_channels",
    "hold_for_test",
    "hold_warnings",
    "lapses",
]

# A test that ends this many days before the analysis window or starts this many days after
# it is "near" it: its read-out bears on the channel the plan would move now (USUAL_DAYS, the
# span a plan reads business as usual from).
NEAR_DAYS = USUAL_DAYS
# How long after its end a test without a recorded result still holds its channel: four weeks
# to estimate or record it (a geo test's read-out takes days once its data is in).
READ_OUT_DAYS = 28


def lapses(t: RegisteredTest) -> dt.date:
    """The first analysis end date on which ``t``, still without a recorded result, no longer
    holds its channel."""
    return t.end + dt.timedelta(days=READ_OUT_DAYS)


def awaiting_read_out(
    tests: Sequence[RegisteredTest], start: dt.date, end: dt.date,
    calibrated_by: Collection[str] = (),
) -> dict[str, RegisteredTest]:  # fmt: skip
    """Channel -> the registered test (running or ended, without a recorded result, nor
    calibrating the analysis, nor older than a test that does) that starts by :data:`NEAR_DAYS`
    after ``end`` and, as of ``end``, runs or ended less than :data:`READ_OUT_DAYS` before;
    of several, the one that ends last."""
    hi = end + dt.timedelta(days=NEAR_DAYS)
    # the latest end of a test calibrating the analysis, per channel it tests
    calibrated: dict[str, dt.date] = {}
    for t in tests:
        if t.channel and t.experiment_id in calibrated_by:
            calibrated[t.channel] = max(t.end, calibrated.get(t.channel, t.end))
    out: dict[str, RegisteredTest] = {}
    for t in tests:
        if not t.channel or t.read_out or t.experiment_id in calibrated_by:
            continue
        if t.start > hi or lapses(t) <= end:
            continue
        if t.channel in calibrated and t.end <= calibrated[t.channel]:
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
        when = (f"it ended {t.end} and no result is recorded yet: record it (`liftos estimate "
                f"--experiment {t.experiment_id} --record`, or `liftos experiments record "
                f"{t.experiment_id}` for a result read outside LiftOS), or the hold lapses on "
                f"{lapses(t)}, {READ_OUT_DAYS} days after the test's end")  # fmt: skip
    return (f"registered experiment {t.experiment_id} ({t.status or 'registered'}, "
            f"{t.start}..{t.end}{geos}) tests {t.channel}: {when}")  # fmt: skip


def hold_for_test(
    action: Action, test: RegisteredTest, end: dt.date, level: float, p_up: float,
    risk: str = "",
) -> Action:  # fmt: skip
    """The channel's action while ``test`` awaits its read-out: a hold at current spend, with
    what the model alone would have done (``action``) as a fact. Its confidence is a hold's
    (how evenly the draws split: ``p_up`` of them find more spend pays), so that it reads as
    every hold's does; the hold itself rests on the test, not on the draws. ``risk``: why the
    channel's identification is at risk ("" when it is not)."""
    ch = action.channel
    words = _test_words(test, end)
    if action.kind is ActionKind.SCALE and risk:
        # Recommend's own rule never raises a channel at risk on the model's word: it would
        # propose a test (s19 V2-F5), so "alone" says that, not the raise the draws asked for
        alone = (f"the observational model alone would not {action.action}: its identification "
                 f"is at risk ({risk}), so it would propose a test")  # fmt: skip
    elif action.kind in (ActionKind.SCALE, ActionKind.CUT):
        alone = (f"the observational model alone would {action.action} (impact "
                 f"{action.impact.text('{:+,.0f}')}, gaining in {action.confidence:.0%} of its "
                 "draws)")  # fmt: skip
    elif action.kind is ActionKind.TEST:
        alone = "the observational model alone cannot size it (it would propose a test)"
    else:
        alone = "the observational model alone would hold it too"
    s0 = action.current_spend
    if test.end > end:
        state = f"{test.experiment_id} is testing it (read-out due after {test.end})"
    else:
        state = (f"{test.experiment_id} ended {test.end} without a recorded result: record it "
                 f"(liftos experiments record) or the hold lapses on {lapses(test)}")  # fmt: skip
    return replace(
        action,
        kind=ActionKind.HOLD,
        action=f"hold {ch} at its current spend: {state}",
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


def held_channels(
    held: Mapping[str, RegisteredTest], channels: Collection[str]
) -> tuple[dict[str, RegisteredTest], list[str]]:
    """``held`` (:func:`awaiting_read_out`, keyed by the registry's channel as typed) keyed by
    the analysis's own channels, a registry's "Google" being the analysis's "google" (one fold:
    case, Unicode form, spaces around); and one note per test of a channel the analysis does
    not model, which holds nothing (s19 V2-F11: the warning said "Google is held" beside an
    action cutting google)."""
    mine = {fold(c): c for c in channels}
    out: dict[str, RegisteredTest] = {}
    notes = []
    for ch, t in sorted(held.items()):
        channel = mine.get(fold(ch))
        if channel is None:
            notes.append(f"registered experiment {t.experiment_id} tests {ch}, which this "
                         "analysis does not model: nothing is held for it")  # fmt: skip
        elif channel not in out or t.end > out[channel].end:
            out[channel] = t
    return out, notes


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
