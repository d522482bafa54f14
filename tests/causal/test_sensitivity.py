"""Sensitivity figures against published values (VanderWeele & Ding 2017; Cinelli & Hazlett 2020)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from causal_svc.refuters import sensitivity_check
from causal_svc.sensitivity import (
    adjusted_estimate,
    adjusted_se,
    e_value,
    e_value_ci,
    partial_r2,
    partial_r2_bound,
    robustness_value,
    sensitivity_figures,
    smd_to_risk_ratio,
)

# Cinelli & Hazlett (2020), Darfur example: peacefactor on directlyharmed with covariates
# (sensemakr's published output). The darfur data set is not installed; the published
# estimate, SE and dof are the inputs.
DARFUR_ESTIMATE, DARFUR_SE, DARFUR_DOF = 0.09731582, 0.02325654, 783
# female's published t statistics in the outcome and the treatment regressions (rounded to 3 dp,
# hence the looser tolerance on quantities derived from them).
FEMALE_T_OUTCOME, FEMALE_T_TREATMENT = -9.789, -2.680
# sensemakr's published bounds for 1x, 2x, 3x female: r2dz_x, r2yz_dx, adjusted estimate, se, t
DARFUR_BOUNDS = {
    1: (
        0.00916428667504862,
        0.12464092303637,
        0.0752202712144491,
        0.0218733277437572,
        3.43890386024675,
    ),
    2: (
        0.0183285733500972,
        0.249324064199975,
        0.0529151723844518,
        0.0203500620779637,
        2.60024623913809,
    ),
    3: (
        0.0274928600251459,
        0.374050471038094,
        0.0303960234641548,
        0.0186700648170924,
        1.62806202131271,
    ),
}
TOL_EXACT = 1e-5  # quantities computed from the full-precision published estimate and SE
TOL_ROUNDED_T = 5e-5  # quantities computed from the 3-dp published t statistics of female


def test_e_value_matches_vanderweele_ding() -> None:
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8 to 8.7) -> E-value 7.26, CI bound 3.0
    assert e_value(3.9) == pytest.approx(7.26, abs=0.005)
    assert e_value_ci(1.8, 8.7) == pytest.approx(3.0, abs=0.005)
    # a protective RR is flipped: RR 0.8 -> 1/0.8 = 1.25 -> 1.81
    assert e_value(0.8) == pytest.approx(1.81, abs=0.005)
    assert e_value_ci(0.5, 1.2) == 1.0
    assert e_value_ci(0.3, 0.8) == pytest.approx(e_value(0.8))
    with pytest.raises(ValueError):
        e_value(0.0)


def test_standardised_difference_conversion() -> None:
    # RR ≈ exp(0.91 d) (VanderWeele & Ding 2017, continuous outcomes)
    assert smd_to_risk_ratio(0.5) == pytest.approx(math.exp(0.455))
    rr = math.exp(0.455)
    assert e_value(smd_to_risk_ratio(0.5)) == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    assert e_value(smd_to_risk_ratio(0.5)) == pytest.approx(2.529, abs=1e-3)


def test_robustness_value_matches_darfur() -> None:
    t = DARFUR_ESTIMATE / DARFUR_SE
    assert t == pytest.approx(4.18445, abs=TOL_EXACT)
    assert partial_r2(t, DARFUR_DOF) == pytest.approx(0.02187309, abs=TOL_EXACT)
    assert robustness_value(t, DARFUR_DOF) == pytest.approx(0.1387764, abs=TOL_EXACT)
    assert robustness_value(t, DARFUR_DOF, alpha=0.05) == pytest.approx(0.07625797, abs=TOL_EXACT)
    # RV_q is exactly the strength that removes q of the estimate
    rv = robustness_value(t, DARFUR_DOF)
    assert adjusted_estimate(DARFUR_ESTIMATE, DARFUR_SE, DARFUR_DOF, rv, rv) == pytest.approx(
        0, abs=1e-10
    )
    rv_half = robustness_value(t, DARFUR_DOF, q=0.5)
    half = adjusted_estimate(DARFUR_ESTIMATE, DARFUR_SE, DARFUR_DOF, rv_half, rv_half)
    assert half == pytest.approx(DARFUR_ESTIMATE / 2, abs=1e-10)
    # an insignificant estimate has RV_alpha 0
    assert robustness_value(1.0, 783, alpha=0.05) == 0.0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_benchmark_bounds_match_darfur_female(k: int) -> None:
    r2y = partial_r2(FEMALE_T_OUTCOME, DARFUR_DOF)
    r2d = partial_r2(FEMALE_T_TREATMENT, DARFUR_DOF)
    bound = partial_r2_bound(r2d, r2y, kd=k)
    assert bound is not None
    r2dz, r2yz = bound
    want_r2dz, want_r2yz, want_est, want_se, want_t = DARFUR_BOUNDS[k]
    assert r2dz == pytest.approx(want_r2dz, abs=TOL_ROUNDED_T)
    assert r2yz == pytest.approx(want_r2yz, abs=TOL_ROUNDED_T)
    est = adjusted_estimate(DARFUR_ESTIMATE, DARFUR_SE, DARFUR_DOF, r2dz, r2yz)
    se = adjusted_se(DARFUR_SE, DARFUR_DOF, r2dz, r2yz)
    assert est == pytest.approx(want_est, abs=TOL_ROUNDED_T)
    assert se == pytest.approx(want_se, abs=TOL_ROUNDED_T)
    assert est / se == pytest.approx(want_t, abs=5e-3)
    # and from the published bounds themselves the adjustment is exact
    exact = adjusted_estimate(DARFUR_ESTIMATE, DARFUR_SE, DARFUR_DOF, want_r2dz, want_r2yz)
    assert exact == pytest.approx(want_est, abs=TOL_EXACT)
    assert adjusted_se(DARFUR_SE, DARFUR_DOF, want_r2dz, want_r2yz) == pytest.approx(
        want_se, abs=TOL_EXACT
    )


def test_impossible_benchmark_multiple_is_none() -> None:
    assert partial_r2_bound(0.6, 0.1, kd=2) is None


def darfur_estimate(method: Method = Method.NAIVE_REGRESSION) -> EffectEstimate:
    lo, hi = DARFUR_ESTIMATE - 1.963 * DARFUR_SE, DARFUR_ESTIMATE + 1.963 * DARFUR_SE
    return EffectEstimate(
        method=method,
        estimand=Estimand.ATE,
        point_estimate=DARFUR_ESTIMATE,
        stderr=DARFUR_SE,
        ci_lower=lo,
        ci_upper=hi,
        pvalue=3e-5,
        nobs=1276,
        statistics={"df_resid": float(DARFUR_DOF)},
    )


def test_check_on_published_darfur_numbers_reads_in_words() -> None:
    check = sensitivity_check(darfur_estimate(), outcome_sd=0.4)
    assert check.kind is CheckKind.SENSITIVITY
    assert check.outcome is CheckOutcome.PASSED  # RV_alpha 7.6% > the 5% default threshold
    assert check.statistic == pytest.approx(0.07625797, abs=TOL_EXACT)
    assert (
        "13.9% of the residual variance of both the treatment and the outcome"
        in check.interpretation
    )
    assert "7.6% of both" in check.interpretation
    assert "Larger figures are better" in check.interpretation
    d = DARFUR_ESTIMATE / 0.4
    assert f"risk ratio of {e_value(smd_to_risk_ratio(d)):.2f}" in check.interpretation
    fragile = sensitivity_check(darfur_estimate(), outcome_sd=0.4, rv_threshold=0.1)
    assert fragile.outcome is CheckOutcome.WARNING
    assert fragile.interpretation.startswith("Fragile")


def test_check_is_skipped_for_designs_and_null_results() -> None:
    did = sensitivity_check(darfur_estimate(Method.DID))
    assert did.outcome is CheckOutcome.SKIPPED and "parallel trends" in did.interpretation
    null = EffectEstimate(
        Method.AIPW, Estimand.ATE, 0.01, 0.02, -0.03, 0.05, 0.6, 500, statistics={"df_resid": 490.0}
    )
    assert sensitivity_check(null).outcome is CheckOutcome.SKIPPED


def test_binary_outcome_uses_the_risk_ratio_scale() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(t == 1, 0.3, 0.2)).astype(int)
    frame = pd.DataFrame({"y": y, "t": t})
    p1, p0 = y[t == 1].mean(), y[t == 0].mean()
    rd = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / (t == 1).sum() + p0 * (1 - p0) / (t == 0).sum())
    est = EffectEstimate(
        Method.DIFFERENCE_IN_MEANS, Estimand.ATE, rd, se, rd - 1.96 * se, rd + 1.96 * se, 1e-9, n
    )
    fig = sensitivity_figures(est, frame=frame, spec=EffectSpec("y", "t"))
    assert fig.e_value_scale == "risk_ratio"
    assert fig.risk_ratio == pytest.approx(p1 / p0)
    assert fig.e_value == pytest.approx(e_value(p1 / p0))
    assert fig.e_value_ci == pytest.approx(e_value((p0 + rd - 1.96 * se) / p0))
    assert not fig.dof_exact  # no df in statistics: n - 2 is used


def test_benchmark_from_data_flags_a_confounder_weaker_than_an_observed_one() -> None:
    # Effect 0.15 with a strong observed confounder x: a hidden confounder as strong as x
    # would explain it away; with a true effect of 1.0 it would not.
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.normal(size=n)
    t = 0.5 * x + rng.normal(size=n)
    for effect, fragile in ((0.15, True), (1.0, False)):
        y = effect * t + 0.5 * x + rng.normal(size=n)
        frame = pd.DataFrame({"y": y, "t": t, "x": x})
        est = ols(frame)
        check = sensitivity_check(est, frame=frame, spec=EffectSpec("y", "t", covariates=("x",)))
        assert check.outcome is (CheckOutcome.WARNING if fragile else CheckOutcome.PASSED)
        assert ("no stronger than the observed x" in check.interpretation) is fragile
        assert "Benchmark: a confounder as strong as x" in check.interpretation
        assert check.new_effect is not None and check.new_effect < est.point_estimate


def ols(frame: pd.DataFrame) -> EffectEstimate:
    """Classical OLS of y on t and x (so the Cinelli-Hazlett formulas are exact)."""
    import statsmodels.api as sm

    fit = sm.OLS(frame["y"], sm.add_constant(frame[["t", "x"]])).fit()
    lo, hi = fit.conf_int().loc["t"]
    return EffectEstimate(
        Method.NAIVE_REGRESSION,
        Estimand.ATE,
        float(fit.params["t"]),
        float(fit.bse["t"]),
        float(lo),
        float(hi),
        float(fit.pvalues["t"]),
        int(fit.nobs),
        statistics={"df_resid": float(fit.df_resid)},
    )


def test_degrees_of_freedom_come_from_the_estimate_when_it_has_them() -> None:
    base = darfur_estimate()
    unclustered = dataclasses.replace(base, statistics={"df": 783.0})
    clustered = dataclasses.replace(base, statistics={"df": 40.0, "n_clusters": 41.0})
    assert sensitivity_figures(unclustered).dof == 783.0
    assert sensitivity_figures(unclustered).dof_exact
    approx = sensitivity_figures(clustered, spec=EffectSpec("y", "t", covariates=("a", "b")))
    assert approx.dof == 1276 - 2 - 2 and not approx.dof_exact
    assert "degrees of freedom approximated" in sensitivity_check(clustered).interpretation


def test_a_benchmark_that_leaves_no_residual_variance_prints_no_zero_width_interval() -> None:
    """A covariate explaining nearly all of the outcome: the implied confounder's outcome R² is
    capped at 1, its adjusted SE is 0, and the text read "(95% CI 1.201 to 1.201)"."""
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=n)
    t = 0.8 * x + rng.normal(size=n)
    frame = pd.DataFrame({"y": 5.0 * t + 40 * x + 0.05 * rng.normal(size=n), "t": t, "x": x})
    est = ols(frame)
    check = sensitivity_check(est, frame=frame, spec=EffectSpec("y", "t", covariates=("x",)))
    assert "100.0% of the outcome's residual variance" in check.interpretation
    assert "no interval" in check.interpretation and " CI " not in check.interpretation


def _two_covariates(seed: int = 1, n: int = 200) -> pd.DataFrame:
    """R27's xs.csv: t depends on x1; y = 1 + 0.5 t + x1 + 0.5 x2 + e."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    rng.choice(4, size=n)  # R27 drew a region here: the same data
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x1))).astype(int)
    y = 1 + 0.5 * t + x1 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2})


