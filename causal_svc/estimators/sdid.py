"""Synthetic difference in differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021):
DiD on a panel reweighted so that the controls track the treated units before treatment (unit
weights ω) and the pre-periods resemble the post-periods (time weights λ); staggered adoption
estimated per cohort; placebo, bootstrap or jackknife variance as the paper gives.

Why the placebo and bootstrap refits start from uniform weights, not the fitted ones (R11-F1).
Algorithms 2 and 4 apply the estimator to each resampled or relabelled panel. The R package (and
its port synthdid-py, which shares the defect) starts each refit's solver from the full-sample
ω and λ. The time weights' ridge is tiny (ζ_λ = 1e-6·σ), so when there are no more controls than
pre-periods (N0 ≤ T0, the geo-test shape: 9 geos, 60 pre-days) the full-sample λ interpolates
every control's post-period mean, including the controls a placebo draw relabels as treated;
Frank–Wolfe started there finds no descent and stops, so each draw's "treated" unit is fitted by
weights that have already seen its post-period and every placebo τ is ≈ 0. Coverage of the 95%
interval was 0.20 (1 treated + 9 controls × 60 pre-days), 0.78 for the bootstrap with 3 + 7. The
draws are a function of the data the estimator would not have seen, which is not what the
algorithms resample. Started from uniform weights, as the estimate itself is, each draw is
Algorithm 1 on its panel with the original regularisation (the reference's
``refit(..., weights=None)``, which the tests match draw for draw): coverage 0.97 and 1.00 on
those designs. Where the weights are unique (N0 > T0, Prop 99) the two starts agree to the
solver's tolerance (placebo SE 8.2012 against 8.2011 with 40 draws); the cost is more solver
iterations per draw. The jackknife (Algorithm 3) keeps the fitted weights by design.

Why the placebo variance's interval and p-value use t with N0 − 1 degrees of freedom, and the
bootstrap's and jackknife's the normal. The paper (§5) and the R package give every variance a
normal interval, τ ± z·SE. The placebo SE is the spread of the estimate over relabellings of
the N0 controls; with one treated unit there are only N0 distinct relabellings, so SE² is in
effect a sample variance of N0 values, and its own noise is large when N0 is small: even with
the SE unbiased (R11-F1) the normal interval covered 0.82 with 1 treated + 4 controls and
0.85–0.90 with 5–9 (null panels, T0 = 15, 200 runs each; docs/performance.md). Read as a
variance estimate on N0 − 1 df, the reference is t(N0 − 1), as in the few-treated-groups
inference that draws on the controls' residuals (Conley & Taber 2011): coverage 0.905–0.94 on
the same panels (0.88 → 0.925 on 1 + 9 geos × 60 pre-days). It widens the interval by 3.4% at
N0 = 38 (Prop 99) and by 62% at N0 = 4. It applies wherever the placebo variance does: the
estimate, the cohort rows, and the in-time placebo check when its own variance is the placebo.
The bootstrap and jackknife keep the paper's normal: they need two or more treated units,
resample all N units, and are already conservative with few controls (the bootstrap covered
1.00 on 3 treated + 7 controls, R11-F1; the jackknife is conservative by design), so a t
correction would only widen intervals that over-cover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from . import _ols
from . import _sdid_weights as sw
from ._inference import coefficient, effect_estimate, group_codes, interval
from ._panel import PanelDesign, panel_design
from ._time_labels import time_label, time_labels
from ._unused_roles import unused_role_warnings
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

__all__ = ["VARIANCE_METHODS", "estimate_sdid"]

Variance = Literal["auto", "placebo", "bootstrap", "jackknife", "none"]
VARIANCE_METHODS = ("auto", "placebo", "bootstrap", "jackknife", "none")
_MIN_PRE_PERIODS = 2
_MIN_CONTROLS = 2
# The in-time placebo's own standard error needs fewer draws than the estimate's: it only has
# to say whether the pre-period "effect" is far from zero.
_PLACEBO_CHECK_DRAWS = 100
_MAX_BOOTSTRAP_REDRAWS = 100


@dataclass(frozen=True, slots=True)
class _Cohort:
    """Treated units that start in the same period, with their fitted weights."""

    start: int  # period code of the first treated period (= the cohort's T0)
    rows: np.ndarray  # row indices into the wide panel
    tune: sw.SdidTuning
    fit: sw.SdidFit


@dataclass(frozen=True, slots=True)
class _Wide:
    Y: np.ndarray  # (N, T) outcome (covariate-adjusted when covariates are given)
    controls: np.ndarray  # row indices of never-treated units
    starts: np.ndarray  # (N,) first treated period code, -1 for never treated
    unit_labels: np.ndarray
    periods: tuple[object, ...]


def estimate_sdid(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    variance: Variance = "auto",
    replications: int = 200,
    random_state: int = 0,
) -> EffectEstimate:
    """Synthetic difference-in-differences ATT on a balanced unit × period panel.

    Parameters
    ----------
    frame : DataFrame, one row per unit-period, every unit observed in every period
    spec : ``outcome``, ``treatment`` (1 for treated unit-periods, staying on once started),
        ``unit``, ``time``; optional ``covariates`` (time-varying, adjusted for by projection)
    alpha : level of the interval
    variance : ``"placebo"`` (Algorithm 4: controls relabelled as treated; needs more controls
        than treated units), ``"bootstrap"`` (Algorithm 2: units resampled; needs ≥ 2 treated
        units), ``"jackknife"`` (Algorithm 3: leave one unit out, weights fixed; needs ≥ 2
        treated units), ``"auto"`` (placebo with one treated unit, else bootstrap — the R
        package's default), or ``"none"`` (the point only: refuters' re-estimates)
    replications : draws of the placebo and bootstrap variances
    random_state : seed of those draws

    Returns
    -------
    EffectEstimate
        ATT per treated unit-period. Reference distribution: t with N0 − 1 degrees of freedom
        (``df``, N0 the never-treated units) for the placebo variance, the normal (as in the
        paper) for the bootstrap and jackknife; the module docstring says why.
        ``statistics``: ``n_units``, ``n_periods``, ``n_treated_units``, ``n_control_units``,
        ``n_cohorts``, ``n_pre_periods`` and ``n_post_periods`` (of the earliest cohort),
        ``effective_controls`` (1 / Σω², treated-size-weighted over cohorts),
        ``effective_pre_periods`` (1 / Σλ², likewise), ``noise_level``, ``replications``,
        ``did_estimate`` (the same cohorts with uniform weights), and from the in-time placebo
        ``placebo_in_time_estimate``, ``placebo_in_time_stderr``, ``placebo_in_time_pvalue``.
        ``weights``: ``unit`` (control → ω) and ``time`` (pre-period → λ), suffixed
        ``:<start>`` per cohort with staggered adoption. ``series``: ``treated``,
        ``synthetic`` (ω-weighted controls shifted by the λ-weighted pre-period gap) and
        ``effect`` per period (per cohort with staggered adoption). ``coefficients``: one ATT
        per cohort when there are several. ``checks``: PRE_TREND (the in-time placebo).

    Raises
    ------
    InvalidSpec
        Missing roles, an unbalanced panel, treatment switching off, an unknown variance
        method or one the design cannot support (placebo with as many treated as controls;
        bootstrap or jackknife with one treated unit).
    InsufficientData
        Fewer than 2 never-treated units or 2 pre-periods.

    Notes
    -----
    Algorithm 1 of Arkhangelsky et al. (2021, AER 111(12)), with the reference R package's
    regularisation and Frank–Wolfe solver (:mod:`._sdid_weights`):
    ``τ = (Ȳ_tr,post − Σλ_t Ȳ_tr,t) − Σω_i (Ȳ_i,post − Σλ_t Y_i,t)``. With staggered adoption
    each cohort is estimated against the never-treated units over all periods and the ATT is
    the average of cohort ATTs weighted by treated unit-periods (Clarke, Pailañir, Athey &
    Imbens 2023, the Stata ``sdid``). Covariates are partialled out first: β from a two-way
    fixed-effects regression of the outcome on them over the never-treated units, then
    ``Y − Xβ`` (Kranz 2022; Clarke et al.'s "projected" adjustment). Variance: the refits of
    the placebo and bootstrap keep the original regularisation, as in the R package, but start
    from uniform weights rather than the R package's fitted ones (the module docstring says
    why); the bootstrap discards draws with no treated or no control unit. The in-time placebo refits on the pre-period only with a fake start that
    leaves the same post/total share (R ``synthdid_placebo``).
    """
    if variance not in VARIANCE_METHODS:
        raise InvalidSpec(
            f"variance must be one of {', '.join(VARIANCE_METHODS)}, got {variance!r}",
            field="variance",
        )
    if replications < 2:
        raise InvalidSpec("replications must be at least 2", field="replications")
    warnings = unused_role_warnings(spec, "sdid", {"unit", "time", "covariates"})
    panel = panel_design(frame, spec, absorbing=True, method="sdid")
    warnings.extend(panel.warnings)
    wide, beta = _wide(panel, spec)
    n_treated = int((wide.starts >= 0).sum())
    method = _variance_method(variance, n_treated, len(wide.controls))
    cohorts = _fit_cohorts(wide, None)
    point = _aggregate(cohorts, wide.Y.shape[1])
    rng = np.random.default_rng(random_state)
    draws = _draws(method, wide, cohorts, replications, rng)
    stderr = _stderr(method, draws)
    df = _placebo_df(len(wide.controls)) if method == "placebo" else None
    if method != "none" and not (math.isfinite(stderr) and stderr > 0):
        warnings.append(
            f"the {method} variance is degenerate (a single control carries all the weight, or "
            "every draw gave the same estimate): no interval can be given"
        )
    did = _aggregate(_fit_cohorts(wide, None, uniform=True), wide.Y.shape[1])
    check, placebo_stats = _placebo_in_time(wide, cohorts, alpha, method, replications, rng)

    statistics = {
        "n_units": float(len(wide.starts)),
        "n_periods": float(wide.Y.shape[1]),
        "n_treated_units": float(n_treated),
        "n_control_units": float(len(wide.controls)),
        "n_cohorts": float(len(cohorts)),
        "n_pre_periods": float(cohorts[0].start),
        "n_post_periods": float(wide.Y.shape[1] - cohorts[0].start),
        "effective_controls": _effective(cohorts, "omega"),
        "effective_pre_periods": _effective(cohorts, "lam"),
        "noise_level": cohorts[0].tune.noise_level,
        "did_estimate": did,
        **placebo_stats,
    }
    if method in ("placebo", "bootstrap"):
        statistics["replications"] = float(replications)
    for name, b in zip(spec.covariates, beta, strict=True):
        statistics[f"beta:{name}"] = float(b)
    multi = len(cohorts) > 1
    return effect_estimate(
        Method.SDID,
        Estimand.ATT,
        point,
        stderr,
        alpha=alpha,
        df=df,
        nobs=int(wide.Y.size),
        n_treated=n_treated,
        n_control=len(wide.controls),
        assumptions=_assumptions(method, replications, multi, bool(spec.covariates), df),
        statistics=statistics,
        coefficients=_cohort_rows(wide, cohorts, draws, method, alpha, df) if multi else (),
        series=_series(wide, cohorts),
        weights=_weights(wide, cohorts),
        warnings=tuple(warnings),
        checks=(check,),
    )


# -- the panel ---------------------------------------------------------------------------------


def _wide(panel: PanelDesign, spec: EffectSpec) -> tuple[_Wide, np.ndarray]:
    """The balanced (N, T) outcome matrix, covariate-adjusted, and the covariates' β."""
    n, t = panel.n_units, panel.n_periods
    if len(panel.y) != n * t:
        missing = n * t - len(panel.y)
        raise InvalidSpec(
            f"sdid needs a balanced panel: {n} units × {t} periods should be {n * t:,} rows, "
            f"{missing:,} unit-periods are missing (fill or drop them first)",
            field=role_field("time"),
            reason="UNBALANCED_PANEL",
        )
    Y = np.empty((n, t))
    Y[panel.unit, panel.period] = panel.y
    beta = np.zeros(0)
    if panel.covariates.shape[1]:
        beta = _projected_beta(panel)
        X = np.zeros((n, t, panel.covariates.shape[1]))
        X[panel.unit, panel.period] = panel.covariates
        Y = Y - X @ beta
    starts = np.where(np.isfinite(panel.first_treated), panel.first_treated, -1).astype(int)
    controls = np.flatnonzero(starts < 0)
    if len(controls) < _MIN_CONTROLS:
        raise InsufficientData(
            f"sdid needs at least {_MIN_CONTROLS} never-treated units; got {len(controls)}",
            subject="controls",
        )
    # Treated from the first period: nothing to weight before treatment (panel_design warned).
    starts = np.where(starts == 0, -2, starts)
    if (starts > 0).sum() == 0:
        raise InsufficientData("sdid: no treated unit has a pre-period", subject="pre_period")
    early = int(starts[starts > 0].min())
    if early < _MIN_PRE_PERIODS:
        raise InsufficientData(
            f"sdid needs at least {_MIN_PRE_PERIODS} pre-periods before every cohort starts; "
            f"the earliest starts after {early}",
            subject="pre_period",
        )
    labels = np.asarray(panel.unit_labels)
    return _Wide(Y, controls, starts, labels, panel.periods), beta


