"""Difference in differences: the 2×2 design and two-way fixed effects, with cluster-robust
errors and a differential pre-trend check (the panel itself: :mod:`._panel`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from . import _ols
from ._inference import (
    ClusterInference,
    WildBootstrap,
    effect_estimate,
    interval,
    require_stderr,
    wild_cluster_bootstrap,
    with_wild_bootstrap,
)
from ._panel import (
    PanelDesign,
    cluster_plan,
    fit_twfe,
    panel_design,
    subset_panel,
    wild_bootstrap_twfe,
)
from ._time_labels import time_labels
from .result import (
    Check,
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
    Series,
)
from .validate import role_field

__all__ = ["estimate_did"]


def _pretrend_check(panel: PanelDesign, alpha: float) -> tuple[Check, dict[str, float]]:
    """Differential linear trend of ever-treated units in untreated periods.

    Regresses the outcome on unit and period effects, ``ever_treated × period`` and the
    covariates (the assumption is parallel trends given them) over the untreated unit-periods
    only; a slope different from zero means the groups were already
    drifting apart before treatment, which parallel trends rules out.
    """
    name = "differential pre-treatment trend"
    untreated = panel.d == 0
    ever_row = np.isfinite(panel.first_treated[panel.unit])
    pre_periods = np.unique(panel.period[untreated & ever_row])
    if len(pre_periods) < 2 or not (untreated & ~ever_row).any():
        return (
            Check(
                name=name,
                kind=CheckKind.PRE_TREND,
                outcome=CheckOutcome.SKIPPED,
                interpretation="needs at least two pre-treatment periods and never-treated "
                "units; use event_study for a lead-by-lead test",
            ),
            {},
        )
    sub = subset_panel(panel, untreated)
    trend = (np.isfinite(sub.first_treated[sub.unit]) * sub.period).astype(float)
    # The same controls as the estimate: parallel trends is assumed given them, so the check
    # tests that assumption and not the unconditional one (R27-F0).
    x = np.column_stack([trend, sub.covariates])
    try:
        fit = fit_twfe(
            sub, x, ["ever_treated:period", *sub.covariate_names], "pre-trend regression"
        )
    except (SingularDesign, InsufficientData) as exc:
        return (
            Check(
                name=name,
                kind=CheckKind.PRE_TREND,
                outcome=CheckOutcome.SKIPPED,
                interpretation=f"could not be estimated: {exc.message}",
            ),
            {},
        )
    slope, se = fit.coef("ever_treated:period"), fit.stderr("ever_treated:period")
    if not (np.isfinite(se) and se > 0):  # the untreated outcome is fitted exactly: no test
        return (
            Check(
                name=name,
                kind=CheckKind.PRE_TREND,
                outcome=CheckOutcome.SKIPPED,
                interpretation="could not be estimated: the untreated outcome is fitted exactly "
                f"by the unit and period effects (standard error {se:g})",
            ),
            {},
        )
    _, _, p = interval(slope, se, alpha, fit.df_inference)
    failed = p < alpha
    return (
        Check(
            name=name,
            kind=CheckKind.PRE_TREND,
            outcome=CheckOutcome.FAILED if failed else CheckOutcome.PASSED,
            interpretation=(
                f"treated units drift by {slope:.4g} per period relative to controls before "
                f"treatment (p={p:.3g}): "
                + (
                    "parallel trends is rejected, the DiD estimate is not supported"
                    if failed
                    else "no evidence against parallel pre-trends (a linear test)"
                )
            ),
            statistic=slope / se,
            pvalue=p,
            threshold=alpha,
        ),
        {"pretrend_slope": slope, "pretrend_stderr": se, "pretrend_pvalue": p},
    )


def estimate_did(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    design: Literal["auto", "2x2", "twfe"] = "auto",
    cluster_inference: ClusterInference | str = ClusterInference.AUTO,
    random_state: int = 0,
) -> EffectEstimate:
    """Difference in differences on a unit × period panel.

    Parameters
    ----------
    frame : DataFrame, one row per unit-period
    spec : ``outcome``, ``treatment`` (1 for treated unit-periods), ``unit``, ``time``; optional
        ``cluster`` (default: the unit), ``covariates`` (time-varying controls), ``weights``
    alpha : level of the confidence interval
    design : ``"2x2"`` regresses the outcome on ``treated_group``, ``post`` and their product
        (needs one common treatment start and no covariates); ``"twfe"`` on the treatment with
        unit and period fixed effects; ``"auto"`` picks 2×2 when all treated units start
        together and there are no covariates, else TWFE (and warns that staggered timing calls
        for ``staggered_did``). With covariates the 2×2 dummies would let a covariate's slope
        absorb between-unit differences; TWFE fits it within units, as ``PanelOLS`` with
        entity and time effects does.
    cluster_inference : ``"auto"`` (the wild cluster bootstrap below 30 clusters),
        ``"cluster_robust"`` (CR1 with t(G-1)) or ``"wild_bootstrap"``
    random_state : seed of the bootstrap's weights

    Returns
    -------
    EffectEstimate
        ATT. ``coefficients``: ``treated_group``, ``post``, ``treated_group:post`` (2×2) or
        ``treatment`` (TWFE), then each covariate. ``statistics``: ``n_units``, ``n_periods``,
        ``n_clusters``, ``n_treated_clusters``, ``n_control_clusters``, ``df`` (t degrees of
        freedom, G-1), ``pretrend_slope``, ``pretrend_stderr``, ``pretrend_pvalue`` (when the
        pre-trend check runs); with the wild cluster bootstrap ``wild_bootstrap_draws``,
        ``wild_bootstrap_webb`` (1: Webb weights, 0: Rademacher), ``cr1_ci_lower``,
        ``cr1_ci_upper``, ``cr1_pvalue``; ``n_pre_periods`` when every treated unit starts
        in the same period. ``series``: ``mean:treated`` / ``mean:control``, the outcome's
        mean per period in each group (the report's trends plot). ``checks``: PRE_TREND
        (differential linear pre-trend).

    Notes
    -----
    Standard errors are cluster-robust (CR1) with Stata's ``G/(G-1)·(n-1)/(n-K)`` factor, K
    counting the regressors and the fixed effects not nested in the clusters — the convention of
    Stata's ``xtreg, fe vce(cluster)`` with period dummies, and of linearmodels' ``PanelOLS``
    with unit effects and explicit period dummies (its two-way ``PanelOLS(debiased=True,
    group_debias=True)`` counts both sets of effects and gives a larger SE; R11-F7);
    inference uses t with G-1 degrees of freedom (Bertrand, Duflo &
    Mullainathan 2004; Cameron & Miller 2015). With fewer than 30 clusters (by default) the
    p-value and interval come from the wild cluster restricted bootstrap-t instead
    (:func:`._inference.wild_cluster_bootstrap`; Cameron, Gelbach & Miller 2008; MacKinnon &
    Webb 2018): ``stderr`` stays CR1, ``conf_int`` at another level uses it. With staggered
    adoption and heterogeneous effects TWFE is a weighted average with possibly negative
    weights (Goodman-Bacon 2021).
    """
    if design not in ("auto", "2x2", "twfe"):
        raise InvalidSpec(f"design must be auto, 2x2 or twfe, got {design!r}", field="design")
    panel = panel_design(frame, spec, absorbing=design == "2x2", method="did")
    wild, cluster_notes = cluster_plan(panel, "did", cluster_inference)
    warnings = [*panel.warnings, *cluster_notes]
    ever = np.isfinite(panel.first_treated)
    starts = np.unique(panel.first_treated[ever])
    ever_row = ever[panel.unit].astype(float)
    common = len(starts) == 1
    post = (panel.period >= (starts[0] if common else np.inf)).astype(float)
    matches_2x2 = common and np.array_equal(panel.d, ever_row * post)
    if design == "2x2" and not matches_2x2:
        raise InvalidSpec(
            "the 2x2 design needs every treated unit to start treatment in the same period and "
            f"stay treated; first treated periods differ ({len(starts)} cohorts): use "
            "design='twfe' or the staggered_did method",
            field=role_field("treatment"),
            reason="STAGGERED_TIMING",
        )
    has_covariates = bool(panel.covariate_names)
    if design == "2x2" and has_covariates:
        # The 2×2 regression has group and period dummies, not unit and period effects: a
        # covariate's slope would then also be fitted on between-unit differences and bias the
        # effect (R27-F0). With covariates only the within (TWFE) regression is right.
        raise InvalidSpec(
            "the 2x2 design cannot adjust for covariates (its group and period dummies leave "
            "between-unit variation in them); use design='twfe' or 'auto', which fits unit and "
            "period fixed effects",
            field="design",
        )
    use_2x2 = not has_covariates and (design == "2x2" or (design == "auto" and matches_2x2))
    if not use_2x2 and len(starts) > 1:
        warnings.append(
            f"treatment starts in {len(starts)} different periods: the TWFE coefficient is "
            "biased when effects differ across cohorts or grow over time (Goodman-Bacon 2021); "
            "prefer staggered_did"
        )
    if use_2x2:
        names = ["const", "treated_group", "post", "treated_group:post", *panel.covariate_names]
        x = np.column_stack([np.ones_like(post), ever_row, post, ever_row * post, panel.covariates])
        fit = _ols.fit_ols(
            panel.y,
            x,
            names,
            cov_type="cluster",
            clusters=panel.cluster,
            weights=panel.weights,
            what="2x2 DiD regression",
        )
        effect_name = "treated_group:post"
    else:
        names = ["treatment", *panel.covariate_names]
        x = np.column_stack([panel.d, panel.covariates])
        fit = fit_twfe(panel, x, names, "TWFE DiD regression")
        effect_name = "treatment"

    point, se = fit.coef(effect_name), fit.stderr(effect_name)
    require_stderr(se, "did")
    bootstrap = None
    if wild:
        contrast = np.asarray([n == effect_name for n in names], dtype=float)
        bootstrap = _bootstrap(panel, x, contrast, use_2x2, alpha, random_state)
    check, pre_stats = _pretrend_check(panel, alpha)
    n_treated_clusters, n_control_clusters = panel.cluster_arms()
    statistics = {
        "n_units": float(panel.n_units),
        "n_periods": float(panel.n_periods),
        "n_clusters": float(panel.n_clusters),
        "n_treated_clusters": float(n_treated_clusters),
        "n_control_clusters": float(n_control_clusters),
        "df": float(fit.df_inference),
        **pre_stats,
    }
    if common:
        statistics["n_pre_periods"] = float(starts[0])  # periods before the common start
    design_words = (
        "2×2 regression of the outcome on treated group, post period and their interaction"
        if use_2x2
        else "two-way fixed effects regression (unit and period effects)"
        + (f" with {', '.join(panel.covariate_names)} as controls" if has_covariates else "")
    )
    inference = (
        "Errors may correlate within clusters but are independent across clusters."
        if bootstrap is None
        else f"Errors may correlate within clusters but are independent across clusters; with "
        f"{panel.n_clusters} clusters the p-value and interval come from the wild cluster "
        f"bootstrap-t with the null imposed ({bootstrap.weights} weights, {bootstrap.draws:,} "
        f"{'enumerated sign vectors' if bootstrap.enumerated else 'draws'})."
    )
    estimate = effect_estimate(
        Method.DID,
        Estimand.ATT,
        point,
        se,
        alpha=alpha,
        df=fit.df_inference,
        nobs=fit.nobs,
        n_treated=int(ever.sum()),
        n_control=int((~ever).sum()),
        assumptions=(
            f"Design: {design_words}; the effect is the average effect on the treated (ATT).",
            "Parallel trends: without treatment, treated and comparison units' outcomes would "
            "have moved in parallel" + (" given the controls." if has_covariates else "."),
            "No anticipation: outcomes do not respond before treatment starts.",
            "Stable composition and no spillovers between treated and comparison units (SUTVA).",
            inference,
            *(
                ()
                if len(starts) == 1
                else (
                    "TWFE additionally assumes a homogeneous effect across cohorts and over "
                    "time; otherwise it averages effects with possibly negative weights.",
                )
            ),
        ),
        statistics=statistics,
        coefficients=fit.coefficients([n for n in names if n != "const"], alpha),
        series=_group_means(panel, ever),
        warnings=tuple(warnings),
        checks=(check,),
    )
    if bootstrap is None:
        return estimate
    return with_wild_bootstrap(estimate, bootstrap, explain=False)  # said in the assumptions


def _bootstrap(
    panel: PanelDesign,
    x: np.ndarray,
    contrast: np.ndarray,
    two_by_two: bool,
    alpha: float,
    random_state: int,
) -> WildBootstrap:
    """The wild cluster bootstrap of the effect, on the regression the estimate came from."""
    if two_by_two:
        rng = np.random.default_rng(random_state)
        return wild_cluster_bootstrap(panel.y, x, contrast, panel.cluster, alpha=alpha, rng=rng)
    return wild_bootstrap_twfe(panel, x, contrast, alpha, random_state)


def _group_means(panel: PanelDesign, ever: np.ndarray) -> tuple[Series, Series]:
    """``mean:treated`` / ``mean:control``: the outcome's mean per period over ever-treated and
    never-treated units (unweighted): what parallel trends is about, for the report's plot."""
    index = time_labels(panel.periods)
    treated_row = ever[panel.unit]
    out = []
    for name, rows in (("mean:treated", treated_row), ("mean:control", ~treated_row)):
        count = np.bincount(panel.period[rows], minlength=panel.n_periods)
        total = np.bincount(panel.period[rows], weights=panel.y[rows], minlength=panel.n_periods)
        mean = np.divide(total, count, out=np.full(panel.n_periods, np.nan), where=count > 0)
        out.append(Series(name, index, tuple(float(v) for v in mean)))
    return out[0], out[1]
