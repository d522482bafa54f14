"""Inverse probability weighting (normalised, Hajek) and augmented IPW (doubly robust).

Both fit a logistic propensity model on the covariates, optionally trim (Crump et al. 2009) or
clip the scores, and report influence-function standard errors, a weighted balance table and
OVERLAP / BALANCE checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold

from causal_svc.errors import InsufficientData, InvalidSpec

from ._inference import (
    clustered_df,
    effect_estimate,
    few_cluster_warnings,
    influence_stderr,
    require_stderr,
)
from ._propensity import (
    Inputs,
    Propensity,
    balance_check,
    balance_rows,
    crump_threshold,
    fit_propensity,
    overlap_check,
    overlap_series,
    read_inputs,
    resolve_estimand,
)
from ._reuse import Augmented, aipw_scores
from .result import EffectEstimate, EffectSpec, Estimand, Method
from .validate import role_field

__all__ = ["estimate_aipw", "estimate_ipw"]

Trimming = Literal["none", "crump", "clip"]


class Regressor(Protocol):
    """Any scikit-learn style regressor (cloned and refitted per arm and fold)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> object: ...
    def predict(self, x: np.ndarray) -> np.ndarray: ...


_COMMON_ASSUMPTIONS = (
    "No unmeasured confounding: given the covariates, treatment is as good as random.",
    "Overlap: every unit could have been treated or untreated (0 < e(X) < 1).",
    "SUTVA: one unit's treatment does not change another's outcome.",
)


def estimate_ipw(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    estimand: Estimand | None = None,
    trimming: Trimming = "none",
    clip_bounds: tuple[float, float] = (0.01, 0.99),
) -> EffectEstimate:
    """Normalised (Hajek) inverse-probability-weighted effect of a binary treatment.

    Parameters
    ----------
    frame : DataFrame, shape (n, k)
        One row per unit.
    spec : EffectSpec
        ``outcome``, binary ``treatment`` and ``covariates`` (the propensity model's inputs,
        entered linearly: add squares/dummies as columns) are required. ``cluster`` sums the
        influence function within clusters (factor G/(G−1), reference t(G − 1), warnings
        below 30 clusters or 6 treated clusters). ``weights`` are rejected.
    alpha : float
        Two-sided level of the confidence interval (normal, or t(G − 1) when clustered).
    estimand : Estimand, optional
        ATE or ATT; defaults to ``spec.estimand``.
    trimming : {"none", "crump", "clip"}
        "crump" drops units with e(X) outside [a, 1 - a] (Crump et al. 2009's rule) and refits
        the propensity model on the rest; "clip" winsorises e(X) to ``clip_bounds``.
    clip_bounds : (float, float)
        Bounds for ``trimming="clip"``.

    Returns
    -------
    EffectEstimate
        ``point_estimate`` is the Hajek estimate: weighted mean of treated minus weighted mean
        of controls, with weights 1/e and 1/(1-e) (ATE) or 1 and e/(1-e) (ATT), each arm's
        weights normalised to sum to one. ``stderr`` comes from the influence function of the
        stacked estimating equations, which accounts for the estimated propensity score.

        ``statistics``: ``mean_treated``, ``mean_control`` (weighted), ``ess_treated``,
        ``ess_control`` (Kish effective sample sizes), ``max_weight_share`` (largest single
        normalised weight), ``propensity_min``, ``propensity_max``, ``share_outside_support``,
        ``share_extreme_propensity``, ``n_trimmed``, ``n_clipped``, ``trim_threshold`` (crump),
        ``propensity_iterations``; with ``cluster`` also ``n_clusters`` and
        ``n_treated_clusters`` (clusters holding a treated unit).

        ``balance``: one row per covariate, SMD before and after weighting.

        ``checks``: OVERLAP (FAILED when more than 10% of target units fall outside the other
        group's propensity range, WARNING when any do or any score is outside [0.01, 0.99]) and
        BALANCE (FAILED when any weighted |SMD| > 0.1).

    Raises
    ------
    InvalidSpec
        Missing/non-numeric roles, non-binary or constant treatment, no covariates, estimand not
        ATE/ATT, bad trimming options, sampling weights.
    InsufficientData
        Fewer than 2 units per arm, or covariates that perfectly separate the arms.
    SingularDesign
        Constant or collinear covariates.

    Notes
    -----
    Hajek (1971) normalisation; Hirano, Imbens & Ridder (2003) for the efficiency of weighting
    by an estimated score; Lunceford & Davidian (2004) for the sandwich variance with estimated
    propensity; Crump, Hotz, Imbens & Mitnik (2009), Biometrika, for the trimming rule; Austin &
    Stuart (2015) for weighted balance diagnostics.
    """
    target = resolve_estimand(estimand, spec.estimand, "IPW")
    data = read_inputs(frame, spec, "IPW", allow_cluster=True)
    data, ps, e, free, trim_stats = _propensity(data, trimming, clip_bounds)
    t, y = data.t, data.y
    w1, w0, dw1, dw0 = _ipw_weights(e, target)
    # Stacked estimating equations: each arm's weighted mean, then the logistic score.
    mu1, if_mu1 = _weighted_mean_if(y, t, w1, dw1 * free, ps)
    mu0, if_mu0 = _weighted_mean_if(y, 1 - t, w0, dw0 * free, ps)
    tau = mu1 - mu0
    se = float(influence_stderr(if_mu1 - if_mu0, data.cluster, small_sample=True))
    unit_w = np.where(t == 1, w1, w0)
    statistics = {"mean_treated": mu1, "mean_control": mu0, **trim_stats}
    return _result(Method.IPW, target, data, ps, e, unit_w, (tau, se), alpha, statistics, trimming)


