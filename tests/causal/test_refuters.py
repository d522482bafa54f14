"""Refutation checks on simulated data with known truth, using small local estimators.

The estimators here are deliberately plain (OLS, two-way demeaning, local linear, just-identified
2SLS) so these tests stand alone; the project's estimators plug into ``run_checks`` the same way.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators._inference import interval
from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from causal_svc.refuters import (
    data_subset_check,
    placebo_check,
    random_common_cause_check,
    run_checks,
)
from causal_svc.refuters.verdicts import subset_verdict

# -- local estimators --------------------------------------------------------------------------


def _result(method: Method, point: float, se: float, n: int, **stats_: float) -> EffectEstimate:
    lo, hi, p = interval(point, se, 0.05)
    return EffectEstimate(method, Estimand.ATE, point, se, lo, hi, p, n, statistics=dict(stats_))


def ols(frame: pd.DataFrame, spec: EffectSpec, cov_type: str = "HC1") -> EffectEstimate:
    """OLS of the outcome on treatment and covariates, HC1 errors by default."""
    x = sm.add_constant(frame[[spec.treatment, *spec.covariates]].astype(float), has_constant="add")
    fit = sm.OLS(frame[spec.outcome].astype(float), x).fit(cov_type=cov_type)
    return _result(
        Method.NAIVE_REGRESSION,
        float(fit.params[spec.treatment]),
        float(fit.bse[spec.treatment]),
        int(fit.nobs),
        df_resid=float(fit.df_resid),
    )


def series_ols(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    """OLS with classical errors: exact for the iid noise of the series below, where HC1 is
    anti-conservative for short post windows (and the in-time placebo would rightly say so)."""
    return ols(frame, spec, cov_type="nonrobust")


def overconfident_ols(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    """OLS reporting a tenth of its standard error: a broken SE the checks must catch."""
    e = ols(frame, spec)
    return _result(e.method, e.point_estimate, e.stderr / 10, e.nobs, df_resid=e.nobs - 2.0)


def index_adjusted(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    """Adjusts for the sum of the covariates: a modelling shortcut that noise covariates break."""
    index = frame[list(spec.covariates)].sum(axis=1).rename("index")
    data = frame.assign(index=index)
    return ols(data, EffectSpec(spec.outcome, spec.treatment, covariates=("index",)))


def twfe(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    """Two-way fixed effects by two-way demeaning (balanced panel), unit-clustered errors."""
    assert spec.unit and spec.time
    cols = [spec.outcome, spec.treatment, *spec.covariates]
    d = frame[[spec.unit, spec.time, *cols]].astype({c: float for c in cols})
    for c in cols:
        d[c] = (
            d[c]
            - d.groupby(spec.unit)[c].transform("mean")
            - d.groupby(spec.time)[c].transform("mean")
            + d[c].mean()
        )
    if d[spec.treatment].abs().max() < 1e-12:
        raise InsufficientData("no treatment variation", subject="twfe")
    fit = sm.OLS(d[spec.outcome], d[[spec.treatment, *spec.covariates]]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d[spec.unit])[0]}
    )
    return _result(
        Method.DID, float(fit.params[spec.treatment]), float(fit.bse[spec.treatment]), len(d)
    )


def local_linear(frame: pd.DataFrame, spec: EffectSpec, h: float = 0.2) -> EffectEstimate:
    """Sharp RDD: local linear with a uniform kernel of half-width ``h``, HC1 errors."""
    assert spec.running_variable and spec.cutoff is not None
    r = frame[spec.running_variable].to_numpy() - spec.cutoff
    keep = np.abs(r) <= h
    d = (r[keep] >= 0).astype(float)
    if d.sum() < 20 or (1 - d).sum() < 20:
        raise InsufficientData("too few rows near the cutoff", subject="rdd")
    x = np.column_stack([np.ones_like(d), d, r[keep], d * r[keep]])
    fit = sm.OLS(frame[spec.outcome].to_numpy()[keep], x).fit(cov_type="HC1")
    return _result(Method.RDD, float(fit.params[1]), float(fit.bse[1]), int(keep.sum()))


def two_stage(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    """Just-identified 2SLS with HC0 sandwich errors."""
    n = len(frame)
    ones = np.ones(n)
    x = np.column_stack([ones, frame[spec.treatment].to_numpy(float)])
    z = np.column_stack([ones, frame[spec.instruments[0]].to_numpy(float)])
    y = frame[spec.outcome].to_numpy(float)
    zx_inv = np.linalg.inv(z.T @ x)
    beta = zx_inv @ z.T @ y
    u = y - x @ beta
    meat = (z * u[:, None] ** 2).T @ z
    cov = zx_inv @ meat @ zx_inv.T
    return _result(Method.IV, float(beta[1]), float(np.sqrt(cov[1, 1])), n)


def always_fails(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
    raise InsufficientData("refuses every perturbed data set", subject="test")


# -- simulated data ----------------------------------------------------------------------------


def observational(seed: int, *, effect: float, hidden: float, n: int = 2000) -> pd.DataFrame:
    """Binary treatment driven by observed x and (when ``hidden`` > 0) an omitted u."""
    rng = np.random.default_rng(seed)
    x, u = rng.normal(size=n), rng.normal(size=n)
    t = (0.6 * x + hidden * u + rng.normal(size=n) > 0).astype(int)
    y = effect * t + 0.6 * x + hidden * u + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x": x})


SPEC = EffectSpec("y", "t", covariates=("x",))


def by_kind(estimate: EffectEstimate) -> dict[CheckKind, CheckOutcome]:
    return {c.kind: c.outcome for c in estimate.checks}


# -- cross-section -----------------------------------------------------------------------------


def test_real_effect_survives_every_check() -> None:
    frame = observational(1, effect=1.0, hidden=0.0)
    estimate = ols(frame, SPEC)
    checked = run_checks(ols, frame, SPEC, estimate, n_simulations=10, random_state=1)
    assert by_kind(checked) == {
        CheckKind.PLACEBO_TREATMENT: CheckOutcome.PASSED,
        CheckKind.RANDOM_COMMON_CAUSE: CheckOutcome.PASSED,
        CheckKind.DATA_SUBSET: CheckOutcome.PASSED,
        CheckKind.SENSITIVITY: CheckOutcome.PASSED,
    }
    assert checked.supported
    placebo = checked.checks[0]
    assert placebo.pvalue is not None and placebo.pvalue < 0.05
    assert abs(placebo.new_effect or 1) < 3 * estimate.stderr  # placebo effects centred on 0
    assert "A small p-value is good here" in placebo.interpretation
    assert "shuffled across rows" in placebo.interpretation
    for key in ("e_value", "e_value_ci", "robustness_value", "robustness_value_alpha"):
        assert key in checked.statistics


def test_pure_confounding_is_flagged() -> None:
    # The true effect is 0; an omitted common cause u (weaker than the observed x) produces a
    # spurious, clearly significant "effect". Resampling and permutation checks cannot see an
    # omitted variable, so the flag must come from sensitivity, benchmarked against x.
    frame = observational(2, effect=0.0, hidden=0.4)
    estimate = ols(frame, SPEC)
    assert estimate.pvalue < 1e-4 and estimate.point_estimate > 0.2  # looks like a real effect
    checked = run_checks(ols, frame, SPEC, estimate, n_simulations=10, random_state=2)
    outcomes = by_kind(checked)
    assert outcomes[CheckKind.PLACEBO_TREATMENT] is CheckOutcome.PASSED  # blind to omitted u
    sensitivity = next(c for c in checked.checks if c.kind is CheckKind.SENSITIVITY)
    fragile = sensitivity.outcome is CheckOutcome.WARNING and sensitivity.interpretation.startswith(
        "Fragile: an unmeasured confounder no stronger than the observed x"
    )
    assert fragile or not checked.supported
    assert sensitivity.new_effect is not None and sensitivity.new_effect < estimate.ci_lower


def test_random_common_cause_leaves_a_correct_estimate_unchanged() -> None:
    frame = observational(3, effect=0.5, hidden=0.0)
    estimate = ols(frame, SPEC)
    rng = np.random.default_rng(0)
    check = random_common_cause_check(ols, frame, SPEC, estimate, n_simulations=10, rng=rng)
    assert check.outcome is CheckOutcome.PASSED
    assert check.statistic is not None and check.statistic < 0.1
    assert check.new_effect == pytest.approx(estimate.point_estimate, abs=0.05 * estimate.stderr)
    # the figure judged against the tolerance is the one the text names beside it (re-audit)
    assert "beyond the draws' own scatter" in check.interpretation
    assert "is within the tolerance of 0.5 SE" in check.interpretation


def _audit_observational(seed: int) -> pd.DataFrame:
    """The audit's M16 design: true ATT 2, confounders a and b, correctly specified."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    t = (rng.random(2000) < 1 / (1 + np.exp(-(0.8 * a - 0.5 * b)))).astype(int)
    return pd.DataFrame({"y": 2 * t + 1.5 * a + b + rng.normal(size=2000), "t": t, "a": a, "b": b})


