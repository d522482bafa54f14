"""One category's equation: revenue on each channel's per-product adstocked, saturated spend,
the transform profiled, and inference that includes the transform's own uncertainty.

The model (see :mod:`causal_svc.products.estimate` for why)::

    y[t] = W[t] gamma + sum_c sum_p b[c, p] z[c, p, t](decay_c, m_c) + e[t]
    z[c, p, t] = Z[c, t] a[c, p, t] / A[c, t],   Z = K hill(A / K),  K = m_c x mean(A > 0)

Each product keeps its own coefficient ``b[c, p]``: the category's net return on promoting
that product (its lift plus the halo it spreads, less what it takes from its substitute).
One pooled coefficient per channel would weight products by how much their spend happens to
vary, not by how much was spent on them. ``(decay_c, log m_c)`` are chosen on a grid and then
refined by bounded quasi-Newton on the profiled sum of squares; the covariance is the
nonlinear least-squares sandwich — the Jacobian includes the derivatives in the decay and
the saturation, so the interval of ``sum_p b[c, p] sum_t z[c, p, t]`` carries the
transform's uncertainty — with a Newey–West meat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from causal_svc.products.design import DECAYS, SATURATIONS, adstock

__all__ = [
    "MARGINAL_DRAWS",
    "MARGINAL_LOG_M_MAX",
    "CategoryFit",
    "CategoryProblem",
    "Marginal",
    "average_saturation",
    "fit_category",
    "marginal_return",
    "newey_west",
    "per_product",
    "pool_decays",
    "unit_returns",
]

MAX_DECAY = 0.9
LOG_M = (np.log(0.25), np.log(10.0))  # 10 x mean adstock: all but linear over the data
# Draws of (coefficients, transform) per saturation candidate for the marginal return's
# interval: its 5% and 95% quantiles move by < 0.01 of the width between 200 and 1,000 on
# seed 1 (the extra cost is the draws' adstocks, ~0.1 s a world).
MARGINAL_DRAWS = 200
# The marginal's mixture over the saturation candidates weighs each by its likelihood ratio
# to the power 1 / MARGINAL_TEMPER (a tempered, "power" likelihood: Holmes & Walker 2017,
# Biometrika 104(2)). The response model is misspecified (one decay per channel on a 0.1 grid
# — google_shopping's came out 0.4 where the truth was 0.13-0.24 on seeds 20-22 — and daily
# flights the steady state ignores), and with the plain ratio the best saturation took nearly
# all the weight: the intervals covered the truth's marginal in ~80% of cells, every miss
# below it. 10 was chosen on the tuning seeds 0-19 (coverage 1: 81%, 3: 84%, 10: 90.2%) and
# checked on held-out seeds 20-39 (bench/products_moves.py). The revenue average keeps the
# plain ratio (its intervals cover at the nominal rate: bench/products_accuracy.py).
MARGINAL_TEMPER = 10.0
# Upper clip of the saturation multiple in the marginal's draws: 100 x mean adstock, where the
# slope factor 1 / (1 + A/K)^2 is within 2% of linear at the mean. The fit keeps LOG_M's 10x
# (it steadies the point estimate), but clipping the draws there piled every draw that said
# "less saturated" onto 10x, whose factor is 0.83 at the mean and less on high-spend days: the
# intervals could not reach a nearly linear curve, and every miss lay below the truth. With
# 100x, coverage of the truth's marginal went 90.2 -> 93.3% on seeds 0-19, 85.9 -> 89.9% on
# seeds 20-39 (bench/products_moves.py; chosen as "effectively linear", not tuned).
MARGINAL_LOG_M_MAX = float(np.log(100.0))


def _shares(spend: np.ndarray, decay: float, log_m: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``(A (T,), a / A (P, T), K)`` of one channel's spend (P, T): the category's adstock,
    each product's share of it (0 on a day with none) and the half-saturation ``K``, ``m``
    times the mean positive adstock (inf when there is none)."""
    ad = adstock(spend, decay)
    total = ad.sum(axis=0)
    positive = total[total > 0]
    k = float(np.exp(log_m) * positive.mean()) if positive.size else np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, ad / total, 0.0)
    return total, share, k