def estimate_aipw(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    estimand: Estimand | None = None,
    trimming: Trimming = "none",
    clip_bounds: tuple[float, float] = (0.01, 0.99),
    outcome_model: Regressor | None = None,
    n_folds: int = 5,
    random_state: int = 0,
) -> EffectEstimate:
    """Augmented IPW (doubly robust) effect of a binary treatment.

    Parameters
    ----------
    frame, spec, alpha, estimand, trimming, clip_bounds
        As :func:`estimate_ipw`.
    outcome_model : scikit-learn regressor, optional
        Model of E[Y | X, T=t], fitted separately per arm. Default: OLS on the covariates
        (fitted in-sample). A passed model is cloned and cross-fitted over ``n_folds`` folds.
    n_folds : int
        Folds for cross-fitting a passed ``outcome_model``.
    random_state : int
        Seed of the fold split.

    Returns
    -------
    EffectEstimate
        ATE: mean of mu1(X) - mu0(X) + T(Y - mu1(X))/e - (1-T)(Y - mu0(X))/(1-e).
        ATT: mean over all units of [T(Y - mu0(X)) - (1-T) e/(1-e) (Y - mu0(X))] divided by
        the treated share. ``stderr`` is the standard deviation of the efficient influence
        function over sqrt(n) (valid when both nuisance models converge fast enough, as for the
        parametric defaults).

        ``statistics``: as :func:`estimate_ipw` plus ``outcome_model_r2_treated``,
        ``outcome_model_r2_control``, ``regression_estimate`` (the outcome-model-only
        plug-in) and ``ipw_correction`` (the weighted residual term), with ``mean_treated`` /
        ``mean_control`` the doubly robust potential-outcome means.

        ``balance`` / ``checks``: as :func:`estimate_ipw` (balance under the IPW weights).

    Raises
    ------
    InvalidSpec, InsufficientData, SingularDesign
        As :func:`estimate_ipw`; also ``n_folds`` < 2 with an ``outcome_model``.

    Notes
    -----
    Robins, Rotnitzky & Zhao (1994); Bang & Robins (2005) on double robustness; Hahn (1998) for
    the efficient influence functions of ATE and ATT; Chernozhukov et al. (2018) for
    cross-fitting a flexible outcome model.
    """
    return _fit_aipw(
        frame,
        spec,
        alpha=alpha,
        estimand=estimand,
        trimming=trimming,
        clip_bounds=clip_bounds,
        outcome_model=outcome_model,
        n_folds=n_folds,
        random_state=random_state,
    )[0]


def fit_with_reuse(
    frame: pd.DataFrame, spec: EffectSpec, **options: Any
) -> tuple[EffectEstimate, Callable[[pd.DataFrame, EffectSpec], EffectEstimate]]:
    """:func:`estimate_aipw` and an estimator for the refuters that answers a placebo treatment
    or a data subset from this fit's scores (:class:`._reuse.Augmented`), refitting for
    anything else (and always, when Crump trimming dropped rows)."""
    return _fit_aipw(frame, spec, **options)


