"""The pair equations' regressions and draws, and the joint uncertainty of sums across them
(see :mod:`causal_svc.products.estimate` for the model).

**The net of a promotion.** Whether a promotion "mostly cannibalises" is a claim about a sum:
the promoted product's own lift plus its revenue changes on every sibling. Each term comes
from a different equation (the lift from the promoted product's, each change from the
sibling's), but their errors are not independent: the equations share days and their
demand shocks, and every change reads the same predicted lift of the promoted product, so a
transform draw that makes that lift larger moves every change together. The sum of the
terms' standard deviations bounds the sum's whatever their correlation, and on simulator
worlds it is so wide that no promotion was ever shown to cannibalise most of its lift
(``bench/products_moves.py``). The sum's variance is built as each pair's is, with both of
its parts taken jointly:

- *sampling*: each equation's coefficient error is, to first order, the sum over its days of
  its influence ``(X'X)^-1 x_t e_t`` (the HAC sandwich's own pieces, with its small-sample
  factor). The sum's influence on day ``t`` adds the terms' across equations, and its
  Newey–West variance (Bartlett, the pairs' lags) keeps every equation's own serial
  correlation and the shocks their days share, at lags too. For one term it is exactly the
  pair's HAC variance.
- *the category transform*: in each of the pairs' transform draws the whole sum is rebuilt
  (the lift and every change refitted in that draw), and its spread over the draws is added,
  as for one pair (Murphy & Topel 1985).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from statsmodels.regression.linear_model import OLS

from causal_svc.products.category import (
    LOG_M,
    MAX_DECAY,
    CategoryFit,
    newey_west,
    per_product,
    unit_returns,
)

__all__ = [
    "Design",
    "HacFit",
    "cell_gradient",
    "channel_returns",
    "hac",
    "hac_fit",
    "nw_variance",
    "poisson_root",
    "poisson_wls",
    "predicted_lifts",
    "transform_spread",
]


@dataclass(frozen=True, slots=True)
class HacFit:
    """OLS with Newey–West errors; NaN (params, bse) for a column left out."""

    params: np.ndarray
    bse: np.ndarray
    cov: np.ndarray
    # (n, k) day t's first-order contribution to ``params`` less the truth, scaled by the HAC
    # small-sample factor sqrt(n / (n - k)): ``nw_variance(influence @ g)`` is ``g' cov g``.
    influence: np.ndarray


def hac_fit(y: np.ndarray, x: np.ndarray, lags: int) -> HacFit:
    """OLS with Newey–West errors; a column that adds nothing to the ones before it (a
    launch step that coincides with a holiday, a product no channel spent on) is left out and
    comes back as NaN."""
    _, r = np.linalg.qr(x / np.maximum(np.abs(x).max(axis=0), 1e-12))
    keep = np.abs(np.diag(r)) > 1e-8
    fit = OLS(y, x[:, keep]).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    params = np.full(x.shape[1], np.nan)
    bse = np.full(x.shape[1], np.nan)
    cov = np.zeros((x.shape[1], x.shape[1]))
    params[keep] = fit.params
    bse[keep] = fit.bse
    cov[np.ix_(keep, keep)] = fit.cov_params()
    n, k = x.shape[0], int(keep.sum())
    influence = np.zeros((n, x.shape[1]))
    bread = np.asarray(fit.normalized_cov_params)
    influence[:, keep] = (x[:, keep] * np.asarray(fit.resid)[:, None]) @ bread
    influence *= np.sqrt(n / (n - k))
    return HacFit(params, bse, cov, influence)


def hac(y: np.ndarray, x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(params, bse, cov)`` of :func:`hac_fit`."""
    f = hac_fit(y, x, lags)
    return f.params, f.bse, f.cov


