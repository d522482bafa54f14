"""Target-efficiency mode's pieces (:func:`surfacing_svc.optimizer.optimize_budget` with a
target marginal return): each channel's spend where its marginal return falls to the target,
and what to say when the bounds keep a channel from getting there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from surfacing_svc.curves import HillCurve

__all__ = ["amount", "target_spend", "unreachable"]


def target_spend(c: HillCurve, lo: float, hi: float, target: float) -> float:
    """argmax over [lo, hi] of ``E f(s) − target s``: the spend where the marginal return of
    the outcome falls to the target, on the curve's concave side."""
    grid = np.linspace(lo, hi, 257)
    values = c.mean_outcome(grid) - target * grid
    k = int(np.argmax(values))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    if right <= left:
        return float(grid[k])
    res = minimize_scalar(
        lambda s: -(float(c.mean_outcome(s)) - target * s),
        bounds=(left, right),
        method="bounded",
        options={"xatol": 1e-9 * max(hi, 1.0)},
    )
    return float(res.x) if -res.fun >= values[k] else float(grid[k])


def amount(x: float) -> str:
    """A money amount in whole units, or to three figures below 100 (1.3, not 1)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def unreachable(
    curves: Sequence[HillCurve], spend: np.ndarray, lo: np.ndarray, target: float, tol: float
) -> str | None:
    """Where the target marginal return cannot be met: channels at their lowest allowed spend
    whose marginal return there is still below the target (their next unit returns less than
    the target however far the bounds let them be cut). None when every channel meets it."""
    low = [
        (c.channel, float(c.mean_marginal(s)))
        for c, s, floor in zip(curves, spend, lo, strict=True)
        if s <= floor + tol and float(c.mean_marginal(s)) < target
    ]
    if not low:
        return None
    named = ", ".join(f"{name} {m:.2f}" for name, m in low)
    if len(low) == len(curves):
        best = max(m for _, m in low)
        return (f"the target marginal return {target:g} is unreachable within the bounds: every "
                f"channel is at its lowest allowed spend and the best marginal return there is "
                f"{best:.2f} ({named}); lower the target or widen the bounds")  # fmt: skip
    return (f"the target marginal return {target:g} is not reached by {len(low)} channel(s) "
            f"at their lowest allowed spend (marginal return there: {named}); widening their "
            "bounds lets them be cut further")  # fmt: skip
