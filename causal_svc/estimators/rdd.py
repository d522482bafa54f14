"""Regression discontinuity: local-linear RD with robust bias-corrected inference (rdrobust).

Sharp RD when the treatment is a deterministic function of the running variable at the cutoff
(treated at or above it, or treated below it), fuzzy RD otherwise. Ships with a density
(manipulation) test at the cutoff and, when covariates are named, a continuity test of each
covariate at the cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from ._inference import (
    cluster_codes,
    cluster_df,
    critical_value,
    few_cluster_warnings,
    interval,
)
from ._propensity import require_variation
from ._rdd_density import DensityTestUnavailable, density_test
from ._rdd_local import Fit, Side, kernel_weights, local_fit, mserd_bandwidths
from ._rdd_plot import rdd_plot_series
from .result import (
    Check,
    CheckKind,
    CheckOutcome,
    Coefficient,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from .validate import numeric, require_columns, require_roles, role_field

__all__ = ["estimate_rdd", "with_sharp_treatment"]

Kernel = Literal["triangular", "epanechnikov", "uniform"]
_FIRST_STAGE_F = 10.0


def estimate_rdd(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    p: int = 1,
    kernel: Kernel = "triangular",
    bandwidth: float | None = None,
    variance_neighbors: int = 3,
    manipulation_test: bool = True,
    min_obs_per_side: int = 10,
    fuzzy: bool = False,
) -> EffectEstimate:
    """Effect of crossing ``spec.cutoff`` of ``spec.running_variable`` on ``spec.outcome``.

    Parameters
    ----------
    frame : DataFrame, shape (n, k)
        One row per unit.
    spec : EffectSpec
        ``outcome``, ``running_variable`` and ``cutoff`` are required. Units with running
        variable >= cutoff are "above". Without ``treatment`` the design is sharp with
        treatment = 1{above} (:func:`with_sharp_treatment`). A 0/1 ``treatment`` gives a sharp
        design when it equals 1{above} (or 1{below}: the sign is then flipped so the estimate
        is treated minus untreated) for every row, fuzzy otherwise. ``cluster`` gives CR1 cluster-robust
        variance (rdrobust's ``vce="cr1"``: the same estimate and SEs) with a t(G − 1)
        reference instead of rdrobust's normal, and a warning below 30 clusters; ``weights`` multiply the kernel weights.
        ``covariates`` are not adjusted for; each is tested for a jump at the cutoff.
    alpha : float
        Two-sided level of the confidence intervals.
    p : int
        Order of the local polynomial (1 = local linear); the bias correction uses p + 1.
    kernel : {"triangular", "epanechnikov", "uniform"}
        Kernel of the local fits.
    bandwidth : float, optional
        Manual bandwidth h (then b = h, as rdrobust with ``rho=1``); default MSE-optimal.
    variance_neighbors : int
        Neighbours in the nearest-neighbour variance estimator (rdrobust's ``nnmatch``, default
        3), as in ``estimate_matching``.
    manipulation_test : bool
        Run the Cattaneo–Jansson–Ma density test at the cutoff (DENSITY check).
    min_obs_per_side : int
        Fewer observations than this on either side raises ``InsufficientData``.
    fuzzy : bool
        The treatment is a take-up or dose that jumps at the cutoff: required for a treatment
        that is not 0/1.

    Returns
    -------
    EffectEstimate
        ``point_estimate`` / ``stderr`` are rdrobust's *conventional* local-polynomial estimate
        and standard error (``coef[0]``, ``se[0]``); ``ci_lower`` / ``ci_upper`` / ``pvalue``
        are the *robust bias-corrected* ones (centred on the bias-corrected estimate with the
        robust SE: rdrobust's "Robust" row). ``conf_int(alpha)`` at another alpha is the
        conventional interval. ``estimand`` is LATE: the average effect for units at the
        cutoff (sharp) or for compliers at the cutoff (fuzzy). ``nobs`` counts all rows;
        ``n_treated`` / ``n_control`` are the observations inside h on the treated / untreated
        side (None for a fuzzy design).

        ``statistics``: ``conventional_estimate``, ``conventional_stderr``,
        ``conventional_ci_lower``, ``conventional_ci_upper``, ``conventional_pvalue``,
        ``bias_corrected_estimate``, ``robust_stderr``, ``robust_ci_lower``,
        ``robust_ci_upper``, ``robust_pvalue``, ``bandwidth_h_left``, ``bandwidth_h_right``,
        ``bandwidth_b_left``, ``bandwidth_b_right``, ``n_left``, ``n_right``,
        ``n_effective_left``, ``n_effective_right`` (inside h), ``n_bias_left``,
        ``n_bias_right`` (inside b), ``cutoff``, ``polynomial_order``, ``fuzzy`` (0/1),
        ``treated_above`` (0/1); fuzzy only: ``first_stage_jump``, ``first_stage_stderr``,
        ``first_stage_f``; with the density test: ``density_t``, ``density_pvalue``,
        ``density_left``, ``density_right``, ``density_bandwidth_left``,
        ``density_bandwidth_right``, ``density_n_left``, ``density_n_right``;
        ``n_clusters`` and ``robust_pvalue_normal`` (rdrobust's own normal-reference robust
        p-value) when clustered.

        ``coefficients``: ``conventional``, ``robust_bias_corrected``, fuzzy
        ``first_stage``, and ``covariate_jump:<column>`` (robust bias-corrected jump of each
        covariate at the cutoff).

        ``series``: ``bins:below`` / ``bins:above`` (binned outcome means, with ``positions``)
        and ``fit:below`` / ``fit:above`` (the local fits inside h), for the RD plot
        (:mod:`._rdd_plot`).

        ``checks``: DENSITY (FAILED when the density test rejects continuity at ``alpha``),
        BALANCE (covariate continuity: FAILED when any covariate jumps at the
        Bonferroni-adjusted level ``alpha / #covariates``), WEAK_INSTRUMENT (fuzzy: FAILED when
        the first-stage F = (jump / SE)^2 < 10).

    Raises
    ------
    InvalidSpec
        Missing role, non-numeric or missing values, cutoff missing or outside the open range of
        the running variable, constant treatment, a treatment that is the running variable
        itself, a non-0/1 treatment without ``fuzzy``, bad option.
    InsufficientData
        Too few observations (or distinct running-variable values) on a side, inside the
        bandwidth, or to select a bandwidth.

    Notes
    -----
    Calonico, Cattaneo & Titiunik (2014), "Robust nonparametric confidence intervals for
    regression-discontinuity designs", Econometrica 82(6); Calonico, Cattaneo & Farrell (2020),
    Econometrics Journal, for the bandwidth with ``rdrobust`` 2.1's defaults (``mserd``,
    ``vce="nn"``, ``masspoints="adjust"``, ``stdvars=True``); Cattaneo, Jansson & Ma (2020),
    JASA, for the density test (``rddensity`` 3.0 defaults).
    """
    _check_options(p, kernel, bandwidth, variance_neighbors, alpha)
    require_roles(spec, "outcome", "running_variable")
    if spec.cutoff is None or not math.isfinite(spec.cutoff):
        raise InvalidSpec("RDD needs a finite cutoff", field=role_field("cutoff"))
    c = float(spec.cutoff)
    frame, spec = with_sharp_treatment(frame, spec)
    require_columns(frame, spec)
    running = spec.running_variable
    assert running is not None  # require_roles checked it
    x = numeric(frame, running, "running_variable")
    y = numeric(frame, spec.outcome, "outcome")
    require_variation(y, "RDD")
    t = numeric(frame, spec.treatment, "treatment")
    if not x.min() < c < x.max():
        raise InvalidSpec(
            f"cutoff {c:g} is outside the range ({x.min():g}, {x.max():g}) of {running!r}",
            field=role_field("cutoff"),
            reason="CUTOFF_OUT_OF_RANGE",
        )
    covariates = {name: numeric(frame, name, "covariates") for name in spec.covariates}
    above = x >= c
    fuzzy, treated_above = _design(t, above, x, spec, fuzzy)
    clusters = cluster_codes(frame, spec.cluster)[0] if spec.cluster else None
    fw = None
    if spec.weights:
        fw = numeric(frame, spec.weights, "weights")
        if (fw < 0).any() or fw.sum() <= 0:
            raise InvalidSpec("weights must be non-negative", field=role_field("weights"))

    q = p + 1
    n_l, n_r = int((~above).sum()), int(above.sum())
    uniq_l, uniq_r = len(np.unique(x[~above])), len(np.unique(x[above]))
    if min(n_l, n_r) < min_obs_per_side or min(uniq_l, uniq_r) < q + 2:
        raise InsufficientData(
            f"RDD: {n_l} rows ({uniq_l} distinct x) below and {n_r} ({uniq_r}) above the "
            f"cutoff; need {min_obs_per_side} rows and {q + 2} distinct values on each side",
            subject=role_field("running_variable"),
        )

    order = np.argsort(x, kind="stable")
    cols = np.column_stack([y, t]) if fuzzy else y[:, None]

    def sides(d: np.ndarray) -> tuple[Side, Side]:
        xs, ds, below = x[order], d[order], ~above[order]
        cl = None if clusters is None else clusters[order]
        ws = None if fw is None else fw[order]
        return tuple(  # type: ignore[return-value]
            Side(xs[m], ds[m], None if cl is None else cl[m], None if ws is None else ws[m])
            for m in (below, ~below)
        )

    left, right = sides(cols)
    fit, (h, b) = _fit(left, right, c, p, kernel, bandwidth, variance_neighbors)
    sign = 1.0 if (fuzzy or treated_above) else -1.0
    tau_cl, tau_bc = sign * fit.tau_cl, sign * fit.tau_bc
    # Clustered: rdrobust's CR1 estimate and SEs, but t(G − 1) instead of rdrobust's normal
    # (R11-F4), as every other clustered estimator here; rdrobust's normal p is kept beside it.
    n_clusters = None if clusters is None else len(np.unique(clusters))
    df = None if n_clusters is None else cluster_df(n_clusters)
    conv_lo, conv_hi, conv_p = interval(tau_cl, fit.se_cl, alpha, df)
    rob_lo, rob_hi, rob_p = interval(tau_bc, fit.se_rb, alpha, df)
    if not all(map(math.isfinite, (tau_cl, fit.se_cl, fit.se_rb, rob_lo))):
        raise InsufficientData(
            "RDD: the local fits are degenerate (no variation inside the bandwidth)",
            subject=role_field("outcome"),
        )

    statistics: dict[str, float] = {
        "conventional_estimate": tau_cl,
        "conventional_stderr": fit.se_cl,
        "conventional_ci_lower": conv_lo,
        "conventional_ci_upper": conv_hi,
        "conventional_pvalue": conv_p,
        "bias_corrected_estimate": tau_bc,
        "robust_stderr": fit.se_rb,
        "robust_ci_lower": rob_lo,
        "robust_ci_upper": rob_hi,
        "robust_pvalue": rob_p,
        "bandwidth_h_left": h,
        "bandwidth_h_right": h,
        "bandwidth_b_left": b,
        "bandwidth_b_right": b,
        "n_left": float(n_l),
        "n_right": float(n_r),
        "n_effective_left": float(fit.n_h[0]),
        "n_effective_right": float(fit.n_h[1]),
        "n_bias_left": float(fit.n_b[0]),
        "n_bias_right": float(fit.n_b[1]),
        "cutoff": c,
        "polynomial_order": float(p),
        "fuzzy": float(fuzzy),
        "treated_above": float(treated_above),
    }
    if n_clusters is not None:
        statistics["n_clusters"] = float(n_clusters)
        statistics["robust_pvalue_normal"] = interval(tau_bc, fit.se_rb, alpha)[2]
    coefficients = [
        _coef("conventional", tau_cl, fit.se_cl, conv_lo, conv_hi, conv_p, fit.n_h),
        _coef("robust_bias_corrected", tau_bc, fit.se_rb, rob_lo, rob_hi, rob_p, fit.n_h),
    ]
    checks: list[Check] = []
    if fuzzy:
        checks.append(_first_stage(fit, alpha, statistics, coefficients, df))
    if manipulation_test:
        checks.append(_density_check(x, c, alpha, statistics))
    if spec.covariates:
        checks.append(
            _continuity_check(
                covariates, sides, c, p, kernel, variance_neighbors, alpha, coefficients, df
            )
        )

    design = "fuzzy" if fuzzy else "sharp"
    assumptions = [
        "Continuity: absent treatment, the expected outcome would be continuous in the running "
        "variable at the cutoff (nothing else changes there).",
        "No precise manipulation: units cannot sort themselves to one side of the cutoff.",
        "The estimate is local: it holds for units at the cutoff, not for the whole population.",
        f"Local polynomial of order {p} with a {kernel} kernel approximates the regression "
        "function within the bandwidth; inference corrects its leading bias.",
    ]
    if fuzzy:
        assumptions += [
            "Fuzzy design: crossing the cutoff changes treatment probability (relevance), "
            "affects the outcome only through treatment (exclusion) and moves no one out of "
            "treatment (monotonicity): the effect is for compliers at the cutoff.",
        ]
    warnings = [] if n_clusters is None else few_cluster_warnings("rdd", n_clusters)
    if (mass := _mass_point_warning(x, c, h, spec.running_variable or "x")) is not None:
        warnings.append(mass)
    if spec.covariates:
        warnings.append(
            "covariates are not used to adjust the RD estimate; they are tested for "
            "continuity at the cutoff instead"
        )
    n_treated = n_control = None
    if not fuzzy:
        inside_above, inside_below = fit.n_h[1], fit.n_h[0]
        n_treated = inside_above if treated_above else inside_below
        n_control = inside_below if treated_above else inside_above
    return EffectEstimate(
        method=Method.RDD,
        estimand=Estimand.LATE,
        point_estimate=tau_cl,
        stderr=fit.se_cl,
        ci_lower=rob_lo,
        ci_upper=rob_hi,
        pvalue=rob_p,
        nobs=len(x),
        alpha=alpha,
        df=df,
        n_treated=n_treated,
        n_control=n_control,
        assumptions=(f"Design: {design} regression discontinuity.", *assumptions),
        statistics=statistics,
        coefficients=tuple(coefficients),
        series=rdd_plot_series(x, y, c, h, p, kernel, z=critical_value(alpha, df), weights=fw),
        warnings=tuple(warnings),
        checks=tuple(checks),
    )


def _check_options(
    p: int, kernel: str, bandwidth: float | None, variance_neighbors: int, alpha: float
) -> None:
    if p not in (1, 2, 3, 4):
        raise InvalidSpec(f"polynomial order p must be 1..4, got {p}", field="options.p")
    if kernel not in ("triangular", "epanechnikov", "uniform"):
        raise InvalidSpec(f"unknown kernel {kernel!r}", field="options.kernel")
    if bandwidth is not None and not (math.isfinite(bandwidth) and bandwidth > 0):
        raise InvalidSpec("bandwidth must be a positive number", field="options.bandwidth")
    if variance_neighbors < 1:
        raise InvalidSpec(
            "variance_neighbors must be a positive integer", field="options.variance_neighbors"
        )
    if not 0 < alpha < 1:
        raise InvalidSpec("alpha must be in (0, 1)", field="options.alpha")


def with_sharp_treatment(frame: pd.DataFrame, spec: EffectSpec) -> tuple[pd.DataFrame, EffectSpec]:
    """A sharp design named by its running variable and cutoff alone: the treatment column
    ``"<running> >= <cutoff>"`` added (0/1). Unchanged when ``spec`` names a treatment."""
    if spec.treatment or spec.running_variable is None or spec.cutoff is None:
        return frame, spec
    running = spec.running_variable
    require_columns(frame, replace(spec, treatment=running))
    name = f"{running} >= {spec.cutoff:g}"
    x = numeric(frame, running, "running_variable")
    return frame.assign(**{name: (x >= spec.cutoff).astype(np.int64)}), replace(
        spec, treatment=name
    )


def _design(
    t: np.ndarray, above: np.ndarray, x: np.ndarray, spec: EffectSpec, fuzzy: bool
) -> tuple[bool, bool]:
    """(fuzzy, treated_above) from how the treatment lines up with the cutoff; refuses the
    treatments that cannot identify a jump, saying how to fix the request."""
    running = spec.running_variable
    if spec.treatment == running or np.array_equal(t, x):
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} is the running variable {running!r} itself: it "
            "does not jump at the cutoff. Leave the treatment empty for a sharp design (treated "
            f"= {running} >= {spec.cutoff:g}), or name the 0/1 take-up column (with fuzzy) for "
            "a fuzzy one",
            field=role_field("treatment"),
            reason="TREATMENT_IS_RUNNING_VARIABLE",
        )
    if t.min() == t.max():
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} is constant: nothing changes at the cutoff",
            field=role_field("treatment"),
            reason="CONSTANT_TREATMENT",
        )
    binary = bool(np.isin(t, (0.0, 1.0)).all())
    if not binary and not fuzzy:
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} takes {len(np.unique(t)):,} values, not 0/1: a "
            "sharp design needs a 0/1 treatment (or none: treated = running variable >= "
            "cutoff); for a take-up or dose that jumps at the cutoff ask for a fuzzy design "
            "(options.rdd_fuzzy, --fuzzy)",
            field=role_field("treatment"),
            reason="NON_BINARY_TREATMENT",
        )
    if np.array_equal(t, above.astype(float)):
        return False, True
    if np.array_equal(t, (~above).astype(float)):
        return False, False
    return True, True


def _fit(
    left: Side,
    right: Side,
    c: float,
    p: int,
    kernel: str,
    bandwidth: float | None,
    variance_neighbors: int,
) -> tuple[Fit, tuple[float, float]]:
    if bandwidth is None:
        h, b = mserd_bandwidths(
            left, right, c, p=p, kernel=kernel, variance_neighbors=variance_neighbors
        )
        if not (math.isfinite(h) and math.isfinite(b) and h > 0 and b > 0):
            raise InsufficientData(
                "RDD: the MSE-optimal bandwidth is undefined (too few distinct running-variable "
                "values near the cutoff, or no curvature to trade off against variance)",
                subject=role_field("running_variable"),
            )
    else:
        h = b = bandwidth
    for side, name in ((left, "below"), (right, "above")):
        inside_h = kernel_weights(side.x, c, h, kernel) > 0
        inside_b = kernel_weights(side.x, c, b, kernel) > 0
        if len(np.unique(side.x[inside_h])) < p + 1 or len(np.unique(side.x[inside_b])) < p + 2:
            raise InsufficientData(
                f"RDD: too few distinct running-variable values {name} the cutoff inside the "
                f"bandwidth (h = {h:.4g}, b = {b:.4g})",
                subject=role_field("running_variable"),
            )
    return local_fit(
        left, right, c, h=h, b=b, p=p, kernel=kernel, variance_neighbors=variance_neighbors
    ), (h, b)


def _coef(
    name: str, est: float, se: float, lo: float, hi: float, p: float, n_h: tuple[int, int]
) -> Coefficient:
    return Coefficient(
        name=name, estimate=est, stderr=se, ci_lower=lo, ci_upper=hi, pvalue=p, nobs=sum(n_h)
    )


def _first_stage(
    fit: Fit,
    alpha: float,
    statistics: dict[str, float],
    coefficients: list[Coefficient],
    df: float | None,
) -> Check:
    jump, se = fit.first_stage or 0.0, fit.first_stage_se or 0.0
    f_stat = (jump / se) ** 2 if se > 0 else float("inf")
    lo, hi, pv = interval(jump, se, alpha, df) if se > 0 else (jump, jump, 0.0)
    statistics |= {"first_stage_jump": jump, "first_stage_stderr": se, "first_stage_f": f_stat}
    coefficients.append(_coef("first_stage", jump, se, lo, hi, pv, fit.n_h))
    weak = f_stat < _FIRST_STAGE_F
    return Check(
        name="fuzzy_first_stage",
        kind=CheckKind.WEAK_INSTRUMENT,
        outcome=CheckOutcome.FAILED if weak else CheckOutcome.PASSED,
        interpretation=(
            f"The treatment probability jumps by {jump:.3f} at the cutoff (F = {f_stat:.1f}). "
            + (
                "Below the rule-of-thumb 10: the cutoff barely moves treatment, so the fuzzy RD "
                "ratio is unstable and the estimate is not supported."
                if weak
                else "The cutoff moves treatment strongly enough for the fuzzy RD ratio."
            )
        ),
        statistic=f_stat,
        threshold=_FIRST_STAGE_F,
    )


def _density_check(x: np.ndarray, c: float, alpha: float, statistics: dict[str, float]) -> Check:
    try:
        test = density_test(x, c)
    except DensityTestUnavailable as exc:
        return Check(
            name="density_test",
            kind=CheckKind.DENSITY,
            outcome=CheckOutcome.SKIPPED,
            interpretation=f"The manipulation test could not run: {exc}.",
        )
    statistics |= {
        "density_t": test.t_stat,
        "density_pvalue": test.pvalue,
        "density_left": test.f_left,
        "density_right": test.f_right,
        "density_bandwidth_left": test.h_left,
        "density_bandwidth_right": test.h_right,
        "density_n_left": float(test.n_left),
        "density_n_right": float(test.n_right),
    }
    rejected = test.pvalue < alpha
    text = (
        f"The density of the running variable is {test.f_left:.4g} just below and "
        f"{test.f_right:.4g} just above the cutoff (CJM robust t = {test.t_stat:.2f}, "
        f"p = {test.pvalue:.3g}). "
    )
    text += (
        "Continuity is rejected: units appear to sort around the cutoff, so those just above "
        "and just below may not be comparable and the estimate is not supported."
        if rejected
        else "No evidence of manipulation of the running variable at the cutoff."
    )
    return Check(
        name="density_test",
        kind=CheckKind.DENSITY,
        outcome=CheckOutcome.FAILED if rejected else CheckOutcome.PASSED,
        interpretation=text,
        statistic=test.t_stat,
        pvalue=test.pvalue,
        threshold=alpha,
    )


def _continuity_check(
    covariates: dict[str, np.ndarray],
    sides: Callable[[np.ndarray], tuple[Side, Side]],
    c: float,
    p: int,
    kernel: str,
    variance_neighbors: int,
    alpha: float,
    coefficients: list[Coefficient],
    df: float | None,
) -> Check:
    """Each predetermined covariate, used as an outcome, should not jump at the cutoff."""
    level = alpha / len(covariates)
    jumps: list[tuple[str, float]] = []
    skipped: list[str] = []
    for name, z in covariates.items():
        left, right = sides(z[:, None])
        try:
            fit, _ = _fit(left, right, c, p, kernel, None, variance_neighbors)
        except InsufficientData:
            skipped.append(name)
            continue
        lo, hi, pv = interval(fit.tau_bc, fit.se_rb, alpha, df)
        if not math.isfinite(pv):
            skipped.append(name)
            continue
        coefficients.append(
            _coef(f"covariate_jump:{name}", fit.tau_bc, fit.se_rb, lo, hi, pv, fit.n_h)
        )
        jumps.append((name, pv))
    if not jumps:
        return Check(
            name="covariate_continuity",
            kind=CheckKind.BALANCE,
            outcome=CheckOutcome.SKIPPED,
            interpretation="No covariate had enough variation near the cutoff to test.",
        )
    worst_name, worst_p = min(jumps, key=lambda item: item[1])
    failed = worst_p < level
    text = (
        f"Covariates tested for a jump at the cutoff: {len(jumps)}; smallest robust p = "
        f"{worst_p:.3g} ({worst_name}) against the Bonferroni level {level:.3g}. "
    )
    text += (
        f"{worst_name} jumps at the cutoff, so units on the two sides differ in more than "
        "treatment and the estimate is not supported."
        if failed
        else "No predetermined covariate jumps: the two sides look comparable."
    )
    if skipped:
        text += f" Not testable: {', '.join(skipped)}."
    return Check(
        name="covariate_continuity",
        kind=CheckKind.BALANCE,
        outcome=CheckOutcome.FAILED if failed else CheckOutcome.PASSED,
        interpretation=text,
        statistic=worst_p,
        pvalue=worst_p,
        threshold=level,
    )


def _mass_point_warning(x: np.ndarray, c: float, h: float, name: str) -> str | None:
    """rdrobust's mass-point rule (at least 20% repeated values on a side), said to the user:
    a discrete running variable leaves few support points near the cutoff and the estimate
    extrapolates between them (Kolesár & Rothe 2018). The bandwidth already follows
    rdrobust's ``masspoints="adjust"``; nothing said so (R27-F9)."""
    below, above = x[x < c], x[x >= c]
    distinct_below, distinct_above = len(np.unique(below)), len(np.unique(above))
    if not (
        1 - distinct_below / max(len(below), 1) >= 0.2
        or 1 - distinct_above / max(len(above), 1) >= 0.2
    ):
        return None
    near_below = len(np.unique(below[below >= c - h]))
    near_above = len(np.unique(above[above <= c + h]))
    return (
        f"mass points in the running variable: {name} takes {len(np.unique(x))} distinct values, "
        f"{near_below} below and {near_above} at or above the cutoff within the bandwidth; "
        "with a discrete running variable the effect at the cutoff rests on the fitted line "
        "between those few points, not on data at the cutoff (Kolesár & Rothe 2018)"
    )
