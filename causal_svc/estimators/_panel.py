"""The unit × period panel every DiD-family estimator (``did``, ``event_study``,
``staggered_did``) reads: validation and encoding, cluster counts and warnings, two-way fixed
effects fits, and subsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from . import _ols
from ._inference import (
    ClusterInference,
    WildBootstrap,
    column_codes,
    group_codes,
    plan_wild_bootstrap,
    wild_cluster_bootstrap,
)
from .result import Check, CheckKind, CheckOutcome, EffectSpec
from .validate import (
    binary_treatment,
    numeric,
    positive_weights,
    require_columns,
    require_roles,
    role_field,
)

__all__ = [
    "PanelDesign",
    "absorbed_df",
    "cluster_plan",
    "fit_twfe",
    "panel_design",
    "pretrend_check",
    "subset_panel",
    "wild_bootstrap_twfe",
]


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
    repeated = pd.Series(unit * len(periods) + period).duplicated()
    if repeated.any():
        first = int(np.argmax(repeated.to_numpy()))
        raise InvalidSpec(
            f"{method} needs one row per unit and period; {int(repeated.sum())} row(s) repeat "
            f"a ({spec.unit}, {spec.time}) pair, the first ({spec.unit} "
            f"{frame[spec.unit].iloc[first]}, {spec.time} {frame[spec.time].iloc[first]}) at "
            f"data row {first + 1} (counted from 1): "
            "aggregate to one row per pair (sum or mean) or drop the duplicates first",
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


def cluster_plan(
    panel: PanelDesign, method: str, inference: ClusterInference | str
) -> tuple[bool, list[str]]:
    """``InsufficientData`` below 2 clusters per arm; else whether the wild cluster bootstrap
    gives the p-value and interval, and the few-cluster warnings
    (:func:`._inference.plan_wild_bootstrap`)."""
    n_treated, n_control = panel.cluster_arms()
    if n_treated < 2 or n_control < 2:
        n_treated_units = int(np.isfinite(panel.first_treated).sum())
        remedy = (
            ": with one treated unit, use synthetic_control or sdid, which are built for it"
            if n_treated_units == 1
            else ": add clusters to that arm (if treatment was assigned unit by unit, "
            "cluster by the unit)"
        )
        raise InsufficientData(
            f"{method}: cluster-robust inference needs at least 2 clusters in each arm; "
            f"got {n_treated} treated and {n_control} comparison cluster(s){remedy}",
            subject="clusters",
        )
    return plan_wild_bootstrap(
        method,
        inference,
        panel.n_clusters,
        n_treated_clusters=n_treated,
        weighted=panel.weights is not None,
    )


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


def wild_bootstrap_twfe(
    panel: PanelDesign, x: np.ndarray, contrast: np.ndarray, alpha: float, random_state: int
) -> WildBootstrap:
    """The wild cluster bootstrap of ``contrast @ beta`` in the two-way fixed-effects
    regression of the outcome on ``x`` (:func:`fit_twfe`'s), the effects swept out again in
    every draw."""
    groups = [panel.unit, panel.period]
    swept = _ols.demean(np.column_stack([panel.y, x]), groups)

    def absorb(z: np.ndarray) -> np.ndarray:
        return _ols.demean(z, groups)

    return wild_cluster_bootstrap(
        swept[:, 0], swept[:, 1:], contrast, panel.cluster, alpha=alpha,
        rng=np.random.default_rng(random_state), absorb=absorb,
    )  # fmt: skip


def pretrend_check(
    name: str,
    test: _ols.JointTest,
    alpha: float,
    *,
    tested: str,
    clusters: str,
    verdicts: tuple[str, str],
) -> tuple[Check, dict[str, float]]:
    """The PRE_TREND check and ``pretrend_*`` statistics of a joint test that the leads are
    zero (:func:`._ols.joint_zero_test`: the Hotelling F(q, G − q) while q ≤ G/2, the
    Bonferroni sup-t beyond), as ``event_study`` and ``staggered_did`` report it.

    ``tested`` names the q coefficients ("leads"), ``clusters`` the G the test leaned on ("20
    clusters"), ``verdicts`` the (rejected, not rejected) readings.
    """
    q = test.df1
    failed = test.pvalue < alpha
    how = (
        ""
        if test.kind == "wald_f"
        else f" ({q} leads are too many to test jointly with {clusters}, so each lead's t is "
        "compared with a Bonferroni critical value)"
    )
    check = Check(
        name=name,
        kind=CheckKind.PRE_TREND,
        outcome=CheckOutcome.FAILED if failed else CheckOutcome.PASSED,
        interpretation=(
            f"{test.describe()} for the {q} {tested} = 0{how}: {verdicts[0 if failed else 1]}"
        ),
        statistic=test.statistic,
        pvalue=test.pvalue,
        threshold=alpha,
    )
    statistic = "pretrend_f" if test.kind == "wald_f" else "pretrend_max_t"
    return check, {
        statistic: test.statistic,
        "pretrend_df1": float(q),
        "pretrend_df2": float(test.df2),
        "pretrend_pvalue": test.pvalue,
    }
