"""Inference every estimator shares: reference distributions, intervals, cluster codes and
sandwich variances.

An estimate has one reference distribution for its statistic: Student's t with ``df`` degrees
of freedom (the regression estimators with a small-sample reference, statsmodels'
``use_t=True``) or the standard normal (``df=None``). :func:`interval` turns a point, a standard
error and that reference into the interval and p-value, and :func:`effect_estimate` stores the
reference on the result, so ``EffectEstimate.conf_int(alpha)`` at another level uses it too.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec

from .result import Coefficient, EffectEstimate, Estimand, Method
from .validate import role_field

__all__ = [
    "FEW_CLUSTERS",
    "FEW_TREATED_CLUSTERS",
    "WEBB_BELOW",
    "WILD_DRAWS",
    "ClusterInference",
    "RandomizationTest",
    "WildBootstrap",
    "cluster_codes",
    "cluster_df",
    "cluster_sums",
    "clustered_df",
    "coefficient",
    "column_codes",
    "critical_value",
    "effect_estimate",
    "few_cluster_warnings",
    "group_codes",
    "influence_stderr",
    "interval",
    "intervals",
    "plan_wild_bootstrap",
    "randomization_test",
    "require_stderr",
    "sandwich",
    "use_wild_bootstrap",
    "wild_cluster_bootstrap",
    "wild_pvalue_floor",
    "with_wild_bootstrap",
]

_NAN3 = (float("nan"), float("nan"), float("nan"))
# Below this many clusters, cluster-robust standard errors are biased downward (Cameron,
# Gelbach & Miller 2008): estimators take p-values and intervals from the wild cluster
# bootstrap instead (ClusterInference.AUTO).
FEW_CLUSTERS = 30
# Below this many treated clusters cluster-robust tests over-reject badly whatever G is
# (MacKinnon & Webb 2017); the DiD family's _panel reads it from here.
FEW_TREATED_CLUSTERS = 6
# Draws of the wild cluster bootstrap (boottest's default); with Rademacher weights and
# 2^G <= WILD_DRAWS every sign vector is enumerated instead.
WILD_DRAWS = 9999
# Below this many clusters Rademacher weights have too few distinct draws (2^G); Webb's
# six-point weights are used (Webb 2023; MacKinnon & Webb 2018 recommend them for G < ~12).
WEBB_BELOW = 12
_WEBB = np.sqrt(np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0]) / 2) * np.array([-1, -1, -1, 1, 1, 1])


class ClusterInference(enum.StrEnum):
    """How clustered estimates get their p-values and intervals (the wire's ClusterInference)."""

    AUTO = "auto"  # the wild cluster bootstrap below FEW_CLUSTERS clusters, CR1 above
    CLUSTER_ROBUST = "cluster_robust"
    WILD_BOOTSTRAP = "wild_bootstrap"


def use_wild_bootstrap(inference: ClusterInference | str, n_clusters: int) -> bool:
    """Whether ``inference`` asks for the wild cluster bootstrap at ``n_clusters`` clusters."""
    choice = ClusterInference(inference)
    if choice is ClusterInference.AUTO:
        return n_clusters < FEW_CLUSTERS
    return choice is ClusterInference.WILD_BOOTSTRAP


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
        # 0 means an exact fit; nan/inf means the arithmetic overflowed or the design is
        # degenerate: the old text blamed a constant outcome for both (1e308 read "does not vary").
        why = (
            "the outcome is fitted exactly or does not vary"
            if stderr == 0
            else "the variance computation overflowed or the design is degenerate"
        )
        raise InsufficientData(
            f"{what}: the standard error is {stderr!r} ({why}), so no interval or test can be "
            "given",
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


def cluster_df(n_clusters: int) -> float:
    """Degrees of freedom of the t reference of a cluster-robust statistic with G clusters:
    G − 1 (Cameron & Miller 2015, §VI.C; Stata's ``vce(cluster)``, linearmodels' ``debiased``)."""
    return float(n_clusters - 1)


def clustered_df(clusters: np.ndarray | None) -> float | None:
    """:func:`cluster_df` for the G clusters present in ``clusters`` (None, the normal, when
    unclustered)."""
    return None if clusters is None else cluster_df(len(np.unique(clusters)))


def few_cluster_warnings(
    method: str,
    n_clusters: int,
    n_treated_clusters: int | None = None,
    *,
    wild_bootstrap: bool | None = None,
    normal: bool = False,
) -> list[str]:
    """The warnings every clustered estimate gives when its clusters are few.

    Cluster-robust standard errors are biased downward below ~FEW_CLUSTERS clusters (Cameron,
    Gelbach & Miller 2008) and tests over-reject with few treated clusters whatever G is
    (MacKinnon & Webb 2017). ``wild_bootstrap``: None when ``method`` has no wild cluster
    bootstrap (IV, IPW, AIPW, RDD), False when it has one that was not used, True when the
    p-value and interval came from it (then only very few clusters, or few treated clusters,
    are worth a warning: the bootstrap's p-value has a floor and is unreliable there). ``normal``: the estimate's
    reference is the normal (``staggered_did``'s influence functions) rather than t(G − 1).
    """
    if wild_bootstrap:
        return _wild_bootstrap_warnings(n_clusters, n_treated_clusters)
    reference = "the normal" if normal else f"t with G-1 = {cluster_df(n_clusters):g} df"
    remedy = (
        f"{method} has no wild cluster bootstrap, so read the interval as optimistic"
        if wild_bootstrap is None
        else "the wild cluster bootstrap, options.cluster_inference, is safer"
    )
    out = []
    if n_clusters < FEW_CLUSTERS:
        out.append(
            f"only {n_clusters} clusters: {method}'s cluster-robust standard error is biased "
            f"downward with fewer than ~{FEW_CLUSTERS} (inference uses {reference}; {remedy})"
        )
    if n_treated_clusters is not None and n_treated_clusters < FEW_TREATED_CLUSTERS:
        out.append(
            f"only {n_treated_clusters} clusters hold treated units: cluster-robust tests "
            "over-reject badly with few treated clusters (MacKinnon & Webb 2017)"
        )
    return out


# Below this many clusters even the wild cluster bootstrap is unreliable, and its smallest
# attainable p-value (wild_pvalue_floor: 0.028 at 3 Webb clusters, 0.0046 at 4, 0.00077 at 5)
# is large enough to matter: the estimate says so (MacKinnon & Webb 2018).
VERY_FEW_CLUSTERS = 6


def wild_pvalue_floor(n_clusters: int) -> float:
    """The smallest p-value the wild cluster bootstrap can give with G clusters: the weight
    vectors proportional to 1 (6 of the 6^G Webb vectors below WEBB_BELOW clusters, 2 of the
    2^G Rademacher ones above) reproduce the sample's |t| exactly and always count."""
    if n_clusters < WEBB_BELOW:
        return float(len(_WEBB)) ** (1 - n_clusters)
    return 2.0 ** (1 - n_clusters)


def _wild_bootstrap_warnings(n_clusters: int, n_treated_clusters: int | None) -> list[str]:
    """What stays worth saying when the p-value and interval did come from the bootstrap."""
    out = []
    if n_clusters < VERY_FEW_CLUSTERS:
        out.append(
            f"only {n_clusters} clusters: even the wild cluster bootstrap is unreliable this "
            f"few, and its p-value cannot fall below {wild_pvalue_floor(n_clusters):.2g} (the "
            "weight vectors that rescale the whole sample reproduce its t-statistic); no level "
            "beyond that is testable, and the printed SE is the cluster-robust (CR1) one, "
            "which is biased downward"
        )
    if n_treated_clusters is not None and n_treated_clusters < FEW_TREATED_CLUSTERS:
        out.append(
            f"only {n_treated_clusters} clusters hold treated units: with so few the wild "
            "cluster restricted bootstrap tends to under-reject (its interval is too wide, "
            "its p-value too large; MacKinnon & Webb 2017)"
        )
    return out


def plan_wild_bootstrap(
    method: str,
    inference: ClusterInference | str,
    n_clusters: int,
    *,
    n_treated_clusters: int | None = None,
    weighted: bool = False,
    normal: bool = False,
) -> tuple[bool, list[str]]:
    """Whether a clustered estimate takes its p-value and interval from the wild cluster
    bootstrap, and the warnings that go with the choice (:func:`few_cluster_warnings`).

    The bootstrap here reweights an unweighted regression's residuals; a weighted fit falls
    back to cluster-robust errors with t(G − 1) and says so instead.
    """
    wild = use_wild_bootstrap(inference, n_clusters)
    if wild and weighted:
        return False, [
            "the wild cluster bootstrap is not available for weighted regressions: inference "
            f"uses cluster-robust errors with t(G-1 = {cluster_df(n_clusters):g})"
        ]
    return wild, few_cluster_warnings(
        method, n_clusters, n_treated_clusters, wild_bootstrap=wild, normal=normal
    )


# -- the wild cluster bootstrap ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WildBootstrap:
    """A wild cluster bootstrap-t test of one linear combination, and its inverted interval."""

    pvalue: float  # H0: the combination is zero
    ci_lower: float
    ci_upper: float
    draws: int
    weights: str  # "rademacher" or "webb"
    enumerated: bool  # every Rademacher sign vector, no random draws
    t_statistic: float


def _wild_weights(
    n_clusters: int, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, str, bool]:
    """(G, B) cluster weights, their kind, and whether they enumerate every weight vector.

    With few clusters the bootstrap distribution has only 6^G (Webb) or 2^G (Rademacher)
    points; when they fit in B draws they are all enumerated, so the p-value is the exact
    bootstrap one rather than a Monte Carlo estimate of a lumpy distribution (R27-F1).
    """
    if n_clusters < WEBB_BELOW:
        if len(_WEBB) ** n_clusters <= draws:
            vectors = np.array(list(itertools.product(_WEBB, repeat=n_clusters))).T
            return vectors, "webb", True
        return rng.choice(_WEBB, size=(n_clusters, draws)), "webb", False
    if 2**n_clusters <= draws:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n_clusters))).T
        return signs, "rademacher", True
    return rng.choice((-1.0, 1.0), size=(n_clusters, draws)), "rademacher", False