def _ols_on(frame: pd.DataFrame, covariates: list[str]) -> EffectEstimate:
    import statsmodels.api as sm

    fit = sm.OLS(frame["y"], sm.add_constant(frame[["t", *covariates]])).fit()
    lo, hi = fit.conf_int().loc["t"]
    return EffectEstimate(
        Method.NAIVE_REGRESSION, Estimand.ATE, float(fit.params["t"]), float(fit.bse["t"]),
        float(lo), float(hi), float(fit.pvalues["t"]), int(fit.nobs),
        statistics={"df_resid": float(fit.df_resid)},
    )  # fmt: skip


def test_a_constant_or_duplicated_covariate_does_not_remove_the_benchmarks() -> None:
    """R27-F3: one constant column made the benchmark regression rank-deficient, every
    benchmark vanished, and the check PASSED as 'No covariates to benchmark against'."""
    frame = _two_covariates()
    est = _ols_on(frame, ["x1", "x2"])
    base = sensitivity_check(est, frame=frame, spec=EffectSpec("y", "t", covariates=("x1", "x2")))
    assert base.outcome is CheckOutcome.WARNING and "observed x1 would" in base.interpretation
    padded = frame.assign(const=3.0, x1_again=2 * frame.x1 + 1, tcopy=frame.t)
    spec = EffectSpec("y", "t", covariates=("x1", "x2", "const", "x1_again", "tcopy"))
    check = sensitivity_check(est, frame=padded, spec=spec)
    assert check.outcome is CheckOutcome.WARNING and "observed x1 would" in check.interpretation
    assert check.new_effect == pytest.approx(base.new_effect)
    assert "const (constant)" in check.interpretation
    assert "x1_again (a linear combination of the treatment and x1, x2)" in check.interpretation
    assert "tcopy ((a linear function of) the treatment)" in check.interpretation
    # Nothing usable at all: a warning that says so, never a pass on the 5% rule.
    only_bad = sensitivity_check(
        est, frame=padded, spec=EffectSpec("y", "t", covariates=("const", "tcopy"))
    )
    assert only_bad.outcome is CheckOutcome.WARNING
    assert only_bad.interpretation.startswith("No benchmark: none of the covariates")


