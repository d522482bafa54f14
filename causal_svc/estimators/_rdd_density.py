"""Manipulation test: is the density of the running variable continuous at the cutoff?

The local-polynomial density test of Cattaneo, Jansson & Ma (2020, JASA) with the defaults of
``rddensity`` 3.0 (Cattaneo, Jansson & Ma 2018, Stata Journal): the empirical CDF is fitted by
a local polynomial of order q = p + 1 = 3 on each side (the density is its slope), triangular
kernel, unrestricted fits, jackknife variance, mass-point adjustment, and side bandwidths that
are the median of the "each", "diff" and "sum" MSE-optimal choices (``bwselect="comb"``) from a
p = 2 pilot with the same regularisation as ``rdbwdensity``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

_P = 2
_Q = _P + 1
_LOCAL_MIN = 20 + _P + 1  # rddensity's nLocalMin and nUniqueMin defaults
# rdbwdensity's tabulated kernel constants for p = 2 (triangular kernel).
_CB = 3430865.4551236177795
_CC = 548.57142857155463389


@dataclass(frozen=True, slots=True)
class DensityTest:
    h_left: float
    h_right: float
    n_left: int  # observations within the bandwidth
    n_right: int
    f_left: float  # density just below / at-or-above the cutoff
    f_right: float
    t_stat: float
    pvalue: float


class DensityTestUnavailable(ValueError):
    """Too few observations near the cutoff for the local density fits."""


def density_test(x: np.ndarray, c: float) -> DensityTest:
    """Cattaneo–Jansson–Ma density discontinuity test at ``c`` (robust bias-corrected)."""
    xs = np.sort(np.asarray(x, dtype=float)) - c
    n = len(xs)
    nl = int(np.searchsorted(xs, 0.0, side="left"))
    nr = n - nl
    if min(nl, nr) < _LOCAL_MIN + 2:
        raise DensityTestUnavailable(
            f"{nl} below / {nr} above the cutoff; the density test needs {_LOCAL_MIN + 2} each"
        )
    uniq, first, freq = np.unique(xs, return_index=True, return_counts=True)
    last = first + freq - 1
    mass = len(uniq) != n
    ecdf = np.arange(n) / (n - 1)
    if mass:  # tied values share the CDF value of their last member
        ecdf = np.repeat(ecdf[last], freq)

    h_each_l, h_each_r, h_diff, h_sum = _bandwidths(xs, uniq, ecdf, nl, nr, mass)
    hl = float(np.median([h_each_l, h_diff, h_sum]))
    hr = float(np.median([h_each_r, h_diff, h_sum]))
    keep = (xs >= -hl) & (xs <= hr)
    fit = _fit(xs[keep], ecdf[keep], n, hl, hr, _Q, 1, mass)
    t = fit["diff_hat"] / math.sqrt(fit["diff_var"])
    if not np.isfinite(t):
        raise DensityTestUnavailable("the local density fits are degenerate at this cutoff")
    nlh = int((xs[keep] < 0).sum())
    return DensityTest(
        h_left=hl,
        h_right=hr,
        n_left=nlh,
        n_right=int(keep.sum()) - nlh,
        f_left=fit["l_hat"],
        f_right=fit["r_hat"],
        t_stat=float(t),
        pvalue=float(2 * stats.norm.sf(abs(t))),
    )


def _kernel_moments(p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """S = ∫0^1 K(u) u^(i+j) du and C = ∫0^1 K(u) u^(i+k) du for the triangular kernel."""
    idx = np.arange(p + 1)
    power = idx[:, None] + idx[None, :]
    s = 1.0 / ((power + 1) * (power + 2))
    cvec = 1.0 / ((idx + k + 1) * (idx + k + 2))
    return s, cvec[:, None]


def _kth(values: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based, clipped to the length) of ``values``."""
    return float(np.sort(values)[min(k, len(values)) - 1])


def _floor(xs: np.ndarray, uniq: np.ndarray, k: int) -> tuple[float, float]:
    """Smallest bandwidths holding k observations and k distinct values on each side."""
    left = max(_kth(-xs[xs < 0], k), _kth(-uniq[uniq < 0], k))
    right = max(_kth(xs[xs >= 0], k), _kth(uniq[uniq >= 0], k))
    return left, right