def wild_cluster_bootstrap(
    y: np.ndarray,
    x: np.ndarray,
    contrast: np.ndarray,
    clusters: np.ndarray,
    *,
    alpha: float,
    rng: np.random.Generator,
    absorb: Callable[[np.ndarray], np.ndarray] | None = None,
    draws: int = WILD_DRAWS,
) -> WildBootstrap:
    """Wild cluster restricted bootstrap-t (WCR) for ``contrast @ beta`` in ``y = x beta + u``.

    Parameters
    ----------
    y : (n,) outcome, with any fixed effects already swept out
    x : (n, k) regressors, likewise
    contrast : (k,) the combination tested (a unit vector for one coefficient)
    clusters : (n,) cluster codes 0..G-1
    alpha : level of the interval
    rng : draws the weights (unused when the Rademacher draws are enumerated)
    absorb : the fixed-effect sweep applied to ``y`` and ``x`` (columns of an (n, m) array),
        needed when the effects are not nested in the clusters; None when nothing was absorbed
    draws : bootstrap draws B

    Returns
    -------
    WildBootstrap
        The symmetric p-value ``P(|t*| >= |t|)`` of H0: contrast·β = 0 and the interval of every
        θ that H0: contrast·β = θ does not reject at ``alpha``.

    Notes
    -----
    Cameron, Gelbach & Miller (2008); MacKinnon & Webb (2018); Roodman, MacKinnon, Nielsen &
    Webb (2019), "Fast and wild", whose algebra this follows: under H0: r'β = θ the restricted
    residuals are ``ü(θ) = û + h (r'β̂ − θ)/(r'Ar)`` with ``A = (X'X)⁻¹`` and ``h = X A r``;
    a draw ``v`` (one weight per cluster) moves the estimate by ``Σ_g v_g Σ_{i∈g} h_i ü_i``
    and its residuals by ``M_X M_FE (ü ∘ v)``, both linear in θ, so every draw's t-statistic
    is a ratio of a line and the root of a quadratic in θ: p(θ) costs O(B) and the interval
    is found by bisection on it. The t-statistics use the unscaled CR0 form in both the
    sample and the draws (a small-sample factor would cancel), so ``t_statistic`` is the CR0
    t, estimate / sqrt(Σ_g (Σ_{i∈g} h_i û_i)²), larger than the CR1 t by
    sqrt(G/(G−1)·(n−1)/(n−k)); the p-value does not depend on the factor. Webb's six-point
    weights below 12 clusters (all 6^G vectors enumerated when 6^G ≤ B, i.e. G ≤ 5),
    Rademacher above (enumerated when 2^G ≤ B). The weight vectors proportional to 1 always
    tie with the sample (:func:`wild_pvalue_floor`), so p and the interval's coverage are
    lumpy with very few clusters: with 3 the p-value cannot fall below 6/216 = 0.028, and an
    interval at a level beyond that floor is unbounded.
    """
    n_clusters = int(clusters.max()) + 1
    xtx_inv = np.linalg.inv(x.T @ x)
    a_r = xtx_inv @ contrast
    h = x @ a_r
    rar = float(contrast @ a_r)
    beta = xtx_inv @ (x.T @ y)
    estimate = float(contrast @ beta)
    resid = y - x @ beta

    def cluster_scores(z: np.ndarray) -> np.ndarray:
        return cluster_sums(h[:, None] * z, clusters, n_clusters)

    s_hat = float(np.sqrt(np.sum(cluster_sums(h * resid, clusters, n_clusters) ** 2)))
    u0 = resid + h * estimate / rar  # ü(θ) = u0 − θ m
    m = h / rar
    onehot = np.zeros((len(y), n_clusters))
    onehot[np.arange(len(y)), clusters] = 1.0

    def residual_map(u: np.ndarray) -> np.ndarray:
        """Q[g, h]: cluster g's score of the residuals a unit weight on cluster h leaves."""
        z = u[:, None] * onehot
        if absorb is not None:
            z = absorb(z)
        z = z - x @ (xtx_inv @ (x.T @ z))
        return cluster_scores(z)

    q0, q1 = residual_map(u0), residual_map(m)
    v, kind, enumerated = _wild_weights(n_clusters, draws, rng)
    n0 = cluster_sums(h * u0, clusters, n_clusters) @ v
    n1 = cluster_sums(h * m, clusters, n_clusters) @ v
    p0, p1 = q0 @ v, q1 @ v
    a, c, d = (p0 * p0).sum(axis=0), (p0 * p1).sum(axis=0), (p1 * p1).sum(axis=0)

    def pvalue(theta: float) -> float:
        t = abs(estimate - theta) / s_hat
        den = np.sqrt(np.maximum(a - 2 * theta * c + theta**2 * d, 1e-300))
        t_star = np.abs(n0 - theta * n1) / den
        # Ties count as extreme: a weight vector proportional to 1 (the same weight in every
        # cluster) rescales the whole sample, so its |t*| equals |t| exactly, for every θ. With
        # G = 3 Webb clusters those are 6 of 216 vectors: dropping them reported p = 1/10,000
        # where the bootstrap's own p is 6/216 (R27-F1). The tolerance absorbs float rounding.
        return float(np.mean(t_star >= t * (1 - 1e-9)))

    if alpha < wild_pvalue_floor(n_clusters):
        # No θ can be rejected at this level (the tied vectors alone exceed alpha): the
        # interval is the whole line, said rather than searched for in float noise.
        lower, upper = -math.inf, math.inf
    else:
        lower = _invert(pvalue, estimate, -2 * s_hat, alpha)
        upper = _invert(pvalue, estimate, 2 * s_hat, alpha)
    return WildBootstrap(
        pvalue=_bootstrap_pvalue(pvalue(0.0), v.shape[1], enumerated),
        ci_lower=lower,
        ci_upper=upper,
        draws=v.shape[1],
        weights=kind,
        enumerated=enumerated,
        t_statistic=estimate / s_hat if s_hat > 0 else math.nan,
    )


