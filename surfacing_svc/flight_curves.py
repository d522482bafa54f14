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
weight) are dropped from the nodes — the lowest nodes, each whose cumulative weight's midpoint
lies inside the off share (zero nodes a geo never spent in stay where the channel ran) — and
the rest reweighted to sum to one. A running day at ``r_t`` puts its geo-days at ``n_j`` times
``r_t / R̄_on``, ``R̄_on`` the running days' baseline-weighted mean ``r`` over the on-days'
relative mean input ``1/W_on``::

    share_on(r_t) = Σ_{j on} (w_j / W_on) · Hill(n_j · r_t · W_on / R; κ, S)

with ``W_on = Σ_on B_t / Σ B_t`` and ``R = Σ_t B_t r_t / Σ B_t`` (the window's baseline-weighted
mean relative input), both read off the history over the curve's window (the outcome for the
baseline: the media's share is small and the same on both sides of the ratio). With an even
baseline ``W_on / R`` is the share of days the channel ran. Re-run at last year's rate on the
same days, every geo-day gets last year's input and the forecast returns the curve's
``f(s_ref)`` at the forecast's baseline level: what the analysis read of the flight.

Which days are off: runs of :data:`OFF_RUN_DAYS` or more days without national spend (a week-
long gap, as the attribution's hole rule); a channel spending one day a week (a Tuesday email
send) has no such run and keeps its curve (its nodes hold its carry-over's decay, not days off).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from surfacing_svc.curves import EXTRAPOLATION_RATIO, HillCurve

__all__ = ["OFF_RUN_DAYS", "Running", "running", "running_days"]

# Runs of this many days without spend or more are days the channel did not run
# (causal_svc.attribution.panel's _HOLE_DAYS: a week).
OFF_RUN_DAYS = 7


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
    """Days inside runs of at least :data:`OFF_RUN_DAYS` days without spend."""
    zero = np.concatenate([[False], spend <= 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    off = np.zeros(spend.size, bool)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= OFF_RUN_DAYS:
            off[a:b] = True
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
    carry = np.asarray(curve.carryover, dtype=np.float64)
    relative = np.convolve(past, carry)[: past.size][-days:] / (curve.reference_spend / days)
    mean_r = float((b * relative).sum() / b.sum())
    if not mean_r > 0:
        return None
    conditioned = _conditioned(curve, w_on, w_on / mean_r)
    return None if conditioned is None else Running(conditioned, int((~off).sum()), days)


def running_days(curve: HillCurve, on_days: int) -> HillCurve | None:
    """``curve`` conditional on running where only the analysis is at hand (a budget over the
    next days, which reads no history): the channel ran ``on_days`` of the window's days
    (``ChannelResponseModel.active_days``), its baseline taken as even over the window, so
    ``W_on`` and ``W_on / R`` are both the share of days it ran. None where it ran throughout."""
    share = on_days / curve.period_days
    return _conditioned(curve, share, share) if 0 < share < 1 else None


def _conditioned(curve: HillCurve, w_on: float, factor: float) -> HillCurve | None:
    """The nodes of the off-days' share ``1 − w_on`` of the weight dropped (the lowest nodes
    whose cumulative weight's midpoint lies inside it), the rest reweighted to sum to one and
    scaled by ``factor`` (``W_on / R``; the module docstring)."""
    nodes = np.asarray(curve.nodes, dtype=np.float64)
    weights = np.asarray(curve.node_weights, dtype=np.float64)
    order = np.argsort(nodes, kind="stable")
    mid = np.cumsum(weights[order]) - weights[order] / 2.0
    keep = np.ones(nodes.size, bool)
    keep[order[mid < 1.0 - w_on]] = False
    if not keep.any() or not weights[keep].sum() > 0:
        return None
    return replace(
        curve, nodes=nodes[keep] * factor, node_weights=weights[keep] / weights[keep].sum()
    )
