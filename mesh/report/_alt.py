"""The numbers behind the charts that no table of the page already gives, as tables: the
figure's text alternative for a screen reader, and what a reader copies (R22-F8: a chart's only
alternative was its name, "Response curves")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report._format import esc, num
from mesh.report._page import table

ADSTOCK_DAYS = 8  # the carry-over table's columns: day 0 … 7, the rest summed


def _at(curve: causal_pb.ResponseCurve, spend: float) -> str:
    """The curve's outcome at ``spend`` (linear between its points); "–" outside its range."""
    xs = np.asarray(curve.spend, dtype=float)
    if not len(xs) or not xs[0] <= spend <= xs[-1]:
        return "–"
    return num(float(np.interp(spend, xs, np.asarray(curve.outcome, dtype=float))))


def response_curves(
    curves: Sequence[causal_pb.ResponseCurve], current: Mapping[str, float],
    optimal: Mapping[str, float], currency: str,
) -> str:  # fmt: skip
    """Per channel: the spend as run and the recommended spend, and the curve's expected
    incremental outcome at each."""
    cur = f" ({currency})" if currency else ""
    rows = [
        [esc(c.channel),
         num(current[c.channel]) if c.channel in current else "–",
         _at(c, current[c.channel]) if c.channel in current else "–",
         num(optimal[c.channel]) if c.channel in optimal else "–",
         _at(c, optimal[c.channel]) if c.channel in optimal else "–",
         f"{num(c.spend[0])} to {num(c.spend[-1])}" if len(c.spend) else "–"]
        for c in curves
    ]  # fmt: skip
    return table(
        [("Channel", False), (f"Spend as run{cur}", True), ("Outcome there", True),
         (f"Recommended spend{cur}", True), ("Outcome there", True), ("Curve's spend range", True)],
        rows,
    )  # fmt: skip


def adstock(models: Sequence[causal_pb.ChannelResponseModel]) -> str:
    """Per channel: the share of a day's effect landing 0, 1, 2 … days later."""
    rows = [m for m in models if len(m.carryover)]
    lags = min(max(len(m.carryover) for m in rows), ADSTOCK_DAYS) if rows else 0
    more = any(len(m.carryover) > lags for m in rows)
    heads = [(f"Day {d}", True) for d in range(lags)] + ([(f"Day {lags}+", True)] if more else [])
    cells = []
    for m in rows:
        shares = list(m.carryover)
        row = [f"{s:.0%}" for s in shares[:lags]] + ["–"] * (lags - len(shares[:lags]))
        if more:
            row.append(f"{sum(shares[lags:]):.0%}")
        cells.append([esc(m.channel), *row])
    return table([("Channel", False), *heads], cells)


def budget_shift(allocations: Sequence[surfacing_pb.ChannelAllocation], currency: str) -> str:
    cur = f" ({currency})" if currency else ""
    bound = {surfacing_pb.BOUND_STATUS_LOWER: "at its lower bound",
             surfacing_pb.BOUND_STATUS_UPPER: "at its upper bound",
             surfacing_pb.BOUND_STATUS_HELD: "held"}  # fmt: skip
    rows = [
        [esc(a.channel), num(a.current_spend), num(a.optimal_spend),
         f"{num(a.min_spend)} to {num(a.max_spend)}" if a.max_spend > 0 else "–",
         esc(bound.get(a.bound_status, ""))]
        for a in sorted(allocations, key=lambda a: -a.current_spend)
    ]  # fmt: skip
    return table(
        [("Channel", False), (f"Current spend{cur}", True), (f"Recommended{cur}", True),
         ("Allowed range", True), ("Bound", False)],
        rows,
    )  # fmt: skip


def forecast(points: Sequence[surfacing_pb.ForecastPoint]) -> str:
    rows = [
        [f"{p.date.year:04d}-{p.date.month:02d}-{p.date.day:02d}", num(p.outcome.estimate),
         f"{num(p.outcome.lower)} to {num(p.outcome.upper)}"]
        for p in points
    ]  # fmt: skip
    level = points[0].outcome.level if points else 0.0
    head = f"{level:.0%} interval" if 0 < level < 1 else "Interval"
    return table([("Date", False), ("Forecast", True), (head, True)], rows)


def _share(x: float, digits: int = 0) -> str:
    return f"{x:.{digits}%}" if np.isfinite(x) else "–"


def power_curve(points: Sequence[surfacing_pb.PowerPoint]) -> str:
    """Per duration: the power the chart draws (at the target lift, else at the expected
    effect) and the smallest lift the test detects."""
    rows = [
        [str(p.duration_days), _share(p.power if np.isfinite(p.power) else p.power_at_expected),
         _share(p.minimum_detectable_lift, 1)]
        for p in points
    ]  # fmt: skip
    return table([("Days", True), ("Power", True), ("Detectable lift", True)], rows)