def with_wild_bootstrap(
    estimate: EffectEstimate,
    bootstrap: WildBootstrap,
    *,
    clusters: int | None = None,
    explain: bool = True,
) -> EffectEstimate:
    """``estimate`` with the bootstrap's interval and p-value; the cluster-robust ones it
    replaces stay in ``statistics`` (``cr1_*``), beside the draws and the weights, and (unless
    the estimator's own assumptions already say it: ``explain=False``) an assumption says where
    the interval came from. ``stderr`` is unchanged."""
    how = "enumerated sign vectors" if bootstrap.enumerated else "draws"
    few = f"{clusters} clusters" if clusters is not None else "few clusters"
    said = (
        (
            f"With {few} the p-value and interval come from the wild cluster bootstrap-t "
            f"with the null imposed ({bootstrap.weights} weights, {bootstrap.draws:,} {how}).",
        )
        if explain
        else ()
    )
    return dataclasses.replace(
        estimate,
        ci_lower=bootstrap.ci_lower,
        ci_upper=bootstrap.ci_upper,
        pvalue=bootstrap.pvalue,
        statistics={
            **estimate.statistics,
            "wild_bootstrap_draws": float(bootstrap.draws),
            "wild_bootstrap_webb": float(bootstrap.weights == "webb"),
            "cr1_ci_lower": estimate.ci_lower,
            "cr1_ci_upper": estimate.ci_upper,
            "cr1_pvalue": estimate.pvalue,
        },
        assumptions=(*estimate.assumptions, *said),
    )


