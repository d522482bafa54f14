"""Is a channel's effect different from zero? A test that allows for its carry-over and
saturation shape being unidentified when it is.

Why the Wald interval is not enough at zero: with ``β_c = 0`` a channel's adstock and Hill
parameters do not enter the model, so the data say nothing about them, yet the fit still
chooses them — the shape under which the channel's input best matches the noise. The delta
method then treats that chosen shape as if it were known. This is Davies' (1977, 1987)
problem; the Wald t-statistic at the fitted shape is, under the null, close to the largest
of many correlated t-statistics, one per shape, and its tail is heavier than the t quantile
the interval uses.

The test here is Hansen's (1996, Econometrica 64(2), "Inference when a nuisance parameter is
not identified under the null hypothesis"): for each shape ``γ`` on a grid the standardised
score of ``β_c`` at the restricted fit (``β_c = 0``, every other parameter re-fitted),

    T(γ) = S(γ) / sqrt(V(γ)),   S(γ) = −x̃(γ)ᵀ r_R,

``x̃(γ)`` the Jacobian column of ``β_c`` under shape ``γ`` with the other parameters
partialled out and ``r_R`` the restricted residuals; the statistic is ``sup_γ T(γ)``
(one-sided: effects are non-negative), and its null distribution is taken from a multiplier
bootstrap of the score process — each cluster's score (the covariance's clusters: weeks on
national rows, geos on geo rows) multiplied by a Rademacher draw, each prior or lift-test
row's by a draw of its stated distribution (normal; Student-t with a lift test's df), the same
draw for every ``γ``. No refits: ``V(γ)`` is the conditional variance of the score, and the
whole bootstrap is one matrix product (Kline & Santos 2012 make the same score-bootstrap
argument for clustered data).

The restricted fit is one Gauss–Newton step from the estimate: the residuals at ``β_c = 0``
computed exactly, then the other parameters' linear re-fit, ``r_R = M_ψ r(θ̂ | β_c = 0)``
with ``M_ψ`` the residual-maker of their Jacobian columns (parameters resting on a bound stay
there). Rows: the data rows, the lift tests — a calibrated channel's experiment counts as the
evidence it is — and the prior rows except the tested channel's shape priors (they say nothing
once ``β_c = 0``). The channel's effect prior stays, as a row of stated variance with residual
zero under the null: the interval being gated is that of the penalised fit, whose covariance
counts the same row the same way (:func:`.fit._sandwich`), so test and interval are of one
model. It makes the test conservative where the prior weighs as much as the data (a weakly
measured channel) and changes nothing where the data dominate. Measured on the simulator's
``null`` world (seeds 200–299, no calibration): without that row the sup-score test alone
rejects in 19% of runs — it is a test of the data only, as confounded as the estimate — and
with it 5%. Real channels significant by the Wald interval on demo and ``confounded`` seeds
0–39: 104, of which the test keeps 102 (docs/performance.md, issue 15).

The grid is a central composite design on the channel's own unconstrained shape parameters,
whatever its adstock kind (:class:`.features.Layout`): the prior mean, ±1.5 prior sd along each
axis and the ±1 sd corners, clipped to the prior's box — 15 shapes for geometric adstock with
Hill, 25 for a two-parameter adstock. A finer grid raises observed and bootstrap suprema alike;
the test's size holds for the grid it uses.

Instrumented fits (``Identification.INSTRUMENTED``) are not tested. Hansen's argument covers
GMM criteria, so a valid version exists: the score of ``β_c`` is ``x̂(γ)ᵀ e_R``, ``x̂(γ)`` the
channel's Jacobian column projected on the instruments and ``e_R`` the geo-day residuals of the
restricted 2SLS fit, bootstrapped with one multiplier per geo (the 2SLS clusters). It is not
built: the fit's data rows are its instrument moments, which no geo owns, so the row scores the
bootstrap draws per cluster would have to be rebuilt from the geo-day rows; and the instruments
hold the channel's derivatives at the prior-mean shape only (:func:`.fit._instruments`), so the
projected score moves within their span as ``γ`` moves, a size that would have to be measured
again. There :attr:`.inference.Evaluator.gate_available` is False; a lower bound above zero is
the Wald interval's, and the scores' notes and the counterfactual's warnings say so.

What it does not fix: confounding. A channel whose budget follows demand the model cannot see
gets a score with a non-zero mean under "no effect", and no variance formula removes that.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .features import channel_curve, hill_terms
from .fit import MMMFit
from .objective import LiftData, MediaState, t_residual
from .transforms import apply_lags, hill
from .within import orthonormal

__all__ = ["NullTest", "SupScore", "shape_grid", "sup_score"]

_AXIAL_SD = 1.5
_CORNER_SD = 1.0
DRAWS = 1999
_SEED = 15


@dataclass(frozen=True, slots=True)
class NullTest:
    """Hansen's sup-score test of "channel ``c`` has no effect" against a positive effect."""

    statistic: float  # sup over the grid of the standardised score
    p_value: float
    shapes: int  # grid size
    draws: int