def _bandwidths(
    xs: np.ndarray, uniq: np.ndarray, ecdf: np.ndarray, nl: int, nr: int, mass: bool
) -> tuple[float, float, float, float]:
    """rdbwdensity (p=2): MSE-optimal bandwidths for left, right, difference and sum."""
    n = len(xs)
    mu, sd = float(xs.mean()), float(xs.std(ddof=1))
    z = mu / sd
    phi = stats.norm.pdf(z)
    hermite4 = z**4 - 6 * z**2 + 3
    hermite2 = z**2 - 1
    fhat_b = 1 / (hermite4**2 * phi)
    fhat_c = 1 / (hermite2**2 * phi)
    bn = ((2 * _P + 1) / 4 * fhat_b * _CB / n) ** (1 / (2 * _P + 5)) * sd
    cn = (1 / (2 * _P) * fhat_c * _CC / n) ** (1 / (2 * _P + 1)) * sd
    widest = float(np.abs(uniq).max())
    b_floor = max(_floor(xs, uniq, _LOCAL_MIN + 2))
    c_floor = max(_floor(xs, uniq, _LOCAL_MIN))
    bn = max(min(bn, widest), b_floor)
    cn = max(min(cn, widest), c_floor)

    in_b, in_c = np.abs(xs) <= bn, np.abs(xs) <= cn
    fit_b = _fit(xs[in_b], ecdf[in_b], n, bn, bn, _P + 2, _P + 1, mass)
    fit_c = _fit(xs[in_c], ecdf[in_c], n, cn, cn, _P, 1, mass)
    variance = n * cn * np.array([fit_c[f"{k}_var"] for k in ("l", "r", "diff", "sum")])
    s_mat, c_vec = _kernel_moments(_P, _P + 1)
    bias_const = float((np.linalg.inv(s_mat) @ c_vec)[1, 0])
    bias_l = fit_b["l_s"] * bias_const * (-1) ** _P
    bias_r = fit_b["r_s"] * bias_const
    bias_sq = np.array([bias_l, bias_r, bias_r - bias_l, bias_r + bias_l]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        h = (1 / (2 * _P) * variance / bias_sq / n) ** (1 / (2 * _P + 1))
    h = np.where(np.isfinite(h) & (variance >= 0), h, 0.0)

    left_range, right_range = abs(uniq[0]), uniq[-1]
    widest_side = max(left_range, right_range)
    h = np.minimum(h, [left_range, right_range, widest_side, widest_side])
    lo_l, lo_r = _floor(xs, uniq, _LOCAL_MIN)
    h = np.maximum(h, [lo_l, lo_r, max(lo_l, lo_r), max(lo_l, lo_r)])
    return float(h[0]), float(h[1]), float(h[2]), float(h[3])


def _fit(
    x: np.ndarray, y: np.ndarray, n: int, hl: float, hr: float, p: int, s: int, mass: bool
) -> dict[str, float]:
    """Unrestricted local-polynomial fit of the empirical CDF (rddensity's ``__rddensity_fv``).

    Returns the density on each side (``*_hat``), its jackknife variance (``*_var``) and the
    s-th derivative coefficient (``*_s``, for the bias constant).
    """
    left = x < 0
    w = np.where(left, (1 + x / hl) / hl, (1 - x / hr) / hr)
    cols, scale = [], []
    for power in range(p + 1):
        cols += [np.where(left, (x / hl) ** power, 0.0), np.where(left, 0.0, (x / hr) ** power)]
        scale += [hl**power, hr**power]
    xp = np.column_stack(cols)
    hp_inv = 1.0 / np.array(scale)
    xpw = xp * w[:, None]
    try:
        s_inv = np.linalg.inv(xpw.T @ xp)
    except np.linalg.LinAlgError as exc:
        raise DensityTestUnavailable("singular local density fit") from exc
    b = (s_inv @ (xpw.T @ y)) * hp_inv
    # Jackknife: leave-one-out influence of each row is the scaled tail sum of later rows.
    tail = np.cumsum(xpw[::-1], axis=0)[::-1]
    loo = np.vstack([tail[1:], np.zeros((1, xp.shape[1]))]) / (n - 1)
    if mass:  # tied values take the tail sum from the first of their group
        _, first, freq = np.unique(x, return_index=True, return_counts=True)
        loo = np.repeat(loo[first], freq, axis=0)
    v = (hp_inv[:, None] * s_inv) @ (loo.T @ loo) @ (s_inv * hp_inv[None, :])
    out = {
        "l_hat": float(b[2]),
        "r_hat": float(b[3]),
        "diff_hat": float(b[3] - b[2]),
        "l_s": float(b[2 * s]),
        "r_s": float(b[2 * s + 1]),
        "l_var": float(v[2, 2]),
        "r_var": float(v[3, 3]),
        "diff_var": float(v[2, 2] + v[3, 3] - 2 * v[2, 3]),
        "sum_var": float(v[2, 2] + v[3, 3] + 2 * v[2, 3]),
    }
    for key in ("l_var", "r_var", "diff_var", "sum_var"):
        if out[key] < 0:
            out[key] = float("nan")
    return out