def test_random_common_cause_passes_nearest_neighbour_matching_on_a_correct_model() -> None:
    """1-NN propensity matching re-matches on every noisy propensity model, so each draw moves
    ~0.5 SE in a random direction and the mean absolute move read 0.4-1.1 SE (WARNING on 3 of
    these 6 data sets, FAILED in the audit). The draws' scatter is the check's null."""
    from causal_svc.estimators.matching import estimate_matching

    spec = EffectSpec("y", "t", covariates=("a", "b"))
    for seed in range(6):
        frame = _audit_observational(seed)
        estimate = estimate_matching(frame, spec)
        rng = np.random.default_rng(seed)
        check = random_common_cause_check(
            estimate_matching, frame, spec, estimate, n_simulations=10, rng=rng
        )
        assert check.outcome is CheckOutcome.PASSED, check.interpretation
        assert "single draws scatter" in check.interpretation


def test_random_common_cause_catches_an_estimator_that_noise_can_move() -> None:
    frame = observational(4, effect=0.5, hidden=0.0)
    estimate = index_adjusted(frame, SPEC)
    rng = np.random.default_rng(0)
    check = random_common_cause_check(
        index_adjusted, frame, SPEC, estimate, n_simulations=5, rng=rng
    )
    assert check.outcome is CheckOutcome.FAILED
    assert check.statistic is not None and check.statistic > 1.0
    assert "arbitrary modelling choices" in check.interpretation