def _bootstrap_pvalue(share: float, draws: int, enumerated: bool) -> float:
    """The reported p-value from the share of draws more extreme than the sample.

    A share of 0 is not p = 0: the sample is itself a draw from the bootstrap world, so with B
    random draws p = (1 + #at least as extreme)/(B + 1) >= 1/(B + 1) (Davison & Hinkley 1997,
    §4.2); an enumeration includes the all-ones vector, which reproduces the sample statistic
    and is counted as a tie, so the share is already at least :func:`wild_pvalue_floor`. With B = 9,999 and alpha·(B + 1) whole, p <= alpha exactly when
    the share is, so the interval (inverted from the share) and the test still agree.
    """
    if enumerated:
        return max(share, 1.0 / draws)
    return (round(share * draws) + 1) / (draws + 1)


def _invert(pvalue: Callable[[float], float], estimate: float, step: float, alpha: float) -> float:
    """The θ on the side of ``step`` where p(θ) falls to ``alpha``: doubling, then bisection."""
    if not (math.isfinite(step) and step != 0):
        return math.nan
    inside, outside = estimate, estimate + step
    for _ in range(60):
        if pvalue(outside) <= alpha:
            break
        inside, outside = outside, outside + 2 * (outside - estimate)
    else:
        return math.copysign(math.inf, step)
    for _ in range(80):
        middle = (inside + outside) / 2
        if pvalue(middle) > alpha:
            inside = middle
        else:
            outside = middle
        if abs(outside - inside) <= 1e-10 * (abs(estimate) + abs(step)):
            break
    return (inside + outside) / 2


