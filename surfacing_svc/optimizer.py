"""Budget allocation on response curves: the spend per channel that maximises the expected
outcome (revenue, conversions, or profit at a margin) under a total budget and per-channel
bounds, and the largest budget whose marginal return still meets a target.

The problem, over the channels the optimiser may move (``s`` their spend over the horizon)::

    maximise   Σ_c a · E[f_c(s_c)] − b · Σ_c s_c
    subject to Σ_c s_c = B_free   (≤ for profit)      lo_c ≤ s_c ≤ hi_c

``a`` is the value of one unit of outcome (the margin for profit, 1 otherwise), ``b`` is 1 for
profit (spend is a cost) and 0 otherwise, ``E`` is the mean over the model's parameter draws,
and ``B_free`` is the budget left once held channels keep their current spend. Hill curves
with a shape above one are S-shaped, so the problem is not convex: it is solved by SLSQP with
the analytic gradient from several starts (current mix, equal split, greedy marginal
water-filling) and the best feasible answer kept; then, at the answer's shadow price, each channel is checked
for a jump worth making (an S-curve can be worth a large investment while worth nothing at the
margin where it stands) and SLSQP restarted from any such jump until none improves.

At the optimum every channel strictly inside its bounds has the same marginal value
``a f'_c − b``: the Lagrange multiplier of the budget, its *shadow price* — what one more unit
of budget would return. A channel at a bound whose marginal value is below (lower bound) or
above (upper bound) that price is held there by the bound: the bound *binds*.

With ``risk`` z > 0 the objective is a lower confidence bound of the plan's gain over the
current mix, ``mean_d Δ_d − z sd_d Δ_d``, ``Δ_d`` the gain in the model's draw ``d`` (paired
over draws, so a move costs in proportion to how much the draws disagree about it): the
model's marginal returns are uncertain and their ranking is what a move bets on; measured on
the simulator (``bench/surfacing_optimizer.py``), z = 1 raised the true revenue of the plan in
more worlds and lost less where the model ranks channels poorly than the posterior mean alone.
z is the requests' ``risk_aversion`` (OptimizeBudget, Recommend; ``DEFAULT_RISK`` unset).
At such an optimum the *risk-adjusted* marginal values are equal, and they are what the
binding bounds are read from. The sd has a kink where the gain vanishes in every draw (the
current mix, where a heavy weight often leaves the plan): there the multiplier is not what more
budget buys (on the demo world 0.52 against 0.35), so with a risk weight the shadow price is
re-solved over a budget 1% larger (smaller when the bounds leave no room), per unit, unless the
multiplier agrees with it.

Target-efficiency mode drops the budget: each channel spends up to where its marginal return
falls to the target (``max a f_c(s) − t s``, separable by channel), and the budget is the sum.

Notes
-----
Kraft (1988), "A software package for sequential quadratic programming" (SLSQP, as in
``scipy.optimize``); Nocedal & Wright (2006), *Numerical Optimization*, §12.3 (multipliers as
shadow prices). Robyn's allocator issues #349, #677 and #1247 are why the answer states which
bounds bind and why the starts include more than the current mix.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from surfacing_svc.budget_objective import BudgetProblem
from surfacing_svc.budget_solve import greedy as _greedy
from surfacing_svc.budget_solve import problem as _problem
from surfacing_svc.budget_solve import project as _project
from surfacing_svc.budget_solve import solve as _solve
from surfacing_svc.curves import HillCurve
from surfacing_svc.errors import InfeasibleConstraints
from surfacing_svc.intervals import Interval
from surfacing_svc.spend_moves import snap_to
from surfacing_svc.target_mode import amount, target_spend, unreachable

__all__ = [
    "DEFAULT_MAX_CHANGE",
    "DEFAULT_RISK",
    "MAX_RISK",
    "BoundStatus",
    "BudgetPlan",
    "ChannelBounds",
    "ChannelPlan",
    "Objective",
    "change_bounds",
    "change_scale",
    "optimize_budget",
]

# The loaded BLAS libraries, found once (threadpool_limits looks them up on every call: 4 ms).
_BLAS = ThreadpoolController()
# A channel this close to a bound (share of the budget) sits on it.
_AT_BOUND = 1e-6
# The services' risk adjustment (z of the lower confidence bound; 0: the posterior mean).
DEFAULT_RISK = 1.0
# The largest risk weight a request may ask for: beyond a few sd the plan is the current mix.
MAX_RISK = 10.0
# Meridian's budget optimiser keeps each channel within ±30% of its historical spend unless
# told otherwise; the attribution curves are extrapolation far from the spend the model saw.
# OptimizeBudget (without a constraint on the channel) and Recommend both bound moves by it.
DEFAULT_MAX_CHANGE = 0.3
# The budget step a risk-adjusted shadow price is re-solved over (a share of the budget), and
# how close the multiplier must come to it to be kept (relative: a 1% step moves a curved
# channel's spend by a few percent, so a smooth price can differ by ~2%; at the kink by ~50%).
_STEP = 0.01
_PRICE_AGREES = 0.05


class Objective(enum.StrEnum):
    REVENUE = "revenue"
    CONVERSIONS = "conversions"
    PROFIT = "profit"


class BoundStatus(enum.StrEnum):
    NONE = "none"  # strictly inside its bounds (or held)
    LOWER = "lower"  # held at its lower bound, which binds
    UPPER = "upper"  # held at its upper bound, which binds


@dataclass(frozen=True, slots=True)
class ChannelBounds:
    """Spend bounds of one channel over the horizon (absolute; None = open), and the request
    field they came from, for errors."""

    channel: str
    lower: float | None = None
    upper: float | None = None
    field: str = "constraints"


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """One channel's current and recommended spend, and what each returns."""

    channel: str
    current_spend: float
    optimal_spend: float
    lower_bound: float
    upper_bound: float
    bound: BoundStatus
    held: bool
    note: str
    current_outcome: Interval
    optimal_outcome: Interval
    marginal_current: Interval  # d outcome / d spend at the current spend
    marginal_optimal: Interval  # … at the recommended spend


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """The allocation and its expected outcome (outcome units; objective value for profit)."""

    objective: Objective
    budget: float
    channels: tuple[ChannelPlan, ...]
    current_outcome: Interval
    optimal_outcome: Interval
    uplift: Interval  # optimal − current, paired over draws
    probability_better: float  # share of draws in which the plan beats the current mix
    shadow_price: float  # objective value of one more unit of budget
    budget_binds: bool
    converged: bool
    message: str
    warnings: tuple[str, ...] = ()
    # Per-campaign splits of the channels whose campaigns the request bounds (planning's).
    campaigns: tuple[Any, ...] = ()
    # The risk weight the plan was made with (0: the posterior mean, also where the request's
    # weight could not apply: target-efficiency mode below its cap, curves without draws).
    risk: float = 0.0


