"""Difference in differences: the 2×2 design and two-way fixed effects, with cluster-robust errors.

Also home of :func:`panel_design`, the unit × period validation the other panel estimators
(``event_study``, ``staggered_did``) share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from . import _ols
from ._inference import column_codes, effect_estimate, group_codes, interval, require_stderr
from .result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec, Estimand, Method
from .validate import (
    binary_treatment,
    numeric,
    positive_weights,
    require_columns,
    require_roles,
    role_field,
)

__all__ = ["PanelDesign", "estimate_did", "panel_design", "subset_panel"]

# Below these, cluster-robust errors are known to be too small (Cameron, Gelbach & Miller 2008;
# MacKinnon & Webb 2017 for few treated clusters): warn, but still answer.
FEW_CLUSTERS = 30
FEW_TREATED_CLUSTERS = 6


@dataclass(frozen=True, slots=True)
class PanelDesign:
    """A validated unit × period panel, one row per unit-period, in the frame's row order."""

    y: np.ndarray  # (n,) outcome
    d: np.ndarray  # (n,) 0/1 treatment
    unit: np.ndarray  # (n,) unit codes 0..N-1
    period: np.ndarray  # (n,) period codes 0..T-1 in time order
    periods: tuple[object, ...]  # the time labels, sorted
    cluster: np.ndarray  # (n,) cluster codes 0..G-1 (spec.cluster, else the unit)
    n_clusters: int
    first_treated: np.ndarray  # (N,) period code of each unit's first treated period, inf if never
    covariates: np.ndarray  # (n, p)
    covariate_names: tuple[str, ...]
    weights: np.ndarray | None
    unit_labels: np.ndarray  # (N,) original unit labels
    warnings: tuple[str, ...]

    @property
    def n_units(self) -> int:
        return len(self.first_treated)

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def unit_nested_in_cluster(self) -> bool:
        return _ols.is_nested(self.unit, self.cluster)

    def cluster_arms(self) -> tuple[int, int]:
        """Clusters holding ever-treated units, and clusters holding comparison units.

        Comparison units are never treated or first treated after the earliest cohort (they
        are the not-yet-treated contrast in a staggered design).
        """
        ever = np.isfinite(self.first_treated)
        earliest = self.first_treated[ever].min() if ever.any() else np.inf
        row_first = self.first_treated[self.unit]
        treated = np.unique(self.cluster[np.isfinite(row_first)])
        control = np.unique(self.cluster[row_first > earliest])
        return len(treated), len(control)


def _time_codes(frame: pd.DataFrame, spec: EffectSpec) -> tuple[np.ndarray, tuple[object, ...]]:
    column = frame[spec.time]
    orderable = (
        pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_datetime64_any_dtype(column)
        or (isinstance(column.dtype, pd.CategoricalDtype) and column.cat.ordered)
    )
    if pd.api.types.is_bool_dtype(column) or not orderable:
        raise InvalidSpec(
            f"time column {spec.time!r} must be numeric or datetime (an orderable period), "
            f"got {column.dtype}",
            field=role_field("time"),
        )
    if column.isna().any():
        raise InvalidSpec(
            f"time column {spec.time!r} has {int(column.isna().sum())} missing values",
            field=role_field("time"),
        )
    codes, uniques = pd.factorize(column, sort=True)
    return codes.astype(np.intp), tuple(uniques.tolist())