def per_product(
    spend: np.ndarray, decay: float, log_m: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(z (P, T), Z (T,), K)`` of one channel's spend (P, T) under one transform; ``Z = K
    hill(A / K)`` keeps a coefficient a return per unit of spend at low spend, whatever ``K``."""
    total, share, k = _shares(spend, decay, log_m)
    z_total = total / (1.0 + total / k)  # Z = A where K is inf (nothing spent)
    return z_total[None, :] * share, z_total, k


def newey_west(scores: np.ndarray, lags: int) -> np.ndarray:
    """Bartlett-kernel long-run covariance of the rows of ``scores`` (T, K)."""
    s = scores - 0.0
    out = s.T @ s
    for lag in range(1, lags + 1):
        w = 1.0 - lag / (lags + 1.0)
        g = s[lag:].T @ s[:-lag]
        out += w * (g + g.T)
    return out


def unit_returns(incremental: np.ndarray, z_total: Sequence[np.ndarray]) -> np.ndarray:
    """One return per channel from a category's revenue: the per-product fit's incremental
    revenue of the channel over its regressor's sum, ``sum_p b[c, p] sum_t z[c, p, t] / sum_t
    Z[c, t]``, and never below zero (see "Pair equations" in
    :mod:`causal_svc.products.estimate`). ``incremental`` (C,); ``z_total``: per channel (T,)."""
    out = np.zeros(len(z_total))
    for i, zt in enumerate(z_total):
        total = float(zt.sum())
        out[i] = max(float(incremental[i]), 0.0) / total if total > 0 else 0.0
    return out


@dataclass(frozen=True, slots=True)
class CategoryFit:
    decay: tuple[float, ...]  # per active channel
    log_m: tuple[float, ...]
    half_saturation: tuple[float, ...]
    z: tuple[np.ndarray, ...]  # per active channel (P, T)
    z_total: tuple[np.ndarray, ...]  # per active channel (T,)
    coef: tuple[np.ndarray, ...]  # per active channel (P,) b[c, p] (0 where not identified)
    incremental: np.ndarray  # (C,) sum_p b sum_t z
    stderr: np.ndarray  # (C,)
    residual_sd: float
    sse: float
    theta: np.ndarray
    # Sandwich covariance of theta (zero rows/columns for a parameter held fixed): what the
    # pair equations draw from to carry the transform's uncertainty into their regressors.
    theta_cov: np.ndarray | None = None
    # Joint sandwich covariance of [the live coefficients of every channel, in order; theta]:
    # what the marginal return draws from (the slope and the saturation move together).
    coef_theta_cov: np.ndarray | None = None

    @property
    def returns(self) -> np.ndarray:
        """(C,) :func:`unit_returns` of this fit: what scales each product's predicted lift."""
        return unit_returns(self.incremental, self.z_total)


def marginal_return(
    spend: np.ndarray, decay: float, log_m: float, coef: np.ndarray
) -> tuple[float, float]:
    """``(marginal, initial)`` return per unit of one channel's spend (P, T) in a category.

    ``marginal``: the revenue of scaling every day's spend on every product by ``1 + eps``,
    per unit of spend added, as ``eps -> 0`` (the campaign's next unit at its current flight
    pattern)::

        sum_p b[p] sum_t share[p, t] A[t] / (1 + A[t]/K)^2 / sum_{p, t} s[p, t]

    ``K`` is the response's half-saturation (fixed: it is the curve's, not the spend's).
    ``initial``: the slope at zero spend, the same with ``(1 + A/K)^2`` dropped (spend-weighted
    ``b``). Each product's coefficient ``b[p]`` (0 where not identified) weighs its share.

    The marginal hangs on ``K`` far more than the cell's total does, so its interval is drawn,
    not rescaled from the total's (:func:`average_saturation`): rescaling the total's interval
    by the point marginal / average ratio, as Recommend did before, covered the truth's
    marginal in about half of the cells (``bench/products_moves.py``).
    """
    total, share, k = _shares(spend, decay, log_m)
    spent = float(spend.sum())
    if not np.isfinite(k) or spent <= 0:
        return 0.0, 0.0
    weighted = coef @ share  # (T,): the day's return per unit of category adstock at zero
    return (
        float(weighted @ (total / (1.0 + total / k) ** 2)) / spent,
        float(weighted @ total) / spent,
    )


def _marginal_draws(
    problem: CategoryProblem,
    fit: CategoryFit,
    draws: int,
    rng: np.random.Generator,
    only: int | None = None,
) -> np.ndarray:
    """(draws, C) marginal returns with coefficients and transform drawn jointly from the
    fit's sandwich covariance (Krinsky & Robb 1986), the transform clipped to its bounds (the
    saturation at :data:`MARGINAL_LOG_M_MAX`, nearly linear, not the fit's 10x);
    ``only``: fill that channel's column alone (the others stay 0)."""
    n_c = len(problem.spend)
    live = [np.flatnonzero(m) for m in problem.live]
    sizes = [len(ix) for ix in live]
    mean = np.concatenate([*(fit.coef[c][live[c]] for c in range(n_c)), fit.theta])
    cov = fit.coef_theta_cov
    if cov is None or not np.all(np.isfinite(cov)):
        cov = np.zeros((mean.size, mean.size))
    sample = rng.multivariate_normal(mean, cov, draws, method="eigh")
    lo = np.array([v for _ in range(n_c) for v in (0.0, LOG_M[0])])
    hi = np.array([v for _ in range(n_c) for v in (MAX_DECAY, MARGINAL_LOG_M_MAX)])
    offs = np.cumsum([0, *sizes])
    theta = np.clip(sample[:, offs[-1] :], lo, hi)
    out = np.zeros((draws, n_c))
    for c in range(n_c) if only is None else (only,):
        b = np.zeros((draws, problem.spend[c].shape[0]))
        b[:, live[c]] = sample[:, offs[c] : offs[c + 1]]
        out[:, c] = _marginal_many(problem.spend[c], theta[:, 2 * c], theta[:, 2 * c + 1], b)
    return out


def _marginal_many(
    spend: np.ndarray, decay: np.ndarray, log_m: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """:func:`marginal_return`'s marginal for D draws at once: ``decay, log_m`` (D,), ``coef``
    (D, P). The adstock runs over the days for every draw together (a loop of T small array
    steps instead of D filters: the draws were ~40% of an analysis one by one)."""
    n_p, n_t = spend.shape
    spent = float(spend.sum())
    d = decay[:, None]
    ad = np.empty((decay.shape[0], n_p, n_t))
    carry = np.zeros((decay.shape[0], n_p))
    for t in range(n_t):
        carry = (1.0 - d) * spend[:, t] + d * carry
        ad[:, :, t] = carry
    total = ad.sum(axis=1)  # (D, T)
    on = total > 0
    count = on.sum(axis=1)
    if spent <= 0:
        return np.zeros(decay.shape[0])
    k = np.exp(log_m) * (total * on).sum(axis=1) / np.maximum(count, 1)
    share = np.where(on[:, None, :], ad / np.where(on, total, 1.0)[:, None, :], 0.0)
    weighted = np.einsum("dp,dpt->dt", coef, share)
    slope = total / (1.0 + total / np.where(k > 0, k, np.inf)[:, None]) ** 2
    return np.where(count > 0, (weighted * slope).sum(axis=1) / spent, 0.0)


def _columns(
    spend: list[np.ndarray], theta: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    zs, totals, ks = [], [], []
    for c, s in enumerate(spend):
        z, zt, k = per_product(s, float(theta[2 * c]), float(theta[2 * c + 1]))
        zs.append(z)
        totals.append(zt)
        ks.append(k)
    return zs, totals, ks


class CategoryProblem:
    """One category's data and its profiled sum of squares in the transform parameters
    ``theta = [decay_0, log m_0, decay_1, log m_1, ...]`` (one pair per active channel)."""

    def __init__(self, y: np.ndarray, w: np.ndarray, spend: list[np.ndarray]) -> None:
        self.y, self.w, self.spend = y, w, spend
        q, r = np.linalg.qr(w)
        diag = np.abs(np.diag(r))
        self.basis = q[:, diag > 1e-9 * max(1.0, float(diag.max()))]
        self.y_res = self.res(y)
        self.live = [s.sum(axis=1) > 0 for s in spend]  # products each channel spent on

    def res(self, v: np.ndarray) -> np.ndarray:
        return v - self.basis @ (self.basis.T @ v)

    def sse(self, theta: np.ndarray) -> float:
        zs, _, _ = _columns(self.spend, theta)
        cols = self.res(np.column_stack([z[m].T for z, m in zip(zs, self.live, strict=True)]))
        coef, *_ = np.linalg.lstsq(cols, self.y_res, rcond=None)
        e = self.y_res - cols @ coef
        return float(e @ e)

    def grid(
        self, theta: np.ndarray, c: int, decays: tuple[float, ...]
    ) -> tuple[float, np.ndarray]:
        """The best (SSE, theta) over channel ``c``'s grid, the others held."""
        best = (np.inf, theta)
        for d in decays:
            for m in SATURATIONS:
                trial = theta.copy()
                trial[2 * c] = d
                trial[2 * c + 1] = np.log(m) if np.isfinite(m) else LOG_M[1]
                val = self.sse(trial)
                if val < best[0]:
                    best = (val, trial)
        return best


def pool_decays(
    problems: list[CategoryProblem], channels: list[list[int]], n_channels: int
) -> tuple[list[np.ndarray], list[float]]:
    """One decay per channel shared by every category (carryover is the channel's: how long a
    catalogue ad or a shopping click keeps selling, not the category's), chosen on the grid by
    the summed profiled SSE; each category keeps its own saturation.

    ``channels[k]`` lists the channel index of each active channel of category ``k``.
    Returns each category's starting theta and the decay per channel.
    """
    thetas = [np.array([v for _ in ch for v in (0.3, LOG_M[1])]) for ch in channels]
    decay = [0.3] * n_channels
    for _ in range(2):
        for c in range(n_channels):
            best = (np.inf, decay[c], thetas)
            for d in DECAYS:
                total, trial = 0.0, []
                for pr, ch, th in zip(problems, channels, thetas, strict=True):
                    if c in ch:
                        val, t2 = pr.grid(th, ch.index(c), (d,))
                        total += val
                        trial.append(t2)
                    else:
                        trial.append(th)
                if total < best[0]:
                    best = (total, d, trial)
            decay[c], thetas = best[1], best[2]
    return thetas, decay


def fit_category(
    problem: CategoryProblem,
    theta: np.ndarray,
    *,
    hac_lags: int,
    refine_decay: bool = False,
    refine: bool = True,
) -> CategoryFit:
    """Refine the saturations (and the decays when ``refine_decay``) from ``theta``, then fit
    and draw inference; every transform parameter is free in the Jacobian (the decays too,
    and one on its bound), so the interval carries their uncertainty."""
    y, w, spend, live = problem.y, problem.w, problem.spend, problem.live
    y_res = problem.res(y)
    sse = problem.sse
    bounds = []
    for c in range(len(spend)):
        d = float(theta[2 * c])
        bounds += [(0.0, MAX_DECAY) if refine_decay else (d, d), LOG_M]
    scale = np.array([v for _ in spend for v in (1.0, 0.2)])
    if refine:
        opt = minimize(
            lambda u: sse(u * scale) / max(float(y_res @ y_res), 1e-12),
            theta / scale,
            method="L-BFGS-B",
            bounds=[(lo / s, hi / s) for (lo, hi), s in zip(bounds, scale, strict=True)],
        )
        if opt.fun * float(y_res @ y_res) <= sse(theta):
            theta = np.asarray(opt.x) * scale
    jac_bounds = [b for _ in spend for b in ((0.0, MAX_DECAY), LOG_M)]
    zs, totals, ks = _columns(spend, theta)
    blocks = [z[m].T for z, m in zip(zs, live, strict=True)]
    x_lin = np.column_stack([w, *blocks])
    params, *_ = np.linalg.lstsq(x_lin, y, rcond=None)
    fitted = x_lin @ params
    e = y - fitted
    n_w = w.shape[1]
    sizes = [b.shape[1] for b in blocks]
    offs = np.cumsum([n_w, *sizes])
    coefs = [params[offs[c] : offs[c] + sizes[c]] for c in range(len(spend))]

    def quantity(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fitted values, per-channel incremental) at the linear coefficients above."""
        z2, _, _ = _columns(spend, th)
        f = w @ params[:n_w]
        inc = np.zeros(len(spend))
        for c, (z, m) in enumerate(zip(z2, live, strict=True)):
            contrib = coefs[c] @ z[m]
            f = f + contrib
            inc[c] = float(contrib.sum())
        return f, inc

    # Jacobian of the fit and gradient of each channel's incremental in the nonlinear
    # parameters, by central differences; a parameter on its bound is held fixed.
    free, j_cols, g_rows = [], [], []
    for i, (lo, hi) in enumerate(jac_bounds):
        # A parameter on its bound keeps its uncertainty (one-sided difference): holding it
        # fixed there would claim the data pinned it, when they only ran out of grid.
        h = 1e-2 if i % 2 == 0 else 5e-2
        up, dn = theta.copy(), theta.copy()
        up[i] = min(theta[i] + h, hi)
        dn[i] = max(theta[i] - h, lo)
        if up[i] - dn[i] <= 0:
            continue
        f_up, q_up = quantity(up)
        f_dn, q_dn = quantity(dn)
        free.append(i)
        j_cols.append((f_up - f_dn) / (up[i] - dn[i]))
        g_rows.append((q_up - q_dn) / (up[i] - dn[i]))
    jac = np.column_stack([x_lin, *j_cols]) if j_cols else x_lin
    bread = np.linalg.pinv(jac.T @ jac)
    n, k = jac.shape
    meat = newey_west(jac * e[:, None], hac_lags)
    cov = bread @ meat @ bread * n / max(n - np.linalg.matrix_rank(jac), 1)
    inc = np.zeros(len(spend))
    se = np.zeros(len(spend))
    for c in range(len(spend)):
        g = np.zeros(k)
        g[offs[c] : offs[c] + sizes[c]] = zs[c][live[c]].sum(axis=1)
        for j, _ in enumerate(free):
            g[x_lin.shape[1] + j] = g_rows[j][c]
        inc[c] = float(coefs[c] @ zs[c][live[c]].sum(axis=1))
        se[c] = float(np.sqrt(max(g @ cov @ g, 0.0)))
    full_coefs = []
    for c in range(len(spend)):
        b = np.zeros(spend[c].shape[0])
        b[live[c]] = coefs[c]
        full_coefs.append(b)
    return CategoryFit(
        tuple(float(theta[2 * c]) for c in range(len(spend))),
        tuple(float(theta[2 * c + 1]) for c in range(len(spend))),
        tuple(ks),
        tuple(zs),
        tuple(totals),
        tuple(full_coefs),
        inc,
        se,
        float(np.sqrt(e @ e / max(n - k, 1))),
        float(e @ e),
        theta,
        _theta_cov(cov, free, x_lin.shape[1], theta.shape[0]),
        _coef_theta_cov(cov, free, n_w, x_lin.shape[1], theta.shape[0]),
    )


def _theta_cov(cov: np.ndarray, free: list[int], offset: int, size: int) -> np.ndarray:
    out = np.zeros((size, size))
    idx = [offset + j for j in range(len(free))]
    out[np.ix_(free, free)] = cov[np.ix_(idx, idx)]
    return out


def _coef_theta_cov(cov: np.ndarray, free: list[int], n_w: int, n_x: int, size: int) -> np.ndarray:
    """Covariance of [live coefficients, theta] (zeros for a transform parameter held)."""
    n_b = n_x - n_w
    idx = list(range(n_w, n_x))
    out = np.zeros((n_b + size, n_b + size))
    out[:n_b, :n_b] = cov[np.ix_(idx, idx)]
    pos = [n_b + i for i in free]
    tix = [n_x + j for j in range(len(free))]
    out[np.ix_(pos, pos)] = cov[np.ix_(tix, tix)]
    out[np.ix_(range(n_b), pos)] = cov[np.ix_(idx, tix)]
    out[np.ix_(pos, range(n_b))] = cov[np.ix_(tix, idx)]
    return out


@dataclass(frozen=True, slots=True)
class Marginal:
    """Per active channel of a category: the marginal return at the period's spend (point, and
    the ``1 - alpha`` interval from the draws mixed over the saturation candidates) and the
    slope at zero, all of the best fit's point except the interval and the mixed point."""

    estimate: np.ndarray  # (C,)
    low: np.ndarray
    high: np.ndarray
    initial: np.ndarray


def _weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]
) -> list[float]:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    cum = (cum - 0.5 * weights[order]) / cum[-1]
    return [float(np.interp(q, cum, values[order])) for q in qs]