def test_understated_standard_error_fails_placebo_and_subsets() -> None:
    # No effect at all, but an estimator whose SE is ten times too small calls noise significant.
    frame = observational(5, effect=0.0, hidden=0.0)
    estimate = overconfident_ols(frame, SPEC)
    assert estimate.pvalue < 0.05
    rng = np.random.default_rng(5)
    placebo = placebo_check(overconfident_ols, frame, SPEC, estimate, n_simulations=10, rng=rng)
    assert placebo.outcome is CheckOutcome.FAILED
    assert "standard error is likely too small" in placebo.interpretation
    assert "A large p-value is bad here" in placebo.interpretation
    subsets = data_subset_check(overconfident_ols, frame, SPEC, estimate, n_simulations=10, rng=rng)
    assert subsets.outcome is CheckOutcome.FAILED
    assert "scatter is too wide" in subsets.interpretation


def test_subset_drift_is_judged_against_the_subsets_own_scatter() -> None:
    # SE 1, 80% subsets: the SE implies a scatter of 0.5. These scatter 1.5x that (within the
    # allowance of 2) and average 0.6 below the full estimate: within their own scatter
    # (t = 2.5, p = 0.03), but 3.8 SE-implied errors away, which failed at 0.001 before.
    estimate = _result(Method.DIFFERENCE_IN_MEANS, 5.0, 1.0, 20)
    unit = np.array([-1.5, -1.0, -0.5, -0.2, 0.0, 0.0, 0.2, 0.5, 1.0, 1.5])
    effects = 5.0 - 0.6 + unit * 0.75 / unit.std(ddof=1)
    check = subset_verdict("Data subsets", estimate, list(effects), 10, 0.8, "")
    assert check.outcome is CheckOutcome.PASSED
    assert "scattered 1.50 times" in check.interpretation
    # p = 0.03 passes: the text gives the thresholds it is judged by (re-audit N6)
    assert (
        "it fails below 0.001" in check.interpretation and "fails above 2" in check.interpretation
    )
    drifting = subset_verdict("Data subsets", estimate, list(effects - 2.4), 10, 0.8, "")
    assert drifting.outcome is CheckOutcome.FAILED  # 3 SE below: drifts, whatever the scatter
    assert "drift away" in drifting.interpretation