def panel_design(
    frame: pd.DataFrame, spec: EffectSpec, *, absorbing: bool, method: str
) -> PanelDesign:
    """Validate the panel roles and encode them.

    Parameters
    ----------
    frame : one row per unit-period
    spec : needs ``outcome``, ``treatment``, ``unit``, ``time``; uses ``cluster``, ``weights``,
        ``covariates`` when set
    absorbing : require that treatment never switches off once on (staggered adoption)
    method : the method's name, for error messages

    Returns
    -------
    PanelDesign

    Raises
    ------
    InvalidSpec
        A role is missing or mistyped, a unit-period appears twice, treatment switches off when
        ``absorbing``.
    InsufficientData
        No treated unit has a pre-treatment period, or an arm has fewer than 2 clusters.
    """
    require_roles(spec, "unit", "time")
    require_columns(frame, spec)
    y = numeric(frame, spec.outcome, "outcome")
    d = binary_treatment(frame, spec)
    assert spec.unit is not None  # require_roles checked it
    unit, n_units = column_codes(frame, spec.unit, "unit")
    cluster, n_clusters = (
        column_codes(frame, spec.cluster, "cluster") if spec.cluster else (unit, n_units)
    )
    period, periods = _time_codes(frame, spec)
    unit_labels = np.asarray(pd.factorize(np.asarray(frame[spec.unit]), sort=True)[1])
    if pd.Series(unit * len(periods) + period).duplicated().any():
        raise InvalidSpec(
            f"{method} needs one row per unit and period; some ({spec.unit}, {spec.time}) pairs "
            "repeat (aggregate first)",
            field=role_field("time"),
            reason="DUPLICATE_UNIT_PERIOD",
        )
    weights = positive_weights(frame, spec)
    covariates = (
        np.column_stack([numeric(frame, c, "covariates") for c in spec.covariates])
        if spec.covariates
        else np.empty((len(frame), 0))
    )

    order = np.lexsort((period, unit))
    d_sorted, unit_sorted = d[order], unit[order]
    same_unit = unit_sorted[1:] == unit_sorted[:-1]
    switches_off = same_unit & (d_sorted[1:] < d_sorted[:-1])
    if absorbing and switches_off.any():
        raise InvalidSpec(
            f"{method} needs treatment that stays on once a unit is treated; "
            f"{int(switches_off.sum())} unit-periods switch it off",
            field=role_field("treatment"),
            reason="NON_ABSORBING_TREATMENT",
        )
    first_treated = np.full(n_units, np.inf)
    treated_rows = d == 1
    np.minimum.at(first_treated, unit[treated_rows], period[treated_rows].astype(float))
    first_seen = np.full(n_units, np.inf)
    np.minimum.at(first_seen, unit, period.astype(float))

    ever = np.isfinite(first_treated)
    has_pre = ever & (first_seen < first_treated)
    warnings: list[str] = []
    if not has_pre.any():
        raise InsufficientData(
            f"{method}: no treated unit is observed before its first treated period "
            "(no pre-period to difference against)",
            subject="pre_period",
        )
    if (ever & ~has_pre).any():
        warnings.append(
            f"{int((ever & ~has_pre).sum())} unit(s) are treated from their first observed "
            "period; they carry no pre-treatment information"
        )
    return PanelDesign(
        y=y,
        d=d,
        unit=unit,
        period=period,
        periods=periods,
        cluster=cluster,
        n_clusters=n_clusters,
        first_treated=first_treated,
        covariates=covariates,
        covariate_names=tuple(spec.covariates),
        weights=weights,
        unit_labels=unit_labels,
        warnings=tuple(warnings),
    )


def cluster_warnings(panel: PanelDesign, method: str) -> list[str]:
    """``InsufficientData`` below 2 clusters per arm; warnings when clusters are few."""
    n_treated, n_control = panel.cluster_arms()
    if n_treated < 2 or n_control < 2:
        raise InsufficientData(
            f"{method}: cluster-robust inference needs at least 2 clusters in each arm; "
            f"got {n_treated} treated and {n_control} comparison cluster(s)",
            subject="clusters",
        )
    out = []
    if panel.n_clusters < FEW_CLUSTERS:
        out.append(
            f"only {panel.n_clusters} clusters: cluster-robust standard errors are biased "
            f"downward with fewer than ~{FEW_CLUSTERS} (inference uses t with G-1 df; a wild "
            "cluster bootstrap would be safer)"
        )
    if n_treated < FEW_TREATED_CLUSTERS:
        out.append(
            f"only {n_treated} treated clusters: cluster-robust tests over-reject badly with few "
            "treated clusters (MacKinnon & Webb 2017)"
        )
    return out


def absorbed_df(panel: PanelDesign, *, time_effects: bool = True) -> int:
    """Fixed-effect parameters counted in K: the intercept, plus each set of effects that is not
    nested in the clusters (Stata ``xtreg, fe vce(cluster)``; linearmodels ``auto_df``)."""
    count = 1
    if not panel.unit_nested_in_cluster:
        count += panel.n_units - 1
    if time_effects and not _ols.is_nested(panel.period, panel.cluster):
        count += panel.n_periods - 1
    return count


def fit_twfe(panel: PanelDesign, x: np.ndarray, names: list[str], what: str) -> _ols.OlsFit:
    """Regress the outcome on ``x`` with unit and period effects, clustered CR1."""
    both = np.column_stack([panel.y, x])
    swept = _ols.demean(both, [panel.unit, panel.period], panel.weights)
    return _ols.fit_ols(
        swept[:, 0],
        swept[:, 1:],
        names,
        cov_type="cluster",
        clusters=panel.cluster,
        weights=panel.weights,
        absorbed_df=absorbed_df(panel),
        x_before=x,
        what=what,
    )