def average_saturation(
    problem: CategoryProblem,
    best: CategoryFit,
    *,
    hac_lags: int,
    alpha: float = 0.10,
    draws: int = MARGINAL_DRAWS,
    grid: bool = True,
) -> tuple[np.ndarray, np.ndarray, Marginal]:
    """Each channel's incremental revenue and standard error averaged over its saturation
    grid (the other channels at their best), weighted by profile likelihood; and its marginal
    return at the period's spend with a ``1 - alpha`` interval over the same candidates.

    The saturation is often weakly identified — the profile is flat between "mildly concave"
    and "linear" — and the total it implies is not: picking one point and reporting its
    interval understates the uncertainty. The averaged variance adds the spread between
    candidates (smoothed-AIC model averaging; Buckland, Burnham & Augustin 1997, Biometrics
    53(2)).

    The marginal return depends on the saturation far more than the total does (its slope
    falls as ``1 / (1 + A/K)^2``), so its interval is not the total's rescaled: each
    candidate's coefficients and transform are drawn jointly from its sandwich covariance
    (:func:`_marginal_draws`), and the interval is the quantiles of those draws mixed with
    the candidates' weights. ``grid=False`` keeps the best fit alone (its draws).
    """
    n = problem.y.shape[0]
    n_c = len(problem.spend)
    inc = best.incremental.copy()
    se = best.stderr.copy()
    rng = np.random.default_rng(21)
    best_draws = _marginal_draws(problem, best, draws, rng)
    point = np.zeros(n_c)
    initial = np.zeros(n_c)
    low, high = np.zeros(n_c), np.zeros(n_c)
    q = (alpha / 2.0, 1.0 - alpha / 2.0)
    for c in range(n_c):
        b = best.coef[c]
        m_best, initial[c] = marginal_return(problem.spend[c], best.decay[c], best.log_m[c], b)
        cands = [(best.sse, best.incremental[c], best.stderr[c], m_best, best_draws[:, c])]
        for m in SATURATIONS if grid else ():
            th = best.theta.copy()
            th[2 * c + 1] = np.log(m) if np.isfinite(m) else LOG_M[1]
            if abs(th[2 * c + 1] - best.theta[2 * c + 1]) < 1e-6:
                continue
            f = fit_category(problem, th, hac_lags=hac_lags, refine=False)
            mc, _ = marginal_return(problem.spend[c], f.decay[c], f.log_m[c], f.coef[c])
            d = _marginal_draws(problem, f, draws, rng, only=c)[:, c]
            cands.append((f.sse, f.incremental[c], f.stderr[c], mc, d))
        sse = np.array([x[0] for x in cands])
        w = np.exp(-0.5 * n * np.log(sse / sse.min()))
        w /= w.sum()
        est = np.array([x[1] for x in cands])
        var = np.array([x[2] for x in cands]) ** 2
        inc[c] = float(w @ est)
        se[c] = float(np.sqrt(w @ (var + (est - inc[c]) ** 2)))
        w = np.exp(-0.5 * n * np.log(sse / sse.min()) / MARGINAL_TEMPER)
        w /= w.sum()
        point[c] = float(w @ np.array([x[3] for x in cands]))
        values = np.concatenate([x[4] for x in cands])
        weights = np.concatenate(
            [np.full(len(x[4]), wj / len(x[4])) for x, wj in zip(cands, w, strict=True)]
        )
        low[c], high[c] = _weighted_quantiles(values, weights, q)
    return inc, se, Marginal(point, low, high, initial)