def test_an_honest_null_is_a_warning_not_a_failure() -> None:
    frame = observational(6, effect=0.0, hidden=0.0)
    estimate = ols(frame, SPEC)
    assert estimate.pvalue > 0.05
    check = placebo_check(
        ols, frame, SPEC, estimate, n_simulations=10, rng=np.random.default_rng(6)
    )
    assert check.outcome is CheckOutcome.WARNING
    assert "no clear evidence of an effect" in check.interpretation


def test_checks_are_seeded() -> None:
    frame = observational(7, effect=0.5, hidden=0.0)
    estimate = ols(frame, SPEC)
    kinds = (CheckKind.PLACEBO_TREATMENT, CheckKind.DATA_SUBSET)
    a = run_checks(ols, frame, SPEC, estimate, n_simulations=5, random_state=3, kinds=kinds)
    b = run_checks(ols, frame, SPEC, estimate, n_simulations=5, random_state=3, kinds=kinds)
    c = run_checks(ols, frame, SPEC, estimate, n_simulations=5, random_state=4, kinds=kinds)
    assert a.checks == b.checks
    assert a.checks[0].new_effect != c.checks[0].new_effect
    # a check's draws do not depend on which other checks run
    alone = run_checks(ols, frame, SPEC, estimate, n_simulations=5, random_state=3, kinds=kinds[1:])
    assert alone.checks[0] == a.checks[1]


def test_estimator_refusing_perturbed_data_is_reported_not_raised() -> None:
    frame = observational(8, effect=0.5, hidden=0.0)
    estimate = ols(frame, SPEC)
    kinds = (CheckKind.PLACEBO_TREATMENT, CheckKind.RANDOM_COMMON_CAUSE, CheckKind.DATA_SUBSET)
    checked = run_checks(always_fails, frame, SPEC, estimate, n_simulations=4, kinds=kinds)
    assert by_kind(checked) == {
        CheckKind.PLACEBO_TREATMENT: CheckOutcome.SKIPPED,
        CheckKind.RANDOM_COMMON_CAUSE: CheckOutcome.SKIPPED,
        CheckKind.DATA_SUBSET: CheckOutcome.WARNING,
    }
    assert "needs nearly all of the data" in checked.checks[2].interpretation
    assert "first error: refuses every perturbed data set" in checked.checks[1].interpretation


def test_bad_options_are_invalid_spec() -> None:
    frame = observational(9, effect=0.5, hidden=0.0)
    estimate = ols(frame, SPEC)
    with pytest.raises(InvalidSpec) as err:
        run_checks(ols, frame, SPEC, estimate, n_simulations=0)
    assert err.value.field == "n_simulations"
    with pytest.raises(InvalidSpec):
        run_checks(ols, frame, SPEC, estimate, kinds=(CheckKind.BALANCE,))


# -- designs -----------------------------------------------------------------------------------


