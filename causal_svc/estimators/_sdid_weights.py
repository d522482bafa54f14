"""Synthetic difference-in-differences weights: unit weights ω and time weights λ.

Private to :mod:`causal_svc.estimators.sdid`. Arrays only, no pandas, so the variance loops
(placebo, bootstrap) can refit hundreds of times.

Notation follows Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021): ``Y`` is (N, T) with
the ``N0`` control units first and the ``T0`` pre-treatment periods first. The solver is the
reference R package's (``synthdid``, ``R/solver.R``): Frank–Wolfe with an exact line search on
the simplex, 100 iterations, sparsification (weights at most a quarter of the largest are
dropped), then iterations until the objective falls by less than ``min_decrease²``. Only the
bookkeeping differs: ``A x`` is updated along the step instead of recomputed (one
matrix-vector product per iteration instead of two; the iterates are the same), and the loop
is compiled with numba.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

# The reference implementation's defaults (Arkhangelsky et al. 2021, §4 and the R package).
ETA_LAMBDA = 1e-6
MAX_ITER = 10_000
MAX_ITER_PRE_SPARSIFY = 100
MIN_DECREASE_SCALE = 1e-5


@dataclass(frozen=True, slots=True)
class SdidTuning:
    """Regularisation and stopping rule of one SDID fit (Algorithm 1, footnote 3 of the paper).

    ``zeta_omega = (N1·T1)^¼ · σ`` with σ the SD of first differences of the control units'
    pre-period outcomes; ``zeta_lambda = 1e-6 · σ``; the solver stops when an iteration lowers
    the objective by less than ``(1e-5 · σ)²``.
    """

    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    noise_level: float


def tuning(Y: np.ndarray, n0: int, t0: int) -> SdidTuning:
    """The paper's regularisation for the panel ``Y`` (controls first, pre-periods first)."""
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    diffs = np.diff(Y[:n0, :t0], axis=1)
    noise = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
    return SdidTuning(
        zeta_omega=(n1 * t1) ** 0.25 * noise,
        zeta_lambda=ETA_LAMBDA * noise,
        min_decrease=MIN_DECREASE_SCALE * noise,
        noise_level=noise,
    )


