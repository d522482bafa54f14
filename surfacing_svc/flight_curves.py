"""A channel's response curve conditional on the days it runs, for the day-by-day forecast of a
channel that ran on part of the analysis window only (a Q4-only flight, a launch, a pause).

The planning curve (:mod:`surfacing_svc.curves`) is ``f(s) = scale · Σ_j w_j · Hill(n_j ·
s/s_ref)``, its nodes ``n_j`` the window's geo-days' inputs relative to their (baseline-
weighted) mean ``ū``, the days the channel did not run included at zero input. Read over the
window at its spend, that is right: it holds the window's day pattern. The forecast reads it a
day at a time instead (:func:`surfacing_svc.forecast.media_share`), at each day's input
relative to the window's mean day, ``r_t``: the plan gives the days' pattern, and the nodes
should give only the spread of the geo-days around a day's level. For a channel that ran every
day they nearly do; for TikTok run 61 of 400 days they re-apply its off-time on every planned
day: on a flight day at last year's rate (``r = 400/61``) 9 of 12 nodes got no input and the
two live ones were driven to 29× and 50× the mean, deep in saturation — last year's flight
re-run read 0.09 per dollar where the analysis read it at 0.20 and its curve at 0.29 (R51-F1).

Conditional on running: the off-days' geo-days (a share ``W_off`` of the window's baseline
weight, at zero input) are dropped from the nodes — from the lowest up, by weight, the node
where the share runs out keeping its input on its running part — and the rest reweighted to
sum to one. A running day at ``r_t`` puts its geo-days at ``n_j`` times
``r_t / R̄_on``, ``R̄_on`` the running days' baseline-weighted mean ``r`` over the on-days'
relative mean input ``1/W_on``::

    share_on(r_t) = Σ_{j on} (w_j / W_on) · Hill(n_j · r_t · W_on / R; κ, S)

with ``W_on = Σ_on B_t / Σ B_t`` and ``R = Σ_t B_t r_t / Σ B_t`` (the window's baseline-weighted
mean relative input), both read off the history over the curve's window (the outcome for the
baseline: the media's share is small and the same on both sides of the ratio). With an even
baseline ``W_on / R`` is the share of days the channel ran. Re-run at last year's rate on the
same days, every geo-day gets last year's input and the forecast returns the curve's
``f(s_ref)`` at the forecast's baseline level: what the analysis read of the flight.

Which days are off: the days before its launch and after its stop, each a run of
:data:`OFF_RUN_DAYS` or more days without national spend (a trickle under
:data:`TRICKLE_SHARE` of its level counts as none). Gaps between its first and last day are
its pattern, not off: a channel that pulses, or spends one day a week, keeps its curve.
Known limit: causal bins a short flight's geo-days with the zeros around them (12 nodes by
weight), so that node's mean is diluted and the analysis's own f(s_ref) reads the flight high;
the conditional curve gives the node's whole input to its running part (:func:`_conditioned`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from surfacing_svc.curves import EXTRAPOLATION_RATIO, HillCurve, adstocked

__all__ = ["OFF_RUN_DAYS", "TRICKLE_SHARE", "Running", "running"]

# Runs of this many days without spend or more are days the channel did not run
# (causal_svc.attribution.panel's _HOLE_DAYS: a week).
OFF_RUN_DAYS = 7
# A day spending under this share of the channel's level while it ran is not running (V2-F3:
# $20 a day beside a flight of 17,571 a day turned the conditional curve off).
TRICKLE_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class Running:
    """A channel's curve conditional on running, and what it was read from."""

    curve: HillCurve
    on_days: int  # window days it ran (outside its off runs)
    window_days: int

    def extrapolation(self, plan: np.ndarray, usual: float) -> str | None:
        """The warning for a plan that spends, on the days it spends, beyond
        ``EXTRAPOLATION_RATIO`` × both the daily rate the channel ran at inside the window and
        its business-as-usual daily spend ``usual`` (None within either)."""
        spent = np.asarray(plan, dtype=np.float64)
        days = int((spent > 0).sum())
        if days == 0:
            return None
        rate = float(spent.sum()) / days
        seen = self.curve.reference_spend / self.on_days
        if not rate > EXTRAPOLATION_RATIO * seen or (usual > 0 and not rate > 2.0 * usual):
            return None
        return (
            f"{self.curve.channel}: the plan spends {rate:,.0f} a day on its {days} day(s) with "
            f"spend, {rate / seen:,.1f}× what it spent a day while it ran in the analysis window "
            f"({seen:,.0f} a day over {self.on_days} of its {self.window_days} days), beyond "
            "what the model saw; its curve there is extrapolation"
        )


