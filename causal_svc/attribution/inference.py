"""Intervals for what the model says: channel effects over a window, spend counterfactuals and
response curves, each a smooth function of θ with an analytic gradient, propagated through the
fit's Laplace covariance (the delta method).

Why the delta method rather than posterior draws: every quantity here is a sum over the panel
of a function of θ whose gradient the fit already computes (the Jacobian's columns), so an
interval costs one gradient; draws would re-run the adstock and Hill transforms of the whole
panel per draw. Effects are non-negative, so intervals are clipped at zero — the model cannot
say a channel's effect is negative, and a null channel's interval then starts at zero.

Each interval is Student-t with the degrees of freedom of its own variance estimate
(:meth:`.fit.SmallSample.df`, Satterthwaite on the CR2 meat): an effect measured by a few
weeks of spend movement gets a wider multiplier than one the whole panel or a lift test pins
down.

A sum over channels (a spend plan's total) whose channels' effects are not all established
gets :meth:`Evaluator.total`: the union of the sums' intervals over every subset of those
channels set to zero (see :mod:`.counterfactual` for why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from .features import adstock_params
from .fit import MMMFit, SmallSample
from .null_test import NullTest, SupScore
from .objective import LiftData
from .transforms import adstock_weights, apply_lags, hill_derivatives, lag_stack

__all__ = ["Evaluator", "Interval", "delta_interval", "unclaimed", "union_of_sums"]

# Subsets enumerated exactly up to this many channels of unestablished effect (2^14 sums,
# ~20 ms); beyond it :func:`union_of_sums` encloses their union (Minkowski's inequality),
# valid but ~2-3x wider.
_EXACT_SUBSETS = 14


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its standard error and a two-sided interval."""

    estimate: float
    stderr: float
    lower: float
    upper: float
    level: float

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. per unit of spend)."""
        f = float(factor)
        # (+ 0.0: a bound at zero stays +0, not −0, when the sign flips)
        lo, hi = sorted((self.lower * f + 0.0, self.upper * f + 0.0))
        return Interval(self.estimate * f, self.stderr * abs(f), lo, hi, self.level)

    def covers(self, value: float) -> bool:
        return self.lower <= value <= self.upper


def unclaimed(i: Interval) -> Interval:
    """The interval with its lower bound at zero (no claim that the effect is positive)."""
    return Interval(i.estimate, i.stderr, min(i.lower, 0.0), i.upper, i.level)


def delta_interval(
    value: float,
    grad: np.ndarray,
    cov: np.ndarray,
    level: float,
    *,
    df: float,
    floor: float | None = 0.0,
) -> Interval:
    """Student-t interval of ``value`` with stderr ``sqrt(gᵀ Σ g)``, clipped at ``floor``."""
    se = float(np.sqrt(max(float(grad @ cov @ grad), 0.0)))
    z = float(student_t.ppf(0.5 + level / 2.0, df))
    lo, hi = value - z * se, value + z * se
    if floor is not None:
        lo, hi = max(lo, floor), max(hi, floor)
    return Interval(float(value), se, float(lo), float(hi), level)


def union_of_sums(
    values: np.ndarray,
    cov: np.ndarray,
    dfs: np.ndarray,
    total_df: float,
    droppable: np.ndarray,
    level: float,
    *,
    exact: int = _EXACT_SUBSETS,
) -> tuple[float, float]:
    """The hull of the Student-t intervals of ``Σ_{k ∉ Z} values[k]`` over every subset ``Z``
    of the ``droppable`` terms (``Z`` empty: the total itself, at ``total_df``).

    ``cov`` is the terms' covariance (k, k), ``dfs`` each term's degrees of freedom. A sum of
    one term takes that term's df; a sum of several (other than the total), the smallest df
    of the total and its terms (the widest quantile: their own Satterthwaite df are not
    computed for each of the 2^m sums). The empty sum is exactly 0. With more than ``exact``
    droppable terms the hull is enclosed instead: every such sum lies within
    ``S_R + Σ_{k∈Z'} v_k``, ``R`` the kept terms, and its standard error is at most
    ``se_R + Σ_{k∈Z'} se_k`` (Minkowski), so the bounds
    ``S_R + Σ_k min(0, v_k − q se_k) − q se_R`` and the matching upper one, at the smallest
    df of all, hold every subset's interval.
    """
    v = np.asarray(values, dtype=np.float64)
    drop = np.flatnonzero(droppable)
    keep = np.setdiff1d(np.arange(v.size), drop)
    q_total = float(student_t.ppf(0.5 + level / 2.0, total_df))
    se_total = float(np.sqrt(max(float(cov.sum()), 0.0)))
    lo, hi = v.sum() - q_total * se_total, v.sum() + q_total * se_total
    if drop.size == 0:
        return float(lo), float(hi)
    if drop.size > exact:
        q = float(student_t.ppf(0.5 + level / 2.0, min(total_df, float(dfs.min()))))
        se_r = float(np.sqrt(max(float(cov[np.ix_(keep, keep)].sum()), 0.0)))
        se = np.sqrt(np.maximum(np.diag(cov)[drop], 0.0))
        base = float(v[keep].sum())
        low = base - q * se_r + float(np.minimum(0.0, v[drop] - q * se).sum())
        high = base + q * se_r + float(np.maximum(0.0, v[drop] + q * se).sum())
        return min(float(lo), low), max(float(hi), high)
    # Row i: which terms each subset keeps (every kept term, and the droppable ones whose
    # bit is 0 in i); row 0 is the total.
    masks = np.ones((2**drop.size, v.size))
    bits = (np.arange(2**drop.size)[:, None] >> np.arange(drop.size)[None, ::-1]) & 1
    masks[:, drop] = 1.0 - bits
    est = masks @ v
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", masks, cov, masks), 0.0))
    n_kept = masks.sum(axis=1)
    df = np.minimum(total_df, np.where(masks > 0, dfs[None, :], np.inf).min(axis=1))
    single = n_kept == 1
    df[single] = dfs[np.argmax(masks[single], axis=1)]
    df[0] = total_df
    q = student_t.ppf(0.5 + level / 2.0, np.where(n_kept > 0, df, 1.0))
    q[n_kept == 0] = 0.0
    return float(np.min(est - q * se)), float(np.max(est + q * se))


class Evaluator:
    """Quantities of a fitted model and their gradients in θ, at the estimate.

    ``tests``: Hansen's sup-score tests already run on this fit, by channel index (a stored
    analysis's, so that a counterfactual reuses the decisions its attribution table shows
    instead of re-running the bootstrap; None where the test is not available).
    """

    def __init__(self, fit: MMMFit, tests: Mapping[int, NullTest | None] | None = None) -> None:
        self.fit = fit
        self.obj = fit.objective
        self.state = self.obj.media(fit.theta, jacobian=True)
        self.m = self.state.m
        self.size = fit.layout.size
        self._small: SmallSample | None = None
        self._sup: SupScore | None = None
        self._tests: dict[int, NullTest | None] = dict(tests or {})

    @property
    def gate_available(self) -> bool:
        """Whether the sup-score test of no effect can be run on this fit: not on
        instrumented rows (see :mod:`.null_test`), whose claims keep the Wald interval."""
        return self.obj.moments is None

    def null_test(self, channel: int) -> NullTest | None:
        """Hansen's sup-score test of "``channel`` has no effect" (None where unsupported)."""
        if channel not in self._tests:
            if not self.gate_available:
                return None
            if self._sup is None:
                if self._small is None:
                    self._small = self.fit.small_sample()
                self._sup = SupScore(self.fit, self._small.clusters, self.state)
            self._tests[channel] = self._sup.test(channel)
        return self._tests[channel]

    def claim(self, channel: int, interval: Interval) -> tuple[Interval, NullTest | None]:
        """``interval`` of a quantity of ``channel``'s effect, its lower bound at zero unless
        the sup-score test of no effect rejects at the interval's one-sided level; and the
        test, where one was run (only a lower bound above zero needs it)."""
        if interval.lower <= 0.0:
            return interval, None
        test = self.null_test(channel)
        if test is None or test.p_value <= (1.0 - interval.level) / 2.0:
            return interval, test
        return unclaimed(interval), test

    def total(
        self,
        values: np.ndarray,
        grads: np.ndarray,
        droppable: np.ndarray,
        dfs: np.ndarray | None = None,
    ) -> tuple[Interval, bool]:
        """The interval of ``Σ values`` (gradients ``grads``, (k, P)), widened to hold the
        sum with any of the ``droppable`` terms at zero (:func:`union_of_sums`); and whether
        that widened it. Without droppable terms it is the delta-method interval of the sum.
        ``dfs``: each term's degrees of freedom, where the caller has them."""
        grads = np.atleast_2d(grads)
        grad = grads.sum(axis=0)
        total_df = self.df(grad)
        plain = self.interval(float(np.sum(values)), grad, floor=None, df=total_df)
        if not np.any(droppable):
            return plain, False
        b = grads @ self.fit.cov @ grads.T
        dfs = np.array([self.df(g) for g in grads]) if dfs is None else np.asarray(dfs)
        lo, hi = union_of_sums(np.asarray(values), b, dfs, total_df, np.asarray(droppable),
                               plain.level)  # fmt: skip
        lo, hi = min(lo, plain.lower), max(hi, plain.upper)
        widened = lo < plain.lower - 1e-9 * abs(plain.lower) or hi > plain.upper + 1e-9 * abs(
            plain.upper
        )
        return Interval(plain.estimate, plain.stderr, lo, hi, plain.level), widened

    def df(self, grad: np.ndarray) -> float:
        """Degrees of freedom of the interval of the quantity with gradient ``grad``."""
        if self._small is None:
            self._small = self.fit.small_sample()
        return self._small.df(grad)

    def interval(
        self, value: float, grad: np.ndarray, *, floor: float | None = 0.0,
        df: float | None = None,
    ) -> Interval:  # fmt: skip
        """``df``: the degrees of freedom when the caller has them (a curve's points share
        their channel's); default those of ``grad``'s own variance."""
        return delta_interval(value, grad, self.fit.cov, self.fit.spec.interval_level,
                              df=self.df(grad) if df is None else df, floor=floor)  # fmt: skip

    def effect(
        self,
        channel: int,
        *,
        geos: np.ndarray | None = None,
        a: int = 0,
        b: int | None = None,
        multiplier: float = 0.0,
        until: int | None = None,
    ) -> tuple[float, np.ndarray]:
        """Outcome with the spend as run minus with it multiplied by ``multiplier`` on days
        [a, b) in ``geos``, summed over days [a, until) (default b), and the gradient: a
        channel's effect, or (multiplier ≠ 0) the outcome change of a spend plan, computed as
        the fit's lift tests are."""
        panel = self.fit.panel
        b = panel.n_days if b is None else b
        until = b if until is None else until
        geos = np.arange(panel.n_geos) if geos is None else geos
        lags = None
        if not (multiplier == 0.0 and a == 0 and until == b):
            x = panel.media[channel][geos, :until] / panel.population[geos, None]
            x[:, a:b] *= multiplier
            lags = lag_stack(x, self.fit.spec.max_lag)
        d = LiftData(channel, geos, a, until, panel.outcome[geos, a:until], lags, 0.0, 1.0)
        value, grad = self.obj.lift(self.fit.theta, d, self.state, gradient=True)
        assert grad is not None
        return value, grad

    def curve(self, channel: int, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Channel effect (vs no spend) over the panel if its spend were ``scale ×`` as run.

        Returns values (S,) and gradients (S, P). Adstock is linear, so scaling the spend
        scales the adstock; the Hill curve is re-evaluated at each level. The other channels
        and the baseline stay as fitted.
        """
        fit, layout = self.fit, self.fit.layout
        theta = fit.theta
        sl = layout.nonlinear(channel)
        kind = layout.kinds[channel]
        n_ad = kind.n_params
        u = theta[sl]
        nat, dnat = adstock_params(kind, u[:n_ad])
        w, dw = adstock_weights(kind, nat, fit.spec.max_lag, grad=True)
        assert dw is not None
        lags = fit.inputs.lags[channel]
        adst = apply_lags(lags, w)
        dadst = apply_lags(lags, dw * dnat[:, None])
        k_half = fit.inputs.k0[channel] * float(np.exp(u[n_ad]))
        shape = float(np.exp(u[n_ad + 1]))
        unit = fit.inputs.unit(theta, layout)
        beta = theta[channel]
        share = fit.panel.outcome / self.m
        values = np.zeros(len(scales))
        grads = np.zeros((len(scales), self.size))
        for i, s in enumerate(scales):
            h, dh_du, dh_dk, dh_ds = hill_derivatives(s * adst, k_half, shape)
            hu = unit * h
            values[i] = float(beta * (share * hu).sum())
            g = grads[i]
            g[channel] += float((share * hu).sum())
            for p in range(n_ad):
                g[sl.start + p] += float(beta * (share * unit * dh_du * s * dadst[p]).sum())
            g[sl.start + n_ad] += float(beta * (share * unit * dh_dk).sum())
            g[sl.start + n_ad + 1] += float(beta * (share * unit * dh_ds).sum())
            g[layout.elasticity] += float(beta * (share * hu * fit.inputs.demand).sum())
            # The baseline each cell's share multiplies is y / (1 + M): M moves with θ.
            over = share * beta * hu / self.m
            assert self.state.dm is not None
            g -= np.tensordot(self.state.dm, over, axes=([1, 2], [0, 1]))
        return values, grads
