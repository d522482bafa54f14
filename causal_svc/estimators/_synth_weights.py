"""Synthetic-control weights: the convex donor weights W and the predictor weights V.

Private to :mod:`causal_svc.estimators.synthetic_control`. Arrays only, no pandas, so the
placebo loop can call :func:`fit_synth` tens of times cheaply.

Notation follows Abadie, Diamond & Hainmueller (2010): ``X1`` (k,) predictors of the treated
unit, ``X0`` (k, J) predictors of the J donors, ``Z1`` (T0,) and ``Z0`` (T0, J) pre-period
outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

# Weight of the sum-to-one row in the NNLS penalty formulation, relative to the scale of the
# residual matrix: large enough that sum(w) = 1 holds to ~1e-12 after renormalising, small
# enough that Lawson–Hanson stays well conditioned.
_SUM_ROW_SCALE = 1e3


@dataclass(frozen=True, slots=True)
class SynthFit:
    """Result of one synthetic-control fit.

    ``v`` is ``None`` when no predictors were given and W was fitted to the pre-period
    outcomes directly.
    """

    weights: np.ndarray  # (J,) non-negative, sums to 1
    v: np.ndarray | None  # (k,) non-negative, sums to 1
    pre_mspe: float  # mean squared pre-period gap of the treated unit
    converged: bool  # the outer optimiser reported success (always True without V)


def simplex_weights(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``min ||A w - b||² s.t. w >= 0, sum(w) = 1`` exactly enough for SCM.

    Parameters
    ----------
    A : ndarray, shape (k, J)
    b : ndarray, shape (k,)

    Returns
    -------
    ndarray, shape (J,)

    Notes
    -----
    On the simplex ``A w - b = (A - b 1') w``, so the problem is a non-negative least squares
    problem with the single equality ``1' w = 1``, which is appended as a heavily weighted row
    and solved by Lawson & Hanson's active-set NNLS (``scipy.optimize.nnls``), which reaches the
    objective of a tightly converged SLSQP, or a lower one, far faster (docs/performance.md).
    """
    k, n_donors = A.shape
    C = A - b[:, None]
    big = _SUM_ROW_SCALE * max(1.0, float(np.abs(C).max()))
    lhs = np.vstack([C, np.full((1, n_donors), big)])
    rhs = np.zeros(k + 1)
    rhs[-1] = big
    w, _ = nnls(lhs, rhs, maxiter=50 * max(n_donors, 10))
    total = w.sum()
    if total <= 0:  # cannot happen with the sum row, but never divide by zero
        return np.full(n_donors, 1.0 / n_donors)
    return w / total


