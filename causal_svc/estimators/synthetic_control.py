"""Synthetic control (Abadie, Diamond & Hainmueller 2010) with placebo-in-space inference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from ._synth_weights import SynthFit, fit_synth
from ._time_labels import time_label, time_labels
from ._unused_roles import unused_role_warnings
from .result import (
    BalanceRow,
    Check,
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
    Series,
)
from .validate import binary_treatment, numeric, require_columns, require_roles, role_field

_MIN_PRE_PERIODS = 2
_MIN_DONORS = 2

ASSUMPTIONS = (
    "No interference: the intervention touches only the treated unit; donor units are "
    "untreated throughout and unaffected by spillovers.",
    "No anticipation: outcomes before the first treated period are unaffected by the intervention.",
    "The treated unit's untreated outcome path is a fixed convex combination of donor paths "
    "(a linear factor model, Abadie et al. 2010); credible only with a close pre-period fit and "
    "the treated unit inside the donors' convex hull.",
    "Inference is placebo-in-space permutation, treating units as exchangeable: the p-value "
    "and the CI come from one permutation test of a constant additive effect (statistic |mean "
    "post gap| / pre-RMSPE, Firpo & Possebom 2018), the p-value being its rank at zero; the ADH "
    "post/pre RMSPE-ratio rank is reported as a secondary statistic; stderr is the SD of the "
    "placebo ATTs, a permutation-based scale and not a sampling standard error.",
)


@dataclass(frozen=True, slots=True)
class _Panel:
    treated: object
    donors: list[object]
    times: list[object]
    n_pre: int
    Y: np.ndarray  # (T, 1 + J): treated first, then donors
    X: np.ndarray | None  # (k, 1 + J) predictors, same column order
    predictor_names: list[str]
    dropped_donors: list[object]


def estimate_synthetic_control(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    lagged_outcomes: Sequence[object] = (),
    max_pre_fit_ratio: float = 0.5,
    maxiter: int = 3000,
) -> EffectEstimate:
    """Synthetic-control ATT for one treated unit, with placebo-in-space inference.

    Parameters
    ----------
    frame : DataFrame, long panel, one row per (unit, time)
        Columns named by ``spec``: ``unit``, ``time`` (sortable), ``outcome`` (numeric),
        ``treatment`` (0/1: 1 on the treated unit's rows from its first treated period on, 0
        elsewhere) and optional numeric ``covariates``.
    spec : EffectSpec
        Needs ``outcome``, ``treatment``, ``unit``, ``time``. ``covariates`` are predictors,
        each averaged over the pre-period per unit.
    alpha : float
        Level of the interval and of the permutation check.
    lagged_outcomes : sequence of time values
        Pre-period times whose outcome is added as a predictor (ADH's "special predictors",
        e.g. the outcome in three chosen pre-period years).
    max_pre_fit_ratio : float
        The PRE_PERIOD_FIT check fails when pre-RMSPE exceeds this multiple of the treated
        unit's pre-period outcome SD, and warns above half of it.
    maxiter : int
        Iteration cap of each Nelder–Mead run of the outer (V) optimisation.

    Returns
    -------
    EffectEstimate
        ``point_estimate`` is the ATT, the mean post-period gap (treated − synthetic), with
        ``estimand = ATT``. ``stderr`` is the SD of the placebo ATTs; ``ci_lower/upper`` invert
        the placebo permutation test (unbounded, ±inf, when there are too few donors to reach
        level ``alpha``); ``pvalue`` ranks the same statistic at θ = 0, so ``pvalue <= alpha``
        exactly when the interval excludes zero.

        - ``statistics``: ``att``, ``pre_rmspe``, ``post_rmspe``, ``rmspe_ratio``,
          ``pre_mspe``, ``pre_outcome_sd``, ``pre_fit_ratio``, ``permutation_pvalue`` (=
          ``pvalue``), ``att_statistic`` (|ATT| / pre-RMSPE), ``rmspe_ratio_pvalue`` (the ADH
          post/pre RMSPE-ratio rank, a secondary statistic),
          ``min_attainable_pvalue``, ``placebo_att_sd``, ``ci_critical_value`` (only when the
          CI is bounded), ``n_donors``, ``n_placebos``, ``n_pre_periods``,
          ``n_post_periods``, ``v_converged`` (1/0).
        - ``series`` over all periods (pre then post): ``treated``, ``synthetic``, ``gap``
          (with per-period permutation bands when bounded) and ``placebo_gap:<unit>`` for each
          donor refitted as if treated.
        - ``weights``: ``donor`` (unit → W) and, with predictors, ``predictor`` (name → V).
        - ``balance``: one row per predictor; ``mean_treated`` is the treated value,
          ``mean_control`` the synthetic value, SMDs scaled by the predictor's SD across units
          (before = vs donor mean, after = vs synthetic).
        - ``checks``: PRE_PERIOD_FIT and PERMUTATION.

    Raises
    ------
    InvalidSpec
        Missing roles/columns, non-numeric or non-finite values, duplicate (unit, time) rows,
        constant treatment, more than one treated unit (use ``did``/``staggered_did``),
        treatment switching off, unbalanced treated series, unknown ``lagged_outcomes``.
    InsufficientData
        Fewer than 2 pre-periods or fewer than 2 donors with complete data.
    SingularDesign
        A predictor is constant across all units.

    Notes
    -----
    Weights: nested optimisation (Abadie & Gardeazabal 2003; Abadie, Diamond & Hainmueller
    2010) as in R's ``Synth`` and pysyncon's ``Synth``: predictors are scaled by their SD across
    units; for diagonal V the inner convex problem (W ≥ 0, ΣW = 1) is solved by NNLS with a
    sum-to-one row; V is chosen by Nelder–Mead from equal and regression-based starts to
    minimise the pre-period outcome MSPE. Without predictors W minimises the pre-period MSPE
    directly. The outer problem is non-convex, so W can differ between implementations at
    similar pre-period fit (Klößner et al. 2018).

    Placebos (Abadie et al. 2010 §2.3): each donor in turn is treated as the treated unit, with
    the other donors (never the real treated unit) as its pool, and refitted with the same
    procedure. p = (1 + #{|ATT_j| / pre_j ≥ |ATT| / pre_1}) / (J + 1); the ADH post/pre RMSPE
    ratio's rank is reported beside it (``rmspe_ratio_pvalue``). The interval is {θ : (1 + #{|ATT_j| / pre_j ≥ |ATT − θ| / pre_1}) / (J + 1) > α},
    i.e. ATT ± c · pre_1 with c the ⌊α(J+1)⌋-th largest |ATT_j| / pre_j — a test inversion
    under a constant additive effect (Firpo & Possebom 2018). Normalising by the pre-period fit
    keeps badly fitted placebos from dominating, as the RMSPE ratio does. The ``gap`` bands
    apply the same inversion period by period.
    """
    if not 0 < alpha < 1:
        raise InvalidSpec(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    if max_pre_fit_ratio <= 0:
        raise InvalidSpec("max_pre_fit_ratio must be positive", field="max_pre_fit_ratio")
    warnings = unused_role_warnings(spec, "synthetic_control", {"unit", "time", "covariates"})
    panel = _build_panel(frame, spec, lagged_outcomes)
    if panel.dropped_donors:
        shown = ", ".join(map(str, panel.dropped_donors[:10]))
        warnings.append(
            f"{len(panel.dropped_donors)} donor unit(s) lack some periods and were left out of "
            f"the donor pool: {shown}"
        )

    n_pre, Y = panel.n_pre, panel.Y
    n_donors = len(panel.donors)
    fits = [_fit_column(panel, 0, list(range(1, n_donors + 1)), maxiter)]
    for j in range(1, n_donors + 1):
        pool = [c for c in range(1, n_donors + 1) if c != j]
        fits.append(_fit_column(panel, j, pool, maxiter))

    gaps = np.empty((Y.shape[0], n_donors + 1))
    for col, (fit, pool) in enumerate(fits):
        gaps[:, col] = Y[:, col] - Y[:, pool] @ fit.weights
    pre_rmspe = np.sqrt(np.mean(gaps[:n_pre] ** 2, axis=0))
    post_rmspe = np.sqrt(np.mean(gaps[n_pre:] ** 2, axis=0))
    atts = gaps[n_pre:].mean(axis=0)
    floor = 1e-12 * (1.0 + float(np.abs(Y).max()))
    pre_safe = np.maximum(pre_rmspe, floor)
    ratios = post_rmspe / pre_safe

    att = float(atts[0])
    # One test for the p-value and the interval (R11-F3): the statistic the interval inverts,
    # |ATT| / pre-RMSPE, ranked among the placebos at θ = 0. So p <= alpha exactly when the
    # interval excludes zero. The ADH RMSPE-ratio rank, which also reacts to placebos whose
    # post-period gaps are volatile but centred on zero, is kept as a secondary statistic.
    scaled = np.abs(atts) / pre_safe
    pvalue = float((1 + np.sum(scaled[1:] >= scaled[0] * (1 - 1e-12))) / (n_donors + 1))
    ratio_pvalue = float((1 + np.sum(ratios[1:] >= ratios[0])) / (n_donors + 1))
    stderr = float(np.std(atts[1:], ddof=1))
    reference = PlaceboReference(tuple(map(float, scaled[1:])), float(pre_safe[0]))
    m = reference.rank(alpha)
    ci_critical = reference.critical(alpha)
    half = ci_critical * pre_safe[0]
    ci_lower, ci_upper = reference.interval(att, alpha)

    main_fit = fits[0][0]
    y_pre = Y[:n_pre, 0]
    pre_sd = float(np.std(y_pre, ddof=1))
    pre_fit_ratio = float(pre_rmspe[0] / pre_sd) if pre_sd > 0 else _ratio_for_flat(pre_rmspe[0])
    if not main_fit.converged:
        warnings.append(
            "the predictor-weight (V) search hit its iteration cap; W is the best found so far"
        )
    if m == 0:
        warnings.append(
            f"with {n_donors} placebo units the smallest attainable permutation p-value is "
            f"{1 / (n_donors + 1):.3f} > alpha = {alpha}: the interval is unbounded"
        )
    elif not math.isfinite(half):
        warnings.append(
            "placebo units that fit their pre-period exactly make the permutation interval "
            "unbounded"
        )

    statistics: dict[str, float] = {
        "att": att,
        "pre_rmspe": float(pre_rmspe[0]),
        "post_rmspe": float(post_rmspe[0]),
        "rmspe_ratio": float(ratios[0]),
        "pre_mspe": float(main_fit.pre_mspe),
        "pre_outcome_sd": pre_sd,
        "pre_fit_ratio": pre_fit_ratio,
        "permutation_pvalue": pvalue,
        "att_statistic": float(scaled[0]),
        "rmspe_ratio_pvalue": ratio_pvalue,
        "min_attainable_pvalue": 1.0 / (n_donors + 1),
        "placebo_att_sd": stderr,
        "n_donors": float(n_donors),
        "n_placebos": float(n_donors),
        "n_pre_periods": float(n_pre),
        "n_post_periods": float(Y.shape[0] - n_pre),
        "v_converged": 1.0 if main_fit.converged else 0.0,
    }
    if math.isfinite(half):
        statistics["ci_critical_value"] = float(ci_critical)

    checks = (
        _pre_fit_check(pre_fit_ratio, float(pre_rmspe[0]), pre_sd, max_pre_fit_ratio),
        _permutation_check(pvalue, ratio_pvalue, float(scaled[0]), alpha, n_donors),
    )
    return EffectEstimate(
        method=Method.SYNTHETIC_CONTROL,
        estimand=Estimand.ATT,
        point_estimate=att,
        stderr=stderr,
        ci_lower=float(ci_lower),
        ci_upper=float(ci_upper),
        pvalue=pvalue,
        nobs=int(Y.size),
        alpha=alpha,
        n_treated=1,
        n_control=n_donors,
        assumptions=ASSUMPTIONS,
        statistics=statistics,
        series=_series(panel, gaps, pre_safe, m),
        weights=_weights(panel, main_fit),
        balance=_balance(panel, main_fit),
        warnings=tuple(warnings),
        checks=checks,
        reference=reference,
    )


@dataclass(frozen=True, slots=True)
class PlaceboReference:
    """The placebo-in-space permutation test's reference, which ``conf_int`` at another level
    inverts again (the estimate's ``stderr`` is the placebo ATTs' SD, not a sampling SE: z ×
    SD would be a third interval unrelated to the test, R11-F8).

    The interval is ATT ± c · pre_1, c the ⌊α(J + 1)⌋-th largest placebo |ATT_j| / pre_j
    (Firpo & Possebom 2018); unbounded when that rank is 0 (too few placebos for ``alpha``).
    """

    scaled: tuple[float, ...]  # |ATT_j| / pre-RMSPE_j of the J placebos
    scale: float  # the treated unit's pre-RMSPE (floored)

    def rank(self, alpha: float) -> int:
        """⌊α(J + 1)⌋: how many placebos must be at least as extreme to reject."""
        return math.floor(alpha * (len(self.scaled) + 1) + 1e-9)

    def critical(self, alpha: float) -> float:
        return _critical(np.asarray(self.scaled), self.rank(alpha))

    def interval(self, point: float, alpha: float) -> tuple[float, float]:
        half = self.critical(alpha) * self.scale
        if not math.isfinite(half):
            return (-math.inf, math.inf)
        return (point - half, point + half)


def _fit_column(
    panel: _Panel, col: int, pool: list[int], maxiter: int
) -> tuple[SynthFit, list[int]]:
    n_pre = panel.n_pre
    Z0, Z1 = panel.Y[:n_pre, pool], panel.Y[:n_pre, col]
    if panel.X is None:
        return fit_synth(Z0, Z1, maxiter=maxiter), pool
    return fit_synth(Z0, Z1, panel.X[:, pool], panel.X[:, col], maxiter=maxiter), pool


def _critical(values: np.ndarray, m: int) -> float:
    """The m-th largest value (inf when m = 0: nothing can be rejected)."""
    if m <= 0:
        return math.inf
    return float(np.sort(values)[::-1][m - 1])


def _ratio_for_flat(pre_rmspe: float) -> float:
    # A flat treated pre-period: any miss is infinitely large relative to zero variation.
    return 0.0 if pre_rmspe == 0 else math.inf


def _build_panel(
    frame: pd.DataFrame, spec: EffectSpec, lagged_outcomes: Sequence[object]
) -> _Panel:
    require_roles(spec, "unit", "time")
    require_columns(frame, spec)
    y = numeric(frame, spec.outcome, "outcome")
    d = binary_treatment(frame, spec)
    covariates = list(spec.covariates)
    cov_values = {c: numeric(frame, c, "covariates") for c in covariates}
    unit_time = frame[[spec.unit, spec.time]]
    for role, column in (("unit", spec.unit), ("time", spec.time)):
        if unit_time[column].isna().any():
            raise InvalidSpec(
                f"column {column!r} (role {role}) has missing values", field=role_field(role)
            )
    if unit_time.duplicated().any():
        raise InvalidSpec(
            "each (unit, time) pair must appear once; found duplicate rows",
            field=role_field("time"),
            reason="DUPLICATE_UNIT_TIME",
        )
    long = pd.DataFrame(
        {"unit": frame[spec.unit].to_numpy(), "time": frame[spec.time].to_numpy(), "y": y, "d": d}
        | {f"x{i}": cov_values[c] for i, c in enumerate(covariates)}
    )
    treated_units = pd.unique(long.loc[long["d"] == 1, "unit"])
    if len(treated_units) != 1:
        shown = ", ".join(map(str, treated_units[:5]))
        raise InvalidSpec(
            f"synthetic control needs exactly one treated unit; found {len(treated_units)} "
            f"({shown}…); use did or staggered_did for several treated units",
            field=role_field("treatment"),
            reason="MULTIPLE_TREATED_UNITS",
        )
    treated = treated_units[0]
    try:
        times = sorted(pd.unique(long["time"]))
    except TypeError as exc:
        raise InvalidSpec(
            f"time values cannot be ordered: {exc}", field=role_field("time")
        ) from exc
    own = long[long["unit"] == treated].sort_values("time")
    first_treated = own.loc[own["d"] == 1, "time"].min()
    if (own.loc[own["time"] >= first_treated, "d"] != 1).any():
        raise InvalidSpec(
            "the treated unit's treatment must stay 1 from its first treated period on",
            field=role_field("treatment"),
            reason="TREATMENT_NOT_ABSORBING",
        )
    wide = long.pivot(index="time", columns="unit", values="y").reindex(times)
    if wide[treated].isna().any():
        missing = [time_label(t) for t in wide.index[wide[treated].isna()][:5]]
        raise InvalidSpec(
            f"the treated unit {treated!s} has no row for periods {missing}; the panel must be "
            "balanced for the treated unit",
            field=role_field("time"),
            reason="UNBALANCED_PANEL",
        )
    n_pre = sum(1 for t in times if t < first_treated)
    if n_pre < _MIN_PRE_PERIODS:
        raise InsufficientData(
            f"pre-period: {n_pre} period(s) before the first treated period < "
            f"{_MIN_PRE_PERIODS} required",
            subject="pre-period",
        )
    donors_all = [u for u in wide.columns if u != treated]
    complete = wide[donors_all].notna().all(axis=0)
    donors = [u for u in donors_all if complete[u]]
    dropped = [u for u in donors_all if not complete[u]]
    if len(donors) < _MIN_DONORS:
        raise InsufficientData(
            f"donor pool: {len(donors)} untreated unit(s) with complete data < {_MIN_DONORS} required",
            subject="donor pool",
        )
    columns = [treated, *donors]
    Y = wide[columns].to_numpy(dtype=float)
    pre_times = times[:n_pre]

    rows: list[np.ndarray] = []
    names: list[str] = []
    if covariates:
        pre_rows = long[long["time"].isin(pre_times)]
        means = pre_rows.groupby("unit")[[f"x{i}" for i in range(len(covariates))]].mean()
        rows.extend(means.loc[columns].to_numpy(dtype=float).T)
        names.extend(covariates)
    for lag in lagged_outcomes:
        where = [i for i, t in enumerate(pre_times) if t == lag]
        if not where:
            raise InvalidSpec(
                f"lagged outcome period {lag!r} is not a pre-period time of the panel",
                field="lagged_outcomes",
            )
        rows.append(Y[where[0]])
        names.append(f"{spec.outcome}[{time_label(lag)}]")
    X = np.vstack(rows) if rows else None
    if X is not None:
        flat = [n for n, row in zip(names, X, strict=True) if np.ptp(row) == 0]
        if flat:
            raise SingularDesign(
                f"predictor(s) {flat} take the same value for every unit and cannot "
                "discriminate between donors",
                subject=role_field("covariates"),
            )
    return _Panel(treated, donors, times, n_pre, Y, X, names, dropped)


def _pre_fit_check(ratio: float, pre_rmspe: float, pre_sd: float, limit: float) -> Check:
    rule = (
        f"pre-RMSPE {pre_rmspe:.4g} is {ratio:.2f}x the treated unit's pre-period outcome SD "
        f"{pre_sd:.4g} (fails above {limit:g}, warns above {limit / 2:g})"
    )
    if ratio > limit:
        outcome = CheckOutcome.FAILED
        text = f"{rule}: the synthetic control does not reproduce the treated unit before the intervention, so its post-period path is not a credible counterfactual."
    elif ratio > limit / 2:
        outcome = CheckOutcome.WARNING
        text = (
            f"{rule}: the pre-period fit is loose; read post-period gaps of similar size as noise."
        )
    else:
        outcome = CheckOutcome.PASSED
        text = f"{rule}: the synthetic control tracks the treated unit closely before the intervention."
    stat = ratio if math.isfinite(ratio) else None
    return Check(
        name="pre_period_fit",
        kind=CheckKind.PRE_PERIOD_FIT,
        outcome=outcome,
        interpretation=text,
        statistic=stat,
        threshold=limit,
    )


def _permutation_check(
    pvalue: float, ratio_pvalue: float, statistic: float, alpha: float, n_donors: int
) -> Check:
    where = (
        f"the treated unit's |ATT| / pre-RMSPE ranks among {n_donors + 1} units with "
        f"p = {pvalue:.3f} (post/pre RMSPE-ratio rank: p = {ratio_pvalue:.3f})"
    )
    if 1 / (n_donors + 1) > alpha:
        # FAILED, not WARNING: no p-value can reach alpha, so the interval is unbounded and the
        # estimate cannot be told from noise; a WARNING left "supported yes" beside [-inf, inf].
        outcome = CheckOutcome.FAILED
        text = (
            f"{where}, but with {n_donors} placebo units no p-value can fall below alpha = "
            f"{alpha} (the smallest is 1/{n_donors + 1} = {1 / (n_donors + 1):.3f}), so the "
            "effect cannot be tested and its interval is unbounded; add donors (at least "
            f"{math.ceil(1 / alpha) - 1} for alpha = {alpha}) or use sdid, whose variance does "
            "not rest on ranking placebo units."
        )
    elif pvalue <= alpha and ratio_pvalue <= alpha:
        outcome = CheckOutcome.PASSED
        text = f"{where}: the gap is larger than almost every placebo unit's, so it is unlikely to be chance."
    elif pvalue <= alpha:
        outcome = CheckOutcome.WARNING
        text = (
            f"{where}: the mean gap stands out, but some placebo units' post-period gaps are as "
            "volatile relative to their fit, so read the effect with care."
        )
    else:
        outcome = CheckOutcome.WARNING
        text = f"{where}: placebo units show gaps as large, so the effect is not distinguishable from noise."
    return Check(
        name="placebo_in_space",
        kind=CheckKind.PERMUTATION,
        outcome=outcome,
        interpretation=text,
        statistic=statistic if math.isfinite(statistic) else None,
        pvalue=pvalue,
        threshold=alpha,
    )


def _series(panel: _Panel, gaps: np.ndarray, pre_safe: np.ndarray, m: int) -> tuple[Series, ...]:
    index = time_labels(panel.times)
    treated = panel.Y[:, 0]
    gap = gaps[:, 0]
    lower = upper = None
    if m > 0:
        # Per-period inversion: |gap_t - θ| / pre_1 against the m-th largest |placebo gap_t| / pre_j.
        scaled = np.abs(gaps[:, 1:]) / pre_safe[1:]
        crit = np.sort(scaled, axis=1)[:, ::-1][:, m - 1] * pre_safe[0]
        if np.isfinite(crit).all():
            lower, upper = tuple(map(float, gap - crit)), tuple(map(float, gap + crit))
    out = [
        Series("treated", index, tuple(map(float, treated))),
        Series("synthetic", index, tuple(map(float, treated - gap))),
        Series("gap", index, tuple(map(float, gap)), lower, upper),
    ]
    for j, unit in enumerate(panel.donors, start=1):
        out.append(Series(f"placebo_gap:{unit}", index, tuple(map(float, gaps[:, j]))))
    return tuple(out)


def _weights(panel: _Panel, fit: SynthFit) -> dict[str, dict[str, float]]:
    out = {"donor": {str(u): float(w) for u, w in zip(panel.donors, fit.weights, strict=True)}}
    if fit.v is not None:
        out["predictor"] = {n: float(v) for n, v in zip(panel.predictor_names, fit.v, strict=True)}
    return out


def _balance(panel: _Panel, fit: SynthFit) -> tuple[BalanceRow, ...]:
    if panel.X is None:
        return ()
    rows = []
    for name, values in zip(panel.predictor_names, panel.X, strict=True):
        sd = float(np.std(values, ddof=1))
        treated, donors = float(values[0]), values[1:]
        synthetic = float(donors @ fit.weights)
        rows.append(
            BalanceRow(
                covariate=name,
                smd_before=(treated - float(donors.mean())) / sd,
                smd_after=(treated - synthetic) / sd,
                mean_treated=treated,
                mean_control=synthetic,
            )
        )
    return tuple(rows)