def _off_days(spend: np.ndarray) -> np.ndarray:
    """The days before the channel's launch and after its stop inside the window: a leading or
    trailing run of at least :data:`OFF_RUN_DAYS` days without spend (a trickle under
    :data:`TRICKLE_SHARE` of its level while it ran counts as none). Gaps between its first and its
    last day are not off: a channel that pulses (a burst a month, a week on and a week off)
    keeps its curve, whose nodes hold that pattern as the analysis saw it (V2-F2: reading it
    as a flight spread its bursts over every day and read 4× the analysis)."""
    x = np.asarray(spend, dtype=np.float64)
    if not (x > 0).any():
        return np.zeros(x.size, bool)
    # its level while it ran: the median of its top week of days (a flight may be 10 days of
    # 400, so no quantile of all its days; one mis-keyed day moves a median of 7 little)
    level = float(np.median(np.sort(x)[-OFF_RUN_DAYS:]))
    on = np.flatnonzero(x > TRICKLE_SHARE * level)
    off = np.zeros(x.size, bool)
    if on.size == 0:
        return off
    first, last = int(on[0]), int(on[-1])
    if first >= OFF_RUN_DAYS:
        off[:first] = True
    if x.size - 1 - last >= OFF_RUN_DAYS:
        off[last + 1 :] = True
    return off


def running(curve: HillCurve, spend: np.ndarray, outcome: np.ndarray) -> Running | None:
    """``curve`` conditional on the days the channel ran, from the history over its window
    (``spend``, ``outcome``: the national daily spend and outcome, ending with the window's
    last day); None where it ran throughout (or the history does not cover the window)."""
    days = curve.period_days
    if np.asarray(spend).size < days or np.asarray(outcome).size < days:
        return None
    past = np.asarray(spend, dtype=np.float64)
    x = past[-days:]
    b = np.maximum(np.asarray(outcome, dtype=np.float64)[-days:], 0.0)
    off = _off_days(x)
    if not off.any() or off.all() or not b.sum() > 0:
        return None
    w_on = float(b[~off].sum() / b.sum())
    # each day's adstocked input relative to the window's mean day, as the forecast reads it
    relative = adstocked(past, curve.carryover)[-days:] / (curve.reference_spend / days)
    mean_r = float((b * relative).sum() / b.sum())
    if not mean_r > 0:
        return None
    conditioned = _conditioned(curve, w_on, w_on / mean_r)
    return None if conditioned is None else Running(conditioned, int((~off).sum()), days)


def _conditioned(curve: HillCurve, w_on: float, factor: float) -> HillCurve | None:
    """The nodes of the running days: the off-days' geo-days (a share ``1 − w_on`` of the
    weight, at zero input) sit in the lowest nodes, so the running days are the highest nodes
    down to a weight of ``w_on``; the node where that weight runs out holds off-days too, and
    its part that ran keeps the node's whole input (``n_j · w_j`` over its share) — by weight,
    not by whole nodes, so a flight shorter than one node's weight keeps its curve (V2-F12:
    10–16 days of 400 were left unconditioned). Reweighted to sum to one and scaled by
    ``factor`` (``W_on / R``; the module docstring)."""
    nodes = np.asarray(curve.nodes, dtype=np.float64)
    weights = np.asarray(curve.node_weights, dtype=np.float64)
    if not 0.0 < w_on < 1.0:
        return None
    kept_n: list[float] = []
    kept_w: list[float] = []
    left = w_on * float(weights.sum())
    for j in np.argsort(-nodes, kind="stable"):
        if left <= 0:  # zero nodes inside the running days stay: its pattern while it ran
            break
        take = min(float(weights[j]), left)
        kept_n.append(float(nodes[j]) * float(weights[j]) / take)
        kept_w.append(take)
        left -= take
    w = np.asarray(kept_w)
    if not (w.size and float(np.dot(kept_n, w)) > 0):
        return None
    return replace(curve, nodes=np.asarray(kept_n) * factor, node_weights=w / w.sum())
