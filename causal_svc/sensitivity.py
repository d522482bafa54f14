"""How strong would an unmeasured confounder have to be to explain an estimate away?

Two figures, both readable without a model of the confounder:

- the **E-value** (VanderWeele & Ding 2017): the risk ratio a confounder would need with both the
  treatment and the outcome to move the estimate (or its confidence bound) to no effect;
- the **robustness value** RV (Cinelli & Hazlett 2020): the share of the residual variance of both
  treatment and outcome a confounder would need to explain to bring the estimate to zero (RV_q)
  or to statistical insignificance (RV_q,α); with observed covariates as benchmarks it says
  whether a confounder as strong as, say, seasonality would be enough.

The RV formulas are exact for a linear regression's coefficient (t statistic and residual
degrees of freedom); for other estimators they are read through the estimate's own t statistic,
an approximation the check says it makes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.estimators.result import EffectEstimate, EffectSpec

__all__ = [
    "TOO_STRONG",
    "BenchmarkBound",
    "SensitivityFigures",
    "adjusted_estimate",
    "adjusted_se",
    "benchmark_bounds",
    "benchmarks",
    "e_value",
    "e_value_ci",
    "partial_r2",
    "partial_r2_bound",
    "robustness_value",
    "sensitivity_figures",
    "smd_to_risk_ratio",
]

# VanderWeele & Ding (2017, eq. in §"Continuous outcomes"): RR ≈ exp(0.91 × d), d the
# standardised mean difference (Hasselblad & Hedges 1995 conversion).
_SMD_TO_LOG_RR = 0.91
# How an unbenchmarked covariate's reason starts when it is too strong to serve (its k× bound
# would explain more than all the treatment): the strongest observed covariate, so a check
# must not read the others' bounds as "robust to any" (audit s17 V2 F2).
TOO_STRONG = "too strong to bound"


@dataclass(frozen=True, slots=True)
class BenchmarkBound:
    """Effect left after adjusting for a confounder ``k`` times as strong as ``covariate``."""

    covariate: str
    k: float
    r2dz_x: float  # partial R² of the confounder with the treatment
    r2yz_dx: float  # partial R² of the confounder with the outcome
    adjusted_estimate: float
    adjusted_se: float
    adjusted_t: float
    ci_lower: float
    ci_upper: float
    explains_away: bool  # the adjusted interval includes zero, or the estimate changed sign


@dataclass(frozen=True, slots=True)
class SensitivityFigures:
    """Sensitivity figures for one estimate; ``None`` where a figure cannot be computed."""

    e_value: float | None
    e_value_ci: float | None
    risk_ratio: float | None
    e_value_scale: str  # "risk_ratio" (binary outcome) or "standardised_difference"
    partial_r2: float | None
    robustness_value: float | None
    robustness_value_alpha: float | None
    dof: float | None
    dof_exact: bool  # False: degrees of freedom approximated from n and the covariate count
    q: float
    alpha: float
    benchmarks: tuple[BenchmarkBound, ...] = ()
    # Named covariates that could not serve as benchmarks, each with why ("constant", …): a
    # check must not read their absence as "no covariates" (R27-F3).
    unbenchmarked: tuple[tuple[str, str], ...] = ()

    def as_statistics(self) -> dict[str, float]:
        """Named scalars for ``EffectEstimate.statistics`` (figures that exist only)."""
        named = {
            "e_value": self.e_value,
            "e_value_ci": self.e_value_ci,
            "partial_r2_treatment": self.partial_r2,
            "robustness_value": self.robustness_value,
            "robustness_value_alpha": self.robustness_value_alpha,
        }
        return {k: float(v) for k, v in named.items() if v is not None and math.isfinite(v)}


# -- E-value -----------------------------------------------------------------------------------


def e_value(risk_ratio: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR − 1))`` after flipping RR < 1 to 1/RR.

    Notes
    -----
    VanderWeele, T. J. & Ding, P. (2017). Sensitivity analysis in observational research:
    introducing the E-value. *Annals of Internal Medicine* 167(4), 268–274.
    """
    if not risk_ratio > 0:
        raise ValueError(f"a risk ratio must be positive, got {risk_ratio}")
    rr = risk_ratio if risk_ratio >= 1 else 1 / risk_ratio
    return float(rr + math.sqrt(rr * (rr - 1)))


def e_value_ci(lower: float, upper: float) -> float:
    """E-value of the confidence bound closest to 1; 1 when the interval includes 1."""
    if lower <= 1 <= upper:
        return 1.0
    return e_value(lower if lower > 1 else upper)


def smd_to_risk_ratio(d: float) -> float:
    """Approximate risk ratio ``exp(0.91 d)`` for a standardised mean difference ``d``."""
    return float(math.exp(_SMD_TO_LOG_RR * d))


