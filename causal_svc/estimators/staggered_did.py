"""Staggered-adoption DiD valid under heterogeneous effects: Callaway & Sant'Anna (2021)
group-time average treatment effects, aggregated, with influence-function standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from . import _ols
from ._group_time import (
    Aggregation,
    BasePeriod,
    Cells,
    ControlGroup,
    aggregate,
    dynamic,
    group_time_cells,
    multiplier_bootstrap,
    wild_bootstrap_aggregate,
)
from ._inference import (
    ClusterInference,
    cluster_sums,
    effect_estimate,
    influence_stderr,
    intervals,
    plan_wild_bootstrap,
    require_stderr,
    with_wild_bootstrap,
)
from ._panel import PanelDesign, fit_twfe, panel_design, pretrend_check, subset_panel
from .result import (
    Check,
    CheckKind,
    CheckOutcome,
    Coefficient,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
    Series,
)
from .validate import role_field

__all__ = ["BasePeriod", "ControlGroup", "estimate_staggered_did"]

_IQR_TO_SD = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


def _label(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _balanced(
    frame: pd.DataFrame, spec: EffectSpec
) -> tuple[PanelDesign, list[str], dict[str, float]]:
    """The validated panel restricted to units seen in every period and not always treated."""
    panel = panel_design(frame, spec, absorbing=True, method="staggered_did")
    for role in ("covariates", "weights"):
        if getattr(spec, role):
            raise InvalidSpec(
                f"staggered_did estimates under unconditional parallel trends and takes no "
                f"{role}; drop the {role} role or use did/event_study",
                field=role_field(role),
            )
    if spec.cluster and not panel.unit_nested_in_cluster:
        raise InvalidSpec(
            f"cluster column {spec.cluster!r} must be constant within each unit for "
            "staggered_did (the influence function is summed by unit)",
            field=role_field("cluster"),
        )
    counts = np.bincount(panel.unit, minlength=panel.n_units)
    complete = counts == panel.n_periods
    always = panel.first_treated == 0
    warnings = [w for w in panel.warnings if "first observed period" not in w]
    if (~complete).any():
        warnings.append(
            f"{int((~complete).sum())} unit(s) not observed in every period were dropped "
            "(the group-time estimator needs a balanced panel)"
        )
    if always.any():
        warnings.append(
            f"{int(always.sum())} unit(s) treated from the first period were dropped (no "
            "pre-treatment period to compare against)"
        )
    keep = complete & ~always
    sub = subset_panel(panel, keep[panel.unit])
    dropped = {
        "n_units_dropped_unbalanced": float((~complete).sum()),
        "n_units_dropped_always_treated": float((always & complete).sum()),
    }
    return sub, warnings, dropped


def estimate_staggered_did(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    control_group: ControlGroup = "never_treated",
    aggregation: Aggregation = "group",
    base_period: BasePeriod = "varying",
    bootstrap: int = 0,
    random_state: int | None = None,
    cluster_inference: ClusterInference | str = ClusterInference.AUTO,
) -> EffectEstimate:
    """Callaway & Sant'Anna (2021) DiD for staggered adoption, robust to heterogeneous effects.

    Parameters
    ----------
    frame : DataFrame, one row per unit-period
    spec : ``outcome``, ``treatment`` (0/1, on from the unit's first treated period: its cohort),
        ``unit``, ``time``; optional ``cluster`` (constant within unit). No covariates or weights.
    alpha : level of the confidence intervals and of the pre-trend test
    control_group : ``"never_treated"`` units, or ``"not_yet_treated"`` (never treated plus
        units first treated after both compared periods)
    aggregation : overall ATT as ``"group"`` (cohort-size-weighted average of each cohort's
        mean post-treatment ATT; CS 2021's recommended θ_sel^O), ``"simple"`` (cohort-size-
        weighted average of all post-treatment ATT(g,t)) or ``"dynamic"`` (average over event
        times e >= 0 of the event-time effects θ(e))
    base_period : pre-treatment cells compare t with t-1 (``"varying"``) or with g-1
        (``"universal"``); post-treatment cells always compare with g-1
    bootstrap : 0 for analytic influence-function standard errors; otherwise the number of
        multiplier-bootstrap draws (Mammen weights, clustered), which also gives uniform bands
        for the event-time series
    random_state : seed of the multiplier and wild bootstraps
    cluster_inference : ``"auto"`` (the overall ATT's p-value and interval from the wild
        cluster bootstrap below 30 clusters), ``"cluster_robust"`` (normal, influence-function
        standard error) or ``"wild_bootstrap"``

    Returns
    -------
    EffectEstimate
        ATT per ``aggregation``. ``coefficients``: ``att(g=…,t=…)`` for every group-time cell
        (time labels from the data), ``group=…`` per cohort, ``event_time=±e`` per event time.
        ``series``: ``event_time`` θ(e) with bands (uniform when bootstrapped).
        ``statistics``: ``att_simple``, ``att_group``, ``att_dynamic`` and their ``*_stderr``,
        ``twfe_estimate``, ``twfe_stderr``, ``twfe_negative_weight_share`` (share of treated
        unit-periods TWFE weights negatively; de Chaisemartin & D'Haultfœuille 2020),
        ``pretrend_f`` (or ``pretrend_max_t``), ``pretrend_df1``, ``pretrend_df2``,
        ``pretrend_pvalue`` (joint test of the pre-treatment θ(e), cohorts of one unit left
        out; the Hotelling F(q, G − q) for q ≤ G/2 leads, else the Bonferroni sup-t with
        t(G − 1): see ``_pretrend``), ``n_units``, ``n_cohorts``,
        ``n_never_treated``, ``n_periods``, ``n_cells``, ``n_clusters``,
        ``n_units_dropped_unbalanced``, ``n_units_dropped_always_treated``, ``bootstrap_reps``,
        ``uniform_critical_value`` (bootstrap only); with the wild cluster bootstrap
        ``wild_bootstrap_draws``, ``wild_bootstrap_webb``, ``cr1_ci_lower``, ``cr1_ci_upper``,
        ``cr1_pvalue`` (the influence-function interval it replaced). ``checks``: PRE_TREND, FAILED when the
        joint test that every pre-treatment event-time effect is zero rejects at ``alpha``.

    Notes
    -----
    Each ATT(g,t) is the 2×2 DiD of cohort g against its controls between t and the base
    period. Standard errors come from the influence function (CS 2021, Theorem 2), including the
    estimation of the cohort-share weights in the aggregations; inference is normal. With few
    clusters the overall ATT's p-value and interval come from the wild cluster restricted
    bootstrap-t instead, on the cohort × period regression the aggregate is a contrast of
    (:func:`._group_time.wild_bootstrap_aggregate`; ``stderr`` stays the influence function's). Unit
    weights, covariates (the doubly robust version) and anticipation are not implemented. The
    naive TWFE coefficient is reported beside it: under heterogeneous effects it is a weighted
    average of 2×2 comparisons, some using already-treated units as controls (Goodman-Bacon
    2021), and a warning says when it differs materially from the CS estimate.
    """
    if control_group not in ("never_treated", "not_yet_treated"):
        raise InvalidSpec(f"unknown control_group {control_group!r}", field="control_group")
    if aggregation not in ("simple", "group", "dynamic"):
        raise InvalidSpec(f"unknown aggregation {aggregation!r}", field="aggregation")
    if base_period not in ("varying", "universal"):
        raise InvalidSpec(f"unknown base_period {base_period!r}", field="base_period")
    if bootstrap < 0 or 0 < bootstrap < 100:
        # An IQR-based standard error from fewer draws is mostly Monte-Carlo noise.
        raise InvalidSpec("bootstrap must be 0 (analytic) or at least 100 draws", field="bootstrap")
    panel, warnings, statistics = _balanced(frame, spec)
    n = panel.n_units
    cohort = panel.first_treated
    never = ~np.isfinite(cohort)
    if not (~never).any():
        raise InsufficientData("staggered_did: no treated unit left", subject="treated_units")
    if control_group == "never_treated" and not never.any():
        # The remedy names the option on every surface that carries it (R27-F5).
        raise InsufficientData(
            "staggered_did: no never-treated units (every unit is treated by the last period), "
            "so the default comparison group is empty. Compare each cohort with the units not "
            "yet treated instead: --control-group not_yet_treated (CLI), "
            "control_group='not_yet_treated' (SDK), options.control_group = "
            "CONTROL_GROUP_NOT_YET_TREATED (request). The last cohort then has no comparison "
            "units after it adopts, so its post-treatment periods are left out",
            subject="never_treated",
        )
    y = np.full((n, panel.n_periods), np.nan)
    y[panel.unit, panel.period] = panel.y
    unit_cluster = np.zeros(n, dtype=np.intp)
    unit_cluster[panel.unit] = panel.cluster
    cluster = unit_cluster if spec.cluster else None
    n_clusters = panel.n_clusters if spec.cluster else n

    cells, skipped = group_time_cells(y, cohort, control_group, base_period)
    if skipped:
        warnings.append(f"{skipped} post-treatment group-time cell(s) had no controls; skipped")
    if not (cells.time >= cells.group).any():
        raise InsufficientData(
            "staggered_did: no post-treatment group-time cell has a comparison group",
            subject="controls",
        )
    singletons = [int(g) for g in np.unique(cohort[~never]) if (cohort == g).sum() == 1]
    if singletons:
        labels = ", ".join(_label(panel.periods[g]) for g in singletons)
        warnings.append(
            f"cohort(s) {labels} have a single unit: their ATT(g,t) standard errors omit the "
            "treated unit's own noise"
        )
    wild, notes = plan_wild_bootstrap("staggered_did", cluster_inference, n_clusters, normal=True)
    warnings.extend(notes)

    overall: dict[str, tuple[float, np.ndarray]] = {}
    parts: dict[str, list[tuple[str, float, np.ndarray, int]]] = {}
    for how in ("simple", "group", "dynamic"):
        est, psi, parts[how] = aggregate(cells, how)  # type: ignore[arg-type]
        overall[how] = (est, psi)
    group_parts, dynamic_parts = parts["group"], parts["dynamic"]

    names = [
        f"att(g={_label(panel.periods[g])},t={_label(panel.periods[t])})"
        for g, t in zip(cells.group, cells.time, strict=True)
    ]
    names += [f"group={_label(panel.periods[int(p[0].split('=')[1])])}" for p in group_parts]
    names += [p[0] for p in dynamic_parts]
    estimates = np.concatenate(
        [cells.att, [p[1] for p in group_parts], [p[1] for p in dynamic_parts]]
    )
    psi_all = np.column_stack(
        [cells.psi, *[p[2] for p in group_parts], *[p[2] for p in dynamic_parts]]
    )
    nobs = [*cells.nobs.tolist(), *[p[3] for p in group_parts], *[p[3] for p in dynamic_parts]]
    overall_psi = np.column_stack([overall[h][1] for h in ("simple", "group", "dynamic")])

    crit = stats.norm.ppf(1 - alpha / 2)
    if bootstrap:
        draws = multiplier_bootstrap(
            np.column_stack([psi_all, overall_psi]), cluster, bootstrap, random_state
        )
        q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
        se_boot = (q75 - q25) / _IQR_TO_SD
        ses, overall_se = se_boot[: psi_all.shape[1]], se_boot[psi_all.shape[1] :]
        dyn = slice(len(cells.att) + len(group_parts), psi_all.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_max = np.nanmax(np.abs(draws[:, dyn]) / ses[dyn], axis=1)
        crit = float(np.quantile(t_max, 1 - alpha))
        statistics |= {"bootstrap_reps": float(bootstrap), "uniform_critical_value": crit}
    else:
        ses = influence_stderr(psi_all, cluster)
        overall_se = influence_stderr(overall_psi, cluster)

    degenerate = ~(ses > 0)
    if degenerate.any():
        # e.g. a one-unit cohort against one not-yet-treated unit: no variance to estimate.
        warnings.append(
            f"{int(degenerate.sum())} coefficient(s) compare single units and have no "
            "estimable standard error; their intervals and p-values are NaN"
        )
    lower, upper, pvalues = intervals(estimates, ses, alpha)
    coefficients = [
        Coefficient(name, float(est), float(se), float(lo), float(hi), float(pv), nobs=int(k))
        for name, est, se, lo, hi, pv, k in zip(
            names, estimates, ses, lower, upper, pvalues, nobs, strict=True
        )
    ]
    dyn_rows = coefficients[len(cells.att) + len(group_parts) :]
    series = Series(
        name="event_time",
        index=tuple(c.name.split("=")[1] for c in dyn_rows),
        values=tuple(c.estimate for c in dyn_rows),
        lower=tuple(c.estimate - crit * c.stderr if c.stderr > 0 else np.nan for c in dyn_rows),
        upper=tuple(c.estimate + crit * c.stderr if c.stderr > 0 else np.nan for c in dyn_rows),
    )

    for i, how in enumerate(("simple", "group", "dynamic")):
        statistics[f"att_{how}"] = overall[how][0]
        statistics[f"att_{how}_stderr"] = float(overall_se[i])
    chosen = ("simple", "group", "dynamic").index(aggregation)
    point, se = overall[aggregation][0], float(overall_se[chosen])
    require_stderr(se, "staggered_did")

    check, pre_stats = _pretrend(cells, cluster, n_clusters, alpha)
    statistics |= pre_stats
    twfe_stats, twfe_warnings = _twfe_comparison(panel, point, se)
    statistics |= twfe_stats
    warnings += twfe_warnings
    statistics |= {
        "n_units": float(n),
        "n_cohorts": float(len(np.unique(cohort[~never]))),
        "n_never_treated": float(never.sum()),
        "n_periods": float(panel.n_periods),
        "n_cells": float(len(cells.att)),
        "n_clusters": float(n_clusters),
    }
    aggregation_words = {
        "group": "the cohort-size-weighted average of each cohort's average post-treatment effect",
        "simple": "the cohort-size-weighted average of all post-treatment ATT(g,t)",
        "dynamic": "the average over event times 0, 1, … of the event-time effects",
    }[aggregation]
    estimate = effect_estimate(
        Method.STAGGERED_DID,
        Estimand.ATT,
        point,
        se,
        alpha=alpha,
        nobs=len(panel.y),
        n_treated=int((~never).sum()),
        n_control=int(never.sum()),
        assumptions=(
            f"The estimate is {aggregation_words} (Callaway & Sant'Anna 2021).",
            "Parallel trends for each cohort against its comparison group ("
            + control_group.replace("_", "-")
            + " units), unconditionally (no covariates).",
            "Staggered adoption: once treated, a unit stays treated; no anticipation before the "
            "first treated period.",
            "Effects may differ across cohorts and over time (unlike TWFE).",
            "Units are independent (or independent across clusters); no spillovers.",
        ),
        statistics=statistics,
        coefficients=tuple(coefficients),
        series=(series,),
        warnings=tuple(warnings),
        checks=(check,),
    )
    if not wild:
        return estimate
    return with_wild_bootstrap(
        estimate, wild_bootstrap_aggregate(panel, cells, aggregation, alpha, random_state)
    )


def _pretrend(
    cells: Cells, cluster: np.ndarray | None, n_clusters: int, alpha: float
) -> tuple[Check, dict[str, float]]:
    """Joint test that the pre-treatment event-time effects θ(e), e < 0, are all zero.

    Pooling cohorts by event time (rather than testing every pre-treatment ATT(g,t)) keeps the
    covariance well conditioned; cohorts of a single unit are left out because their own noise
    does not enter the influence function, which would make any of their cells look
    significant. The influence-function covariance is summed over the clusters (units when
    unclustered), so the test is :func:`._ols.joint_zero_test` on it with the CR1 factor
    G/(G − 1): the Hotelling T² reference F(q, G − q) for q ≤ G/2 leads, the Bonferroni sup-t
    with t(G − 1) beyond, G the fewest clusters any lead's influence function touches. χ²(q),
    the large-G reference the R ``did`` package uses, failed 275/300 null panels at G = 12,
    q = 9 (R11-F2); now 9/300. The price is power with few units per cohort: each lead is a
    one-period change (varying base period), so a slow drift is hard to see. A lead with no
    variance skips the test.
    """
    name = "joint test of pre-treatment event-time effects"
    sizes = {g: int((cells.cohort == g).sum()) for g in np.unique(cells.group)}
    usable = (cells.time < cells.group) & np.array([sizes[g] > 1 for g in cells.group])

    def skipped(why: str) -> tuple[Check, dict[str, float]]:
        return (
            Check(name, CheckKind.PRE_TREND, CheckOutcome.SKIPPED, interpretation=why),
            {},
        )

    if not usable.any():
        return skipped("no pre-treatment cell of a cohort with two or more units to test")
    if n_clusters < 2:
        return skipped("one cluster: no covariance to test with")
    pre_cells = Cells(
        group=cells.group[usable],
        time=cells.time[usable],
        att=cells.att[usable],
        psi=cells.psi[:, usable],
        nobs=cells.nobs[usable],
        cohort=cells.cohort,
    )
    parts = dynamic(pre_cells)
    b = np.array([p[1] for p in parts])
    psi = np.column_stack([p[2] for p in parts])
    if cluster is not None:
        psi = cluster_sums(psi, cluster)
    # A lead's influence function is non-zero only on the clusters of the cohorts reaching
    # that event time and of their controls: the fewest clusters behind any lead is the G the
    # small-sample reference can lean on (an effective cluster count in the spirit of Carter,
    # Schnepel & Steigerwald 2017, whose G* would be smaller still when a few treated units
    # dominate a lead's variance). With equal roles it is every cluster.
    g = int(min(n_clusters, (np.abs(psi) > 1e-12 * np.abs(psi).max(initial=0.0)).sum(axis=0).min()))
    if g < 2:
        return skipped("a pre-treatment effect rests on one cluster: no joint test")
    v = psi.T @ psi / cells.psi.shape[0] ** 2 * g / (g - 1)
    if not (np.isfinite(v).all() and (np.diag(v) > 0).all()):
        return skipped("a pre-treatment effect has no variance; no joint test")
    return pretrend_check(
        name,
        _ols.joint_zero_test(b, v, g, g - 1),
        alpha,
        tested="pre-treatment event-time effects",
        clusters=f"{g} clusters"
        if g == n_clusters
        else f"the {g} clusters the sparsest lead rests on",
        verdicts=(
            "cohorts already diverged from their controls before treatment; parallel trends is "
            "rejected and the estimate is not supported",
            "no evidence against parallel pre-trends",
        ),
    )


def _twfe_comparison(
    panel: PanelDesign, cs_point: float, cs_se: float
) -> tuple[dict[str, float], list[str]]:
    """The naive TWFE coefficient on the same sample, its negative-weight share, and a warning
    when it differs from the CS estimate by more than one CS standard error and 10%."""
    try:
        fit = fit_twfe(panel, panel.d[:, None], ["treatment"], "TWFE comparison regression")
    except (InsufficientData, SingularDesign) as exc:
        return {}, [f"the naive TWFE comparison could not be estimated: {exc.message}"]
    twfe, twfe_se = fit.coef("treatment"), fit.stderr("treatment")
    resid_d = _ols.demean(panel.d, [panel.unit, panel.period])[:, 0]
    treated = panel.d == 1
    negative_share = float((resid_d[treated] < 0).mean())
    stats_out = {
        "twfe_estimate": twfe,
        "twfe_stderr": twfe_se,
        "twfe_negative_weight_share": negative_share,
    }
    gap = abs(twfe - cs_point)
    if gap > cs_se and gap > 0.1 * abs(cs_point):
        return stats_out, [
            f"the naive TWFE coefficient ({twfe:.4g}) differs materially from the "
            f"heterogeneity-robust estimate ({cs_point:.4g}): with staggered timing and "
            "effects that vary by cohort or over time, TWFE compares later-treated units with "
            "already-treated ones (Goodman-Bacon 2021)"
            + (
                f"; {negative_share:.0%} of treated unit-periods get a negative TWFE weight"
                if negative_share > 0
                else ""
            )
        ]
    return stats_out, []