def _fit_aipw(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    estimand: Estimand | None = None,
    trimming: Trimming = "none",
    clip_bounds: tuple[float, float] = (0.01, 0.99),
    outcome_model: Regressor | None = None,
    n_folds: int = 5,
    random_state: int = 0,
) -> tuple[EffectEstimate, Callable[[pd.DataFrame, EffectSpec], EffectEstimate]]:
    target = resolve_estimand(estimand, spec.estimand, "AIPW")
    if outcome_model is not None and n_folds < 2:
        raise InvalidSpec("cross-fitting needs n_folds >= 2", field="options.n_folds")
    data = read_inputs(frame, spec, "AIPW", allow_cluster=True)
    data, ps, e, _, trim_stats = _propensity(data, trimming, clip_bounds)
    t, y = data.t, data.y
    m1, m0, r2_1, r2_0 = _outcome_predictions(data, outcome_model, n_folds, random_state)
    tau, influence, mu1, mu0 = aipw_scores(t, y, e, m1, m0, target)
    regression = (
        float((m1 - m0).mean()) if target is Estimand.ATE else float((y - m0)[t == 1].mean())
    )
    se = float(influence_stderr(influence, data.cluster, small_sample=True))
    w1, w0, _, _ = _ipw_weights(e, target)
    statistics = {
        "mean_treated": mu1,
        "mean_control": mu0,
        "regression_estimate": regression,
        "ipw_correction": tau - regression,
        "outcome_model_r2_treated": r2_1,
        "outcome_model_r2_control": r2_0,
        **trim_stats,
    }
    estimate = _result(
        Method.AIPW,
        target,
        data,
        ps,
        e,
        np.where(t == 1, w1, w0),
        (tau, se),
        alpha,
        statistics,
        trimming,
        extra_assumption=(
            "Double robustness: consistent if either the propensity model or the outcome model "
            "is correctly specified."
        ),
    )
    fallback = functools.partial(
        estimate_aipw, alpha=alpha, estimand=estimand, trimming=trimming,
        clip_bounds=clip_bounds, outcome_model=outcome_model, n_folds=n_folds,
        random_state=random_state,
    )  # fmt: skip
    if len(t) != len(frame):  # Crump trimming dropped rows: nothing lines up with the frame
        return estimate, fallback
    pooled = np.column_stack([np.ones(len(y)), data.x])
    beta, *_ = np.linalg.lstsq(pooled, y, rcond=None)
    reuse = Augmented(
        frame=frame, spec=spec, y=y, t=t, e=e, m1=m1, m0=m0, m_pooled=pooled @ beta,
        cluster=data.cluster, estimand=target, method=Method.AIPW, alpha=alpha,
        fallback=fallback,
    )  # fmt: skip
    return estimate, reuse


def _propensity(
    data: Inputs, trimming: str, clip_bounds: tuple[float, float]
) -> tuple[Inputs, Propensity, np.ndarray, np.ndarray, dict[str, float]]:
    """Fit e(X), apply trimming/clipping; returns data, fit, scores and a 'score is free' mask."""
    if trimming not in ("none", "crump", "clip"):
        raise InvalidSpec(f"unknown trimming {trimming!r}", field="options.trimming")
    lo_b, hi_b = clip_bounds
    if trimming == "clip" and not 0 < lo_b < hi_b < 1:
        raise InvalidSpec(
            "clip_bounds must satisfy 0 < low < high < 1", field="options.clip_bounds"
        )
    ps = fit_propensity(data.x, data.t)
    stats: dict[str, float] = {"n_trimmed": 0.0, "n_clipped": 0.0}
    if trimming == "crump":
        a = crump_threshold(ps.score)
        keep = (ps.score >= a) & (ps.score <= 1 - a)
        stats |= {"trim_threshold": a, "n_trimmed": float((~keep).sum())}
        if not keep.all():
            data = data.take(keep)
            # The trimmed population is a new target: refit its propensity model.
            n1 = int(data.t.sum())
            if min(n1, len(data.t) - n1) < 2:
                raise InsufficientData(
                    "Crump trimming left fewer than 2 units in an arm", subject="roles.treatment"
                )
            ps = fit_propensity(data.x, data.t)
    e = ps.score
    free = np.ones_like(e)
    if trimming == "clip":
        clipped = (e < lo_b) | (e > hi_b)
        stats["n_clipped"] = float(clipped.sum())
        e = np.clip(e, lo_b, hi_b)
        free = (~clipped).astype(float)  # a clipped score no longer moves with the coefficients
    stats |= {
        "propensity_min": float(e.min()),
        "propensity_max": float(e.max()),
        "propensity_iterations": float(ps.iterations),
    }
    return data, ps, e, free, stats