def _scale_rows(X0: np.ndarray, X1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each predictor by its SD across all units, as Synth and pysyncon do.

    A predictor constant across the units in this fit carries no information; it is left
    unscaled (its row is then identical for all units and does not move W).
    """
    sd = np.column_stack([X0, X1]).std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    return X0 / sd[:, None], X1 / sd


def _w_given_v(v: np.ndarray, X0: np.ndarray, X1: np.ndarray) -> np.ndarray:
    root = np.sqrt(v)
    return simplex_weights(X0 * root[:, None], X1 * root)


def _regression_start(X0: np.ndarray, X1: np.ndarray, Z0: np.ndarray, Z1: np.ndarray) -> np.ndarray:
    """Synth's second starting value: V from a regression of outcomes on predictors.

    Regress every pre-period outcome on the predictors across units and weight each predictor
    by its summed squared coefficients (Abadie, Diamond & Hainmueller 2011, the R ``Synth``
    package's ``optimxmethod`` starting values; pysyncon's ``optim_initial="ols"``).
    """
    units_x = np.column_stack([X0, X1]).T  # (J+1, k)
    design = np.column_stack([np.ones(units_x.shape[0]), units_x])
    outcomes = np.column_stack([Z0, Z1]).T  # (J+1, T0)
    beta, *_ = np.linalg.lstsq(design, outcomes, rcond=None)
    weight = np.sum(beta[1:] ** 2, axis=1)
    total = weight.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(X0.shape[0], 1.0 / X0.shape[0])
    return weight / total


def fit_synth(
    Z0: np.ndarray,
    Z1: np.ndarray,
    X0: np.ndarray | None = None,
    X1: np.ndarray | None = None,
    *,
    v: np.ndarray | None = None,
    maxiter: int = 3000,
) -> SynthFit:
    """Fit synthetic-control weights for one treated unit.

    Parameters
    ----------
    Z0 : ndarray, shape (T0, J)
        Pre-period outcomes of the donors.
    Z1 : ndarray, shape (T0,)
        Pre-period outcomes of the treated unit.
    X0 : ndarray, shape (k, J), optional
        Predictors of the donors (unscaled).
    X1 : ndarray, shape (k,), optional
        Predictors of the treated unit (unscaled).
    v : ndarray, shape (k,), optional
        Fixed predictor weights (pysyncon's ``custom_V``); skips the outer optimisation.
    maxiter : int
        Iteration cap of each Nelder–Mead run in the outer optimisation.

    Returns
    -------
    SynthFit

    Notes
    -----
    Nested optimisation of Abadie & Gardeazabal (2003) and Abadie, Diamond & Hainmueller (2010):
    predictors are divided by their SD across units; for a diagonal ``V`` the inner problem
    ``W(V) = argmin (X1 - X0 W)' V (X1 - X0 W)`` over the simplex is solved by
    :func:`simplex_weights`; the outer problem chooses ``V = |x| / sum|x|`` to minimise the
    pre-period outcome MSPE ``||Z1 - Z0 W(V)||² / T0`` with Nelder–Mead, started (as R's
    ``Synth`` does) from equal weights and from the regression-based weights of
    :func:`_regression_start`; the start with the lower MSPE wins. The outer problem is not
    convex, so different implementations can stop at different V of similar loss.

    Without predictors, W minimises the pre-period MSPE directly (one inner solve, V = I on
    the outcome rows).
    """
    if X0 is None or X1 is None or X0.shape[0] == 0:
        w = simplex_weights(Z0, Z1)
        gap = Z1 - Z0 @ w
        return SynthFit(weights=w, v=None, pre_mspe=float(gap @ gap / gap.size), converged=True)

    X0s, X1s = _scale_rows(X0, X1)
    k = X0s.shape[0]
    n_pre = Z1.size

    def mspe_for(v: np.ndarray) -> tuple[float, np.ndarray]:
        w = _w_given_v(v, X0s, X1s)
        gap = Z1 - Z0 @ w
        return float(gap @ gap / n_pre), w

    if v is not None or k == 1:
        fixed = np.ones(1) if v is None else np.abs(np.asarray(v, dtype=float))
        fixed = fixed / fixed.sum()
        loss, w = mspe_for(fixed)
        return SynthFit(weights=w, v=fixed, pre_mspe=loss, converged=True)

    starts = [np.full(k, 1.0 / k), _regression_start(X0s, X1s, Z0, Z1)]
    # Nelder–Mead's fatol is absolute; dividing by the loss at the first start makes the
    # stopping rule relative, so it behaves the same for outcomes in units or in millions.
    norm = max(mspe_for(starts[0])[0], np.finfo(float).tiny)

    def objective(x: np.ndarray) -> float:
        total = np.abs(x).sum()
        if total <= 0:
            return np.inf
        return mspe_for(np.abs(x) / total)[0] / norm

    best: tuple[float, np.ndarray, bool] | None = None
    for start in starts:
        res = minimize(
            objective,
            start,
            method="Nelder-Mead",
            options={"maxiter": maxiter, "xatol": 1e-6, "fatol": 1e-8},
        )
        if best is None or res.fun < best[0]:
            best = (float(res.fun), np.asarray(res.x), bool(res.success))
    assert best is not None
    v_best = np.abs(best[1]) / np.abs(best[1]).sum()
    loss, w = mspe_for(v_best)
    return SynthFit(weights=w, v=v_best, pre_mspe=loss, converged=best[2])