def shape_grid(fit: MMMFit, channel: int) -> np.ndarray:
    """(N, k) central composite design on the channel's shape parameters (see module doc)."""
    layout = fit.layout
    sl = layout.nonlinear(channel)
    priors = [layout.priors[i] for i in range(sl.start, sl.stop)]
    assert all(p is not None for p in priors)
    mean = np.array([p.mean for p in priors])  # type: ignore[union-attr]
    sd = np.array([p.sd for p in priors])  # type: ignore[union-attr]
    lo = np.array([p.lower for p in priors])  # type: ignore[union-attr]
    hi = np.array([p.upper for p in priors])  # type: ignore[union-attr]
    k = mean.size
    pts = [np.zeros(k)]
    for i in range(k):
        for s in (-_AXIAL_SD, _AXIAL_SD):
            e = np.zeros(k)
            e[i] = s
            pts.append(e)
    pts += [np.array(c) * _CORNER_SD for c in itertools.product((-1.0, 1.0), repeat=k)]
    return np.clip(mean + np.array(pts) * sd, lo, hi)


class SupScore:
    """The sup-score test for any channel of one fit (the estimate's Jacobian shared)."""

    def __init__(self, fit: MMMFit, clusters: np.ndarray, state: MediaState | None = None) -> None:
        """``state``: the media terms at the estimate, where the caller has them."""
        obj = fit.objective
        self.fit = fit
        self.obj = obj
        self.clusters = clusters
        # Instrumented rows are moments, not rows a cluster owns: not supported (the Wald
        # interval stands there, and the answer's warnings say so; see the module docstring).
        self.supported = obj.moments is None
        r, jac = obj.evaluate(fit.theta, jacobian=True)
        assert jac is not None
        self.r, self.jac = r.copy(), jac.copy()
        self.lo, self.hi = fit.layout.bounds()
        self.state = obj.media(fit.theta, jacobian=False) if state is None else state

    def test(
        self,
        channel: int,
        *,
        draws: int = DRAWS,
        grid: np.ndarray | None = None,
        effect_prior: bool = True,
    ) -> NullTest | None:
        """The test of "no effect" for ``channel`` (None where unsupported); ``grid``: the
        shapes to take the supremum over (default :func:`shape_grid`); ``effect_prior``:
        whether the channel's effect prior counts as a row of stated variance, as in the
        covariance (the default; see the module docstring)."""
        if not self.supported:
            return None
        fit, obj, layout = self.fit, self.obj, self.fit.layout
        c = channel
        n_data, n_pp = obj.n_data, obj.prior_idx.size
        first_lift = n_data + n_pp
        sl = layout.nonlinear(c)
        theta0 = fit.theta.copy()
        theta0[c] = 0.0
        # The media terms without the channel: only β_c changes, so the Hill values stay.
        st = self.state
        st0 = MediaState(st.h, st.m - fit.theta[c] * st.h[c], [], None)
        r0 = self._residuals(theta0, st0)

        # Rows that are evidence: all but the tested channel's shape priors (and, unless
        # asked, its effect prior).
        keep = np.ones(obj.n_rows, dtype=bool)
        keep[first_lift + c] = effect_prior
        own = np.isin(obj.prior_idx, np.arange(sl.start, sl.stop))
        keep[n_data + np.flatnonzero(own)] = False
        # Parameters re-fitted under the null: all but the tested ones, off their bounds.
        free = np.ones(layout.size, dtype=bool)
        free[c] = False
        free[sl] = False
        th = fit.theta
        free &= (th > self.lo) & (th < self.hi)
        q = orthonormal(self.jac[np.ix_(keep, free)])

        grid = shape_grid(fit, c) if grid is None else np.atleast_2d(grid)
        x = self._beta_columns(theta0, st0, c, grid)  # (N, rows) ∂r/∂β_c under each shape
        xk = x[:, keep]
        xt = xk - (xk @ q) @ q.T
        rk = r0[keep]
        r_r = rk - q @ (q.T @ rk)

        rows = np.flatnonzero(keep)
        is_data = rows < n_data
        dfs = np.array([self._row_df(int(i)) for i in rows[~is_data]])
        stat, p = sup_score(xt, r_r, self.clusters[rows[is_data]], is_data, dfs,
                            draws=draws, seed=_SEED + c)  # fmt: skip
        return NullTest(stat, p, grid.shape[0], draws)

    def _residuals(self, theta0: np.ndarray, st0: MediaState) -> np.ndarray:
        """Every row's residual at ``θ0`` (the estimate with ``β_c = 0``), from its media."""
        obj = self.obj
        r = self.r.copy()
        r[: obj.n_data] = (obj.sw * (obj.y_proj - obj.project(np.log(st0.m)))).ravel()
        base = obj.n_data + obj.prior_idx.size  # prior rows: β_c has none
        # A Student-t effect prior's row is a transform of the standardised lift; its slope
        # at θ0 scales that row's Jacobian (1 for a normal row).
        self._slopes = np.ones(len(obj.lifts))
        for k, d in enumerate(obj.lifts):
            pred, _ = obj.lift(theta0, d, st0, gradient=False)
            r[base + k], self._slopes[k] = t_residual((pred - d.lift) / d.stderr, d.tail)
        return r

    def _row_df(self, row: int) -> float:
        """Degrees of freedom of a known row's stated error (prior rows: known, ∞)."""
        k = row - self.obj.n_data - self.obj.prior_idx.size
        return self.obj.lifts[k].df if k >= 0 else float("inf")

    def _beta_columns(
        self, theta0: np.ndarray, st0: MediaState, c: int, grid: np.ndarray
    ) -> np.ndarray:
        """(N, rows): the Jacobian column of ``β_c`` at ``β_c = 0`` under each grid shape
        (after :meth:`_residuals` at the same ``θ0``, which sets the lift rows' slopes)."""
        obj, layout = self.obj, self.fit.layout
        sl = layout.nonlinear(c)
        m0 = st0.m
        unit0 = obj.inputs.unit(theta0, layout)
        thetas = []
        for u in grid:
            tg = theta0.copy()
            tg[sl] = u
            thetas.append(tg)
        # Every shape's adstock in one product over the lag stack, then its Hill curve.
        curves = [channel_curve(layout, tg, c, float(obj.inputs.k0[c]), obj.max_lag)
                  for tg in thetas]  # fmt: skip
        adst = apply_lags(obj.inputs.lags[c], np.stack([cv.weights for cv in curves]))
        hs = np.stack([unit0 * hill(a, cv.half_saturation, cv.shape)
                       for a, cv in zip(adst, curves, strict=True)])  # fmt: skip
        out = np.zeros((grid.shape[0], obj.n_rows))
        # Data rows: r = sw (P log y − P log(1 + M)), so ∂r/∂β_c = −sw P(h_c / (1 + M)).
        d = obj.project(hs / m0[None]) * obj.sw[None]
        out[:, : obj.n_data] = -d.reshape(grid.shape[0], -1)
        base = obj.n_data + obj.prior_idx.size
        for k, lift in enumerate(obj.lifts):
            cells = lift.cells(m0.shape)
            share = lift.y / m0[cells]
            h_cells = hs[(slice(None), *cells)]
            if lift.channel == c:
                if lift.lags_cf is None:
                    diff = h_cells
                else:
                    diff = h_cells - np.stack(
                        [self._counterfactual(tg, lift, c, unit0) for tg in thetas]
                    )
                out[:, base + k] = (share[None] * diff).sum(axis=(1, 2)) / lift.stderr
                out[:, base + k] *= self._slopes[k]
            else:
                # Another channel's lift depends on β_c through 1 / (1 + M).
                j = lift.channel
                h_cf = 0.0 if lift.lags_cf is None else self._counterfactual(theta0, lift, j, unit0)
                a = share * theta0[j] * (st0.h[j][cells] - h_cf) / m0[cells]
                out[:, base + k] = -(a[None] * h_cells).sum(axis=(1, 2)) / lift.stderr
                out[:, base + k] *= self._slopes[k]
        return out

    def _counterfactual(
        self, theta: np.ndarray, lift: LiftData, c: int, unit: np.ndarray
    ) -> np.ndarray:
        """Channel ``c``'s Hill values under the lift's counterfactual spend, its cells."""
        obj = self.obj
        assert lift.lags_cf is not None
        stacks = tuple(
            lift.lags_cf if k == c else lift.lags_cf[:, :, :0]
            for k in range(self.fit.layout.n_channels)
        )
        hh, _ = hill_terms(self.fit.layout, stacks, obj.inputs.k0, theta, jacobian=False,
                           max_lag=obj.max_lag, channels=(c,), unit=unit[lift.geos, : lift.b])  # fmt: skip
        return hh[c][:, lift.a : lift.b]