def _ipw_weights(
    e: np.ndarray, target: Estimand
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arm weights and their derivatives with respect to the logit (d w / d eta)."""
    if target is Estimand.ATE:
        w1, w0 = 1 / e, 1 / (1 - e)
        return w1, w0, -(1 - e) / e, e / (1 - e)
    odds = e / (1 - e)
    return np.ones_like(e), odds, np.zeros_like(e), odds


def _weighted_mean_if(
    y: np.ndarray, arm: np.ndarray, w: np.ndarray, dw: np.ndarray, ps: Propensity
) -> tuple[float, np.ndarray]:
    """Hajek mean of y over ``arm`` with weights w(e), and its influence function.

    The weights depend on the logistic coefficients through the logit, so the influence
    function adds the Jacobian of the weighted residual times the coefficients' influence.
    """
    aw = arm * w
    mu = float(np.sum(aw * y) / np.sum(aw))
    resid = y - mu
    n = len(y)
    jac = ((arm * dw * resid)[:, None] * ps.design).sum(axis=0) / n
    influence = (aw * resid + ps.if_beta @ jac) / (aw.sum() / n)
    return mu, influence


def _outcome_predictions(
    data: Inputs, model: Regressor | None, n_folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    x, y, t = data.x, data.y, data.t
    preds = {}
    r2 = {}
    for arm in (1, 0):
        rows = t == arm
        if model is None:
            design = np.column_stack([np.ones(len(y)), x])
            coef, *_ = np.linalg.lstsq(design[rows], y[rows], rcond=None)
            preds[arm] = design @ coef
        else:
            pred = np.empty(len(y))
            folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
            for train, test in folds.split(x):
                train_arm = train[rows[train]]
                fitted = clone(model).fit(x[train_arm], y[train_arm])  # type: ignore[arg-type]
                pred[test] = fitted.predict(x[test])
            preds[arm] = pred
        resid = y[rows] - preds[arm][rows]
        total = np.sum((y[rows] - y[rows].mean()) ** 2)
        r2[arm] = float(1 - np.sum(resid**2) / total) if total > 0 else float("nan")
    return preds[1], preds[0], r2[1], r2[0]


def _result(
    method: Method,
    target: Estimand,
    data: Inputs,
    ps: Propensity,
    e: np.ndarray,
    unit_w: np.ndarray,
    effect: tuple[float, float],
    alpha: float,
    statistics: dict[str, float],
    trimming: str,
    extra_assumption: str | None = None,
) -> EffectEstimate:
    tau, se = effect
    require_stderr(se, method.value, subject=role_field("outcome"))
    t = data.t
    rows = balance_rows(data.x, data.names, t, unit_w)
    action = {
        "none": "",
        "crump": " even after Crump trimming",
        "clip": " (scores were clipped, which biases toward the overlap population)",
    }[trimming]
    overlap, share, extreme = overlap_check(ps.logit, ps.score, t, target, action)
    checks = (overlap, balance_check(rows, "weighting"))
    ess = {}
    for arm, name in ((1, "treated"), (0, "control")):
        w = unit_w[t == arm]
        ess[f"ess_{name}"] = float(w.sum() ** 2 / np.sum(w**2))
    statistics |= ess | {
        "max_weight_share": float(
            max(
                unit_w[t == 1].max() / unit_w[t == 1].sum(),
                unit_w[t == 0].max() / unit_w[t == 0].sum(),
            )
        ),
        "share_outside_support": share,
        "share_extreme_propensity": extreme,
    }
    warnings = []
    if trimming == "crump" and statistics["n_trimmed"] > 0:
        warnings.append(
            f"{int(statistics['n_trimmed'])} units with propensity outside "
            f"[{statistics['trim_threshold']:.3f}, {1 - statistics['trim_threshold']:.3f}] were "
            "dropped: the estimate is for the overlap population, not the full sample"
        )
    if trimming == "clip" and statistics["n_clipped"] > 0:
        warnings.append(f"{int(statistics['n_clipped'])} propensity scores were clipped")
    df = clustered_df(data.cluster)
    if data.cluster is not None:
        # G/(G-1) with a normal reference covered too little with few clusters (R11-F4):
        # t(G - 1) as the DiD family, and the same warnings.
        n_clusters = len(np.unique(data.cluster))
        treated_clusters = len(np.unique(data.cluster[t == 1]))
        statistics |= {
            "n_clusters": float(n_clusters),
            "n_treated_clusters": float(treated_clusters),
        }
        warnings.extend(few_cluster_warnings(method.value, n_clusters, treated_clusters))
    assumptions = list(_COMMON_ASSUMPTIONS)
    assumptions.append(
        "The logistic propensity model (covariates entered linearly) is correctly specified."
    )
    if extra_assumption:
        assumptions.append(extra_assumption)
    return effect_estimate(
        method,
        target,
        float(tau),
        float(se),
        alpha=alpha,
        nobs=len(t),
        df=df,
        n_treated=int(t.sum()),
        n_control=int((1 - t).sum()),
        assumptions=tuple(assumptions),
        statistics=statistics,
        balance=rows,
        series=overlap_series(ps.score, t),
        warnings=tuple(warnings),
        checks=checks,
    )