def _projected_beta(panel: PanelDesign) -> np.ndarray:
    """β of the outcome on the covariates with unit and period effects, never-treated rows."""
    rows = ~np.isfinite(panel.first_treated[panel.unit])
    both = np.column_stack([panel.y[rows], panel.covariates[rows]])
    groups = [group_codes(panel.unit[rows])[0], group_codes(panel.period[rows])[0]]
    swept = _ols.demean(both, groups, None)
    beta, *_ = np.linalg.lstsq(swept[:, 1:], swept[:, 0], rcond=None)
    return np.asarray(beta)


def _variance_method(variance: Variance, n_treated: int, n_controls: int) -> str:
    method = variance
    if variance == "auto":
        method = "placebo" if n_treated == 1 else "bootstrap"
    if method == "placebo" and n_controls <= n_treated:
        raise InvalidSpec(
            f"the placebo variance relabels controls as treated and needs more controls than "
            f"treated units; got {n_controls} and {n_treated} (use bootstrap or jackknife)",
            field="variance",
        )
    if method in ("bootstrap", "jackknife") and n_treated < 2:
        raise InvalidSpec(
            f"the {method} variance is not defined with one treated unit (Arkhangelsky et al. "
            "2021, §5); use placebo",
            field="variance",
        )
    return method