# -- Cinelli & Hazlett -------------------------------------------------------------------------


def partial_r2(t_stat: float, dof: float) -> float:
    """Partial R² of a regressor with the outcome: ``t² / (t² + dof)``."""
    return float(t_stat**2 / (t_stat**2 + dof))


def robustness_value(
    t_stat: float, dof: float, *, q: float = 1.0, alpha: float | None = None
) -> float:
    """Robustness value RV_q (``alpha`` None) or RV_q,α.

    Parameters
    ----------
    t_stat : float
        The estimate's t statistic (estimate / SE).
    dof : float
        Residual degrees of freedom of the regression.
    q : float
        Share of the estimate to explain away (1: all of it).
    alpha : float, optional
        With ``alpha``, the strength needed to make the estimate insignificant at that level.

    Notes
    -----
    Cinelli, C. & Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
    bias. *JRSS B* 82(1), 39–67, eq. (18)–(19). ``f_q = q |t| / √dof``; with α,
    ``f = f_q − |t*_{α, dof−1}| / √(dof − 1)``; ``RV = ½(√(f⁴ + 4f²) − f²)`` (0 when f ≤ 0), and the
    extreme-confounder formula ``(f_q² − f*²)/(1 + f_q²)`` when ``f_q > 1/f*``.
    """
    fq = q * abs(t_stat) / math.sqrt(dof)
    if alpha is None:
        return float(0.5 * (math.sqrt(fq**4 + 4 * fq**2) - fq**2))
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if fq > 1 / f_crit:
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (math.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def adjusted_estimate(
    estimate: float, se: float, dof: float, r2dz_x: float, r2yz_dx: float
) -> float:
    """The estimate after removing the bias of a confounder with these partial R² (toward 0)."""
    bias = se * math.sqrt(dof) * math.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))
    return float(np.sign(estimate) * (abs(estimate) - bias))


def adjusted_se(se: float, dof: float, r2dz_x: float, r2yz_dx: float) -> float:
    """The standard error had the confounder been included (Cinelli & Hazlett 2020, eq. 14)."""
    return float(se * math.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * math.sqrt(dof / (dof - 1)))


def partial_r2_bound(
    r2dxj_x: float, r2yxj_dx: float, *, kd: float = 1.0, ky: float | None = None
) -> tuple[float, float] | None:
    """Bounds (r2dz_x, r2yz_dx) for a confounder ``kd``/``ky`` times as strong as covariate X_j.

    ``None`` when the multiple is impossible (implied R² ≥ 1). Cinelli & Hazlett (2020), §6.1,
    eq. (41)–(42), as implemented in sensemakr's ``ovb_partial_r2_bound``; an implied outcome R²
    above 1 is capped at 1.
    """
    ky = kd if ky is None else ky
    r2dz = kd * r2dxj_x / (1 - r2dxj_x)
    r2zxj = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2dz >= 1 or r2zxj >= 1 or kd * r2dxj_x >= 1:
        return None
    r2yz = ((math.sqrt(ky) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)) ** 2 * (
        r2yxj_dx / (1 - r2yxj_dx)
    )
    return float(r2dz), float(min(r2yz, 1.0))


def benchmark_bounds(
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    dof: float,
    *,
    covariates: Sequence[str] | None = None,
    k: float = 1.0,
) -> tuple[BenchmarkBound, ...]:
    """Bounds using each observed numeric covariate as a benchmark of confounder strength
    (:func:`benchmarks`, without the covariates it could not use)."""
    return benchmarks(frame, spec, estimate, dof, covariates=covariates, k=k)[0]