def _pretrend_check(panel: PanelDesign, alpha: float) -> tuple[Check, dict[str, float]]:
    """Differential linear trend of ever-treated units in untreated periods.

    Regresses the outcome on unit and period effects and ``ever_treated × period`` over the
    untreated unit-periods only; a slope different from zero means the groups were already
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
    x = (np.isfinite(sub.first_treated[sub.unit]) * sub.period).astype(float)[:, None]
    try:
        fit = fit_twfe(sub, x, ["ever_treated:period"], "pre-trend regression")
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


def subset_panel(panel: PanelDesign, rows: np.ndarray) -> PanelDesign:
    """The panel restricted to ``rows`` (a boolean mask), with units and clusters re-coded."""
    unit, _ = group_codes(panel.unit[rows])
    kept_units = np.unique(panel.unit[rows])
    cluster, n_clusters = group_codes(panel.cluster[rows])
    return PanelDesign(
        y=panel.y[rows],
        d=panel.d[rows],
        unit=unit,
        period=panel.period[rows],
        periods=panel.periods,
        cluster=cluster,
        n_clusters=n_clusters,
        first_treated=panel.first_treated[kept_units],
        covariates=panel.covariates[rows],
        covariate_names=panel.covariate_names,
        weights=None if panel.weights is None else panel.weights[rows],
        unit_labels=panel.unit_labels[kept_units],
        warnings=(),
    )


def estimate_did(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    design: Literal["auto", "2x2", "twfe"] = "auto",
) -> EffectEstimate:
    """Difference in differences on a unit × period panel.

    Parameters
    ----------
    frame : DataFrame, one row per unit-period
    spec : ``outcome``, ``treatment`` (1 for treated unit-periods), ``unit``, ``time``; optional
        ``cluster`` (default: the unit), ``covariates`` (time-varying controls), ``weights``
    alpha : level of the confidence interval
    design : ``"2x2"`` regresses the outcome on ``treated_group``, ``post`` and their product
        (needs one common treatment start); ``"twfe"`` on the treatment with unit and period
        fixed effects; ``"auto"`` picks 2×2 when all treated units start together, else TWFE
        (and warns that staggered timing calls for ``staggered_did``).

    Returns
    -------
    EffectEstimate
        ATT. ``coefficients``: ``treated_group``, ``post``, ``treated_group:post`` (2×2) or
        ``treatment`` (TWFE), then each covariate. ``statistics``: ``n_units``, ``n_periods``,
        ``n_clusters``, ``n_treated_clusters``, ``n_control_clusters``, ``df`` (t degrees of
        freedom, G-1), ``pretrend_slope``, ``pretrend_stderr``, ``pretrend_pvalue`` (when the
        pre-trend check runs). ``checks``: PRE_TREND (differential linear pre-trend).

    Notes
    -----
    Standard errors are cluster-robust (CR1) with Stata's ``G/(G-1)·(n-1)/(n-K)`` factor, K
    counting the regressors and the fixed effects not nested in the clusters — the convention of
    ``xtreg, fe vce(cluster)`` and of linearmodels' ``PanelOLS(debiased=True,
    group_debias=True)``; inference uses t with G-1 degrees of freedom (Bertrand, Duflo &
    Mullainathan 2004; Cameron & Miller 2015). With staggered adoption and heterogeneous effects
    TWFE is a weighted average with possibly negative weights (Goodman-Bacon 2021).
    """
    if design not in ("auto", "2x2", "twfe"):
        raise InvalidSpec(f"design must be auto, 2x2 or twfe, got {design!r}", field="design")
    panel = panel_design(frame, spec, absorbing=design == "2x2", method="did")
    warnings = [*panel.warnings, *cluster_warnings(panel, "did")]
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
    use_2x2 = design == "2x2" or (design == "auto" and matches_2x2)
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
    design_words = (
        "2×2 regression of the outcome on treated group, post period and their interaction"
        if use_2x2
        else "two-way fixed effects regression (unit and period effects)"
    )
    return effect_estimate(
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
            "have moved in parallel.",
            "No anticipation: outcomes do not respond before treatment starts.",
            "Stable composition and no spillovers between treated and comparison units (SUTVA).",
            "Errors may correlate within clusters but are independent across clusters.",
            *(
                ()
                if use_2x2
                else (
                    "TWFE additionally assumes a homogeneous effect across cohorts and over "
                    "time; otherwise it averages effects with possibly negative weights.",
                )
            ),
        ),
        statistics=statistics,
        coefficients=fit.coefficients([n for n in names if n != "const"], alpha),
        warnings=tuple(warnings),
        checks=(check,),
    )
