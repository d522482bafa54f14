"""What testing a channel is worth: the expected value of partial perfect information (EVPPI)
of each channel's response, over the analysis's draws, for Recommend's reallocation.

Recommend's reallocation is one plan for every draw of the model's curves. Were channel
``c``'s response ``θ_c`` (its draws of scale, κ and S) known, the plan could be chosen for it::

    EVPPI_c = E_θc[ max_plan E(gain | θ_c) ] − max_plan E(gain)

the expected gain of the plan chosen knowing ``c``'s response, less that of the plan chosen
now, over the same draws; the gain is ``value · outcome − spend`` against the current mix
(at an equal total, ``value`` × the outcome's change). "Chosen" is Recommend's own rule: the
reallocation of the current total under OptimizeBudget's default bound, with the same
channels held at or below current spend and its risk weight (mean − z sd of the gain over the
draws still possible), except ``c`` itself, which the test would measure (so it is then
established, or shown to be nil, and calibrated): the plan that knows ``c`` may raise it. The
value so counts what a test permits as well as what it tells, which is what it is worth to a
user of this rule. Both plans are scored by their mean gain: what each is expected to earn.

Estimator: the draws are sorted by a summary of ``θ_c`` and partitioned into ``K`` bins
(Strong & Oakley 2013); within a bin ``θ_c`` is nearly known, and the plan is re-chosen on
its draws. Choosing and scoring a plan on the same few draws biases the value upward (a plan
fitted to 50 draws' noise looks better on them than it is, more so the smaller the bins, so a
channel would rank by how noisy its bins are). So:

1. *cross-fitting*: each bin's draws are split in two halves (alternately in ``θ_c``'s order,
   so both span the bin); the plan chosen on one half is scored on the other and vice versa,
   so no draw scores a plan chosen on it. This removes the upward bias and leaves a downward
   one: a plan chosen on half a bin is worse than the bin's best plan;
2. a *null partition*: the same procedure on a random partition of the draws into bins of the
   same size, which carries nothing about ``c``, measures that downward bias (plans chosen on
   as few draws, knowing nothing more). The value is the difference, paired per draw: zero in
   expectation where ``θ_c`` says nothing about the plan, and its noise is the per-draw
   differences' standard error.

The summary of ``θ_c`` is the channel's return per unit of spend over the range its bound lets
the plan move it, ``(f(hi) − f(lo)) / (hi − lo)`` per draw: what a plan at an equal total
trades against the other channels. Binning on it (not on each parameter) is what makes one
scalar enough: the plan depends on the curve through what it returns over that range.

Cost: ``2K`` solves of the budget problem per channel valued, plus ``2K`` for the null, each
on ``D / 2K`` draws from the reallocation's own answer (a warm start).

Notes
-----
Raiffa & Schlaifer (1961), *Applied Statistical Decision Theory* (the value of perfect
information); Strong & Oakley (2013), "An efficient method for computing single-parameter
partial expected value of perfect information", *Medical Decision Making* 33(6):755–766 (the
partition over the sorted parameter, and its upward bias in small bins); sample splitting as
in Chernozhukov et al. (2018), "Double/debiased machine learning", *Econometrics Journal*
21(1):C1–C68.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from surfacing_svc.actions import Action, ActionKind, Fact
from surfacing_svc.budget_objective import CurveStack
from surfacing_svc.budget_solve import problem, project
from surfacing_svc.curves import HillCurve
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import DEFAULT_MAX_CHANGE, DEFAULT_RISK, BudgetPlan, change_bounds

__all__ = [
    "BINS",
    "InformationValue",
    "information_values",
    "value_fact",
    "value_order",
    "with_value",
]

# Bins of the channel's response the draws are partitioned into (more: each plan is chosen
# on fewer draws, noisier; fewer: the response is known less exactly within a bin).
BINS = 4
# The fewest draws a plan is chosen on (half a bin): fewer and no value is given.
_MIN_HALF = 10
# The loaded BLAS libraries, found once: SLSQP's small matrices run faster on one thread.
_BLAS = ThreadpoolController()


@dataclass(frozen=True, slots=True)
class InformationValue:
    """The value of knowing one channel's response, for the reallocation.

    Attributes
    ----------
    channel : str
    value : float
        EVPPI in objective units (``value · outcome − spend``) over the horizon.
    noise : float
        Standard error of ``value`` (the per-draw differences').
    days : int
        The horizon.
    draws, bins : int
        The model's draws, and the bins of the channel's response they were split into.
    moves : tuple of float
        Per bin, lowest response first: the channel's spend in the plans chosen on that bin's
        draws, over its current spend.
    now : float
        Its spend in the reallocation, over its current spend.
    lifted : bool
        Whether the reallocation holds it at or below current spend (not established, or its
        identification at risk) and the plan that knows its response may raise it.
    """

    channel: str
    value: float
    noise: float
    days: int
    draws: int
    bins: int
    moves: tuple[float, ...]
    now: float
    lifted: bool = False

    @property
    def negligible(self) -> bool:
        """Whether the value is within twice its noise of zero (or below): knowing the
        channel's response would not change the plan by more than the draws can tell (False
        where it is unknown)."""
        return bool(np.isfinite(self.value)) and not self.value > 2.0 * self.noise


def information_values(
    curves: Sequence[HillCurve],
    plan: BudgetPlan,
    channels: Collection[str],
    *,
    value_per_outcome: float = 1.0,
    risk: float = DEFAULT_RISK,
    max_change: float = DEFAULT_MAX_CHANGE,
    bins: int = BINS,
    seed: int = 0,
) -> dict[str, InformationValue]:
    """The value of knowing each of ``channels``' response, for the reallocation ``plan``.

    Parameters
    ----------
    curves : sequence of HillCurve
        The curves ``plan`` was made on (a channel under a registered test unidentified), in
        its order; every curve with the same number of draws ``D``.
    plan : BudgetPlan
        Recommend's reallocation of the current total (``equal_budget_plan``): its bounds,
        caps included, are the rule's, and its answer the solves' warm start.
    channels : collection of str
        Which channels to value; a channel ``plan`` holds (not identified) is skipped.
    value_per_outcome : float
        What one unit of outcome is worth.
    risk : float
        The reallocation's risk weight.
    max_change : float
        Its default bound (the bound a valued channel gets, its cap lifted).
    bins : int
        ``K``; fewer where the draws are too few for ``2K`` halves of ``_MIN_HALF``.
    seed : int
        Of the null partition and of the order of tied draws: the same analysis gets the same
        values.

    Returns
    -------
    dict channel -> InformationValue; empty where there is nothing to value (fewer than two
    channels to move, draws of different lengths, or too few draws).
    """
    free = [i for i, p in enumerate(plan.channels) if not p.held]
    names = [curves[i].channel for i in free]
    sizes = {c.n_draws for c in curves}
    n = sizes.pop() if len(sizes) == 1 else 0
    k = min(bins, n // (2 * _MIN_HALF))
    if len(free) < 2 or k < 2:
        return {}
    rows = [plan.channels[i] for i in free]
    ctx = _Context(
        curves=[curves[i] for i in free],
        lo=np.array([p.lower_bound for p in rows]),
        hi=np.array([p.upper_bound for p in rows]),
        current=np.array([p.current_spend for p in rows]),
        start=np.array([p.optimal_spend for p in rows]),
        risk=risk,
    )
    uncapped = {b.channel: b.upper for b in change_bounds(curves, max_change, plan.budget)}
    # The plan holds an unidentified channel: its draws are no evidence to value it on.
    out = {c.channel: InformationValue(c.channel, np.nan, np.nan, c.period_days, n, k, (), 1.0)
           for c in curves if c.channel in channels and c.channel not in names}  # fmt: skip
    with _BLAS.limit(limits=1, user_api="blas"):
        null, _ = ctx.cross_fit(_partition(np.random.default_rng(seed).permutation(n), k), ctx.hi)
        for j, ch in enumerate(names):
            if ch in channels:
                out[ch] = _value(ctx, j, null, max(uncapped.get(ch) or ctx.budget, ctx.lo[j]),
                                 k, value_per_outcome, seed)  # fmt: skip
    return out


def _value(
    ctx: _Context, j: int, null: np.ndarray, top: float, k: int, value: float, seed: int
) -> InformationValue:
    """Channel ``j``'s value: its bins' cross-fitted gains less the null's, paired per draw,
    with its upper bound ``top`` (its cap, if any, lifted)."""
    c = ctx.curves[j]
    hi = ctx.hi.copy()
    lifted = bool(top > hi[j] * (1.0 + 1e-9))
    hi[j] = top
    span = max(top - ctx.lo[j], 1e-12 * ctx.budget)
    summary = (c.outcome(top) - c.outcome(ctx.lo[j])) / span
    now = float(ctx.start[j] / ctx.current[j])
    n = summary.size
    if np.ptp(summary) <= 1e-9 * max(float(np.abs(summary).max()), 1e-300):
        # Its draws agree: nothing to learn about it.
        return InformationValue(c.channel, 0.0, 0.0, c.period_days, n, k, (now,) * k, now, lifted)
    # Ties in a random order, the same for the same channel whatever else is valued.
    rng = np.random.default_rng([seed, zlib.crc32(c.channel.encode())])
    gain, spends = ctx.cross_fit(_partition(np.lexsort((rng.permutation(n), summary)), k), hi)
    diff = (gain - null) * value
    return InformationValue(
        c.channel, float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n)), c.period_days, n,
        k, tuple(float(s[j] / ctx.current[j]) for s in spends), now, lifted,
    )  # fmt: skip


def _partition(order: np.ndarray, k: int) -> list[np.ndarray]:
    """``order`` cut into ``k`` consecutive bins of (nearly) equal size."""
    return [np.asarray(b) for b in np.array_split(order, k)]


@dataclass(slots=True)
class _Context:
    """The reallocation's problem over its movable channels, and the gains of a plan per draw."""

    curves: list[HillCurve]
    lo: np.ndarray
    hi: np.ndarray
    current: np.ndarray
    start: np.ndarray
    risk: float
    budget: float = 0.0
    stack: CurveStack | None = None
    origin: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.budget = float(self.start.sum())
        self.stack = CurveStack(self.curves)
        now, _ = self.stack.value_and_slope(self._floor(self.current))
        self.origin = now.sum(axis=0)

    def _floor(self, spend: np.ndarray) -> np.ndarray:
        return np.maximum(spend, 1e-9 * self.budget)

    def gains(self, spend: np.ndarray) -> np.ndarray:
        """Per draw, the outcome of ``spend`` less that of the current mix."""
        assert self.stack is not None and self.origin is not None
        out, _ = self.stack.value_and_slope(self._floor(spend))
        return out.sum(axis=0) - self.origin

    def choose(self, idx: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The reallocation's rule on the draws ``idx`` alone, with upper bounds ``hi``."""
        assert self.origin is not None
        sub = [
            replace(c, scale=np.asarray(c.scale)[idx],
                    half_saturation=np.asarray(c.half_saturation)[idx],
                    shape=np.asarray(c.shape)[idx])
            for c in self.curves
        ]  # fmt: skip
        p = problem(sub, self.lo, hi, self.budget, 1.0, 0.0, True)
        if self.risk > 0:
            p = replace(p, z=self.risk, origin=self.origin[idx])
        x0 = project(self.start / self.budget, p.lo, p.hi, 1.0)
        ones = np.ones(x0.size)
        # SLSQP alone, from the reallocation's answer: the optimiser's restarts at jumps (for
        # S-curves that pay only at scale) cost nine tenths of a solve and, within the default
        # bound around that answer, change little; every plan here, the null's included, is
        # chosen the same way, so what they change would cancel in the difference.
        res = minimize(
            lambda x: tuple(-v for v in p.value(x)),  # type: ignore[arg-type]
            x0, jac=True, method="SLSQP", bounds=list(zip(p.lo, p.hi, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0, "jac": lambda x: ones}],
            options={"maxiter": 100, "ftol": 1e-10},
        )  # fmt: skip
        return project(np.clip(res.x, p.lo, p.hi), p.lo, p.hi, 1.0) * self.budget

    def cross_fit(
        self, parts: Sequence[np.ndarray], hi: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per draw, the gain of the plan chosen on the other half of its bin; and per bin,
        the mean of its two plans' spends."""
        gain = np.empty(self.origin.size if self.origin is not None else 0)
        spends = []
        for part in parts:
            halves = (part[0::2], part[1::2])
            chosen = [self.choose(h, hi) for h in halves]
            for plan, scored in zip(chosen, halves[::-1], strict=True):
                gain[scored] = self.gains(plan)[scored]
            spends.append((chosen[0] + chosen[1]) / 2.0)
        return gain, spends


def value_fact(v: InformationValue) -> Fact:
    """The value as an action's fact: the figure, with ± twice its noise (about 95%), and what
    it means, never more than the draws support."""
    if not np.isfinite(v.value):
        return Fact("test_value", None, f"value of testing {v.channel}: not computed, as the "
                    "analysis could not identify its effect: its draws are not evidence of its "
                    "response, so what knowing it would change cannot be read from them")  # fmt: skip
    band = Interval(v.value, v.value - 2.0 * v.noise, v.value + 2.0 * v.noise, 0.95)
    said = f"{v.value:+,.0f} ± {2 * v.noise:,.0f}"
    over = (f"over {v.days} days, the mean over the model's {v.draws} draws (outcome value less "
            "spend, as the impacts)")  # fmt: skip
    moves = ", ".join(f"{m - 1:+.0%}" for m in v.moves)
    how = (f"the plan re-chosen within each {_nth(v.bins)} of its draws, lowest response first, "
           f"moves its spend {moves}; the reallocation now {v.now - 1:+.0%}")  # fmt: skip
    if v.negligible:
        return Fact("test_value", band, f"value of testing {v.channel}: {said} {over}, within "
                    "its noise of zero: knowing its response would not change the plan by more "
                    f"than the draws can tell ({how})")  # fmt: skip
    lifted = (", and the test, establishing it, would let the plan raise it, which the "
              "reallocation now does not" if v.lifted else "")  # fmt: skip
    return Fact("test_value", band, f"value of testing {v.channel}: knowing its response would "
                f"let the plan earn about {said} more {over} ({how}{lifted}); an upper bound on "
                "what a real test's noisy read-out is worth, before the test's own cost")  # fmt: skip


def with_value(action: Action, values: Mapping[str, InformationValue]) -> Action:
    """A test or a hold of a valued channel with the value of testing it among its facts."""
    v = values.get(action.channel)
    if v is None or action.kind not in (ActionKind.TEST, ActionKind.HOLD):
        return action
    return replace(action, facts=(*action.facts, value_fact(v)))


def value_order(action: Action) -> tuple[int, float]:
    """Where an action stands among those of its kind and impact: the channels whose test is
    worth most first, then those whose value is unknown, then those whose test would not
    change the plan."""
    f = next((f for f in action.facts if f.name == "test_value"), None)
    if f is None or f.value is None:
        return 1, 0.0
    v = f.value
    return (0, -v.estimate) if v.estimate > v.estimate - v.lower else (2, 0.0)


def _nth(k: int) -> str:
    return {2: "half", 3: "third", 4: "quarter", 5: "fifth"}.get(k, f"1/{k}")