def benchmarks(
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    dof: float,
    *,
    covariates: Sequence[str] | None = None,
    k: float = 1.0,
) -> tuple[tuple[BenchmarkBound, ...], tuple[tuple[str, str], ...]]:
    """Bounds using each observed numeric covariate as a benchmark of confounder strength, and
    the named covariates that could not serve, with why.

    Partial R² of covariate X_j come from two OLS fits on ``frame``: outcome on treatment and the
    benchmarkable covariates (``R²_{Y~Xj|D,X−j}``) and treatment on them (``R²_{D~Xj|X−j}``),
    each ``t²/(t² + dof)``. Non-numeric, constant and linearly dependent covariates (on the
    treatment and the covariates before them) are left out of both fits and listed: one
    constant column used to remove every benchmark, and the check then passed on the 5%
    robustness-value rule as if there had been no covariates (R27-F3).
    """
    names = set(covariates if covariates is not None else spec.covariates)
    skipped: list[tuple[str, str]] = [
        (c, "not numeric")
        for c in spec.covariates
        if c in names and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    usable = [c for c in spec.covariates if pd.api.types.is_numeric_dtype(frame[c])]
    if not usable or not np.isfinite(estimate.stderr) or estimate.stderr <= 0:
        return (), tuple(skipped)
    data = frame[[spec.outcome, spec.treatment, *usable]].dropna().to_numpy(dtype=float)
    y, d = data[:, 0], data[:, 1]
    kept, dropped = _independent_columns(d, data[:, 2:], usable)
    skipped.extend((c, why) for c, why in dropped if c in names)
    x = data[:, 2:][:, [usable.index(c) for c in kept]]
    if not kept:
        return (), tuple(skipped)
    ones = np.ones((len(data), 1))
    t_y = _ols_t(np.hstack([ones, d[:, None], x]), y)
    t_d = _ols_t(np.hstack([ones, x]), d)
    if t_y is None or t_d is None:  # too few rows for the fits
        skipped.extend((c, "too few rows to fit") for c in kept if c in names)
        return (), tuple(skipped)
    t_y, t_d = t_y[2:], t_d[1:]
    dof_y = len(data) - x.shape[1] - 2
    dof_d = len(data) - x.shape[1] - 1
    crit = abs(stats.t.ppf(estimate.alpha / 2, dof))
    bounds = []
    for j, name in enumerate(kept):
        if name not in names:
            continue
        r2_d = partial_r2(t_d[j], dof_d)
        bound = partial_r2_bound(r2_d, partial_r2(t_y[j], dof_y), kd=k)
        if bound is None:
            why = (
                f"{TOO_STRONG}: it explains {100 * r2_d:.1f}% of the treatment's residual "
                f"variance, and {k:g}× its strength would explain all the treatment"
            )
            skipped.append((name, why))
            continue
        r2dz, r2yz = bound
        adj = adjusted_estimate(estimate.point_estimate, estimate.stderr, dof, r2dz, r2yz)
        adj_se = adjusted_se(estimate.stderr, dof, r2dz, r2yz)
        lo, hi = adj - crit * adj_se, adj + crit * adj_se
        # r2yz capped at 1 leaves no residual outcome variance: a zero SE, an infinite t
        adj_t = adj / adj_se if adj_se > 0 else math.copysign(math.inf, adj)
        gone = bool(lo <= 0 <= hi or np.sign(adj) != np.sign(estimate.point_estimate))
        bounds.append(BenchmarkBound(name, k, r2dz, r2yz, adj, adj_se, adj_t, lo, hi, gone))
    return tuple(bounds), tuple(skipped)


def _independent_columns(
    d: np.ndarray, x: np.ndarray, names: list[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """The covariates, in order, that add a direction to (1, treatment, the ones kept before),
    and the others with why: "constant", "(a linear function of) the treatment", or "a linear
    combination of the treatment and <earlier covariates>"."""
    basis = [np.ones(len(d)) / math.sqrt(len(d))]
    d_c = d - d.mean()
    if np.linalg.norm(d_c) > 0:
        basis.append(d_c / np.linalg.norm(d_c))
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for j, name in enumerate(names):
        column = x[:, j]
        if np.ptp(column) == 0:
            dropped.append((name, "constant"))
            continue
        scale = 1e-8 * np.linalg.norm(column - column.mean())
        if np.linalg.norm(_residual(column, basis[:2])) <= scale:
            dropped.append((name, "(a linear function of) the treatment"))
            continue
        rest = _residual(_residual(column, basis), basis)  # twice: Gram–Schmidt drifts
        if np.linalg.norm(rest) <= scale:
            dropped.append((name, f"a linear combination of the treatment and {', '.join(kept)}"))
            continue
        basis.append(rest / np.linalg.norm(rest))
        kept.append(name)
    return kept, dropped


def _residual(column: np.ndarray, basis: list[np.ndarray]) -> np.ndarray:
    """``column`` less its projection on the orthonormal ``basis``."""
    q = np.column_stack(basis)
    return column - q @ (q.T @ column)


def _ols_t(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Classical OLS t statistics, or None when the design is rank-deficient."""
    n, p = x.shape
    if n <= p or np.linalg.matrix_rank(x) < p:
        return None
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    sigma2 = resid @ resid / (n - p)
    return beta / np.sqrt(np.diag(xtx_inv) * sigma2)


# -- figures -----------------------------------------------------------------------------------


def sensitivity_figures(
    estimate: EffectEstimate,
    *,
    frame: pd.DataFrame | None = None,
    spec: EffectSpec | None = None,
    dof: float | None = None,
    outcome_sd: float | None = None,
    q: float = 1.0,
    benchmark: Sequence[str] | None = None,
    k: float = 1.0,
) -> SensitivityFigures:
    """E-values, robustness values and covariate benchmarks for ``estimate``.

    Parameters
    ----------
    estimate : EffectEstimate
    frame, spec : optional
        The data and roles behind the estimate: give the outcome's SD, the control risk for a
        binary outcome, the degrees of freedom and the benchmark covariates.
    dof : float, optional
        Residual degrees of freedom; else ``estimate.statistics["df_resid"]``, or ``["df"]``
        when the estimate is not clustered; else ``nobs − 2 − len(covariates)`` (flagged as
        approximate).
    outcome_sd : float, optional
        SD of the outcome for the standardised-difference E-value; else from ``frame`` or
        ``estimate.statistics["outcome_sd"]``.
    q : float
        Share of the effect to explain away for RV_q.
    benchmark : sequence of str, optional
        Covariates to benchmark against; all numeric ``spec.covariates`` by default.
    k : float
        Multiple of the benchmark's strength.

    Notes
    -----
    E-value scale: for a 0/1 outcome and 0/1 treatment with data, the estimate is a risk
    difference and RR = (p0 + RD)/p0 with p0 the control risk (bounds likewise, p0 held fixed).
    Otherwise the estimate is standardised, d = estimate / SD(outcome), and RR ≈ exp(0.91 d)
    (VanderWeele & Ding 2017); the CI bound nearest the null is converted the same way.
    """
    alpha = estimate.alpha
    dof, exact = _dof(estimate, spec, dof)
    se = estimate.stderr
    t_stat = estimate.point_estimate / se if np.isfinite(se) and se > 0 else float("nan")
    rv = rv_a = r2 = None
    if dof is not None and dof > 1 and np.isfinite(t_stat):
        r2 = partial_r2(t_stat, dof)
        rv = robustness_value(t_stat, dof, q=q)
        rv_a = robustness_value(t_stat, dof, q=q, alpha=alpha)

    rr = rr_lo = rr_hi = None
    scale = "standardised_difference"
    p0 = _control_risk(frame, spec)
    if p0 is not None:
        scale = "risk_ratio"
        rr, rr_lo, rr_hi = (
            max(p0 + v, 1e-12) / p0
            for v in (estimate.point_estimate, estimate.ci_lower, estimate.ci_upper)
        )
    else:
        sd = _outcome_sd(estimate, frame, spec, outcome_sd)
        if sd is not None:
            rr, rr_lo, rr_hi = (
                smd_to_risk_ratio(v / sd)
                for v in (estimate.point_estimate, estimate.ci_lower, estimate.ci_upper)
            )
    ev = ev_ci = None
    if (
        rr is not None
        and rr_lo is not None
        and rr_hi is not None
        and np.isfinite([rr, rr_lo, rr_hi]).all()
    ):
        ev, ev_ci = e_value(rr), e_value_ci(rr_lo, rr_hi)

    bounds: tuple[BenchmarkBound, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    if frame is not None and spec is not None and dof is not None and dof > 1:
        bounds, skipped = benchmarks(frame, spec, estimate, dof, covariates=benchmark, k=k)
    return SensitivityFigures(
        ev, ev_ci, rr, scale, r2, rv, rv_a, dof, exact, q, alpha, bounds, skipped
    )


def _dof(
    estimate: EffectEstimate, spec: EffectSpec | None, dof: float | None
) -> tuple[float | None, bool]:
    if dof is not None:
        return float(dof), True
    if "df_resid" in estimate.statistics:
        return float(estimate.statistics["df_resid"]), True
    if "df" in estimate.statistics and "n_clusters" not in estimate.statistics:
        # the regression estimators' inference df: n − k unless clustered (then G − 1)
        return float(estimate.statistics["df"]), True
    k = len(spec.covariates) if spec is not None else 0
    approx = estimate.nobs - 2 - k
    return (float(approx), False) if approx > 1 else (None, False)


def _control_risk(frame: pd.DataFrame | None, spec: EffectSpec | None) -> float | None:
    if frame is None or spec is None:
        return None
    y, t = frame[spec.outcome], frame[spec.treatment]
    if not (_is01(y) and _is01(t)):
        return None
    p0 = float(y[t == 0].mean())
    return p0 if 0 < p0 < 1 else None


def _outcome_sd(
    estimate: EffectEstimate,
    frame: pd.DataFrame | None,
    spec: EffectSpec | None,
    outcome_sd: float | None,
) -> float | None:
    if outcome_sd is not None:
        sd = float(outcome_sd)
    elif (
        frame is not None
        and spec is not None
        and pd.api.types.is_numeric_dtype(frame[spec.outcome])
    ):
        sd = float(frame[spec.outcome].std())
    elif "outcome_sd" in estimate.statistics:
        sd = float(estimate.statistics["outcome_sd"])
    else:
        return None
    return sd if np.isfinite(sd) and sd > 0 else None


def _is01(series: pd.Series) -> bool:
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        return False
    values = pd.unique(series.dropna())
    return len(values) == 2 and set(np.asarray(values, dtype=float)) == {0.0, 1.0}