def channel_returns(
    y: np.ndarray, x_cat: np.ndarray, z: list[np.ndarray], z_total: list[np.ndarray]
) -> np.ndarray:
    """:func:`causal_svc.products.category.unit_returns` of the per-product fit refitted at a
    drawn transform (``transform_spread``); at the category's own transform they are
    ``CategoryFit.returns``, which needs no fit. ``z``: per channel (P, T); ``z_total``: per
    channel (T,)."""
    cols = [zc[zc.std(axis=1) > 0] for zc in z]
    x = np.column_stack([x_cat, *[c.T for c in cols]])
    scale = np.maximum(np.abs(x).max(axis=0), 1e-12)
    b = np.linalg.lstsq(x / scale, y, rcond=None)[0] / scale
    media, at = np.zeros(len(z)), x_cat.shape[1]
    for i, c in enumerate(cols):
        media[i] = float((c.T @ b[at : at + len(c)]).sum())
        at += len(c)
    return unit_returns(media, z_total)


def predicted_lifts(beta: np.ndarray, z: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each product's predicted lift ``zeta[r] = sum_c beta[c] z[c, r]`` (T,), the pair
    regressors; ``beta`` (C,) the channels' returns, ``z`` per channel (P, T)."""
    return [sum(beta[i] * z[i][r] for i in range(len(z))) for r in range(z[0].shape[0])]


def nw_variance(series: np.ndarray, lags: int) -> float:
    """Newey–West (Bartlett) variance of the sum over days of ``series`` (T,)."""
    return float(newey_west(series[:, None], lags)[0, 0])


def poisson_root(y: np.ndarray, x: np.ndarray, discount: np.ndarray, lags: int) -> np.ndarray:
    """Square roots of a product's compound-Poisson weights (see :func:`poisson_wls`)."""
    params, _, _ = hac(y, x, lags)
    keep = np.isfinite(params)
    mu = x[:, keep] @ params[keep]
    level = max(float(np.mean(np.abs(mu))), 1e-12)
    var = np.maximum(mu, 0.2 * level) * np.clip(1.0 - discount, 0.05, 1.0)
    return 1.0 / np.sqrt(var / float(np.mean(var)))


def poisson_wls(
    y: np.ndarray, x: np.ndarray, discount: np.ndarray, lags: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hac` weighted by the inverse of a product's daily revenue variance.

    A product's revenue is a count of line items times their net price, so its variance is
    proportional to its mean times the net price, ``mu[t] (1 - discount[t])`` (compound
    Poisson). Days of high demand (peak season, a discount event, Black Friday) are the
    noisiest, and ordinary least squares gives them as much say as a quiet day. ``mu`` is
    the unweighted fit's, floored at a fifth of its mean so that days with no expected sales
    (before a launch) cannot take all the weight.
    """
    root = poisson_root(y, x, discount, lags)
    return hac(y * root, x * root[:, None], lags)


def cell_gradient(
    i: int,
    r: int,
    size: int,
    n0: int,
    own_idx: list[int],
    sibs: list[int],
    z: tuple[np.ndarray, ...],
    beta: np.ndarray,
    on_sale: np.ndarray,
) -> np.ndarray:
    """The weights that turn product ``r``'s pair-equation coefficients into channel ``i``'s
    incremental revenue of it: the sum of its own regressor, and of channel ``i``'s part of
    each sibling's predicted lift while ``r`` is on sale."""
    g = np.zeros(size)
    if i in own_idx:
        g[n0 + own_idx.index(i)] = z[i][r].sum()
    for k, s in enumerate(sibs):
        g[n0 + len(own_idx) + k] = float(np.sum(beta[i] * z[i][s] * on_sale))
    return g


# One pair equation as fitted: controls, own channels with a regressor, on-sale mask,
# siblings, square-root weights, and which columns the point fit kept.
Design = tuple[np.ndarray, list[int], np.ndarray, list[int], np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class Spread:
    """Variances over the transform draws (see :func:`transform_spread`)."""

    pairs: dict[tuple[int, int], float]  # (product, sibling index) -> var
    cells: dict[tuple[int, int], float]  # (product, channel) -> var
    # promoted product -> variances of its lift, of its changes' sum, and of the two together
    nets: dict[int, tuple[float, float, float]]


def transform_spread(
    spend: np.ndarray,
    revenue: np.ndarray,
    y: np.ndarray,
    fit: CategoryFit,
    x_cat: np.ndarray,
    channel_of: list[int],
    designs: dict[int, Design],
    draws: int,
) -> Spread:
    """Variance of each pair effect, of each channel x product cell and of each promoted
    product's net (its lift plus its change on every sibling) over draws of the category's
    transform; ``spend`` (C, P, T) and ``revenue`` (P, T) are the category's products'.

    The siblings' predicted lifts are generated regressors: the category's estimated decay
    and saturation shape them, and the pair equation's own variance treats them as known.
    Drawing the transform from its sandwich covariance (Krinsky & Robb 1986), rebuilding the
    lifts and refitting every pair equation (same weights) gives the spread that estimate
    adds; it is added to the pair's variance, as in a two-step (Murphy–Topel) correction.
    A channel x product cell is rebuilt in each draw too (its own regressor's sum and the
    siblings' lifts change with the transform, not only the coefficients), and so is each
    net, whole, in the same draw (its terms move together).
    """
    if draws <= 0 or fit.theta_cov is None or not np.any(fit.theta_cov):
        return Spread({}, {}, {})
    rng = np.random.default_rng(20)
    lo = np.array([v for _ in channel_of for v in (0.0, LOG_M[0])])
    hi = np.array([v for _ in channel_of for v in (MAX_DECAY, LOG_M[1])])
    thetas = rng.multivariate_normal(fit.theta, fit.theta_cov, draws, method="eigh")
    effs: dict[tuple[int, int], list[float]] = {}
    cells: dict[tuple[int, int], list[float]] = {}
    nets: dict[int, list[tuple[float, float]]] = {}
    for th in np.clip(thetas, lo, hi):
        parts = [
            per_product(spend[c], float(th[2 * i]), float(th[2 * i + 1]))
            for i, c in enumerate(channel_of)
        ]
        z = tuple(p[0] for p in parts)
        beta = channel_returns(y, x_cat, list(z), [p[1] for p in parts])
        n_p = revenue.shape[0]
        zeta = predicted_lifts(beta, z)
        lift, change = np.zeros(n_p), np.zeros(n_p)
        for r, (xq, own_idx, on_sale, sibs, root, kept) in designs.items():
            cross = [zeta[s] * on_sale for s in sibs]
            own = [z[i][r] for i in own_idx]
            xs = np.column_stack([xq, *own, *cross])
            phi = np.zeros(xs.shape[1])
            phi[kept], *_ = np.linalg.lstsq(xs[:, kept] * root[:, None], revenue[r] * root)
            n0 = xq.shape[1] + len(own_idx)
            lift[r] = float(sum(phi[xq.shape[1] + j] * o.sum() for j, o in enumerate(own)))
            for k, c in enumerate(cross):
                eff = float(phi[n0 + k] * c.sum())
                effs.setdefault((r, k), []).append(eff)
                change[sibs[k]] += eff
            for i in range(len(channel_of)):
                g = cell_gradient(i, r, len(phi), xq.shape[1], own_idx, sibs, z, beta, on_sale)
                cells.setdefault((r, i), []).append(float(phi @ g))
        for r in designs:
            nets.setdefault(r, []).append((float(lift[r]), float(change[r])))
    return Spread(
        {key: float(np.var(v, ddof=1)) for key, v in effs.items()},
        {key: float(np.var(v, ddof=1)) for key, v in cells.items()},
        {key: _variances(np.array(v)) for key, v in nets.items()},
    )


def _variances(draws: np.ndarray) -> tuple[float, float, float]:
    """Variances of the columns of (draws, 2) and of their sum."""
    var = np.var(draws, axis=0, ddof=1)
    return float(var[0]), float(var[1]), float(np.var(draws.sum(axis=1), ddof=1))
