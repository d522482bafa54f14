"""Inference every estimator shares: reference distributions, intervals, cluster codes and
sandwich variances.

An estimate has one reference distribution for its statistic: Student's t with ``df`` degrees
of freedom (the regression estimators with a small-sample reference, statsmodels'
``use_t=True``) or the standard normal (``df=None``). :func:`interval` turns a point, a standard
error and that reference into the interval and p-value, and :func:`effect_estimate` stores the
reference on the result, so ``EffectEstimate.conf_int(alpha)`` at another level uses it too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec

from .result import Coefficient, EffectEstimate, Estimand, Method
from .validate import role_field

__all__ = [
    "FEW_CLUSTERS",
    "cluster_codes",
    "cluster_sums",
    "coefficient",
    "column_codes",
    "critical_value",
    "effect_estimate",
    "group_codes",
    "influence_stderr",
    "interval",
    "intervals",
    "require_stderr",
    "sandwich",
]

_NAN3 = (float("nan"), float("nan"), float("nan"))
# Below this many clusters, cluster-robust standard errors are biased downward (Cameron,
# Gelbach & Miller 2008): estimators warn, but still answer.
FEW_CLUSTERS = 30


# -- reference distributions -------------------------------------------------------------------


def critical_value(alpha: float, df: float | None = None) -> float:
    """Two-sided critical value at level ``alpha``: t(df), or the normal when ``df`` is None."""
    if df is None:
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, df))


def interval(
    point: float, stderr: float, alpha: float, df: float | None = None
) -> tuple[float, float, float]:
    """(ci_lower, ci_upper, two-sided p) of ``point`` with ``stderr`` under t(df) or the normal.

    NaN for all three when the standard error is not positive and finite (or ``df`` <= 0).
    """
    if not np.isfinite(stderr) or stderr <= 0 or (df is not None and df <= 0):
        return _NAN3
    q = critical_value(alpha, df)
    z = abs(point / stderr)
    p = 2 * (stats.norm.sf(z) if df is None else stats.t.sf(z, df))
    return (float(point - q * stderr), float(point + q * stderr), float(p))


def intervals(
    points: np.ndarray, stderrs: np.ndarray, alpha: float, df: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`interval` for arrays at once (one scipy call for a whole coefficient table)."""
    se = np.where(np.isfinite(stderrs) & (stderrs > 0), stderrs, np.nan)
    q = critical_value(alpha, df)
    z = np.abs(points / se)
    p = 2 * (stats.norm.sf(z) if df is None else stats.t.sf(z, df))
    return points - q * se, points + q * se, p


def coefficient(
    name: str,
    estimate: float,
    stderr: float,
    alpha: float,
    *,
    df: float | None = None,
    nobs: int | None = None,
) -> Coefficient:
    """One coefficient-table row with its interval and p-value from the same reference."""
    lo, hi, p = interval(estimate, stderr, alpha, df)
    return Coefficient(name, estimate, stderr, lo, hi, p, nobs=nobs)


def effect_estimate(
    method: Method,
    estimand: Estimand,
    point: float,
    stderr: float,
    *,
    alpha: float,
    nobs: int,
    df: float | None = None,
    **details: Any,
) -> EffectEstimate:
    """An :class:`EffectEstimate` whose interval and p-value follow from point, SE and ``df``.

    ``details`` are the remaining ``EffectEstimate`` fields (``statistics``, ``checks`` …).
    """
    lo, hi, p = interval(point, stderr, alpha, df)
    return EffectEstimate(
        method=method,
        estimand=estimand,
        point_estimate=point,
        stderr=stderr,
        ci_lower=lo,
        ci_upper=hi,
        pvalue=p,
        nobs=nobs,
        alpha=alpha,
        df=df,
        **details,
    )


def require_stderr(stderr: float, what: str, *, subject: str | None = None) -> None:
    """An estimate without a positive, finite standard error is not an answer: refuse it."""
    if not (np.isfinite(stderr) and stderr > 0):
        raise InsufficientData(
            f"{what}: the standard error is {stderr!r} (the outcome is fitted exactly or does "
            "not vary), so no interval or test can be given",
            subject=subject or what,
        )


# -- clusters ----------------------------------------------------------------------------------


def group_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer group codes 0..G-1 (in sorted order of the values) and G."""
    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    return codes.astype(np.intp), len(uniques)


def column_codes(frame: pd.DataFrame, column: str, role: str) -> tuple[np.ndarray, int]:
    """:func:`group_codes` of a grouping column (unit, cluster), refusing missing values."""
    missing = int(frame[column].isna().sum())
    if missing:
        raise InvalidSpec(
            f"{role} column {column!r} has {missing} missing values", field=role_field(role)
        )
    return group_codes(frame[column])


def cluster_codes(
    frame: pd.DataFrame, column: str, role: str = "cluster"
) -> tuple[np.ndarray, int]:
    """Cluster codes and their count G; cluster-robust inference needs G >= 2."""
    codes, n_clusters = column_codes(frame, column, role)
    if n_clusters < 2:
        raise InsufficientData(
            f"cluster-robust inference needs at least 2 clusters; {role} column {column!r} "
            "holds one",
            subject="clusters",
        )
    return codes, n_clusters


def cluster_sums(
    scores: np.ndarray, clusters: np.ndarray, n_clusters: int | None = None
) -> np.ndarray:
    """Rows of ``scores`` (n,) or (n, k) summed within clusters (codes 0..G-1): (G,) or (G, k)."""
    g = int(clusters.max()) + 1 if n_clusters is None else n_clusters
    if scores.ndim == 1:
        return np.bincount(clusters, weights=scores, minlength=g)
    return np.column_stack(
        [np.bincount(clusters, weights=scores[:, j], minlength=g) for j in range(scores.shape[1])]
    ).reshape(g, scores.shape[1])


def sandwich(
    bread: np.ndarray,
    scores: np.ndarray,
    clusters: np.ndarray | None = None,
    *,
    scale: float = 1.0,
) -> np.ndarray:
    """``bread · (S'S · scale) · bread``: S the scores (n, k), or their sums within clusters.

    ``bread`` is the inverse Gram matrix; ``scale`` the small-sample factor (1 for HC0 and for
    linearmodels' unadjusted clustered covariance).
    """
    s = scores if clusters is None else cluster_sums(scores, clusters)
    return bread @ (s.T @ s * scale) @ bread


def influence_stderr(
    psi: np.ndarray, clusters: np.ndarray | None = None, *, small_sample: bool = False
) -> np.ndarray:
    """Standard errors of means of influence functions ``psi`` (n,) or (n, k).

    ``sqrt(sum psi²) / n``, with ``psi`` summed within clusters first when given;
    ``small_sample`` multiplies the sum by G/(G-1), G counting the clusters present.
    """
    n = psi.shape[0]
    factor = 1.0
    if clusters is not None:
        present, inverse = np.unique(clusters, return_inverse=True)
        g = len(present)
        psi = cluster_sums(psi, inverse.ravel(), g)
        if small_sample:
            factor = g / (g - 1) if g > 1 else math.nan
    return np.sqrt(factor * (psi**2).sum(axis=0)) / n