def geo_panel(
    seed: int, *, starts: dict[int, int | None], periods: int, effect: float
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    unit_level = rng.normal(0, 3, len(starts))
    trend = rng.normal(0, 1, periods).cumsum()
    for u, start in starts.items():
        for w in range(periods):
            on = int(start is not None and w >= start)
            z = rng.normal()
            sales = unit_level[u] + trend[w] + effect * on + 0.5 * z + rng.normal()
            rows.append({"geo": u, "week": w, "on": on, "sales": sales, "z": z})
    return pd.DataFrame(rows)


PANEL = EffectSpec("sales", "on", unit="geo", time="week", covariates=("z",))


def test_panel_placebo_shuffles_start_dates_and_the_effect_survives() -> None:
    starts = {u: (5 if u < 12 else None) for u in range(30)}
    frame = geo_panel(10, starts=starts, periods=10, effect=3.0)
    estimate = twfe(frame, PANEL)
    checked = run_checks(twfe, frame, PANEL, estimate, n_simulations=10, random_state=10)
    assert by_kind(checked) == {
        CheckKind.PLACEBO_TREATMENT: CheckOutcome.PASSED,
        CheckKind.RANDOM_COMMON_CAUSE: CheckOutcome.PASSED,
        CheckKind.DATA_SUBSET: CheckOutcome.PASSED,
        CheckKind.SENSITIVITY: CheckOutcome.SKIPPED,  # DiD rests on parallel trends instead
    }
    assert "start dates shuffled across units" in checked.checks[0].interpretation


def test_single_treated_unit_placebo_treats_each_donor_in_turn() -> None:
    starts = {u: (8 if u == 0 else None) for u in range(12)}
    frame = geo_panel(11, starts=starts, periods=12, effect=6.0)
    estimate = twfe(frame, PANEL)
    check = placebo_check(
        twfe, frame, PANEL, estimate, n_simulations=20, rng=np.random.default_rng(0)
    )
    assert "each untreated unit in turn" in check.interpretation
    assert "Re-estimated 11 times" in check.interpretation
    # The effect stands out from every donor's placebo, but a unit-clustered SE with one treated
    # cluster is far too small (Conley & Taber 2011): the donors scatter 3.8 times as widely.
    assert check.pvalue is not None and check.pvalue < 0.05
    assert check.outcome is CheckOutcome.FAILED
    assert "standard error is likely too small" in check.interpretation
    sc = dataclasses.replace(estimate, method=Method.SYNTHETIC_CONTROL)
    skipped = random_common_cause_check(twfe, frame, PANEL, sc, rng=np.random.default_rng(0))
    assert skipped.outcome is CheckOutcome.SKIPPED


GEO = EffectSpec("sales", "on", unit="geo", time="week")


def twenty_geos(seed: int, effect: float) -> pd.DataFrame:
    """A geo test: 20 geos, 10 treated from week 6 of 10 (the demo holdout's shape)."""
    return geo_panel(seed, starts={u: (6 if u < 10 else None) for u in range(20)}, periods=10,
                     effect=effect)  # fmt: skip


def test_placebo_does_not_fail_a_real_effect_whose_standard_error_is_right() -> None:
    # A moderate real effect and a right SE: the estimate's own test and the comparison with 10
    # placebos disagree on significance on 3 of these 20 worlds (seeds 4, 17, 18), as two tests
    # of unequal power do; the rule before failed all three as "standard error too small".
    outcomes = {}
    for seed in range(20):
        frame = twenty_geos(seed, 1.0)
        estimate = twfe(frame, GEO)
        rng = np.random.default_rng(seed)
        check = placebo_check(twfe, frame, GEO, estimate, n_simulations=10, rng=rng)
        outcomes[seed] = check
    assert not [s for s, c in outcomes.items() if c.outcome is CheckOutcome.FAILED]
    disagree = outcomes[18]  # own p = 0.047, the placebos' p > 0.05
    assert disagree.outcome is CheckOutcome.WARNING
    assert "own test calls it significant" in disagree.interpretation
    assert "read the estimate's own interval" in disagree.interpretation


def test_placebo_arms_hold_no_real_effect() -> None:
    # Half the geos really treated: start dates shuffled put some in each placebo arm. With the
    # estimated effect taken out first the placebos scatter as the SE says; with it left in they
    # scattered 7.2 times as widely here and the check failed a sound estimate.
    frame = twenty_geos(1, 5.0)
    estimate = twfe(frame, GEO)
    check = placebo_check(
        twfe, frame, GEO, estimate, n_simulations=10, rng=np.random.default_rng(1)
    )
    assert check.outcome is CheckOutcome.PASSED
    ratio = re.search(
        r"spread [^,]+, ([0-9.]+) times the estimate's standard error", check.interpretation
    )
    assert ratio is not None and float(ratio.group(1)) < 1.5
    assert check.new_effect == pytest.approx(0, abs=2 * estimate.stderr)


def rdd_data(seed: int, *, staircase: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.uniform(-1, 1, 4000)
    y = 0.5 * r + 1.0 * (r >= 0) + rng.normal(0, 0.5, r.size)
    if staircase:  # the outcome also jumps at ±0.25, ±0.5, ±0.75, where nothing is treated
        y += sum(1.0 * (r >= c) for c in (-0.75, -0.5, -0.25, 0.25, 0.5, 0.75))
    return pd.DataFrame({"y": y, "r": r, "d": (r >= 0).astype(int)})


RDD = EffectSpec("y", "d", running_variable="r", cutoff=0.0)


def test_rdd_placebo_cutoffs_pass_on_a_clean_discontinuity() -> None:
    frame = rdd_data(12, staircase=False)
    estimate = local_linear(frame, RDD)
    checked = run_checks(local_linear, frame, RDD, estimate, n_simulations=6, random_state=12)
    placebo = checked.checks[0]
    assert placebo.name == "Placebo cutoffs"
    assert placebo.outcome is CheckOutcome.PASSED
    assert "placebo cutoffs of r inside each side of the real cutoff 0" in placebo.interpretation
    assert by_kind(checked)[CheckKind.SENSITIVITY] is CheckOutcome.SKIPPED
    # R27-F4: rdd adjusts for no covariate, so a random one cannot move it: not a pass
    assert by_kind(checked)[CheckKind.RANDOM_COMMON_CAUSE] is CheckOutcome.SKIPPED
    (random_cause,) = [c for c in checked.checks if c.kind is CheckKind.RANDOM_COMMON_CAUSE]
    assert "does not adjust for covariates" in random_cause.interpretation


def test_rdd_placebo_cutoffs_fail_when_the_outcome_jumps_everywhere() -> None:
    frame = rdd_data(13, staircase=True)
    estimate = local_linear(frame, RDD)
    checked = run_checks(
        local_linear, frame, RDD, estimate, n_simulations=6, kinds=(CheckKind.PLACEBO_TREATMENT,)
    )
    placebo = checked.checks[0]
    assert placebo.outcome is CheckOutcome.FAILED
    assert "6 of 6 are significant" in placebo.interpretation
    assert "Effects appear at fake cutoffs where nothing happened" in placebo.interpretation
    assert not checked.supported


def test_single_series_placebo_is_back_dated_and_subsets_are_skipped() -> None:
    rng = np.random.default_rng(14)
    n = 80
    control = rng.normal(size=n).cumsum()
    post = (np.arange(n) >= 60).astype(int)
    sales = 2.0 * control + 4.0 * post + rng.normal(size=n)
    frame = pd.DataFrame({"day": np.arange(n), "post": post, "sales": sales, "control": control})
    spec = EffectSpec("sales", "post", time="day", covariates=("control",))
    estimate = series_ols(frame, spec)
    kinds = (CheckKind.PLACEBO_TREATMENT, CheckKind.DATA_SUBSET)
    checked = run_checks(series_ols, frame, spec, estimate, n_simulations=8, kinds=kinds)
    assert checked.checks[0].outcome is CheckOutcome.PASSED
    assert "back-dated into the pre-period" in checked.checks[0].interpretation
    assert "a large p-value is good here" in checked.checks[0].interpretation
    assert "it fails below 0.01" in checked.checks[0].interpretation  # the threshold, said
    assert checked.checks[1].outcome is CheckOutcome.SKIPPED


def test_iv_placebo_shuffles_the_outcome() -> None:
    rng = np.random.default_rng(15)
    n = 3000
    z, u = rng.normal(size=n), rng.normal(size=n)
    t = 0.8 * z + u + rng.normal(size=n)
    y = 1.5 * t + 2.0 * u + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "t": t, "z": z})
    spec = EffectSpec("y", "t", instruments=("z",))
    estimate = two_stage(frame, spec)
    assert estimate.point_estimate == pytest.approx(1.5, abs=4 * estimate.stderr)
    check = placebo_check(
        two_stage, frame, spec, estimate, n_simulations=10, rng=np.random.default_rng(1)
    )
    assert "outcome shuffled" in check.interpretation
    assert check.outcome is CheckOutcome.PASSED
    # the placebo spread is the IV estimate's own sampling spread under the null
    assert check.new_effect == pytest.approx(0, abs=3 * estimate.stderr)
    assert stats.norm.sf(abs(estimate.point_estimate / estimate.stderr)) < 1e-6