# -- fits --------------------------------------------------------------------------------------


def _normalise(w: np.ndarray) -> np.ndarray:
    total = w.sum()
    return w / total if total > 0 else np.full(len(w), 1.0 / len(w))


def _fit_cohorts(
    wide: _Wide,
    base: Sequence[_Cohort] | None,
    *,
    controls: np.ndarray | None = None,
    omega_rows: np.ndarray | None = None,
    treated: dict[int, np.ndarray] | None = None,
    uniform: bool = False,
) -> list[_Cohort]:
    """Fit every cohort on ``controls`` (default: all never-treated) and its treated rows.

    Without ``base``: Algorithm 1 with this panel's regularisation. With ``base``: the placebo
    and bootstrap refits (Algorithms 2, 4) keep the base regularisation but solve from uniform
    weights (never from the fitted ones: see the module docstring); with ``omega_rows`` the
    base weights themselves are kept (the jackknife's Algorithm 3): ω restricted to those
    positions into the base controls and renormalised, λ as it was.
    """
    controls = wide.controls if controls is None else controls
    if treated is None:
        treated = {int(s): np.flatnonzero(wide.starts == s) for s in np.unique(wide.starts)}
        treated = {s: rows for s, rows in treated.items() if s > 0}
    previous = {c.start: c for c in base or ()}
    out = []
    for start in sorted(treated):
        rows = treated[start]
        Y = wide.Y[np.concatenate([controls, rows])]
        n0 = len(controls)
        if uniform:
            omega, lam = np.full(n0, 1.0 / n0), np.full(start, 1.0 / start)
            fit = sw.fit(Y, n0, start, omega=omega, lam=lam, update=False)
            out.append(_Cohort(start, rows, sw.tuning(Y, n0, start), fit))
            continue
        prior = previous.get(start)
        tune = sw.tuning(Y, n0, start) if prior is None else prior.tune
        if prior is None or omega_rows is None:
            fit = sw.fit(Y, n0, start, tune=tune)
        else:
            omega = _normalise(prior.fit.omega[omega_rows])
            fit = sw.fit(Y, n0, start, omega=omega, lam=prior.fit.lam, update=False)
        out.append(_Cohort(start, rows, tune, fit))
    return out


