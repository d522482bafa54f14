"""OptimizeBudget's ceiling on a channel the analysis did not establish: its spend is held at
most at its current spend (over the horizon), as Recommend's reallocation holds it; under a
budget larger than today's total, at most its current share of it (its current spend scaled
to the budget, as the default bound is), so that such a channel never gains share and a
larger budget stays feasible where no established channel could take the rest.

A channel is *not established* where the analysis's own interval of its incremental outcome
includes zero (its test of no effect did not reject: :attr:`AnalysisEffect.established`).
Its curve draws may still say that the next unit pays, but their mean is the prior's tail,
not evidence; more spend on it would bet on an effect the analysis could not tell from none
(README; R4-F5). Recommend never raised such a channel while OptimizeBudget did, so the two
verbs, and the report's Recommendations and Budget shift, gave opposite advice on one
channel (R6-F2). A cut stands: the ceiling is current spend, the floor the default bound's
(lowered to the ceiling where a larger budget lifts it above). A channel the request bounds
itself keeps the request's bounds: the caller asked for them; the answer says so when the
plan raises it.
"""

from __future__ import annotations

from collections.abc import Sequence

from surfacing_svc.curves import HillCurve
from surfacing_svc.design.plan import MIN_GEOS, MIN_HISTORY_DAYS
from surfacing_svc.optimizer import BudgetPlan, ChannelBounds
from surfacing_svc.recommend import unproven_channels as unproven

__all__ = ["TEST_POINTER", "UNPROVEN_FIELD", "unproven", "unproven_bounds", "unproven_notes"]

# Where a plan points to a test: what `liftos design` needs before it designs one, and what it
# says when a go-dark cannot detect the effect (R48-F3: a 30-day, one-region shop was sent to a
# verb that refused it).
TEST_POINTER = (
    f"`liftos design --channel CHANNEL` sizes one once the org has at least {MIN_HISTORY_DAYS} "
    f"days of history and orders in at least {MIN_GEOS} regions, and says what it could "
    "detect; where turning the channel off cannot, it says what a heavy-up would"
)

# The bound's origin as the plan names it (ChannelBounds.field): not a request field.
UNPROVEN_FIELD = "the ceiling at current spend (its effect not established)"


def unproven_bounds(
    bounds: Sequence[ChannelBounds], curves: Sequence[HillCurve], channels: Sequence[str],
    requested: Sequence[str], scale: float = 1.0,
) -> list[ChannelBounds]:  # fmt: skip
    """``bounds`` with each of ``channels`` not in ``requested`` (the channels the request
    bounds itself) held at most at its current spend, × ``scale`` where that is above 1 (the
    budget's ratio to current spend, :func:`surfacing_svc.optimizer.change_scale`)."""
    spend = {c.channel: c.reference_spend * _above_one(scale) for c in curves}
    capped = [ch for ch in channels if ch not in requested]
    out = []
    for b in bounds:
        if b.channel in capped:
            top = min(b.upper if b.upper is not None else spend[b.channel], spend[b.channel])
            b = ChannelBounds(b.channel, min(b.lower or 0.0, top), top, field=UNPROVEN_FIELD)
        out.append(b)
    named = {b.channel for b in out}
    out += [ChannelBounds(ch, None, spend[ch], field=UNPROVEN_FIELD)
            for ch in capped if ch not in named]  # fmt: skip
    return out


def unproven_notes(
    plan: BudgetPlan, channels: Sequence[str], requested: Sequence[str], scale: float = 1.0
) -> list[str]:
    """What the plan says of the channels the analysis did not establish: those held at most
    at current spend (and which of them the ceiling stops), and any a request's own bound let
    the plan raise."""
    if not channels:
        return []
    by = {p.channel: p for p in plan.channels}
    held = [ch for ch in channels if ch not in requested]
    out = []
    why = ("the analysis did not establish its effect (its interval of the incremental "
           "outcome includes zero): more spend would bet on an effect the analysis could not "
           "tell from none; a geo experiment would measure it (" + TEST_POINTER + ")")  # fmt: skip
    if held:
        stopped = [ch for ch in held if by[ch].bound.value == "upper"]
        ceiling = (
            "current spend, as Recommend does not raise them either"
            if _above_one(scale) == 1.0
            else f"their share of today's spend (current spend × {scale:.3g}, the "
            "budget's ratio to it; Recommend does not raise them above current spend)"
        )
        out.append(
            f"not raised above {ceiling}: {', '.join(held)}; for each, {why}"
            + _binding(plan, stopped)
            + "; a constraint on the channel (--bound CHANNEL=LO:HI) replaces the ceiling"
        )  # fmt: skip
    raised = [ch for ch in channels if ch in requested
              and by[ch].optimal_spend > by[ch].current_spend * (1 + 1e-6)]  # fmt: skip
    if raised:
        out.append(f"raised within the request's own bound, although for each {why}: "
                   + ", ".join(raised))  # fmt: skip
    return out


def _mean_raises(plan: BudgetPlan, channel: str) -> bool:
    """Whether the curves' mean would put more on ``channel`` than its ceiling allows: its
    mean marginal return at the plan beats that of a channel the plan could cut instead (one
    above its lower bound)."""
    tol = 1e-6 * max(plan.budget, 1.0)
    by = {p.channel: p for p in plan.channels}
    m = by[channel].marginal_optimal.estimate
    donors = [p.marginal_optimal.estimate for p in plan.channels
              if p.channel != channel and not p.held and p.optimal_spend > p.lower_bound + tol]  # fmt: skip
    if not plan.budget_binds:  # then no channel need give: without a risk weight the
        return plan.risk == 0.0  # bound's status is the mean's own test
    return bool(donors) and m > min(donors) + 1e-12


def _binding(plan: BudgetPlan, stopped: Sequence[str]) -> str:
    """Which objective presses on each binding ceiling. The curves' mean only where its own
    marginal returns say so; with a risk weight the plan's objective is the gain's mean less
    z sd over the draws, which can favour a channel as a hedge of the others while its mean
    return would lower it (R10-F8: "the curves' mean would raise it" for meta_retargeting,
    whose mean marginal return was below the price: the mean alone cut it)."""
    mean = [ch for ch in stopped if _mean_raises(plan, ch)]
    other = [ch for ch in stopped if ch not in mean]
    out = ""
    if mean:
        out += (f"; the ceiling binds for {', '.join(mean)} (the curves' mean would raise it: "
                "its next unit returns more than that of a channel the plan could cut")  # fmt: skip
        out += ", and so would the risk-adjusted objective)" if plan.risk > 0 else ")"
    if other and plan.risk > 0:
        out += (f"; the ceiling binds for {', '.join(other)} on the risk-adjusted objective "
                f"only (the gain's mean less {plan.risk:g} sd over the model's draws, which "
                "favours a channel that hedges the others): the curves' mean would not raise "
                "it")  # fmt: skip
    return out


def _above_one(scale: float) -> float:
    """``scale`` where the budget is above today's total, else 1; a budget typed to the unit
    (12,814,414 for 12,814,413.6) is today's."""
    return scale if scale > 1.0 + 1e-6 else 1.0
