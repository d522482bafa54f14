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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from .features import adstock_params
from .fit import MMMFit, SmallSample
from .null_test import NullTest, SupScore
from .objective import LiftData
from .transforms import adstock_weights, apply_lags, hill_derivatives, lag_stack

__all__ = ["Evaluator", "Interval", "delta_interval", "unclaimed"]


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
        lo, hi = sorted((self.lower * f, self.upper * f))
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


class Evaluator:
    """Quantities of a fitted model and their gradients in θ, at the estimate."""

    def __init__(self, fit: MMMFit) -> None:
        self.fit = fit
        self.obj = fit.objective
        self.state = self.obj.media(fit.theta, jacobian=True)
        self.m = self.state.m
        self.size = fit.layout.size
        self._small: SmallSample | None = None
        self._sup: SupScore | None = None
        self._tests: dict[int, NullTest | None] = {}

    def null_test(self, channel: int) -> NullTest | None:
        """Hansen's sup-score test of "``channel`` has no effect" (None where unsupported)."""
        if channel not in self._tests:
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
