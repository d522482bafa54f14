"""What a cell's spend change is expected to return within the test, read off the channel's
response curve: the return at the multiplier each duration actually spends, and the share of
its steady-state effect a test of that length sees through the channel's carry-over.

Return at the spend run. A cell moves the treatment geos' spend from ``s0`` to ``m·s0``; on a
concave curve ``f`` the outcome per unit of that change is the average over the change,
``(f(m·s0) − f(s0)) / ((m − 1)·s0)``, not the next unit's return ``f′(s0)`` (its limit as
``m → 1``). A heavy-up funded by a budget spends a different ``m`` at each duration (a short
test concentrates the budget), so each duration is priced at its own (R13-F1).

Carry-over. With adstock lag weights ``w`` (sum 1) a change of spend on the test's first day
moves the adstocked input by ``W_t = Σ_{l≤t} w_l`` of its full change on day ``t``: a heavy-up
builds up, and a go-dark's earlier spend keeps working into the test. A ``D``-day test sees the
mean of ``W_t`` over its days of the steady-state effect; the carry-out after it is not measured
(R13-F4). The share is applied to the change in the adstocked input, linearly: on a concave
curve the partial change returns slightly more per unit, so the share is a little conservative.

Notes
-----
Jin, Wang, Sun, Chan & Koehler (2017), "Bayesian methods for media mix modeling with carryover
and shape effects" (geometric adstock, Hill); Meridian's response curves read at spend
multipliers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from surfacing_svc.curves import EXTRAPOLATION_RATIO, HillCurve

from .spec import CellSpec, PowerPoint

__all__ = [
    "added_return",
    "carry_over_note",
    "extrapolation_note",
    "lag_past_test",
    "priced",
    "realised_share",
]

# The attribution's lag_beyond_window REVIEW, as the planning model carries it (its words:
# causal_svc/attribution/health_lag.py; the proto has no structured form of it).
_LAG_FOUND = re.compile(r"(?:^|: |; )(?P<ch>[\w.\-]+)'s spend (?P<a>\d+)-(?P<b>\d+) days earlier "
                        r"explains the residuals")  # fmt: skip


def added_return(curve: HillCurve, multiplier: float) -> float:
    """Mean over the curve's draws of the outcome per unit of spend change when spend moves to
    ``multiplier`` × its current level: the average return of the spend removed (< 1) or added
    (> 1); at 1, the limit, the marginal return of current spend."""
    s0 = curve.reference_spend
    if math.isclose(multiplier, 1.0):
        return float(curve.mean_marginal(s0))
    gain = curve.mean_outcome(multiplier * s0) - curve.mean_outcome(s0)
    return float(gain / ((multiplier - 1.0) * s0))


def realised_share(carryover: np.ndarray, days: int) -> float:
    """The share of the steady-state effect of a spend change a ``days``-day test sees, given
    the adstock lag weights (lag 0 first, sum 1): the mean over the test's days of the
    cumulative weights."""
    w = np.asarray(carryover, dtype=np.float64)
    if days <= 0 or w.size == 0:
        return 1.0
    cumulative = np.cumsum(w[:days]) / w.sum()
    if cumulative.size < days:  # every lag inside the test: the rest of its days see it all
        cumulative = np.concatenate([cumulative, np.ones(days - cumulative.size)])
    return float(cumulative.mean())


def priced(cell: CellSpec, multiplier: float, days: int) -> tuple[float, float, float]:
    """The cell's expected return and its return at the analysis interval's lower bound at
    ``multiplier`` (nan where unknown), and the share of the effect a ``days``-day test sees.
    Without a curve the caller's returns hold at any multiplier and the test sees it all."""
    nan = math.nan
    if cell.curve is None:
        roas = cell.roas if cell.roas is not None else nan
        return roas, cell.roas_low if cell.roas_low is not None else nan, 1.0
    roas = added_return(cell.curve, multiplier)
    # The bound's share of the estimate (the analysis's interval) holds at any spend.
    bound = nan if cell.roas_low is None else cell.roas_low / cell.roas if cell.roas else 0.0
    return roas, roas * bound, realised_share(cell.curve.carryover, days)


def carry_over_note(channel: str, points: Sequence[PowerPoint]) -> str:
    """What the carry-over takes off each duration's expected effect, in words ("" when a
    test of every length sees it all)."""
    if all(p.realised_share > 0.995 for p in points):
        return ""
    shares = ", ".join(f"{p.realised_share:.0%} at {p.duration_days} days" for p in points)
    return (
        f"expected effects count only the share of {channel}'s steady-state effect a test of "
        f"each length sees, given the carry-over (adstock) weights of the analysis's response "
        f"model: {shares}; the effect of a spend change builds up over the test's first days "
        "(a go-dark's earlier spend keeps working into the test), and what it carries past "
        "the test's last day is not measured"
    )


def extrapolation_note(channel: str, points: Sequence[PowerPoint], cell: int | None) -> str:
    """The warning for durations whose spend is beyond :data:`EXTRAPOLATION_RATIO` × current
    spend, where the curve pricing the added spend is the fitted shape carried past the data
    (OptimizeBudget and Counterfactual warn at the same ratio); "" where none is."""
    beyond = [p for p in points if p.spend_multiplier > EXTRAPOLATION_RATIO]
    if not beyond:
        return ""
    first, *rest = beyond
    at = ", ".join(
        [f"{first.spend_multiplier:.3g}× its current level over {first.duration_days} days"]
        + [f"{p.spend_multiplier:.3g}× over {p.duration_days} days" for p in rest]
    )
    return (
        (f"cell {cell}: " if cell is not None else "")
        + f"{channel}: the treatment geos' spend in the test is {at}, beyond the "
        f"{EXTRAPOLATION_RATIO:g}× the model saw; the curve's return on that spend (and the "
        "expected effect and power read from it) is extrapolation"
    )


def lag_past_test(warnings: Sequence[str], channel: str, days: int) -> list[str]:
    """A warning where the analysis's lag_beyond_window check found ``channel``'s effect
    arriving after its carry-over window and later than a ``days``-day test ends (s18 R37
    F1: design expected a 28-day go-dark to move revenue that arrives 60-90 days after the
    spend); ``warnings``: the planning model's (its REVIEW checks in their words)."""
    for w in warnings:
        for m in _LAG_FOUND.finditer(w):
            if m["ch"] != channel or int(m["b"]) <= days:
                continue
            return [
                f"the analysis found {channel}'s effect may arrive {m['a']}-{m['b']} days after "
                f"its spend (its lag_beyond_window check), later than this test's longest "
                f"duration ({days} days): the test measures only what arrives inside it, and its "
                "expected lift, read off a model that missed the late effect, leaves it out; "
                f"read the outcome until {m['b']} days after the spend change, or test an "
                "outcome that follows the spend sooner (leads: --metric conversions)"
            ]
    return []