def test_the_quoted_benchmark_is_the_one_that_explains_the_effect_away() -> None:
    """R27-F7: 'Fragile: … x1 would be enough' beside 'Benchmark: a confounder as strong as
    x2 … would leave 0.61': the smallest |t| ignored x1's sign flip (t −110)."""
    frame = _two_covariates()
    est = _ols_on(frame, ["x1", "x2"])
    figures = sensitivity_figures(
        est, frame=frame, spec=EffectSpec("y", "t", covariates=("x1", "x2"))
    )
    by_name = {b.covariate: b for b in figures.benchmarks}
    assert by_name["x1"].explains_away and not by_name["x2"].explains_away
    assert abs(by_name["x1"].adjusted_t) > abs(by_name["x2"].adjusted_t)  # the old pick: x2
    check = sensitivity_check(est, figures=figures)
    assert "Benchmark: a confounder as strong as x1 " in check.interpretation
    assert check.new_effect == pytest.approx(by_name["x1"].adjusted_estimate)


def test_a_covariate_too_strong_to_bound_is_no_pass() -> None:
    """Audit s17 V2 F2: season drives spend (94% of the treatment), so its 1× bound does not
    exist; the check PASSED 'robust to confounders as strong as any observed covariate' on the
    weak one alone, while 8% of both residual variances overturns significance."""
    rng = np.random.default_rng(5)
    n = 2000
    season, other = rng.normal(size=n), rng.normal(size=n)
    t = 2.0 * season + 0.1 * other + 0.5 * rng.normal(size=n)
    y = 0.3 * t + 1.0 * season + 0.2 * other + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "t": t, "season": season, "other": other})
    est = _ols_on(frame, ["season", "other"])
    assert est.pvalue < 1e-6
    spec = EffectSpec("y", "t", covariates=("season", "other"))
    check = sensitivity_check(est, frame=frame, spec=spec)
    assert check.outcome is CheckOutcome.WARNING, check.interpretation
    assert check.interpretation.startswith(
        "Not shown robust to a confounder as strong as season: it explains so much of the "
        "treatment that no benchmark bound exists; a confounder explaining 8."
    ), check.interpretation
    assert "as strong as any observed covariate" not in check.interpretation
    assert "Robust only to confounders as strong as other;" in check.interpretation
    assert "season (too strong to bound: it explains 93." in check.interpretation
    # without season the weak covariate's pass stands
    weak = sensitivity_check(
        _ols_on(frame, ["other"]), frame=frame, spec=EffectSpec("y", "t", covariates=("other",))
    )
    assert "Not shown robust" not in weak.interpretation
