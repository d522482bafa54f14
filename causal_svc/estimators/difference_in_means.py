"""Difference in means for randomised experiments, with CUPED and Lin (2013) covariate
adjustment, and cluster-robust errors for geo- (cluster-) randomised designs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from . import _ols
from ._inference import (
    ClusterInference,
    RandomizationTest,
    cluster_codes,
    effect_estimate,
    interval,
    plan_wild_bootstrap,
    randomization_test,
    require_stderr,
    wild_cluster_bootstrap,
    with_wild_bootstrap,
)
from ._panel import panel_design
from .result import (
    BalanceRow,
    Check,
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from .validate import binary_treatment, numeric, positive_weights, require_columns, role_field

__all__ = ["estimate_difference_in_means"]

# |standardised mean difference| above this is the usual "imbalanced" flag (Stuart 2010).
SMD_THRESHOLD = 0.1
# Randomisation inference runs for unit-randomised experiments up to this many units (a geo
# experiment's states, a panel's units); beyond it the t reference is accurate anyway.
MAX_RANDOMIZATION_UNITS = 500


def _welch_df(y: np.ndarray, t: np.ndarray) -> float:
    """Welch-Satterthwaite degrees of freedom of a two-sample difference in means."""
    v1 = y[t == 1].var(ddof=1) / (t == 1).sum()
    v0 = y[t == 0].var(ddof=1) / (t == 0).sum()
    if v1 + v0 == 0:
        return float((t == 1).sum() + (t == 0).sum() - 2)
    return float((v1 + v0) ** 2 / (v1**2 / ((t == 1).sum() - 1) + v0**2 / ((t == 0).sum() - 1)))


def _balance(name: str, x: np.ndarray, t: np.ndarray, w: np.ndarray) -> BalanceRow:
    on = t == 1
    x1, x0, w1, w0 = x[on], x[~on], w[on], w[~on]
    m1, m0 = np.average(x1, weights=w1), np.average(x0, weights=w0)
    v1 = np.average((x1 - m1) ** 2, weights=w1)
    v0 = np.average((x0 - m0) ** 2, weights=w0)
    pooled = np.sqrt((v1 + v0) / 2)
    smd = float((m1 - m0) / pooled) if pooled > 0 else 0.0
    # Randomisation does not reweight: the balance after adjustment is the balance before.
    return BalanceRow(
        covariate=name,
        smd_before=smd,
        smd_after=smd,
        mean_treated=float(m1),
        mean_control=float(m0),
        variance_ratio=float(v1 / v0) if v0 > 0 else None,
    )


def unit_means(frame: pd.DataFrame, spec: EffectSpec) -> tuple[pd.DataFrame, EffectSpec, dict]:
    """A randomised unit × period panel as one row per unit: its mean outcome over the
    treatment window against its mean over the pre-period (the ANCOVA of McKenzie 2012).

    The treatment marks treated unit-periods and starts in the same period for every treated
    unit; comparison units are never treated. Covariates become their pre-period means; the
    pre-period outcome mean is the CUPED covariate unless ``pre_outcome`` names another.
    Returns the unit frame, its spec and the panel's shape as statistics.
    """
    if spec.weights:
        raise InvalidSpec(
            "a panel experiment compares unit means; observation weights are not supported "
            "(aggregate the panel yourself, or drop roles.weights)",
            field=role_field("weights"),
        )
    panel = panel_design(frame, spec, absorbing=True, method="difference_in_means")
    starts = np.unique(panel.first_treated[np.isfinite(panel.first_treated)])
    if len(starts) != 1:
        raise InvalidSpec(
            f"a panel experiment compares units over one treatment window; treatment starts in "
            f"{len(starts)} different periods (use staggered_did or sdid)",
            field=role_field("treatment"),
            reason="STAGGERED_TIMING",
        )
    post = panel.period >= starts[0]
    n = panel.n_units
    counts = [np.bincount(panel.unit[m], minlength=n) for m in (~post, post)]
    if (counts[0] == 0).any() or (counts[1] == 0).any():
        raise InsufficientData(
            "a panel experiment needs every unit observed before and during the treatment window",
            subject="panel",
        )

    def mean(values: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
        return np.bincount(panel.unit[rows], weights=values[rows], minlength=n) / counts[k]

    treated = np.isfinite(panel.first_treated).astype(np.int64)
    pre_name = f"{spec.outcome} (pre-period mean)"
    columns: dict[str, np.ndarray] = {
        "unit": panel.unit_labels,
        spec.outcome: mean(panel.y, post, 1),
        spec.treatment: treated,
        pre_name: mean(panel.y, ~post, 0),
    }
    for j, name in enumerate(panel.covariate_names):
        columns[name] = mean(panel.covariates[:, j], ~post, 0)
    if spec.pre_outcome:
        columns[spec.pre_outcome] = mean(numeric(frame, spec.pre_outcome, "pre_outcome"), ~post, 0)
    if spec.cluster and not panel.unit_nested_in_cluster:
        raise InvalidSpec(
            "a panel experiment is randomised by unit: each unit must sit in one cluster",
            field=role_field("cluster"),
        )
    if spec.cluster:
        first_row = np.unique(panel.unit, return_index=True)[1]
        columns[spec.cluster] = frame[spec.cluster].to_numpy()[first_row]
    unit_spec = EffectSpec(
        outcome=spec.outcome,
        treatment=spec.treatment,
        covariates=spec.covariates,
        cluster=spec.cluster if spec.cluster != spec.unit else None,
        pre_outcome=spec.pre_outcome or pre_name,
        estimand=spec.estimand,
    )
    shape = {
        "n_units": float(n),
        "n_pre_periods": float(len(np.unique(panel.period[~post]))),
        "n_post_periods": float(len(np.unique(panel.period[post]))),
    }
    return pd.DataFrame(columns), unit_spec, shape


def estimate_difference_in_means(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    random_state: int = 0,
    cluster_inference: ClusterInference | str = ClusterInference.AUTO,
) -> EffectEstimate:
    """Average treatment effect in a randomised experiment.

    Parameters
    ----------
    frame : DataFrame, one row per randomised unit (or per observation, clustered), or a
        unit × period panel when ``spec`` names both ``unit`` and ``time``
    spec : ``outcome``, ``treatment`` (0/1); optional ``pre_outcome`` (CUPED), ``covariates``
        (Lin adjustment; ``pre_outcome`` then joins them), ``cluster`` (cluster-randomised
        designs), ``weights``. A repeated ``unit`` without ``cluster`` is clustered on the unit.
        With ``unit`` and ``time`` (a geo experiment's geo × day panel, treatment 1 on treated
        unit-periods) each unit's mean over the treatment window is compared, adjusted by its
        pre-period mean (:func:`unit_means`).
    alpha : level of the confidence interval
    random_state : seed of the randomisation test's assignments (when they are drawn) and of
        the wild cluster bootstrap's weights
    cluster_inference : clustered designs: ``"auto"`` (p-value and interval from the wild
        cluster bootstrap below 30 clusters), ``"cluster_robust"`` or ``"wild_bootstrap"``

    Returns
    -------
    EffectEstimate
        ATE. ``statistics``: ``mean_treated``, ``mean_control``, ``relative_lift`` (ATE over the
        control mean, when that is not zero), ``unadjusted_estimate``, ``unadjusted_stderr``,
        ``df``; with CUPED ``cuped_theta`` and ``variance_reduction_pct``; with covariates
        ``variance_reduction_pct``; when clustered ``n_clusters``. ``balance``: one row per
        covariate / pre-outcome. ``checks``: BALANCE (WARNING when a covariate's |SMD| > 0.1);
        PERMUTATION, for unclustered, unweighted experiments of at most 500 units without Lin
        covariates: Fisher's randomisation test of the (CUPED-adjusted) difference, with
        ``randomization_pvalue``, ``randomization_ci_lower``, ``randomization_ci_upper`` and
        ``randomization_draws`` in ``statistics`` (WARNING when it and the t-test disagree on
        significance at ``alpha``).

    Notes
    -----
    Unadjusted: the difference in means with HC2 errors, which for a binary regressor is the
    Welch variance; inference uses Welch-Satterthwaite degrees of freedom. CUPED (Deng et al.
    2013): Y - θ(X - mean X) with θ = cov(Y, X)/var(X) over the pooled sample, then the same
    difference in means (θ treated as known, as in the paper). Covariates: Lin (2013) regression
    of Y on T, centred covariates and their interactions with T, HC2 errors, n-k df. Clustered:
    the same regressions with CR1 errors and G-1 df (Cameron & Miller 2015).
    """
    require_columns(frame, spec)
    panel_shape: dict[str, float] = {}
    if spec.unit and spec.time:
        frame, spec, panel_shape = unit_means(frame, spec)
    y = numeric(frame, spec.outcome, "outcome")
    t = binary_treatment(frame, spec)
    n1, n0 = int((t == 1).sum()), int((t == 0).sum())
    if min(n1, n0) < 2:
        raise InsufficientData(
            f"difference in means needs at least 2 units per arm; got {n1} treated, {n0} control",
            subject="arms",
        )
    weights = positive_weights(frame, spec)
    w = np.ones_like(y) if weights is None else weights
    warnings: list[str] = []
    cluster_column = spec.cluster
    if cluster_column is None and spec.unit and frame[spec.unit].duplicated().any():
        cluster_column = spec.unit
        warnings.append(
            f"units in {spec.unit!r} appear more than once: standard errors are clustered on "
            "the unit"
        )
    clusters: np.ndarray | None = None
    n_clusters, wild = 0, False
    if cluster_column:
        role = "cluster" if cluster_column == spec.cluster else "unit"
        clusters, n_clusters = cluster_codes(frame, cluster_column, role)
        treated_cl, control_cl = len(np.unique(clusters[t == 1])), len(np.unique(clusters[t == 0]))
        if min(treated_cl, control_cl) < 2:
            raise InsufficientData(
                f"cluster-robust inference needs at least 2 clusters per arm; got "
                f"{treated_cl} treated and {control_cl} control",
                subject="clusters",
            )
        wild, notes = plan_wild_bootstrap(
            "difference in means", cluster_inference, n_clusters,
            n_treated_clusters=treated_cl, weighted=weights is not None,
        )  # fmt: skip
        warnings.extend(notes)
    cov_type: _ols.CovType = "cluster" if clusters is not None else "HC2"

    def fit(outcome: np.ndarray, extra: list[np.ndarray], names: list[str]) -> _ols.OlsFit:
        x = np.column_stack([np.ones_like(outcome), t, *extra])
        return _ols.fit_ols(
            outcome,
            x,
            ["const", "treatment", *names],
            cov_type=cov_type,
            clusters=clusters,
            weights=weights,
            what="difference in means",
        )

    simple_welch = clusters is None and weights is None

    def difference(outcome: np.ndarray) -> tuple[float, float, float]:
        """(estimate, stderr, df) of the difference in means of ``outcome``."""
        if simple_welch:  # HC2 on a lone binary regressor is exactly Welch: skip the regression
            on = t == 1
            a, b = outcome[on], outcome[~on]
            se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
            return float(a.mean() - b.mean()), se, _welch_df(outcome, t)
        res = fit(outcome, [], [])
        return res.coef("treatment"), res.stderr("treatment"), float(res.df_inference)

    raw_est, raw_se, raw_df = difference(y)
    require_stderr(raw_se, "difference in means")
    statistics: dict[str, float] = {
        "unadjusted_estimate": raw_est,
        "unadjusted_stderr": raw_se,
        **panel_shape,
    }

    tested: np.ndarray | None = None  # the outcome randomisation inference tests
    regression: tuple[np.ndarray, list[np.ndarray]]  # the estimate's outcome and extra columns
    adjusters = [*spec.covariates, *([spec.pre_outcome] if spec.pre_outcome else [])]
    adjusters = list(dict.fromkeys(adjusters))
    columns = {
        name: numeric(frame, name, "covariates" if name in spec.covariates else "pre_outcome")
        for name in adjusters
    }
    if spec.covariates:
        _require_rows_per_arm(n1, n0, adjusters, hc2=cov_type == "HC2")
        centred = [columns[c] - np.average(columns[c], weights=w) for c in adjusters]
        names = [*adjusters, *(f"treatment:{c}" for c in adjusters)]
        regression = (y, [*centred, *(t * c for c in centred)])
        lin = fit(*regression, names)
        point, se, df = lin.coef("treatment"), lin.stderr("treatment"), float(lin.df_inference)
        design = "Lin (2013) interacted regression adjustment for " + ", ".join(adjusters)
    elif spec.pre_outcome:
        x = columns[spec.pre_outcome]
        var_x = np.cov(x, aweights=w)
        if var_x == 0:
            raise InvalidSpec(
                f"pre_outcome column {spec.pre_outcome!r} is constant: CUPED has nothing to use",
                field=role_field("pre_outcome"),
            )
        theta = float(np.cov(y, x, aweights=w)[0, 1] / var_x)
        adjusted = y - theta * (x - np.average(x, weights=w))
        point, se, df = difference(adjusted)
        tested = adjusted
        regression = (adjusted, [])
        statistics["cuped_theta"] = theta
        design = f"CUPED with pre-period outcome {spec.pre_outcome} (theta = {theta:.4g})"
    else:
        point, se, df = raw_est, raw_se, raw_df
        tested = y
        regression = (y, [])
        design = "difference in means"
    if adjusters:
        statistics["variance_reduction_pct"] = 100 * (1 - se**2 / raw_se**2)
    require_stderr(se, "difference in means")
    mean_treated = float(np.average(y[t == 1], weights=w[t == 1]))
    mean_control = float(np.average(y[t == 0], weights=w[t == 0]))
    statistics |= {"mean_treated": mean_treated, "mean_control": mean_control, "df": float(df)}
    if mean_control != 0:
        statistics["relative_lift"] = point / mean_control
    if clusters is not None:
        statistics["n_clusters"] = float(clusters.max() + 1)

    balance = tuple(_balance(name, columns[name], t, w) for name in adjusters)
    checks: tuple[Check, ...] = ()
    if balance:
        worst = max(balance, key=lambda row: abs(row.smd_before))
        imbalanced = abs(worst.smd_before) > SMD_THRESHOLD
        checks = (
            Check(
                name="covariate balance between arms",
                kind=CheckKind.BALANCE,
                outcome=CheckOutcome.WARNING if imbalanced else CheckOutcome.PASSED,
                interpretation=(
                    f"largest |standardised mean difference| is {abs(worst.smd_before):.3f} "
                    f"({worst.covariate}): "
                    + (
                        "chance imbalance (or a broken randomisation) above 0.1; the adjusted "
                        "estimate corrects for the measured covariates only"
                        if imbalanced
                        else "arms are balanced on the measured covariates"
                    )
                ),
                statistic=abs(worst.smd_before),
                threshold=SMD_THRESHOLD,
            ),
        )
    if tested is not None and simple_welch and len(y) <= MAX_RANDOMIZATION_UNITS:
        _, _, p_t = interval(point, se, alpha, df)
        ri = randomization_test(tested, t, alpha=alpha, rng=np.random.default_rng(random_state))
        statistics |= {
            "randomization_pvalue": ri.pvalue,
            "randomization_ci_lower": ri.ci_lower,
            "randomization_ci_upper": ri.ci_upper,
            "randomization_draws": float(ri.draws),
        }
        checks = (*checks, _randomization_check(ri, p_t, alpha))
    bootstrap = None
    if wild and clusters is not None:
        outcome, extra = regression
        x = np.column_stack([np.ones_like(outcome), t, *extra])
        contrast = np.zeros(x.shape[1])
        contrast[1] = 1.0
        bootstrap = wild_cluster_bootstrap(
            outcome, x, contrast, clusters, alpha=alpha,
            rng=np.random.default_rng(random_state),
        )  # fmt: skip
    estimate = effect_estimate(
        Method.DIFFERENCE_IN_MEANS,
        Estimand.ATE,
        point,
        se,
        alpha=alpha,
        df=df,
        nobs=len(y),
        n_treated=n1,
        n_control=n0,
        assumptions=(
            f"Estimator: {design}"
            + (
                f", on each unit's mean over the {panel_shape['n_post_periods']:.0f} treated "
                f"periods against its mean over the {panel_shape['n_pre_periods']:.0f} before "
                "(ANCOVA, McKenzie 2012)."
                if panel_shape
                else "."
            ),
            "Treatment was randomly assigned (independently of potential outcomes"
            + (", by cluster" if clusters is not None else "")
            + ").",
            "No interference: one unit's treatment does not change another's outcome (SUTVA).",
            *(
                ("Adjustment variables are measured before treatment and unaffected by it.",)
                if adjusters
                else ()
            ),
        ),
        statistics=statistics,
        balance=balance,
        warnings=tuple(warnings),
        checks=checks,
    )
    if bootstrap is None:
        return estimate
    return with_wild_bootstrap(estimate, bootstrap, clusters=n_clusters)


def _randomization_check(ri: RandomizationTest, p_t: float, alpha: float) -> Check:
    how = (
        f"all {ri.draws:,} assignments with these arm sizes"
        if ri.enumerated
        else f"{ri.draws:,} random assignments with these arm sizes"
    )
    agree = (ri.pvalue < alpha) == (p_t < alpha)
    return Check(
        name="randomisation inference",
        kind=CheckKind.PERMUTATION,
        outcome=CheckOutcome.PASSED if agree else CheckOutcome.WARNING,
        interpretation=(
            f"Fisher's randomisation test over {how} gives p = {ri.pvalue:.3g} (the t-test "
            f"{p_t:.3g}) and a {100 * (1 - alpha):g}% interval of {ri.ci_lower:.4g} to "
            f"{ri.ci_upper:.4g} for a constant effect: "
            + (
                "it agrees with the t-based answer, which needs no large-sample approximation "
                "to hold here"
                if agree
                else "it disagrees with the t-based answer on significance; with this few "
                "units read the randomisation p-value"
            )
        ),
        pvalue=ri.pvalue,
        threshold=alpha,
    )


def _require_rows_per_arm(n1: int, n0: int, adjusters: list[str], *, hc2: bool) -> None:
    """Lin's interacted regression fits an intercept and a slope per adjuster within each arm:
    an arm with no more rows than that is fitted exactly, every row at leverage 1, and HC2 is
    undefined. Said with the arm and the count; it read "a group with a single observation"
    when no group had one (R27-F10)."""
    parameters = 1 + len(adjusters)
    small = min((n0, "control"), (n1, "treated"))
    if hc2 and small[0] <= parameters:
        raise InsufficientData(
            f"difference in means with covariates: the {small[1]} arm has {small[0]} rows for "
            f"its {parameters} parameters (an intercept and a slope for each of "
            f"{', '.join(adjusters)}, fitted within each arm), so every row is fitted exactly "
            f"and HC2 is undefined; drop covariates (each arm needs more than {parameters} rows) "
            "or add rows",
            subject="arms",
        )