def sup_score(
    x: np.ndarray,
    resid: np.ndarray,
    clusters: np.ndarray,
    is_data: np.ndarray,
    dfs: np.ndarray,
    *,
    draws: int = DRAWS,
    seed: int = _SEED,
) -> tuple[float, float]:
    """``sup_γ T(γ)`` and its multiplier-bootstrap p-value.

    ``x`` (N, rows): the tested parameter's Jacobian column under each of N shapes, the other
    parameters partialled out; ``resid`` (rows,) the restricted residuals; ``clusters`` the
    cluster of each data row (``is_data``); ``dfs`` the degrees of freedom of each other
    row's stated error (∞: normal).
    """
    contrib = -x * resid[None, :]  # each row's part of the score
    n_cl = int(clusters.max()) + 1 if clusters.size else 0
    s_g = np.zeros((n_cl, x.shape[0]))
    np.add.at(s_g, clusters, contrib[:, is_data].T)
    x_known = -x[:, ~is_data]
    # A Student-t row's variance is ν / (ν − 2); a known row's is 1.
    finite = np.isfinite(dfs) & (dfs > 2)
    var_known = np.ones(dfs.size)
    var_known[finite] = dfs[finite] / (dfs[finite] - 2)
    score = contrib.sum(axis=1)
    v = (s_g * s_g).sum(axis=0) + (x_known**2 * var_known[None]).sum(axis=1)
    sd = np.sqrt(np.maximum(v, 1e-300))
    stat = float(np.max(score / sd))
    # The same draws for every shape: the bootstrap keeps the score process's correlation
    # across γ, which is what the supremum's distribution depends on.
    rng = np.random.default_rng(seed)
    xi = rng.choice(np.array([-1.0, 1.0]), size=(draws, n_cl))
    zeta = np.empty((draws, dfs.size))
    for j, df in enumerate(dfs):
        zeta[:, j] = rng.standard_t(df, draws) if np.isfinite(df) else rng.standard_normal(draws)
    sup = ((xi @ s_g + zeta @ x_known.T) / sd[None, :]).max(axis=1)
    return stat, float((1 + np.count_nonzero(sup >= stat)) / (draws + 1))
