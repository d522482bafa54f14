"""The naive regression: outcome on treatment (and covariates) by OLS.

This is the "correlation dressed as causation" baseline the benchmarks print beside every causal
method, so that a reader sees how far adjustment moved the answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.errors import InvalidSpec

from . import _ols
from ._inference import (
    ClusterInference,
    cluster_codes,
    effect_estimate,
    plan_wild_bootstrap,
    require_stderr,
    wild_cluster_bootstrap,
    with_wild_bootstrap,
)
from .result import EffectEstimate, EffectSpec, Estimand, Method
from .validate import numeric, positive_weights, require_columns, require_rows, role_field

__all__ = ["estimate_naive", "estimate_naive_regression"]


def estimate_naive_regression(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    cluster_inference: ClusterInference | str = ClusterInference.AUTO,
    random_state: int = 0,
) -> EffectEstimate:
    """OLS of the outcome on the treatment (0/1 or continuous) plus optional covariates.

    Parameters
    ----------
    frame : DataFrame, one row per observation
    spec : ``outcome``, ``treatment``; optional ``covariates``, ``weights`` (WLS), ``cluster``
    alpha : level of the confidence interval
    cluster_inference : clustered fits: ``"auto"`` (p-value and interval from the wild cluster
        bootstrap below 30 clusters), ``"cluster_robust"`` (CR1, t(G-1)) or ``"wild_bootstrap"``
    random_state : seed of the wild bootstrap's draws

    Returns
    -------
    EffectEstimate
        The treatment coefficient, labelled ATE but causal only under the assumptions listed.
        ``coefficients``: ``treatment`` and each covariate (the intercept is left out).
        ``statistics``: ``r_squared``, ``df``, ``n_clusters`` (when clustered),
        ``raw_difference`` (treated minus control mean, binary treatment only); with the wild
        cluster bootstrap ``wild_bootstrap_draws``, ``wild_bootstrap_webb``, ``cr1_ci_lower``,
        ``cr1_ci_upper``, ``cr1_pvalue``.

    Notes
    -----
    Heteroskedasticity-robust HC1 standard errors (MacKinnon & White 1985), or CR1 clustered
    ones when ``spec.cluster`` is set; inference uses t with n-k (or G-1) degrees of freedom.
    With fewer than 30 clusters (by default) the p-value and interval come from the wild
    cluster restricted bootstrap-t (:func:`._inference.wild_cluster_bootstrap`; Cameron,
    Gelbach & Miller 2008), CR1 standard errors being biased downward there; ``stderr`` stays
    CR1. Weighted fits keep CR1.
    """
    require_columns(frame, spec)
    y = numeric(frame, spec.outcome, "outcome")
    t = numeric(frame, spec.treatment, "treatment")
    require_rows(len(y), 3, "naive regression rows")
    if t.min() == t.max():
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} is constant: nothing to compare",
            field=role_field("treatment"),
            reason="CONSTANT_TREATMENT",
        )
    covariates = [numeric(frame, c, "covariates") for c in spec.covariates]
    weights = positive_weights(frame, spec)
    names = ["const", "treatment", *spec.covariates]
    x = np.column_stack([np.ones_like(y), t, *covariates])
    clusters = cluster_codes(frame, spec.cluster)[0] if spec.cluster else None
    fit = _ols.fit_ols(
        y,
        x,
        names,
        cov_type="cluster" if clusters is not None else "HC1",
        clusters=clusters,
        weights=weights,
        what="naive regression",
    )
    point, se = fit.coef("treatment"), fit.stderr("treatment")
    require_stderr(se, "naive regression")

    w = np.ones_like(y) if weights is None else weights
    y_bar = np.average(y, weights=w)
    r2 = 1 - np.sum(w * fit.resid**2) / np.sum(w * (y - y_bar) ** 2)
    binary = bool(np.isin(t, (0.0, 1.0)).all())
    statistics = {"r_squared": float(r2), "df": float(fit.df_inference)}
    if fit.n_clusters is not None:
        statistics["n_clusters"] = float(fit.n_clusters)
    if binary:
        statistics["raw_difference"] = float(
            np.average(y[t == 1], weights=w[t == 1]) - np.average(y[t == 0], weights=w[t == 0])
        )
    wild, warnings = False, list[str]()  # unclustered: no bootstrap, nothing to warn about
    if fit.n_clusters is not None:
        wild, warnings = plan_wild_bootstrap(
            "naive regression", cluster_inference, fit.n_clusters, weighted=weights is not None
        )
    adjusted = f" given {', '.join(spec.covariates)}" if spec.covariates else ""
    estimate = effect_estimate(
        Method.NAIVE_REGRESSION,
        Estimand.ATE,
        point,
        se,
        alpha=alpha,
        df=fit.df_inference,
        nobs=fit.nobs,
        n_treated=int((t == 1).sum()) if binary else None,
        n_control=int((t == 0).sum()) if binary else None,
        assumptions=(
            "This is an association, not a causal effect, unless treatment is as good as "
            f"randomly assigned{adjusted}: any unmeasured common cause of treatment and outcome "
            "biases it.",
            "The outcome is linear and additive in the treatment and covariates, with one "
            "effect for everyone.",
            "Covariates are measured before treatment (none is a mediator or collider).",
        ),
        statistics=statistics,
        coefficients=fit.coefficients(names[1:], alpha),
        warnings=tuple(warnings),
    )
    if not wild or clusters is None:
        return estimate
    contrast = np.asarray([n == "treatment" for n in names], dtype=float)
    rng = np.random.default_rng(random_state)
    return with_wild_bootstrap(
        estimate, wild_cluster_bootstrap(y, x, contrast, clusters, alpha=alpha, rng=rng)
    )


estimate_naive = estimate_naive_regression
