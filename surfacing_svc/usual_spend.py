"""Business-as-usual spend: the days a channel's "current" spend is read from when a plan or a
design leaves it as it is.

The usual days are the history's latest :data:`USUAL_DAYS` days outside every registered test
window of the channel (why: :mod:`mesh.runtime.usual_days`), and the answer says so, naming
the experiment.

``optimize`` reads "current" differently on purpose: the analysis window's mean spend, the
point the response curves were fitted around (and which its uplift is measured from); each
verb's answer names which it uses (:func:`optimize_current_note`). For a channel that starts or
stops inside the window that mean counts the days it did not run as none (R48-F2: Meta launched
on day 40 of 90 read "current 543" where it spent 963 a month, and "+27%" was a 29% cut); its
"current" is still the window mean, because its curve is the window's day pattern scaled (the
quadrature nodes hold the days before the launch at zero input), so the curve read at the
run-rate would put the days it ran at 1.8× their spend and keep the others dark: a concave
curve there says less than the run-rate returns. The answer names such a channel and both
figures instead (:class:`RanDays`, from the analysis's response models;
:func:`run_rate_notes`).

A channel without spend (email sends) keeps its input instead: its last 28 days repeated
(:func:`input_plan`), so that its effect stays media, as in the analysis.

The days themselves are chosen by :mod:`mesh.runtime.usual_days` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The day-choosing rule is shared with causal's Counterfactual (R10-F1): it lives in mesh.runtime.
from mesh.runtime.usual_days import (
    USUAL_DAYS,
    RegisteredTest,
    RegisteredTests,
    UsualDays,
    usual_days,
)
from mesh.runtime.usual_days import spans as _spans
from surfacing_svc.curves import HillCurve

__all__ = [
    "USUAL_DAYS",
    "RanDays",
    "RegisteredTest",
    "RegisteredTests",
    "UsualDays",
    "input_note",
    "input_plan",
    "optimize_current_note",
    "predict_note",
    "run_rate_notes",
    "usual_days",
]


def predict_note(dates: np.ndarray, channels: Sequence[str], moved: bool) -> str:
    """What ``predict`` keeps for the channels a plan leaves unset, in words (``moved``: a
    registered test moved some channel's usual days, said in its own note)."""
    n = int(dates.size)
    return (
        f"channels the plan leaves unset ({', '.join(channels)}) keep their business-as-usual "
        f"spend: their mean daily spend over the history's last {USUAL_DAYS} days "
        f"({_spans(dates, np.arange(max(n - USUAL_DAYS, 0), n))})"
        + (", or over the days said above where a registered test ran in them" if moved else "")
        + " (`liftos optimize` reads current spend as the analysis window's mean instead: what "
        "its response curves were fitted around)"
    )


def optimize_current_note(start: dt.date, end: dt.date, horizon_days: int) -> str:
    """What ``optimize`` calls a channel's current spend, in words."""
    days = (end - start).days + 1
    over = f"scaled to the {horizon_days}-day horizon" if horizon_days else "over that window"
    return (
        f"current spend is each channel's mean daily spend over the analysis window "
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d} ({days} days), {over}: the point the response "
        "curves were fitted around and the uplift is measured from (`liftos predict` continues "
        f"the last {USUAL_DAYS} days' spend outside registered tests instead)"
    )


def input_plan(
    curve: HillCurve, inputs: Mapping[str, np.ndarray], n_days: int, horizon: int,
    multiplier: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A channel without spend: its input over the history (without any, the analysis
    window's average) and over the horizon, its last 28 days repeated × ``multiplier``: sends
    come in bursts, and on a concave curve their daily average would return more than the
    bursts did."""
    past = inputs.get(curve.channel, np.zeros(n_days))
    if not past.any():
        past = np.full(n_days, curve.reference_spend / curve.period_days)
    return past, np.resize(past[-28:], horizon) * multiplier


def input_note(channels: Sequence[str]) -> str:
    """What ``predict`` keeps for the channels without spend a plan leaves unset, in words."""
    return (
        f"channels without spend the plan leaves unset ({', '.join(channels)}) keep their "
        "input (impressions or sends) of the history's last 28 days, repeated: their effect is "
        "media, as in the analysis, and the baseline is every channel off"
    )


@dataclass(frozen=True, slots=True)
class RanDays:
    """A channel that ran on part of the analysis window only: ``ran`` days from its first
    day with spend to its last, of the window's ``window``; ``stopped``: none since."""

    ran: int
    window: int
    stopped: bool

    def run_rate(self, current: float) -> float:
        """Its spend over the days it ran, at the horizon of ``current`` (its window mean)."""
        return current * self.window / max(self.ran, 1)


def run_rate_notes(
    plans: Iterable[tuple[str, float, float]], ran: Mapping[str, RanDays], horizon_days: int
) -> list[str]:
    """For each planned channel ``(channel, current, planned)`` that ran on part of the
    window: its "current" spend beside what it spent over the days it ran (at the same
    horizon), and the plan's change from each."""
    out = []
    for channel, current, planned in plans:
        r = ran.get(channel)
        if r is None or current <= 0:
            continue
        rate = r.run_rate(current)
        off = r.window - r.ran
        head = (
            f"{channel}: its current spend ({current:,.0f} over {horizon_days} days) is its "
            f"mean over the analysis window, which counts the {off} days of the window's "
            f"{r.window} it did not run as none"
        )
        if r.stopped:
            out.append(
                head
                + "; it has spent nothing since it stopped, so the plan"
                + (" keeps it off" if planned <= 0 else f"'s {planned:,.0f} restarts it")
                + f" (over the days it ran it spent {rate:,.0f} per {horizon_days} days)"
            )
            continue
        if planned <= 0:  # a bound of 0 (--spend-bound CHANNEL=0:0): no change to compare
            out.append(head + f": since it started it spends {rate:,.0f} per {horizon_days} "
                       "days, which the plan stops")  # fmt: skip
            continue
        out.append(
            head + f": since it started it spends {rate:,.0f} per {horizon_days} days, against "
            f"which the plan's {planned:,.0f} is {planned / rate - 1:+.0%}, not the "
            f"{planned / current - 1:+.0%} shown; the plan is read on its curve, fitted on the "
            "window's days (before the launch included), so the figures stay the window "
            "mean's: set its bound from what it spends now (--spend-bound CHANNEL=LO:HI)"
        )
    return out