# A draw's gain within this share of the outcome (or of the spend, if larger) is a tie.
TIE_SHARE = 1e-6
# ... and at least this much (a cent, or a hundredth of a conversion).
TIE_FLOOR = 0.01


def _ties_to_zero(uplift: np.ndarray, outcome: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """``uplift`` per draw with the gains too small to mean anything read as 0: a tie with the
    current mix, not a better plan. Why (R5-F6): a plan identical to the current mix gained
    0.005 USD on 8.9M in float noise and read "better in 74% of the model's draws"; the same
    plan with a budget 0.10 lower read "in 6%". One rule for every reader of the share."""
    scale = max(float(np.abs(outcome).mean()), float(np.abs(spend).sum()))
    negligible = max(TIE_SHARE * scale, TIE_FLOOR)
    return np.where(np.abs(uplift) <= negligible, 0.0, uplift)


def _budget_step(
    p: BudgetProblem, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, open_hi: np.ndarray
) -> tuple[float, str] | None:
    """What a ``_STEP`` change of the budget changes the (risk-adjusted) objective by, per
    unit, re-solved from the plan ``x`` (same bounds; an open one follows the budget): up if
    the bounds allow more budget, else down; None if neither. Returns (price, side)."""
    base = p.value(x)[0] * p.budget
    hi_abs = np.minimum(hi, p.budget)
    for side, factor in (("up", 1.0 + _STEP), ("down", 1.0 - _STEP)):
        budget = p.budget * factor
        top = np.where(open_hi, budget, hi_abs)
        if lo.sum() > budget or (p.equality and top.sum() < budget):
            continue
        q = replace(_problem(p.curves, lo, top, budget, p.a, p.b, p.equality),
                    z=p.z, origin=p.origin)  # fmt: skip
        start = x * p.budget / budget
        start = _project(start, q.lo, q.hi, 1.0) if p.equality else np.clip(start, q.lo, q.hi)
        y, _, _ = _solve(q, [start])
        return (q.value(y)[0] * budget - base) / (budget - p.budget), side
    return None


def _scaled_step(
    p: BudgetProblem, x: np.ndarray, budget: float, held_spend: float, names: Sequence[str],
    bounds_at: Callable[[float], Sequence[ChannelBounds]],
) -> tuple[float, str] | None:  # fmt: skip
    """What a ``_STEP`` change of the total budget changes the objective by, per unit, with
    each channel's bounds as ``bounds_at`` sets them at that budget (the service's default
    bound and ceilings follow the budget): up, else down where the bounds leave no room;
    None if neither. Re-solved from the plan ``x``, on the same objective (risk weight and
    current mix). Returns (price, side)."""
    base = p.value(x)[0] * p.budget
    for side, factor in (("up", 1.0 + _STEP), ("down", 1.0 - _STEP)):
        total = budget * factor
        free = total - held_spend
        by = {b.channel: b for b in bounds_at(total)}
        lo = np.array([(by[n].lower or 0.0) if n in by else 0.0 for n in names])
        hi = np.array([by[n].upper if n in by and by[n].upper is not None else free
                       for n in names])  # fmt: skip
        # Bounds that scale with the budget fill it exactly: a rounding short is not short.
        slack = 1e-9 * free
        if (free <= 0 or (lo > hi + slack).any() or lo.sum() > free + slack
                or (p.equality and hi.sum() < free - slack)):  # fmt: skip
            continue
        hi = np.maximum(hi, lo)
        q = replace(_problem(p.curves, lo, hi, free, p.a, p.b, p.equality), z=p.z,
                    origin=p.origin)  # fmt: skip
        start = x * p.budget / free
        start = _project(start, q.lo, q.hi, 1.0) if p.equality else np.clip(start, q.lo, q.hi)
        y, _, _ = _solve(q, [start])
        return (q.value(y)[0] * free - base) / (free - p.budget), side
    return None


def _bounds_move(
    bounds: Sequence[ChannelBounds], bounds_at: Callable[[float], Sequence[ChannelBounds]],
    budget: float,
) -> bool:  # fmt: skip
    """Whether the bounds ``bounds_at`` sets at a budget ``_STEP`` larger differ from
    ``bounds`` (the default bound and the ceilings scale with the budget; a request's own
    absolute or ratio bounds do not)."""
    now = {b.channel: (b.lower, b.upper) for b in bounds}
    later = {b.channel: (b.lower, b.upper) for b in bounds_at(budget * (1.0 + _STEP))}
    return now != later


def _check_feasible(
    bounds: Sequence[ChannelBounds],
    lo: np.ndarray,
    hi: np.ndarray,
    free_budget: float,
    held_spend: float,
    budget: float,
    equality: bool,
) -> None:
    if free_budget < 0:
        raise InfeasibleConstraints(
            f"the held channels' current spend {held_spend:,.2f} exceeds the total budget "
            f"{budget:,.2f}",
            field="total_budget",
        )
    for b, low, high in zip(bounds, lo, hi, strict=True):
        if b.upper is not None and low > high:
            raise InfeasibleConstraints(
                f"{b.channel}: minimum spend {low:,.2f} exceeds its maximum {high:,.2f}",
                field=b.field,
            )
    held = f" after {held_spend:,.2f} kept on held channels" if held_spend > 0 else ""
    if lo.sum() > free_budget * (1 + 1e-9):
        named = ", ".join(f"{b.channel} ≥ {v:,.0f}" for b, v in zip(bounds, lo, strict=True) if v)
        raise InfeasibleConstraints(
            f"the minimum spends sum to {lo.sum():,.2f} ({named}), more than the "
            f"{free_budget:,.2f} of budget available{held}",
            field="total_budget",
        )
    if equality and hi.sum() < free_budget * (1 - 1e-9):
        named = ", ".join(f"{b.channel} ≤ {v:,.0f}" for b, v in zip(bounds, hi, strict=True))
        raise InfeasibleConstraints(
            f"the maximum spends sum to {hi.sum():,.2f} ({named}), less than the "
            f"{free_budget:,.2f} of budget to place{held}: raise a maximum or lower the budget",
            field="total_budget",
        )


def change_scale(curves: Sequence[HillCurve], budget: float | None, *, cap: bool = False) -> float:
    """What :func:`change_bounds` centres each channel's bound on, as a multiple of its
    current spend: the budget left once the held channels keep theirs, over the movable
    channels' current spend (1 without a budget; at most 1 when the budget is a ``cap``)."""
    current = sum(c.reference_spend for c in curves if c.identified)
    held = sum(c.reference_spend for c in curves if not c.identified)
    scale = (budget - held) / current if budget is not None and current > 0 else 1.0
    return min(scale, 1.0) if cap else scale


def change_bounds(
    curves: Sequence[HillCurve],
    max_change: float,
    budget: float | None,
    *,
    skip: Sequence[str] = (),
    cap: bool = False,
) -> list[ChannelBounds]:
    """The default bound of each identified channel not in ``skip``: its spend stays within
    ``(1 ± max_change)`` × its current spend scaled to the budget (the budget left once the
    held channels keep theirs; unscaled without a budget). ``max_change`` 0: no bound. The one
    rule both OptimizeBudget and Recommend move budgets under, so they never disagree.

    ``cap``: the budget is a ceiling, not an amount to place (a profit objective, a target
    return): the bound is scaled down to a budget below current spend, never up to one above
    it — centred on a large cap, the lower bounds would force the spend up to it."""
    if max_change <= 0:
        return []
    scale = change_scale(curves, budget, cap=cap)
    out = []
    for c in curves:
        if c.identified and c.channel not in skip:
            mid = c.reference_spend * max(scale, 0.0)
            low = (1.0 - max_change) * mid if max_change < 1 else 0.0
            out.append(ChannelBounds(c.channel, low, (1.0 + max_change) * mid, field="max_change"))
    return out


def optimize_budget(
    curves: Sequence[HillCurve],
    *,
    objective: Objective,
    budget: float | None,
    bounds: Sequence[ChannelBounds] = (),
    margin: float = 1.0,
    target_roas: float | None = None,
    level: float = 0.9,
    risk: float = 0.0,
    bounds_at: Callable[[float], Sequence[ChannelBounds]] | None = None,
) -> BudgetPlan:
    """Allocate a budget across channels on their response curves.

    Parameters
    ----------
    curves : sequence of HillCurve
        One per channel, over the horizon. Unidentified curves are held at current spend.
    objective : Objective
        ``PROFIT`` maximises ``margin · outcome − spend`` and may leave budget unspent.
    budget : float or None
        Total spend over the horizon (None: target-efficiency mode, requires ``target_roas``).
    bounds : sequence of ChannelBounds
        Absolute bounds over the horizon; channels without one are bounded by [0, budget].
    margin : float
        Value of one unit of outcome for ``PROFIT``.
    target_roas : float or None
        Target-efficiency mode: the largest spend at which each channel's marginal return is
        at least this; with a budget too, the budget caps the total.
    level : float
        Coverage of the intervals.
    risk : float
        z of the lower confidence bound maximised, ``mean − z sd`` of the gain over the
        current mix across draws (0: the posterior mean; the services pass DEFAULT_RISK).
        Target-efficiency mode reads the posterior mean whatever it is.
    bounds_at : callable, optional
        The bounds the caller would set at another total budget (``bounds`` at this one),
        where they follow the budget (OptimizeBudget's default bound, the ceilings of
        channels not established): the shadow price is then what a budget ``_STEP`` larger
        adds per unit with the bounds so moved, what asking for more budget buys (R10-F15:
        the multiplier with the bounds held read 0.548 where the larger budget gave 0.900),
        and a warning gives the figure with the bounds held.

    Returns
    -------
    BudgetPlan

    Raises
    ------
    InfeasibleConstraints
        A channel's minimum above its maximum, minimums above the budget, or (revenue,
        conversions) maximums below it.
    """
    # SLSQP's subproblem is BLAS on matrices of the channels' size: OpenBLAS's threads cost more
    # than they save there, and far more on a loaded machine (26 channels: 36 s with its
    # default threads against 5 s with one, the rest equal). The services cap the process
    # (surfacing_svc.app); this covers in-process callers (benches, notebooks).
    with _BLAS.limit(limits=1, user_api="blas"):
        return _optimize_budget(
            curves, objective=objective, budget=budget, bounds=bounds, margin=margin,
            target_roas=target_roas, level=level, risk=risk, bounds_at=bounds_at,
        )  # fmt: skip


def _optimize_budget(
    curves: Sequence[HillCurve],
    *,
    objective: Objective,
    budget: float | None,
    bounds: Sequence[ChannelBounds],
    margin: float,
    target_roas: float | None,
    level: float,
    risk: float,
    bounds_at: Callable[[float], Sequence[ChannelBounds]] | None = None,
) -> BudgetPlan:
    if budget is None and target_roas is None:
        raise ValueError("give a budget or a target_roas")
    if not 0.0 <= risk <= MAX_RISK:  # also NaN
        raise ValueError(f"risk {risk!r} must be in [0, {MAX_RISK:g}]")
    by_name = {b.channel: b for b in bounds}
    current = np.array([c.reference_spend for c in curves])
    held = np.array([not c.identified for c in curves])
    a = margin if objective is Objective.PROFIT else 1.0
    b = 1.0 if objective is Objective.PROFIT else 0.0
    free = np.flatnonzero(~held)
    free_bounds = [
        by_name.get(curves[int(i)].channel, ChannelBounds(curves[int(i)].channel)) for i in free
    ]
    held_spend = float(current[held].sum())
    warnings: list[str] = [
        f"{c.channel} held at its current spend: its effect is not identified"
        + (f" ({c.note})" if c.note else "")
        for c in curves
        if not c.identified
    ]
    cap = budget if budget is not None else float("inf")
    lo = np.array([fb.lower or 0.0 for fb in free_bounds])
    open_hi = float(cap - held_spend) if np.isfinite(cap) else np.inf
    hi_requested = np.array([fb.upper if fb.upper is not None else np.inf for fb in free_bounds])
    hi = np.where(np.isfinite(hi_requested), hi_requested, open_hi)
    if target_roas is not None:
        hi = np.array(
            [
                h if np.isfinite(h) else 10.0 * curves[i].reference_spend
                for h, i in zip(hi, free.tolist(), strict=True)
            ]
        )
        spend = np.array(
            [
                target_spend(curves[i], lo[k], hi[k], target_roas)
                for k, i in enumerate(free.tolist())
            ]
        )
        short = unreachable(
            [curves[i] for i in free.tolist()], spend, lo, target_roas, tol=_AT_BOUND * max(cap, 1.0)
            if np.isfinite(cap) else _AT_BOUND * max(float(hi.sum()), 1.0),
        )  # fmt: skip
        warnings += [short] if short else []
        if spend.sum() + held_spend <= cap or not free.size:
            budget = float(spend.sum() + held_spend)
            return _plan(
                curves, current, held, free, spend, lo, hi, objective, budget, a, b, level,
                warnings, converged=True, message="each channel at its target marginal return",
                equality=False, target=target_roas,
            )  # fmt: skip
        # Say what happened in figures that differ where they do (a budget of 1 against 1.3).
        full = [k for k in range(free.size) if spend[k] >= hi[k] * (1 - 1e-9)]
        bounded = (f"; {len(full)} of {free.size} channel(s) are at the most their bounds "
                   "allow" if full else "")  # fmt: skip
        warnings.append(
            f"spending each channel to where its marginal return falls to the target "
            f"{target_roas:g} would spend {amount(spend.sum() + held_spend)} in all, more than "
            f"the budget {amount(cap)}{bounded}: the plan spends the budget instead, where it "
            f"returns most, and the marginal returns stay above the target"
        )  # fmt: skip
    assert budget is not None
    equality = objective is not Objective.PROFIT
    free_budget = budget - held_spend
    _check_feasible(free_bounds, lo, hi, free_budget, held_spend, budget, equality)
    if not free.size or free_budget <= 0:
        return _plan(
            curves, current, held, free, np.zeros(free.size), lo, hi, objective, budget, a, b,
            level, warnings, converged=True, message="nothing to allocate", equality=equality,
        )  # fmt: skip
    p = _problem([curves[i] for i in free.tolist()], lo, hi, free_budget, a, b, equality)
    total = 1.0 if equality else min(1.0, float(p.hi.sum()))
    starts = [
        _project(current[free] / max(current[free].sum(), 1e-300), p.lo, p.hi, total),
        _project(np.full(free.size, total / free.size), p.lo, p.hi, total),
        _greedy(p, total),
    ]
    x, converged, message = _solve(p, starts)
    adjusted = None
    draws = {c.n_draws for c in p.curves}
    if risk > 0 and len(draws) == 1 and draws.pop() > 1:
        # From the posterior-mean answer and the same starts, on the lower confidence bound
        # of the gain (draws paired across channels: one analysis's joint draws).
        origin = p.a * np.stack(
            [c.outcome(s) for c, s in zip(p.curves, current[free], strict=True)]
        ).sum(axis=0)
        origin = origin - p.b * float(current[free].sum())
        p = replace(p, z=risk, origin=origin)
        x, converged, message = _solve(p, [x, starts[0]])
        adjusted = p.value(x)[1]
        message = f"{message}; risk-adjusted (mean − {risk:g} sd of the gain over draws)"
    plan = _plan(
        curves, current, held, free, x * free_budget, lo, hi, objective, budget, a, b, level,
        warnings, converged=converged, message=message, equality=equality, adjusted=adjusted,
    )  # fmt: skip
    moving = (
        bounds_at is not None and target_roas is None and plan.budget_binds
        and _bounds_move(bounds, bounds_at, budget)
    )  # fmt: skip
    if adjusted is not None:
        plan = replace(plan, risk=risk)
        if plan.budget_binds:
            # With moving bounds the figure below replaces it, and says it with this one.
            plan = _kink_price(plan, p, x, lo, hi, hi_requested, target_roas, say=not moving)
    if moving and bounds_at is not None:
        names = [curves[int(i)].channel for i in free]
        step = _scaled_step(p, x, budget, held_spend, names, bounds_at)
        if step is not None:
            price, side = step
            what = "higher adds" if side == "up" else "lower loses"
            of = "the risk-adjusted objective" if adjusted is not None else "the objective"
            note = (
                f"shadow price {price:.3g} per unit: a total budget {_STEP:.0%} {what} that "
                f"much per unit to {of}, with the bounds OptimizeBudget sets at that budget "
                "(the default bound, and the ceiling of a channel the analysis did not "
                "establish, grow with the budget); with every channel's bounds held where "
                f"they are, one more unit adds {plan.shadow_price:.3g}"
            )
            plan = replace(plan, shadow_price=price, warnings=(*plan.warnings, note))
    return plan


def _kink_price(
    plan: BudgetPlan, p: BudgetProblem, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
    hi_requested: np.ndarray, target_roas: float | None, *, say: bool = True,
) -> BudgetPlan:  # fmt: skip
    """A risk-adjusted plan's shadow price, re-solved where the multiplier is not smooth."""
    # The risk-adjusted objective has a kink where the gain's sd vanishes (the current mix,
    # where a plan with a high risk weight often stays): there the multiplier read from the
    # gradient is not what more budget buys. The price is a re-solve's: one more unit.
    # An open bound is the budget (not in target mode: there it is 10× current spend).
    open_bound = ~np.isfinite(hi_requested) & (target_roas is None)
    step = _budget_step(p, x, lo, hi, open_hi=open_bound)
    if step is None:
        return plan
    price, side = step
    if abs(price - plan.shadow_price) <= _PRICE_AGREES * max(abs(price), 1e-12):
        return plan  # smooth here: the multiplier is the exact derivative
    if not say:
        return replace(plan, shadow_price=price)
    what = (
        f"a budget {_STEP:.0%} higher adds" if side == "up" else f"a budget {_STEP:.0%} lower loses"
    )
    note = (f"shadow price {price:.3g} per unit: re-solved, {what} that much per unit to the "
            f"risk-adjusted objective, which is not smooth at this plan (the marginal values "
            f"there read {plan.shadow_price:.3g})")  # fmt: skip
    return replace(plan, shadow_price=price, warnings=(*plan.warnings, note))


def _plan(
    curves: Sequence[HillCurve],
    current: np.ndarray,
    held: np.ndarray,
    free: np.ndarray,
    free_spend: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    objective: Objective,
    budget: float,
    a: float,
    b: float,
    level: float,
    warnings: list[str],
    *,
    converged: bool,
    message: str,
    equality: bool,
    adjusted: np.ndarray | None = None,
    target: float | None = None,
) -> BudgetPlan:
    spend = current.copy()
    # A spend at current up to float noise is current: not a move (R20-F5).
    spend[free] = snap_to(np.asarray(free_spend, dtype=np.float64), current[free])
    lo_all = current.copy()
    hi_all = current.copy()
    lo_all[free], hi_all[free] = lo, hi
    now = np.stack([c.outcome(s) for c, s in zip(curves, current, strict=True)])  # (C, D)
    new = np.stack([c.outcome(s) for c, s in zip(curves, spend, strict=True)])
    m_now = np.stack([c.marginal(s) for c, s in zip(curves, current, strict=True)])
    m_new = np.stack([c.marginal(s) for c, s in zip(curves, spend, strict=True)])
    value_now = a * now.sum(axis=0) - b * current.sum()
    value_new = a * new.sum(axis=0) - b * spend.sum()
    marginal_value = a * m_new.mean(axis=1) - b
    if adjusted is not None:  # the risk-adjusted values the optimum equalises
        marginal_value[free] = adjusted
    tol = _AT_BOUND * max(budget, 1.0)
    inside = [
        i for i in free if lo_all[i] + tol < spend[i] < hi_all[i] - tol
    ]  # fmt: skip
    price = float(np.mean(marginal_value[inside])) if inside else float("nan")
    budget_binds = bool(abs(spend.sum() - budget) <= tol * len(curves))
    if not equality and not budget_binds:
        price = 0.0
    if not np.isfinite(price):
        # Every channel on a bound: one more unit of budget goes to the best channel with room
        # to grow, so that channel's marginal value is the price of the budget.
        room = [i for i in free if spend[i] < hi_all[i] - tol]
        price = float(np.max(marginal_value[room])) if budget_binds and room else 0.0
    # A bound binds where the channel would move past it: against the budget's price, or in
    # target-efficiency mode against the target each channel is spent to.
    bar = price if target is None else target
    plans = []
    for i, c in enumerate(curves):
        status = BoundStatus.NONE
        if not held[i]:
            if spend[i] <= lo_all[i] + tol and marginal_value[i] < bar - 1e-9:
                status = BoundStatus.LOWER
            elif spend[i] >= hi_all[i] - tol and marginal_value[i] > bar + 1e-9:
                status = BoundStatus.UPPER
        beyond = None if held[i] else c.extrapolation(float(spend[i]))
        if beyond is not None:
            warnings.append(beyond)
        plans.append(
            ChannelPlan(
                channel=c.channel,
                current_spend=float(current[i]),
                optimal_spend=float(spend[i]),
                lower_bound=float(lo_all[i]),
                upper_bound=float(hi_all[i]),
                bound=status,
                held=bool(held[i]),
                note=c.note,
                current_outcome=Interval.from_draws(now[i], level),
                optimal_outcome=Interval.from_draws(new[i], level),
                marginal_current=Interval.from_draws(m_now[i], level),
                marginal_optimal=Interval.from_draws(m_new[i], level),
            )
        )
    uplift = _ties_to_zero(value_new - value_now, a * now.sum(axis=0), current)
    moved = float(spend.sum() - current.sum())
    if objective is not Objective.PROFIT and abs(moved) > tol:
        # The objective is the outcome: a plan that spends more (less) than today is better
        # (worse) in outcome by construction, so say what the comparison leaves out.
        more = "more" if moved > 0 else "less"
        note = (f"the plan spends {abs(moved):,.0f} {more} than the current mix: its uplift "
                f"and the share of draws in which it is higher ({np.mean(uplift > 0):.0%}) "
                f"compare the {objective.value} alone, not net of that spend")  # fmt: skip
        if objective is Objective.REVENUE:
            net = uplift - moved
            note += (f"; net of it (revenue − spend) the change is "
                     f"{Interval.from_draws(net, level).text()}, positive in "
                     f"{np.mean(net > 0):.0%} of draws")  # fmt: skip
        warnings.append(note)
    return BudgetPlan(
        objective=objective,
        budget=float(budget),
        channels=tuple(plans),
        current_outcome=Interval.from_draws(value_now, level),
        optimal_outcome=Interval.from_draws(value_new, level),
        uplift=Interval.from_draws(uplift, level),
        probability_better=float(np.mean(uplift > 0)),
        shadow_price=price,
        budget_binds=budget_binds,
        converged=converged,
        message=message,
        warnings=tuple(warnings),
    )
