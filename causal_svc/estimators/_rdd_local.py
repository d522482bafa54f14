"""Local-polynomial RD machinery: MSE-optimal bandwidth and robust bias-corrected inference.

A re-implementation of the default path of ``rdrobust`` 2.1 (Calonico, Cattaneo & Titiunik 2014;
Calonico, Cattaneo & Farrell 2020): ``bwselect="mserd"``, ``vce="nn"`` with ``nnmatch=3`` (or
``cr1`` when clustered), ``masspoints="adjust"``, ``bwrestrict=True``, ``stdvars=True``,
``scaleregul=1``, no covariates. Each side of the cutoff is a :class:`Side`; the outcome (and,
for a fuzzy design, the treatment) are the columns of ``Side.d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ._inference import cluster_sums

_EPS_PAD = 1.0 + math.sqrt(np.finfo(float).eps)
# rdrobust's pilot-bandwidth constants C_c per kernel (rdbwselect).
_PILOT_CONSTANT = {"triangular": 2.576, "epanechnikov": 2.34, "uniform": 1.843}


@dataclass(frozen=True, slots=True)
class Side:
    """Observations on one side of the cutoff, sorted by the running variable."""

    x: np.ndarray  # (n,)
    d: np.ndarray  # (n, 1 + dT): outcome, then treatment for a fuzzy design
    cluster: np.ndarray | None  # (n,) integer codes
    fw: np.ndarray | None  # (n,) frequency/sampling weights

    def take(self, keep: np.ndarray) -> Side:
        return Side(
            self.x[keep],
            self.d[keep],
            None if self.cluster is None else self.cluster[keep],
            None if self.fw is None else self.fw[keep],
        )

    def scaled(self, x_sd: float, y_sd: float) -> Side:
        d = self.d.copy()
        d[:, 0] /= y_sd
        return Side(self.x / x_sd, d, self.cluster, self.fw)

    def outcome_only(self) -> Side:
        return Side(self.x, self.d[:, :1], self.cluster, self.fw)


@dataclass(frozen=True, slots=True)
class Fit:
    """Conventional and bias-corrected RD estimates with their standard errors."""

    tau_cl: float
    tau_bc: float
    se_cl: float
    se_rb: float
    n_h: tuple[int, int]
    n_b: tuple[int, int]
    first_stage: float | None  # fuzzy: conventional jump in the treatment
    first_stage_se: float | None


def kernel_weights(x: np.ndarray, c: float, h: float, kernel: str) -> np.ndarray:
    u = (x - c) / h
    inside = np.abs(u) <= 1
    if kernel == "epanechnikov":
        return 0.75 * (1 - u**2) * inside / h
    if kernel == "uniform":
        return 0.5 * inside / h
    return (1 - np.abs(u)) * inside / h


def _vander(u: np.ndarray, p: int) -> np.ndarray:
    return np.vander(u, p + 1, increasing=True)


def _inv_gram(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    gram = (r * w[:, None]).T @ r
    try:
        return linalg.cho_solve(linalg.cho_factor(gram, lower=True), np.eye(gram.shape[0]))
    except linalg.LinAlgError:
        return np.linalg.pinv(gram)


def nn_residuals(x: np.ndarray, d: np.ndarray, matches: int) -> np.ndarray:
    """Nearest-neighbour residuals of rdrobust's ``vce="nn"`` (x sorted ascending).

    Each unit is compared with the mean of at least ``matches`` nearest other units, taking
    whole groups of tied x values and both sides when equidistant; scaled by sqrt(J/(J+1)).
    All members of a tie group share one neighbourhood, so the search runs over groups.
    """
    n = len(x)
    values, first, counts = np.unique(x, return_index=True, return_counts=True)
    m = len(values)
    lo = np.arange(m)
    hi = np.arange(m)
    others = counts - 1
    cap = min(matches, n - 1)
    tol_eps = math.sqrt(np.finfo(float).eps)
    active = np.flatnonzero(others < cap)
    while active.size:
        can_left = lo[active] > 0
        can_right = hi[active] < m - 1
        d_left = np.where(can_left, values[active] - values[np.maximum(lo[active] - 1, 0)], 0.0)
        d_right = np.where(
            can_right, values[np.minimum(hi[active] + 1, m - 1)] - values[active], 0.0
        )
        tol = np.maximum(d_left, d_right) * tol_eps
        go_right = ~can_left | (can_right & (d_left - d_right > tol))
        go_left = ~can_right | (can_left & (d_right - d_left > tol))
        both = ~go_right & ~go_left
        go_right |= both
        go_left |= both
        right_groups, left_groups = active[go_right], active[go_left]
        hi[right_groups] += 1
        others[right_groups] += counts[hi[right_groups]]
        lo[left_groups] -= 1
        others[left_groups] += counts[lo[left_groups]]
        active = active[others[active] < cap]
    group = np.repeat(np.arange(m), counts)
    cum = np.vstack([np.zeros((1, d.shape[1])), np.cumsum(d, axis=0)])
    window_sum = cum[(first[hi] + counts[hi])[group]] - cum[first[lo][group]]
    j = others[group][:, None].astype(float)
    return np.sqrt(j / (j + 1)) * (d - (window_sum - d) / j)


def _meat(
    rx: np.ndarray, res: np.ndarray, s: np.ndarray, cluster: np.ndarray | None, k_df: int
) -> np.ndarray:
    """Score outer-product sum; CR1-scaled per-cluster sums when clustered (rdrobust_vce)."""
    scores = rx * (res @ s)[:, None]
    if cluster is None:
        return scores.T @ scores
    codes, g_idx = np.unique(cluster, return_inverse=True)
    g = len(codes)
    summed = cluster_sums(scores, g_idx.ravel(), g)
    n = len(cluster)
    scale = ((n - 1) / (n - k_df)) * (g / (g - 1)) if g > 1 else float("nan")
    return scale * (summed.T @ summed)


def _residuals(side: Side, r: np.ndarray, beta: np.ndarray, variance_neighbors: int) -> np.ndarray:
    if side.cluster is None:
        return nn_residuals(side.x, side.d, variance_neighbors)
    return side.d - r @ beta  # rdrobust's hc1 residuals carry no weight when clustered


def _weights(side: Side, c: float, h: float, kernel: str) -> np.ndarray:
    w = kernel_weights(side.x, c, h, kernel)
    return w if side.fw is None else side.fw * w


_NAN4 = (float("nan"),) * 3


def _bw_constants(
    side: Side,
    c: float,
    o: int,
    nu: int,
    o_b: int,
    h_v: float,
    h_b: float,
    scale: float,
    kernel: str,
    variance_neighbors: int,
    cache: dict[tuple[int, int], tuple[float, float, np.ndarray]],
) -> tuple[float, float, float, float]:
    """(V, B, R, rate) of rdrobust_bw: variance, bias and regularisation constants."""
    rate = 1.0 / (2 * o + 3)
    if (o, nu) not in cache:
        cache[(o, nu)] = _variance_pilot(side, c, o, nu, h_v, kernel, variance_neighbors)
    v_v, b_const, s = cache[(o, nu)]
    if not (np.isfinite(v_v) and np.isfinite(h_b) and h_b > 0):
        return (*_NAN4, rate)
    w = _weights(side, c, h_b, kernel)
    keep = w > 0
    if len(np.unique(side.x[keep])) < o_b + 1:
        return (*_NAN4, rate)
    sub, ew = side.take(keep), w[keep]
    r = _vander(sub.x - c, o_b)
    inv_g = _inv_gram(r, ew)
    beta = inv_g @ ((r * ew[:, None]).T @ sub.d)
    bw_reg = 0.0
    if scale > 0:
        res = _residuals(sub, r, beta, variance_neighbors)
        meat = _meat(r * ew[:, None], res, s, sub.cluster, o_b + 1)
        bw_reg = 3 * b_const**2 * float((inv_g @ meat @ inv_g)[-1, -1])
    bias = math.sqrt(2 * (o + 1 - nu)) * b_const * float(s @ beta[-1, :])
    variance = (2 * nu + 1) * h_v ** (2 * nu + 1) * v_v
    return variance, bias, scale * 2 * (o + 1 - nu) * bw_reg, rate


def _variance_pilot(
    side: Side, c: float, o: int, nu: int, h_v: float, kernel: str, variance_neighbors: int
) -> tuple[float, float, np.ndarray]:
    w = _weights(side, c, h_v, kernel)
    keep = w > 0
    s = np.ones(side.d.shape[1])
    if len(np.unique(side.x[keep])) < o + 1:
        return float("nan"), float("nan"), s
    sub, ew = side.take(keep), w[keep]
    r = _vander(sub.x - c, o)
    rw = r * ew[:, None]
    inv_g = _inv_gram(r, ew)
    beta = inv_g @ (rw.T @ sub.d)
    if sub.d.shape[1] == 2:  # fuzzy: delta-method weights of the ratio tau_Y / tau_T
        tau_y = math.factorial(nu) * beta[nu, 0]
        tau_t = math.factorial(nu) * beta[nu, 1]
        s = np.array([1 / tau_t, -tau_y / tau_t**2])
    res = _residuals(sub, r, beta, variance_neighbors)
    v_v = float((inv_g @ _meat(rw, res, s, sub.cluster, o + 1) @ inv_g)[nu, nu])
    v = rw.T @ ((sub.x - c) / h_v) ** (o + 1)
    b_const = float((h_v ** np.arange(o + 1) * (inv_g @ v))[nu])
    return v_v, b_const, s


def mserd_bandwidths(
    left: Side, right: Side, c: float, *, p: int, kernel: str, variance_neighbors: int
) -> tuple[float, float]:
    """Common MSE-optimal bandwidths (h, b) for the RD effect (rdbwselect ``mserd``).

    Runs on standardised x and y, as rdrobust's default ``stdvars=True``; returns (h, b) in the
    units of x. A fuzzy design uses the treatment column only when it varies on both sides.
    """
    q = p + 1
    x_all = np.concatenate([left.x, right.x])
    y_all = np.concatenate([left.d[:, 0], right.d[:, 0]])
    x_sd = float(np.std(x_all, ddof=1))
    y_sd = float(np.std(y_all, ddof=1))
    q25, q75 = _quantile_type2(x_all, 0.25), _quantile_type2(x_all, 0.75)
    bw_pilot = min(1.0, ((q75 - q25) / x_sd) / 1.349)
    fuzzy_bw = left.d.shape[1] == 2 and np.var(left.d[:, 1]) > 0 and np.var(right.d[:, 1]) > 0
    lt = left.scaled(x_sd, y_sd) if fuzzy_bw else left.outcome_only().scaled(x_sd, y_sd)
    rt = right.scaled(x_sd, y_sd) if fuzzy_bw else right.outcome_only().scaled(x_sd, y_sd)
    cs = c / x_sd

    uniq_l = np.unique(lt.x)[::-1]  # nearest the cutoff first
    uniq_r = np.unique(rt.x)
    m_l, m_r = len(uniq_l), len(uniq_r)
    c_bw = _PILOT_CONSTANT[kernel] * bw_pilot * (m_l + m_r) ** (-1 / 5)
    bw_max_l, bw_max_r = abs(cs - lt.x.min()), abs(cs - rt.x.max())
    bw_max = max(bw_max_l, bw_max_r)
    c_bw = min(c_bw, bw_max)
    # Mass points (>= 20% repeated values on a side): keep at least 10 distinct x in a pilot.
    bw_min = 0.0
    if 1 - m_l / len(lt.x) >= 0.2 or 1 - m_r / len(rt.x) >= 0.2:
        bw_min = max(
            abs(uniq_l[min(10, m_l) - 1] - cs) * _EPS_PAD,
            abs(uniq_r[min(10, m_r) - 1] - cs) * _EPS_PAD,
        )
        c_bw = max(c_bw, bw_min)

    cache_l: dict[tuple[int, int], tuple[float, float, np.ndarray]] = {}
    cache_r: dict[tuple[int, int], tuple[float, float, np.ndarray]] = {}

    def both(o: int, nu: int, o_b: int, h_b_l: float, h_b_r: float, scale: float) -> tuple:
        cl = _bw_constants(
            lt, cs, o, nu, o_b, c_bw, h_b_l, scale, kernel, variance_neighbors, cache_l
        )
        cr = _bw_constants(
            rt, cs, o, nu, o_b, c_bw, h_b_r, scale, kernel, variance_neighbors, cache_r
        )
        return cl, cr

    range_l = abs(cs - lt.x.min()) * _EPS_PAD
    range_r = abs(cs - rt.x.max()) * _EPS_PAD
    cl, cr = both(q + 1, q + 1, q + 2, range_l, range_r, 0.0)
    d_bw = ((cl[0] + cr[0]) / (cr[1] - cl[1]) ** 2) ** cl[3]
    d_bw = max(min(d_bw, bw_max), bw_min)
    cl, cr = both(q, p + 1, q + 1, d_bw, d_bw, 1.0)
    b_bw = ((cl[0] + cr[0]) / ((cr[1] - cl[1]) ** 2 + (cr[2] + cl[2]))) ** cl[3]
    b_bw = min(b_bw, bw_max)
    cl, cr = both(p, 0, q, b_bw, b_bw, 1.0)
    h_bw = ((cl[0] + cr[0]) / ((cr[1] - cl[1]) ** 2 + (cr[2] + cl[2]))) ** cl[3]
    h_bw = min(h_bw, bw_max)
    return x_sd * h_bw, x_sd * b_bw


def local_fit(
    left: Side,
    right: Side,
    c: float,
    *,
    h: float,
    b: float,
    p: int,
    kernel: str,
    variance_neighbors: int,
) -> Fit:
    """Conventional (order p, bandwidth h) and bias-corrected (order q=p+1, bandwidth b) fits."""
    q = p + 1
    parts = [_side_fit(side, c, h, b, p, kernel, variance_neighbors) for side in (left, right)]
    (beta_p_l, beta_bc_l, *_), (beta_p_r, beta_bc_r, *_) = parts
    beta_p = beta_p_r - beta_p_l
    beta_bc = beta_bc_r - beta_bc_l
    fuzzy = left.d.shape[1] == 2
    first_stage = first_stage_se = None
    if fuzzy:
        tau_y, tau_t = beta_p[0, 0], beta_p[0, 1]
        tau_cl = tau_y / tau_t
        s = np.array([1 / tau_t, -tau_y / tau_t**2])
        bias = np.array([tau_y - beta_bc[0, 0], tau_t - beta_bc[0, 1]])
        tau_bc = tau_cl - float(s @ bias)
    else:
        s = np.ones(1)
        tau_cl, tau_bc = beta_p[0, 0], beta_bc[0, 0]
    v_cl = v_rb = v_t = 0.0
    for _, _, inv_g_p, rw_p, q_q, res_h, res_b, cluster in parts:
        v_cl += float((inv_g_p @ _meat(rw_p, res_h, s, cluster, p + 1) @ inv_g_p)[0, 0])
        v_rb += float((inv_g_p @ _meat(q_q, res_b, s, cluster, q + 1) @ inv_g_p)[0, 0])
        if fuzzy:
            sel = np.array([0.0, 1.0])
            v_t += float((inv_g_p @ _meat(rw_p, res_h, sel, cluster, p + 1) @ inv_g_p)[0, 0])
    if fuzzy:
        first_stage, first_stage_se = float(beta_p[0, 1]), math.sqrt(v_t)
    n_h = tuple(int((_weights(s_, c, h, kernel) > 0).sum()) for s_ in (left, right))
    n_b = tuple(int((_weights(s_, c, b, kernel) > 0).sum()) for s_ in (left, right))
    return Fit(
        tau_cl=float(tau_cl),
        tau_bc=float(tau_bc),
        se_cl=math.sqrt(v_cl),
        se_rb=math.sqrt(v_rb),
        n_h=(n_h[0], n_h[1]),
        n_b=(n_b[0], n_b[1]),
        first_stage=first_stage,
        first_stage_se=first_stage_se,
    )


def _side_fit(
    side: Side, c: float, h: float, b: float, p: int, kernel: str, variance_neighbors: int
) -> tuple:
    q = p + 1
    w_h = _weights(side, c, h, kernel)
    w_b = _weights(side, c, b, kernel)
    keep = (w_h > 0) if h > b else (w_b > 0)
    sub = side.take(keep)
    wh, wb = w_h[keep], w_b[keep]
    r_q = _vander(sub.x - c, q)
    r_p = r_q[:, : p + 1]
    rw_p = r_p * wh[:, None]
    inv_g_q = _inv_gram(r_q, wb)
    inv_g_p = _inv_gram(r_p, wh)
    u = (sub.x - c) / h
    ell = rw_p.T @ u ** (p + 1)
    m = (r_q @ inv_g_q[p + 1, :]) * wb
    q_q = rw_p - h ** (p + 1) * m[:, None] * ell[None, :]
    beta_p = inv_g_p @ (rw_p.T @ sub.d)
    beta_q = inv_g_q @ ((r_q * wb[:, None]).T @ sub.d)
    beta_bc = inv_g_p @ (q_q.T @ sub.d)
    if sub.cluster is None:
        res_h = res_b = nn_residuals(sub.x, sub.d, variance_neighbors)
    else:
        res_h, res_b = sub.d - r_p @ beta_p, sub.d - r_q @ beta_q
    return beta_p, beta_bc, inv_g_p, rw_p, q_q, res_h, res_b, sub.cluster


def _quantile_type2(x: np.ndarray, prob: float) -> float:
    """Hyndman–Fan type 2 quantile (R's ``quantile(type=2)``), as rdrobust uses."""
    xs = np.sort(x)
    hpos = len(xs) * prob
    j = math.floor(hpos)
    if hpos == j:
        return float(0.5 * (xs[j - 1] + xs[j]))
    return float(xs[j])