def test_single_series_placebo_fails_when_a_trend_poses_as_an_effect() -> None:
    # No intervention effect: sales trend upward and the control series does not track the
    # trend, so "post" picks the trend up, and so does every back-dated placebo.
    rng = np.random.default_rng(16)
    n = 80
    frame = pd.DataFrame(
        {
            "day": np.arange(n),
            "post": (np.arange(n) >= 60).astype(int),
            "sales": 0.2 * np.arange(n) + rng.normal(size=n),
            "control": rng.normal(size=n),
        }
    )
    spec = EffectSpec("sales", "post", time="day", covariates=("control",))
    estimate = series_ols(frame, spec)
    assert estimate.pvalue < 1e-6  # a spurious but "significant" effect
    checked = run_checks(
        series_ols, frame, spec, estimate, n_simulations=8, kinds=(CheckKind.PLACEBO_TREATMENT,)
    )
    assert checked.checks[0].outcome is CheckOutcome.FAILED
    assert "Effects appear at fake dates where nothing happened" in checked.checks[0].interpretation


def test_cluster_assigned_treatment_is_reassigned_by_cluster_keeping_its_dtype() -> None:
    rng = np.random.default_rng(17)
    stores = np.repeat(np.arange(60), 20)
    store_on = rng.random(60) < 0.5
    t = store_on[stores]
    y = 1.0 * t + rng.normal(0, 1, 60)[stores] + rng.normal(size=stores.size)
    frame = pd.DataFrame({"y": y, "t": pd.array(t, dtype="boolean"), "store": stores})
    spec = EffectSpec("y", "t", cluster="store")
    seen: list[object] = []

    def clustered_ols(data: pd.DataFrame, s: EffectSpec) -> EffectEstimate:
        seen.append(data[s.treatment].dtype)
        x = sm.add_constant(data[[s.treatment]].astype(float))
        fit = sm.OLS(data[s.outcome], x).fit(
            cov_type="cluster", cov_kwds={"groups": data[s.cluster].to_numpy()}
        )
        return _result(
            Method.DIFFERENCE_IN_MEANS,
            float(fit.params[s.treatment]),
            float(fit.bse[s.treatment]),
            len(data),
        )

    estimate = clustered_ols(frame, spec)
    kinds = (CheckKind.PLACEBO_TREATMENT, CheckKind.DATA_SUBSET, CheckKind.RANDOM_COMMON_CAUSE)
    checked = run_checks(clustered_ols, frame, spec, estimate, n_simulations=10, kinds=kinds)
    assert by_kind(checked) == {
        CheckKind.PLACEBO_TREATMENT: CheckOutcome.PASSED,
        CheckKind.DATA_SUBSET: CheckOutcome.PASSED,
        CheckKind.RANDOM_COMMON_CAUSE: CheckOutcome.SKIPPED,  # a difference in means ignores it
    }
    assert "reassigned across clusters" in checked.checks[0].interpretation
    assert all(d == pd.BooleanDtype() for d in seen)