def collapsed(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """(N0+1, T0+1): controls' pre-periods, their post mean, and the treated mean row."""
    top = np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)])
    bottom = np.append(Y[n0:, :t0].mean(axis=0), Y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def _sparsify(w: np.ndarray) -> np.ndarray:
    w = w.copy()
    w[w <= w.max() / 4.0] = 0.0
    total = w.sum()
    return w / total if total > 0 else np.full(w.size, 1.0 / w.size)


@numba.njit(cache=True, nogil=True)
def _frank_wolfe(
    A: np.ndarray, b: np.ndarray, x: np.ndarray, eta: float, zeta2: float, min_decrease: float,
    max_iter: int,
) -> np.ndarray:  # fmt: skip
    """Minimise ``zeta² |x|² + |A x − b|² / n`` over the simplex (n = rows of A).

    ``eta = n · zeta²``. Stops after ``max_iter`` steps or when a step lowers the objective by
    no more than ``min_decrease²`` (R ``sc.weight.fw``). The iterates are the reference's;
    the bookkeeping is in the Gram matrix ``G = A'A`` (k × k, formed once): a step to vertex
    ``e_i`` moves ``G x`` to ``(1 − s) G x + s G[:, i]``, so an iteration costs O(k) with no
    allocation instead of two n × k products — the lightly regularised time weights take the
    full 10,000 iterations, every bootstrap and placebo refit. The objective's fall along the
    step is its exact quadratic ``−(2 s g·d + s² (|A d|² + eta |d|²)) / n``, not the
    difference of two evaluated objectives.
    """
    n, k = A.shape
    x = x.copy()
    G = A.T @ A
    ab = A.T @ b
    gx = G @ x
    threshold = min_decrease**2
    for t in range(max_iter):
        if t % 1024 == 1023:
            gx = G @ x  # the O(k) updates' rounding, reset
        i = 0
        lowest = np.inf
        hgx = 0.0  # half-gradient · x
        xgx = 0.0  # x'Gx = |A x|²
        xx = 0.0
        for j in range(k):
            g = gx[j] - ab[j] + eta * x[j]
            if g < lowest:
                lowest = g
                i = j
            hgx += g * x[j]
            xgx += x[j] * gx[j]
            xx += x[j] * x[j]
        fall = 0.0
        if x[i] < 1.0:  # else x is the vertex e_i already: no direction to move in
            hg_d = lowest - hgx  # half-gradient · (e_i − x)
            denominator = (G[i, i] - 2.0 * gx[i] + xgx) + eta * (1.0 - 2.0 * x[i] + xx)
            if denominator > 0:
                step = min(1.0, max(0.0, -hg_d / denominator))
                keep = 1.0 - step
                for j in range(k):
                    x[j] *= keep
                    gx[j] = keep * gx[j] + step * G[j, i]
                x[i] += step
                fall = -(2.0 * step * hg_d + step * step * denominator) / n
        if t >= 1 and fall <= threshold:
            break
    return x


def simplex_weights(
    Yc: np.ndarray, zeta: float, min_decrease: float, start: np.ndarray | None = None,
    *, intercept: bool = True, sparsify: bool = True,
) -> np.ndarray:  # fmt: skip
    """Weights on the first columns of ``Yc`` that predict its last column (R ``sc.weight.fw``
    run twice around a sparsification, as ``synthdid_estimate`` does).

    Parameters
    ----------
    Yc : (n, k + 1) rows are the fitting observations, the last column the target
    zeta : ridge penalty
    min_decrease : stopping rule
    start : (k,) initial weights (uniform when None)
    intercept : centre every column first (a free intercept in the fit)
    sparsify : the second round from the sparsified first-round weights
    """
    if intercept:
        Yc = Yc - Yc.mean(axis=0, keepdims=True)
    A, b = np.ascontiguousarray(Yc[:, :-1]), np.ascontiguousarray(Yc[:, -1])
    k = A.shape[1]
    x = np.full(k, 1.0 / k) if start is None else np.asarray(start, dtype=float).copy()
    eta = A.shape[0] * zeta**2
    rounds = (
        ((MAX_ITER_PRE_SPARSIFY, True), (MAX_ITER, False)) if sparsify else ((MAX_ITER, False),)
    )
    for max_iter, then_sparsify in rounds:
        x = _frank_wolfe(A, b, x, eta, zeta**2, min_decrease, max_iter)
        if then_sparsify:
            x = _sparsify(x)
    return x


@dataclass(frozen=True, slots=True)
class SdidFit:
    """One SDID fit: the estimate and the weights that produced it."""

    tau: float
    omega: np.ndarray  # (N0,) unit weights on the controls, on the simplex
    lam: np.ndarray  # (T0,) time weights on the pre-periods, on the simplex


def point(Y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> float:
    """τ = (treated mean − ω'controls) post-average minus the same λ-weighted pre-period."""
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    unit = np.concatenate([-omega, np.full(n1, 1.0 / n1)])
    time = np.concatenate([-lam, np.full(t1, 1.0 / t1)])
    return float(unit @ Y @ time)


def fit(
    Y: np.ndarray,
    n0: int,
    t0: int,
    *,
    tune: SdidTuning | None = None,
    omega: np.ndarray | None = None,
    lam: np.ndarray | None = None,
    update: bool = True,
) -> SdidFit:
    """SDID on ``Y`` (controls first, pre-periods first): Algorithm 1 of Arkhangelsky et al.

    ``omega``/``lam`` start the solver (``update=True``; uniform when None) or are used as they
    are (``update=False``, the fixed-weight jackknife).
    ``tune`` defaults to :func:`tuning` of this ``Y``.
    """
    if not update:
        assert omega is not None and lam is not None
        return SdidFit(point(Y, n0, t0, omega, lam), omega, lam)
    tune = tune or tuning(Y, n0, t0)
    Yc = collapsed(Y, n0, t0)
    lam = simplex_weights(Yc[:n0, :], tune.zeta_lambda, tune.min_decrease, lam)
    omega = simplex_weights(Yc[:, :t0].T, tune.zeta_omega, tune.min_decrease, omega)
    return SdidFit(point(Y, n0, t0, omega, lam), omega, lam)