def _aggregate(cohorts: Sequence[_Cohort], n_periods: int) -> float:
    """Cohort ATTs weighted by their treated unit-periods."""
    sizes = np.array([len(c.rows) * (n_periods - c.start) for c in cohorts], dtype=float)
    taus = np.array([c.fit.tau for c in cohorts])
    return float(sizes @ taus / sizes.sum())


def _effective(cohorts: Sequence[_Cohort], which: str) -> float:
    sizes = np.array([len(c.rows) for c in cohorts], dtype=float)
    values = np.array([1.0 / float(np.sum(getattr(c.fit, which) ** 2)) for c in cohorts])
    return float(sizes @ values / sizes.sum())


# -- variance ----------------------------------------------------------------------------------


def _draws(
    method: str, wide: _Wide, cohorts: list[_Cohort], replications: int, rng: np.random.Generator
) -> np.ndarray:
    """(B, 1 + n_cohorts): the aggregate and each cohort's estimate per draw (NaN: absent)."""
    if method == "placebo":
        return _placebo_draws(wide, cohorts, replications, rng)
    if method == "bootstrap":
        return _bootstrap_draws(wide, cohorts, replications, rng)
    if method == "jackknife":
        return _jackknife_draws(wide, cohorts)
    return np.empty((0, 1 + len(cohorts)))


