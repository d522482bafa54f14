"""Least squares with absorbed fixed effects and robust covariances, shared by the regression
estimators (naive, difference in means, DiD, event study).

Why not statsmodels' OLS for everything: the panel estimators absorb unit and time effects by
alternating projections (so a 1,000-geo × 365-day panel never builds a 365k × 1,365 dummy matrix),
and the cluster-robust covariance then has to count the absorbed effects in its degrees of
freedom the way Stata's ``xtreg, fe vce(cluster)`` does: the absorbed effects nested in the
clusters (unit effects, clustered by unit) are not counted, the others (period effects) are —
linearmodels' ``PanelOLS`` with unit effects and explicit period dummies, not its two-way
``PanelOLS(debiased=True, group_debias=True)``, whose factor is larger (R11-F7). The formulas
are the textbook ones; the tests check every one of them against statsmodels or linearmodels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import linalg, stats

from causal_svc.errors import InsufficientData, SingularDesign

from ._inference import cluster_df, coefficient, sandwich
from .result import Coefficient

CovType = Literal["HC1", "HC2", "cluster"]

# Alternating projections stop when no cell moves by more than this (relative to the column's
# scale); a balanced two-way panel converges exactly after one sweep.
_DEMEAN_TOL = 1e-10
_DEMEAN_MAX_ITER = 2_000


@dataclass(frozen=True, slots=True)
class OlsFit:
    """Coefficients, covariance and the degrees of freedom inference should use."""

    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    nobs: int
    df_resid: int  # n - K, K counting absorbed effects that are not nested in the clusters
    df_inference: int  # G - 1 for clustered covariances, n - K otherwise
    n_clusters: int | None
    resid: np.ndarray
    cov_type: CovType

    def index(self, name: str) -> int:
        return self.names.index(name)

    def coef(self, name: str) -> float:
        return float(self.params[self.index(name)])

    def stderr(self, name: str) -> float:
        i = self.index(name)
        return float(np.sqrt(self.cov[i, i]))

    def coefficients(self, names: Sequence[str], alpha: float) -> tuple[Coefficient, ...]:
        """Coefficient-table rows for ``names``, t inference with ``df_inference``."""
        return tuple(
            coefficient(
                n, self.coef(n), self.stderr(n), alpha, df=self.df_inference, nobs=self.nobs
            )
            for n in names
        )

    def linear_combination(self, a: np.ndarray) -> tuple[float, float]:
        """Estimate and standard error of ``a @ params``."""
        return float(a @ self.params), float(np.sqrt(a @ self.cov @ a))

    def joint_test(self, names: Sequence[str]) -> JointTest:
        """Joint test that the named coefficients are all zero (:func:`joint_zero_test` on
        their covariance; clustered: the Hotelling T² reference, or sup-t with Bonferroni)."""
        idx = [self.index(n) for n in names]
        return joint_zero_test(
            self.params[idx], self.cov[np.ix_(idx, idx)], self.n_clusters, self.df_inference
        )


def joint_zero_test(b: np.ndarray, v: np.ndarray, n_clusters: int | None, df: int) -> JointTest:
    """Joint test that the q coefficients ``b``, covariance ``v``, are all zero.

    ``v`` is cluster-robust (CR1 scale, G/(G−1) included) when ``n_clusters`` = G is given,
    heteroskedasticity-robust otherwise; ``df`` is the t tests' df (G − 1 or n − K).

    Unclustered: the Wald F, W/q against F(q, df). Clustered, W/q against F(q, G − 1) (or
    χ²(q)) over-rejects badly once q is a sizeable share of G: the q × q covariance is
    estimated from G cluster scores, and null staggered panels with G = 12 clusters and 9
    leads failed the pre-trend test 72% (event study) and 92% (χ², staggered DiD) of the time
    (R11-F2). Two small-sample references instead:

    - q ≤ G/2: the Hotelling T² reference, ``F = W (G − q) / (q (G − 1)) ~ F(q, G − q)``.
      It is exact when the G cluster scores are i.i.d. normal (the CR1 Wald of a mean is then
      Hotelling's T²), and is the HTZ test of Pustejovsky & Tipton (2018, JBES 36(4)) with
      its covariance df η = G − 1, the df our t tests use (Cameron & Miller 2015 on few-cluster
      Wald tests). As q nears G its denominator df G − q is a handful and the test leans on
      that i.i.d. normality, which unequal clusters (treated cohorts and controls scoring
      different leads) break: the auditor measured 9–15% rejections at G = 12, q = 9.
    - q > G/2, or a covariance that is singular (a cluster-robust covariance has rank ≤ G − 1;
      solving with it gave F ~ 1e14 on clean data, 39 leads and 20 clusters): the sup-t
      (max |t|) test of Montiel Olea & Plagborg-Møller (2019), the joint inference
      event-study practice uses (Freyaldenhoven et al. 2021), with the Bonferroni critical
      value: p = min(1, q · min_k p_k), each p_k from t(df). It uses only each coefficient's
      own variance, as its t test does, so it is valid for any q and G; it is conservative
      when the coefficients are correlated. Stata's ``test`` would silently drop
      constraints; we do not pick which leads to keep.
    """
    q = len(b)
    if n_clusters is None:
        if _full_rank(v):
            f = float(b @ np.linalg.solve(v, b)) / q
            return JointTest("wald_f", f, float(stats.f.sf(f, q, df)), q, df)
    elif 2 * q <= n_clusters and _full_rank(v):
        g = n_clusters
        f = float(b @ np.linalg.solve(v, b)) * (g - q) / (q * (g - 1))
        return JointTest("wald_f", f, float(stats.f.sf(f, q, g - q)), q, g - q)
    t_abs = np.abs(b) / np.sqrt(np.diag(v))
    p_each = 2 * stats.t.sf(t_abs, df)
    p = float(min(1.0, q * float(p_each.min())))
    return JointTest("max_t_bonferroni", float(t_abs.max()), p, q, df)


@dataclass(frozen=True, slots=True)
class JointTest:
    """A joint zero test: ``wald_f`` (statistic F(df1, df2): the Wald F, or with clusters its
    Hotelling T² form) or ``max_t_bonferroni`` (statistic max |t| over df1 coefficients, each
    t(df2), Bonferroni p-value)."""

    kind: Literal["wald_f", "max_t_bonferroni"]
    statistic: float
    pvalue: float
    df1: int
    df2: int

    def describe(self) -> str:
        """``F(3, 19) = 1.2, p = 0.3`` or ``max |t| over 39 leads = 2.1 (t(19), Bonferroni),
        p = 1`` for check interpretations."""
        if self.kind == "wald_f":
            return f"F({self.df1}, {self.df2}) = {self.statistic:.3g}, p = {self.pvalue:.3g}"
        return (
            f"max |t| = {self.statistic:.3g} over the {self.df1} coefficients (t({self.df2}), "
            f"Bonferroni), p = {self.pvalue:.3g}"
        )


def _full_rank(v: np.ndarray) -> bool:
    """Whether a covariance matrix is invertible to a relative tolerance well above rounding
    (numpy's default, ~q·eps, passes the 1e-14-conditioned matrices that gave F ~ 1e14)."""
    s = np.linalg.svd(v, compute_uv=False)
    return bool(s.size and s[-1] > s[0] * 1e-10)


def is_nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """True when every group of ``inner`` (int codes) lies inside one group of ``outer``."""
    seen = np.empty(int(inner.max()) + 1, dtype=outer.dtype)
    seen[inner] = outer  # any one outer code per inner group; then all must agree with it
    return bool((seen[inner] == outer).all())


def demean(
    matrix: np.ndarray, groups: Sequence[np.ndarray], weights: np.ndarray | None = None
) -> np.ndarray:
    """Sweep out one or more sets of fixed effects by alternating projections.

    Parameters
    ----------
    matrix : ndarray, shape (n, m)
    groups : sequence of int ndarrays, each shape (n,), codes 0..G-1
    weights : ndarray, shape (n,), optional

    Returns
    -------
    ndarray, shape (n, m): residuals of each column on all the effects (weighted if given).

    Notes
    -----
    Guimarães & Portugal (2010); Gaure (2013): the method of alternating projections converges
    to the least-squares residual; with one set of effects or a balanced two-way panel one sweep is
    exact and the second only confirms it.
    """
    out = np.array(matrix, dtype=float, copy=True)
    if out.ndim == 1:
        out = out[:, None]
    n, m = out.shape
    w = np.ones(n) if weights is None else weights
    masses = [np.bincount(g, weights=w) for g in groups]
    scale = np.maximum(np.abs(out).max(axis=0, initial=0.0), 1.0)
    for _ in range(_DEMEAN_MAX_ITER):
        before = out.copy() if len(groups) > 1 else out
        for g, mass in zip(groups, masses, strict=True):
            for j in range(m):
                out[:, j] -= (np.bincount(g, weights=w * out[:, j], minlength=len(mass)) / mass)[g]
        if len(groups) == 1 or (np.abs(out - before).max(axis=0) <= _DEMEAN_TOL * scale).all():
            break
    return out


def check_rank(
    xtx: np.ndarray, names: Sequence[str], what: str, norms_before: np.ndarray | None = None
) -> None:
    """Raise :class:`SingularDesign` naming the columns that are linear in the others.

    ``xtx`` is the design's Gram matrix X'X. ``norms_before`` are the columns' norms before the
    fixed effects were swept out: a column that lost (numerically) all of its variation to them
    is reported as absorbed. Columns are scaled to unit norm first so that the check does not
    depend on their units.
    """
    norms = np.sqrt(np.clip(np.diag(xtx), 0.0, None))
    ref = norms if norms_before is None else norms_before
    dead = [names[j] for j in range(len(names)) if ref[j] == 0 or norms[j] <= 1e-9 * ref[j]]
    if dead:
        raise SingularDesign(
            f"{what}: {', '.join(dead)} has no variation left "
            + (
                "after the fixed effects (it is constant within units or periods, so they "
                "absorb it): drop it"
                if norms_before is not None
                else "(constant zero)"
            ),
            subject=what,
        )
    # Pivoted QR of the unit-scaled Gram matrix: k×k work instead of n×k, and its pivots are
    # the squares of X's, so 1e-11 flags columns within ~3e-6 radians of the others' span.
    gram = xtx / np.outer(norms, norms)
    _, r, piv = linalg.qr(gram, pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-11 * diag[0]).sum())
    if rank < len(names):
        bad = [names[j] for j in piv[rank:]]
        raise SingularDesign(
            f"{what}: the design is rank-deficient; {', '.join(bad)} is a linear combination of "
            "the other regressors" + (" and the fixed effects" if norms_before is not None else ""),
            subject=what,
        )


def fit_ols(
    y: np.ndarray,
    x: np.ndarray,
    names: Sequence[str],
    *,
    cov_type: CovType,
    clusters: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    absorbed_df: int = 0,
    x_before: np.ndarray | None = None,
    what: str = "regression",
) -> OlsFit:
    """(Weighted) least squares of ``y`` on ``x`` with a robust covariance.

    Parameters
    ----------
    y : ndarray, shape (n,)
    x : ndarray, shape (n, k), already demeaned if fixed effects were absorbed
    names : k column names
    cov_type : "HC1", "HC2" or "cluster"
    clusters : int codes, shape (n,), required for ``"cluster"``
    weights : ndarray, shape (n,), optional analytic weights (WLS)
    absorbed_df : number of absorbed fixed-effect parameters counted in K
    x_before : the design before demeaning, to name regressors the effects absorbed

    Returns
    -------
    OlsFit

    Notes
    -----
    HC1 and HC2 follow MacKinnon & White (1985); HC2 with a binary regressor is the Welch
    variance. The clustered covariance is CR1 with Stata's small-sample factor
    ``G/(G-1) * (n-1)/(n-K)`` (Cameron & Miller 2015, section VI.B), where K counts the regressors
    and the absorbed effects not nested in the clusters.
    """
    n, k = x.shape
    root_w = np.ones(n) if weights is None else np.sqrt(weights)
    if weights is not None:
        y = y * root_w
        x = x * root_w[:, None]
    xtx = x.T @ x
    check_rank(
        xtx,
        names,
        what,
        None if x_before is None else np.linalg.norm(x_before * root_w[:, None], axis=0),
    )
    big_k = k + absorbed_df
    if n - big_k <= 0:
        raise InsufficientData(
            f"{what}: {n} observations cannot estimate {big_k} parameters", subject=what
        )
    xtx_inv = np.linalg.inv(xtx)
    params = xtx_inv @ (x.T @ y)
    resid = y - x @ params
    n_clusters: int | None = None
    if cov_type == "HC1":
        scores = x * resid[:, None]
        scale = n / (n - big_k)
        df_inf = n - big_k
    elif cov_type == "HC2":
        if absorbed_df:
            raise ValueError("HC2 leverage needs the full design; absorbed effects not supported")
        leverage = ((x @ xtx_inv) * x).sum(axis=1)
        exact = leverage > 1 - 1e-10
        if exact.any():
            raise InsufficientData(
                f"{what}: {int(exact.sum())} observation(s) (the first is row "
                f"{int(np.argmax(exact))} of the fit) have leverage 1: the regression fits them "
                "exactly (a group with no more rows than the parameters it carries), so HC2 is "
                "undefined; drop regressors or add rows",
                subject=what,
            )
        scores = x * (resid / np.sqrt(1 - leverage))[:, None]
        scale = 1.0
        df_inf = n - big_k
    else:
        if clusters is None:
            raise ValueError("cluster covariance needs cluster codes")
        g = int(clusters.max()) + 1
        n_clusters = g
        if g < 2:
            raise InsufficientData(f"{what}: one cluster only", subject="clusters")
        scores = x * resid[:, None]
        scale = g / (g - 1) * (n - 1) / (n - big_k)
        df_inf = int(cluster_df(g))
    cov = sandwich(xtx_inv, scores, clusters if cov_type == "cluster" else None, scale=scale)
    cov = (cov + cov.T) / 2
    if weights is not None:
        resid = resid / root_w
    return OlsFit(
        names=tuple(names),
        params=params,
        cov=cov,
        nobs=n,
        df_resid=n - big_k,
        df_inference=df_inf,
        n_clusters=n_clusters,
        resid=resid,
        cov_type=cov_type,
    )