# -- randomisation inference ---------------------------------------------------------------------

# Assignments drawn when the arms allow more distinct ones than this; fewer are enumerated.
RANDOMIZATION_DRAWS = 10_000


@dataclass(frozen=True, slots=True)
class RandomizationTest:
    """Fisher's randomisation test of a difference in means, and its inverted interval."""

    pvalue: float  # sharp null: no unit's outcome depends on its assignment
    ci_lower: float
    ci_upper: float
    draws: int
    enumerated: bool  # every assignment with the same arm sizes


def randomization_test(
    y: np.ndarray, t: np.ndarray, *, alpha: float, rng: np.random.Generator,
    draws: int = RANDOMIZATION_DRAWS,
) -> RandomizationTest:  # fmt: skip
    """Randomisation inference for the difference in means of ``y`` between ``t == 1`` and 0.

    The assignments are every one with the observed arm sizes (complete randomisation), or
    ``draws`` of them at random when there are more. p = share of assignments whose |difference|
    is at least the observed one; the interval holds every constant additive effect θ that the
    test of the sharp null ``Y(1) = Y(0) + θ`` does not reject at ``alpha`` (Fisher 1935; Imbens
    & Rubin 2015, ch. 5). ``y`` may be a CUPED-adjusted outcome whose adjustment does not
    depend on the assignment.
    """
    n, n1 = len(t), int(t.sum())
    treated = t == 1
    if math.comb(n, n1) <= draws:
        assignments = np.zeros((math.comb(n, n1), n), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(n), n1)):
            assignments[row, list(chosen)] = True
        enumerated = True
    else:
        keys = rng.random((draws, n))
        ranks = np.argsort(keys, axis=1)[:, :n1]
        assignments = np.zeros((draws, n), dtype=bool)
        np.put_along_axis(assignments, ranks, True, axis=1)
        enumerated = False
    a = assignments.astype(float)
    # Under H0(θ) the outcomes are y − θ·t for every assignment; its difference in means for an
    # assignment A is D_A(y) − θ·D_A(t): both linear, so one matrix product serves every θ.
    d_y = a @ y / n1 - (1 - a) @ y / (n - n1)
    d_t = a @ t / n1 - (1 - a) @ t / (n - n1)
    observed = float(y[treated].mean() - y[~treated].mean())

    def pvalue(theta: float) -> float:
        stat = abs(observed - theta)
        return float(np.mean(np.abs(d_y - theta * d_t) >= stat - 1e-12 * (1 + abs(stat))))

    scale = float(np.std(y, ddof=1)) * math.sqrt(1 / n1 + 1 / (n - n1)) or 1.0
    return RandomizationTest(
        pvalue=pvalue(0.0),
        ci_lower=_invert(pvalue, observed, -2 * scale, alpha),
        ci_upper=_invert(pvalue, observed, 2 * scale, alpha),
        draws=len(a),
        enumerated=enumerated,
    )
