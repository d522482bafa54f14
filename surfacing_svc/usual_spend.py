"""Business-as-usual spend: the days a channel's "current" spend is read from when a plan or a
design leaves it as it is.

The usual days are the history's latest :data:`USUAL_DAYS` days outside every registered test
window of the channel (why: :mod:`mesh.runtime.usual_days`), and the answer says so, naming
the experiment.

``optimize`` reads "current" differently on purpose: the analysis window's mean spend, the
point the response curves were fitted around (and which its uplift is measured from); each
verb's answer names which it uses (:func:`optimize_current_note`).

A channel without spend (email sends) keeps its input instead: its last 28 days repeated
(:func:`input_plan`), so that its effect stays media, as in the analysis.

The days themselves are chosen by :mod:`mesh.runtime.usual_days` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

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
    "RegisteredTest",
    "RegisteredTests",
    "UsualDays",
    "input_note",
    "input_plan",
    "optimize_current_note",
    "predict_note",
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