def _row(cohorts: Sequence[_Cohort], n_periods: int, order: Sequence[int]) -> np.ndarray:
    out = np.full(1 + len(order), np.nan)
    out[0] = _aggregate(cohorts, n_periods)
    for c in cohorts:
        out[1 + order.index(c.start)] = c.fit.tau
    return out


def _placebo_draws(
    wide: _Wide, cohorts: list[_Cohort], replications: int, rng: np.random.Generator
) -> np.ndarray:
    """Algorithm 4: N1 controls at random take the treated units' cohorts; the rest control."""
    n0, sizes = len(wide.controls), [len(c.rows) for c in cohorts]
    n1 = sum(sizes)
    order = [c.start for c in cohorts]
    out = np.empty((replications, 1 + len(cohorts)))
    for b in range(replications):
        perm = rng.permutation(n0)
        keep, fake = perm[: n0 - n1], perm[n0 - n1 :]
        bounds = np.cumsum([0, *sizes])
        treated = {
            c.start: wide.controls[fake[bounds[k] : bounds[k + 1]]] for k, c in enumerate(cohorts)
        }
        fits = _fit_cohorts(wide, cohorts, controls=wide.controls[keep], treated=treated)
        out[b] = _row(fits, wide.Y.shape[1], order)
    return out


def _bootstrap_draws(
    wide: _Wide, cohorts: list[_Cohort], replications: int, rng: np.random.Generator
) -> np.ndarray:
    """Algorithm 2: units resampled with replacement; draws without both arms are redrawn."""
    units = np.concatenate([wide.controls, *(c.rows for c in cohorts)])
    n0 = len(wide.controls)
    order = [c.start for c in cohorts]
    start_of = {int(r): c.start for c in cohorts for r in c.rows}
    out = np.empty((replications, 1 + len(cohorts)))
    redraws = 0
    b = 0
    while b < replications:
        pick = np.sort(rng.integers(0, len(units), len(units)))
        control_pos = pick[pick < n0]
        treated_rows = units[pick[pick >= n0]]
        if len(control_pos) == 0 or len(treated_rows) == 0:
            redraws += 1
            if redraws > _MAX_BOOTSTRAP_REDRAWS * replications:
                raise InsufficientData(
                    "the bootstrap cannot draw samples holding both treated and control units",
                    subject="units",
                )
            continue
        treated: dict[int, list[int]] = {}
        for r in treated_rows:
            treated.setdefault(start_of[int(r)], []).append(int(r))
        fits = _fit_cohorts(
            wide,
            cohorts,
            controls=wide.controls[control_pos],
            treated={s: np.asarray(v) for s, v in treated.items()},
        )
        out[b] = _row(fits, wide.Y.shape[1], order)
        b += 1
    return out


def _jackknife_draws(wide: _Wide, cohorts: list[_Cohort]) -> np.ndarray:
    """Algorithm 3: each unit left out in turn, the weights kept (ω renormalised)."""
    order = [c.start for c in cohorts]
    n0 = len(wide.controls)
    rows = []
    for k in range(n0):
        keep = np.delete(np.arange(n0), k)
        fits = _fit_cohorts(wide, cohorts, controls=wide.controls[keep], omega_rows=keep)
        rows.append(_row(fits, wide.Y.shape[1], order))
    everyone = np.arange(n0)
    for c in cohorts:
        for r in c.rows:
            treated = {d.start: d.rows[d.rows != r] for d in cohorts}
            treated = {s: v for s, v in treated.items() if len(v)}
            fits = _fit_cohorts(wide, cohorts, omega_rows=everyone, treated=treated)
            rows.append(_row(fits, wide.Y.shape[1], order))
    return np.asarray(rows)


def _spread(values: np.ndarray, method: str) -> float:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return math.nan
    if method == "jackknife":
        return float(math.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))
    return float(math.sqrt((n - 1) / n) * np.std(values, ddof=1))


def _stderr(method: str, draws: np.ndarray) -> float:
    return _spread(draws[:, 0], method) if draws.shape[0] else math.nan


def _placebo_df(n_controls: int) -> float:
    """The placebo variance's t reference: N0 − 1 degrees of freedom (module docstring)."""
    return float(n_controls - 1)


# -- the in-time placebo -----------------------------------------------------------------------


def _placebo_in_time(
    wide: _Wide,
    cohorts: list[_Cohort],
    alpha: float,
    method: str,
    replications: int,
    rng: np.random.Generator,
) -> tuple[Check, dict[str, float]]:
    """Refit on the pre-period only with a fake start leaving the real post/total share."""
    name = "in-time placebo (pre-period only)"
    n_periods = wide.Y.shape[1]
    fake: dict[int, np.ndarray] = {}
    ends: dict[int, int] = {}
    for c in cohorts:
        share = (n_periods - c.start) / n_periods
        fake_start = math.floor(c.start * (1 - share))
        if fake_start >= _MIN_PRE_PERIODS and fake_start < c.start:
            fake[c.start] = c.rows
            ends[c.start] = fake_start
    if not fake or method == "none":
        reason = (
            "no standard error was asked for"
            if method == "none"
            else "too few pre-periods to place a fake start with two periods before it"
        )
        return Check(name, CheckKind.PRE_TREND, CheckOutcome.SKIPPED, f"Skipped: {reason}."), {}
    estimates, sizes, variances, sub_methods = [], [], [], set()
    for start, rows in fake.items():
        starts = np.full(len(wide.starts), -2)  # other cohorts' units stay out
        starts[wide.controls] = -1
        starts[rows] = ends[start]
        sub = _Wide(
            wide.Y[:, :start], wide.controls, starts, wide.unit_labels, wide.periods[:start]
        )
        sub_cohorts = _fit_cohorts(sub, None)
        n1 = len(rows)
        sub_method = "placebo" if n1 == 1 else "jackknife"
        if sub_method == "placebo" and len(sub.controls) <= n1:
            continue
        draws = _draws(sub_method, sub, sub_cohorts, min(replications, _PLACEBO_CHECK_DRAWS), rng)
        estimates.append(sub_cohorts[0].fit.tau)
        sizes.append(n1 * (start - ends[start]))
        variances.append(_stderr(sub_method, draws) ** 2)
        sub_methods.add(sub_method)
    if not estimates:
        return (
            Check(name, CheckKind.PRE_TREND, CheckOutcome.SKIPPED, "Skipped: too few controls."),
            {},
        )
    w = np.asarray(sizes, dtype=float) / sum(sizes)
    est = float(w @ np.asarray(estimates))
    se = float(math.sqrt(w**2 @ np.asarray(variances)))
    # The placebo variance's t(N0 − 1) when every fake cohort used it, as the estimate does.
    df = _placebo_df(len(wide.controls)) if sub_methods == {"placebo"} else None
    _, _, p = interval(est, se, alpha, df)
    stats = {"placebo_in_time_estimate": est, "placebo_in_time_stderr": se}
    if not math.isfinite(p):
        text = "Skipped: the placebo estimate has no standard error."
        return Check(name, CheckKind.PRE_TREND, CheckOutcome.SKIPPED, text), stats
    stats["placebo_in_time_pvalue"] = p
    failed = p < alpha
    verdict = (
        "treated and weighted control units already drifted apart before treatment: weighted "
        "parallel trends is rejected, the SDID estimate is not supported"
        if failed
        else "no evidence of a pre-treatment effect (a small p-value would be bad here)"
    )
    return (
        Check(
            name,
            CheckKind.PRE_TREND,
            CheckOutcome.FAILED if failed else CheckOutcome.PASSED,
            f"SDID refitted on the pre-period with a fake start gives {est:.4g} "
            f"(SE {se:.4g}, p = {p:.3g}): {verdict}.",
            statistic=est / se,
            pvalue=p,
            threshold=alpha,
            new_effect=est,
        ),
        stats,
    )


# -- output ------------------------------------------------------------------------------------


def _assumptions(
    method: str, replications: int, multi: bool, covariates: bool, df: float | None
) -> tuple[str, ...]:
    how = {
        "placebo": f"placebo variance ({replications} draws relabelling controls as treated, "
        "Algorithm 4; assumes homoskedasticity across units)",
        "bootstrap": f"bootstrap variance ({replications} draws resampling units, Algorithm 2)",
        "jackknife": "jackknife variance (leave one unit out, weights fixed, Algorithm 3; "
        "conservative)",
        "none": "no standard error (point estimate only)",
    }[method]
    return (
        "Design: synthetic difference in differences (Arkhangelsky et al. 2021) — unit "
        "weights make the controls track the treated units before treatment and time weights "
        "pick the pre-periods that resemble the post-period; the effect is the ATT.",
        "Weighted parallel trends: without treatment, the treated units' outcomes would have "
        "moved in parallel with the ω-weighted controls.",
        "No anticipation: outcomes do not respond before treatment starts.",
        "No spillovers: controls are unaffected by the treatment (SUTVA).",
        *(
            (
                "Staggered adoption: each cohort is compared with the never-treated units and "
                "cohort ATTs are averaged by treated unit-periods.",
            )
            if multi
            else ()
        ),
        *(
            (
                "Covariates enter linearly with a common coefficient, estimated on the "
                "never-treated units with unit and period effects.",
            )
            if covariates
            else ()
        ),
        f"Inference: {how}, "
        + (
            "normal reference distribution."
            if df is None
            else f"t reference distribution with N0 - 1 = {df:g} degrees of freedom (the "
            "placebo draws relabel the N0 controls)."
        ),
    )


def _cohort_rows(
    wide: _Wide,
    cohorts: list[_Cohort],
    draws: np.ndarray,
    method: str,
    alpha: float,
    df: float | None,
) -> tuple[Coefficient, ...]:
    rows = []
    for k, c in enumerate(cohorts):
        se = _spread(draws[:, 1 + k], method) if draws.shape[0] else math.nan
        label = time_label(wide.periods[c.start])
        rows.append(coefficient(f"cohort {label}", c.fit.tau, se, alpha, df=df, nobs=len(c.rows)))
    return tuple(rows)


def _series(wide: _Wide, cohorts: list[_Cohort]) -> tuple[Series, ...]:
    index = time_labels(wide.periods)
    out = []
    for c in cohorts:
        suffix = f":{time_label(wide.periods[c.start])}" if len(cohorts) > 1 else ""
        treated = wide.Y[c.rows].mean(axis=0)
        synthetic = c.fit.omega @ wide.Y[wide.controls]
        shift = c.fit.lam @ (treated[: c.start] - synthetic[: c.start])
        synthetic = synthetic + shift
        out += [
            Series(f"treated{suffix}", index, tuple(map(float, treated))),
            Series(f"synthetic{suffix}", index, tuple(map(float, synthetic))),
            Series(f"effect{suffix}", index, tuple(map(float, treated - synthetic))),
        ]
    return tuple(out)


def _weights(wide: _Wide, cohorts: list[_Cohort]) -> dict[str, dict[str, float]]:
    out = {}
    for c in cohorts:
        suffix = f":{time_label(wide.periods[c.start])}" if len(cohorts) > 1 else ""
        labels = wide.unit_labels[wide.controls]
        out[f"unit{suffix}"] = {
            str(u): float(w) for u, w in zip(labels, c.fit.omega, strict=True) if w > 0
        }
        out[f"time{suffix}"] = {
            time_label(wide.periods[t]): float(w) for t, w in enumerate(c.fit.lam) if w > 0
        }
    return out
