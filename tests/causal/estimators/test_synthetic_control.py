"""Synthetic control: pysyncon on the Texas prison data (Cunningham's Mixtape), simulation, errors."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from causaldata import texas
from pysyncon import Dataprep, Synth

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand
from causal_svc.estimators.synthetic_control import estimate_synthetic_control
from causal_svc.summary import summarize

PRE = list(range(1985, 1994))
POST = list(range(1994, 2001))
# pysyncon's Dataprep looks units up with `in Series.values` on a string column.
PYSYNCON_WARNINGS = "ignore::FutureWarning"


@pytest.fixture(scope="module")
def texas_panel() -> pd.DataFrame:
    """Texas and the 15 states with the largest pre-1994 Black male prison population.

    Restricting the donor pool to comparable units follows Abadie (2021, §4); it also keeps
    pysyncon's own nested fit (SLSQP inside Nelder–Mead) to about a second.
    """
    data = texas.load_pandas().data
    pre_means = data[data["year"].isin(PRE)].groupby("state")["bmprison"].mean()
    keep = pre_means.sort_values(ascending=False).index[:16]
    assert "Texas" in keep
    panel = data[data["state"].isin(keep)].copy()
    panel["expansion"] = ((panel["state"] == "Texas") & (panel["year"] >= 1994)).astype(int)
    return panel.reset_index(drop=True)


def _pysyncon_prep(
    panel: pd.DataFrame, covariates: list[str], lags: list[int], donors: list[str]
) -> Dataprep:
    return Dataprep(
        foo=panel,
        predictors=covariates,
        predictors_op="mean",
        dependent="bmprison",
        unit_variable="state",
        time_variable="year",
        treatment_identifier="Texas",
        controls_identifier=donors,
        time_predictors_prior=PRE,
        time_optimize_ssr=PRE,
        special_predictors=[("bmprison", [y], "mean") for y in lags],
    )


def _post_gaps(panel: pd.DataFrame, weights: pd.Series) -> pd.Series:
    wide = panel.pivot(index="year", columns="state", values="bmprison")
    return (wide["Texas"] - wide[weights.index] @ weights).loc[POST]


@pytest.mark.filterwarnings(PYSYNCON_WARNINGS)
def test_texas_nested_fit_matches_pysyncon_prep(texas_panel: pd.DataFrame) -> None:
    covariates, lags = ["poverty", "income", "black"], [1988, 1990, 1992]
    spec = EffectSpec(
        outcome="bmprison",
        treatment="expansion",
        unit="state",
        time="year",
        covariates=tuple(covariates),
    )
    est = estimate_synthetic_control(texas_panel, spec, alpha=0.1, lagged_outcomes=lags)
    donors = list(est.weights["donor"])
    prep = _pysyncon_prep(texas_panel, covariates, lags, donors)
    ref = Synth()
    ref.fit(prep)

    ours_w = pd.Series(est.weights["donor"])
    ref_w = pd.Series(ref.W, index=donors)
    # Weights: same nested problem, same starting point -> same optimum here.
    assert np.abs(ours_w - ref_w).max() < 0.01
    # Pre-period fit at least as good as pysyncon's (its inner SLSQP stops at ftol 1e-6).
    assert est.statistics["pre_mspe"] <= ref.loss_V * (1 + 1e-6)
    # Post-period gap path within 10% of pysyncon's, year by year (the brief's tolerance).
    gap = est.series[2]
    ours_gap = pd.Series(gap.values, index=[int(i) for i in gap.index]).loc[POST]
    ref_gap = _post_gaps(texas_panel, ref_w)
    assert np.all(np.abs(ours_gap / ref_gap - 1) < 0.10)
    assert est.point_estimate == pytest.approx(ref.att(POST)["att"], rel=0.10)
    assert est.estimand is Estimand.ATT


@pytest.mark.filterwarnings(PYSYNCON_WARNINGS)
def test_texas_weights_match_pysyncon_for_the_same_predictor_weights(
    texas_panel: pd.DataFrame,
) -> None:
    # Ten predictors: the outer problem is rugged, and pysyncon's own search stops at a
    # different V (pre-MSPE 2.3e6 vs our 7.0e5), so compare W given the same V instead.
    covariates = ["poverty", "income", "alcohol", "aidscapita", "black", "perc1519"]
    lags = [1988, 1990, 1991, 1992]
    spec = EffectSpec(
        outcome="bmprison",
        treatment="expansion",
        unit="state",
        time="year",
        covariates=tuple(covariates),
    )
    est = estimate_synthetic_control(texas_panel, spec, alpha=0.1, lagged_outcomes=lags)
    donors = list(est.weights["donor"])
    v = np.array(list(est.weights["predictor"].values()))
    ref = Synth()
    ref.fit(_pysyncon_prep(texas_panel, covariates, lags, donors), custom_V=v)

    ours_w = pd.Series(est.weights["donor"])
    assert np.abs(ours_w.to_numpy() - ref.W).max() < 0.01
    assert est.statistics["pre_mspe"] <= ref.loss_V * (1 + 1e-6)
    assert est.point_estimate == pytest.approx(ref.att(POST)["att"], rel=0.01)
    # Texas's prison expansion (Cunningham's Mixtape): ~ +24k Black men in prison a year.
    assert 20_000 < est.point_estimate < 27_000
    fit = next(c for c in est.checks if c.kind is CheckKind.PRE_PERIOD_FIT)
    assert fit.outcome is CheckOutcome.PASSED
    assert est.statistics["pre_fit_ratio"] == pytest.approx(
        est.statistics["pre_rmspe"] / est.statistics["pre_outcome_sd"]
    )


def _factor_panel(seed: int, effect: float, n_donors: int = 19) -> pd.DataFrame:
    """Linear factor model (Abadie et al. 2010, eq. 1) with the treated unit in the donors' hull."""
    rng = np.random.default_rng(seed)
    t_pre, t_post = 20, 8
    periods = t_pre + t_post
    factors = np.cumsum(rng.normal(size=(periods, 2)), axis=0)
    loadings = rng.uniform(0.2, 2.0, size=(n_donors, 2))
    intercepts = rng.uniform(5, 15, size=n_donors)
    mix = np.zeros(n_donors)
    if n_donors > 7:
        mix[[0, 3, 7]] = [0.5, 0.3, 0.2]
    else:
        mix[0] = 1.0
    all_loadings = np.vstack([mix @ loadings, loadings])
    all_intercepts = np.r_[mix @ intercepts, intercepts]
    rows = []
    for unit in range(n_donors + 1):
        size = all_loadings[unit, 0] + rng.normal(scale=0.05)
        for t in range(periods):
            y = all_intercepts[unit] + factors[t] @ all_loadings[unit] + rng.normal(scale=0.3)
            treated = int(unit == 0 and t >= t_pre)
            rows.append((f"u{unit:02d}", 2000 + t, y + effect * treated, treated, size))
    return pd.DataFrame(rows, columns=["geo", "week", "sales", "treated", "size"])


SIM_SPEC = EffectSpec(
    outcome="sales", treatment="treated", unit="geo", time="week", covariates=("size",)
)


def test_simulated_known_effect_is_recovered() -> None:
    panel = _factor_panel(seed=3, effect=5.0)
    est = estimate_synthetic_control(panel, SIM_SPEC, lagged_outcomes=(2005, 2012, 2019))
    assert est.point_estimate == pytest.approx(5.0, abs=0.5)
    assert est.ci_lower < 5.0 < est.ci_upper
    assert est.ci_lower > 0  # the effect is large relative to the placebo gaps
    assert est.pvalue == pytest.approx(1 / 20)  # ranks first among 20 units
    perm = next(c for c in est.checks if c.kind is CheckKind.PERMUTATION)
    assert perm.outcome is CheckOutcome.PASSED
    assert est.supported
    w = np.array(list(est.weights["donor"].values()))
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    gap = est.series[2]
    assert gap.name == "gap" and len(gap.values) == 28
    assert np.mean(gap.values[20:]) == pytest.approx(est.point_estimate)
    # stderr is the placebo ATTs' SD, not a sampling SE.
    placebo_atts = [np.mean(s.values[20:]) for s in est.series if s.name.startswith("placebo_gap:")]
    assert len(placebo_atts) == 19
    assert est.stderr == pytest.approx(np.std(placebo_atts, ddof=1))


def test_simulated_null_effect_interval_covers_zero() -> None:
    est = estimate_synthetic_control(_factor_panel(seed=11, effect=0.0), SIM_SPEC)
    assert est.ci_lower < 0.0 < est.ci_upper
    assert est.pvalue > 0.05
    perm = next(c for c in est.checks if c.kind is CheckKind.PERMUTATION)
    assert perm.outcome is CheckOutcome.WARNING


def test_no_predictors_fits_pre_period_outcomes_directly() -> None:
    panel = _factor_panel(seed=5, effect=2.0)
    spec = EffectSpec(outcome="sales", treatment="treated", unit="geo", time="week")
    est = estimate_synthetic_control(panel, spec)
    assert "predictor" not in est.weights
    assert est.point_estimate == pytest.approx(2.0, abs=0.5)


def test_few_donors_gives_unbounded_interval_and_says_so() -> None:
    panel = _factor_panel(seed=3, effect=5.0, n_donors=8)
    est = estimate_synthetic_control(panel, SIM_SPEC)
    assert (est.ci_lower, est.ci_upper) == (-math.inf, math.inf)
    assert math.isfinite(est.stderr) and math.isfinite(est.pvalue)
    assert any("unbounded" in w for w in est.warnings)
    perm = next(c for c in est.checks if c.kind is CheckKind.PERMUTATION)
    # No p-value can reach alpha (min 1/9): not a WARNING beside "supported" (audit M14).
    assert perm.outcome is CheckOutcome.FAILED and "sdid" in perm.interpretation
    assert not est.supported
    summary = summarize(est, outcome="sales", treatment="treated")
    assert summary.startswith("Not supported") and "No detectable effect" not in summary


def test_an_unbounded_interval_is_never_supported() -> None:
    """Whatever the checks say, [-inf, inf] bounds nothing: supported is False and the summary
    says the interval is unbounded rather than listing no failed check."""
    est = estimate_synthetic_control(_factor_panel(seed=3, effect=5.0), SIM_SPEC)
    assert est.supported
    unbounded = dataclasses.replace(est, ci_lower=-math.inf, ci_upper=math.inf)
    assert not unbounded.supported
    summary = summarize(unbounded, outcome="sales", treatment="treated")
    assert summary.startswith("Not supported") and "is unbounded" in summary


def _volatile_placebo_panel() -> pd.DataFrame:
    """R11-F3's panel: a steady +1 effect, and three donors whose post-period gaps swing ±3
    around zero (large RMSPE ratios, mean gap zero)."""
    rng = np.random.default_rng(5)
    n_units, t_pre, t_post = 20, 20, 10
    factor = np.cumsum(rng.normal(size=t_pre + t_post))
    swing = np.where(np.arange(t_post) % 2 == 0, 3.0, -3.0)
    rows = []
    for unit in range(n_units):
        y = factor + rng.normal(0, 0.3, t_pre + t_post)
        y[t_pre:] += 1.0 if unit == 0 else swing if unit in (1, 2, 3) else 0.0
        for t in range(t_pre + t_post):
            rows.append((f"u{unit:02d}", t, y[t], int(unit == 0 and t >= t_pre)))
    return pd.DataFrame(rows, columns=["geo", "week", "sales", "treated"])


def test_pvalue_and_interval_come_from_one_test() -> None:
    """R11-F3: the p-value ranked the RMSPE ratio (0.30) while the interval inverted
    |ATT| / pre-RMSPE and excluded zero; the summary printed "Supported ... p = 0.3". Now the
    p-value ranks the statistic the interval inverts, the ratio rank is a secondary statistic."""
    spec = EffectSpec(outcome="sales", treatment="treated", unit="geo", time="week")
    est = estimate_synthetic_control(_volatile_placebo_panel(), spec)
    assert est.ci_lower > 0
    assert est.pvalue <= est.alpha
    assert est.statistics["rmspe_ratio_pvalue"] == pytest.approx(0.3)
    assert est.statistics["permutation_pvalue"] == est.pvalue
    perm = next(c for c in est.checks if c.kind is CheckKind.PERMUTATION)
    assert perm.outcome is CheckOutcome.WARNING and perm.pvalue == est.pvalue
    # The same agreement on null and effect panels: p <= alpha exactly when 0 is outside.
    for seed, effect in ((11, 0.0), (3, 5.0), (4, 0.4), (7, 0.8)):
        other = estimate_synthetic_control(_factor_panel(seed=seed, effect=effect), spec)
        excludes_zero = not other.ci_lower <= 0 <= other.ci_upper
        assert (other.pvalue <= other.alpha) == excludes_zero, (seed, effect)


def test_conf_int_at_another_level_inverts_the_permutation_test() -> None:
    """R11-F8: conf_int(alpha') returned ATT ± z·SD(placebo ATTs), a third interval. Now it
    inverts the permutation test again: at 0.051 (same ⌊alpha (J+1)⌋ = 1) it is the stored
    interval; at 0.10 it uses the second largest placebo statistic, so it is nested inside."""
    est = estimate_synthetic_control(_factor_panel(seed=3, effect=5.0), SIM_SPEC)
    assert est.conf_int(0.051) == pytest.approx((est.ci_lower, est.ci_upper), rel=1e-9)
    lo, hi = est.conf_int(0.10)
    assert est.ci_lower < lo < est.point_estimate < hi < est.ci_upper
    assert est.conf_int(0.01) == (-math.inf, math.inf)  # 1/20 > 0.01: nothing is rejected
    # The placebo reference travels with the estimate (process pool, refuters' replace).
    back = pickle.loads(pickle.dumps(est))
    assert back == est and back.conf_int(0.10) == (lo, hi)


def test_summary_never_says_supported_when_its_p_exceeds_alpha() -> None:
    est = estimate_synthetic_control(_factor_panel(seed=3, effect=5.0), SIM_SPEC)
    assert est.ci_lower > 0 and est.supported
    disagreeing = dataclasses.replace(est, pvalue=0.3)
    summary = summarize(disagreeing, outcome="sales", treatment="treated")
    assert not summary.startswith("Supported") and "p = 0.3" in summary


def test_poor_pre_period_fit_fails_the_check() -> None:
    panel = _factor_panel(seed=3, effect=0.0)
    # Give the treated unit its own trend that no donor mix can follow.
    treated = panel["geo"] == "u00"
    panel.loc[treated, "sales"] += 3.0 * np.sin(np.arange(treated.sum()))
    est = estimate_synthetic_control(panel, SIM_SPEC)
    fit = next(c for c in est.checks if c.kind is CheckKind.PRE_PERIOD_FIT)
    assert fit.outcome is CheckOutcome.FAILED
    assert not est.supported


def test_incomplete_donor_is_dropped_with_a_warning() -> None:
    panel = _factor_panel(seed=3, effect=5.0)
    panel = panel[~((panel["geo"] == "u05") & (panel["week"] == 2003))]
    est = estimate_synthetic_control(panel, SIM_SPEC)
    assert "u05" not in est.weights["donor"]
    assert any("u05" in w for w in est.warnings)


# --- bad input ---------------------------------------------------------------------------


def test_more_than_one_treated_unit_points_to_did() -> None:
    panel = _factor_panel(seed=3, effect=5.0)
    panel.loc[(panel["geo"] == "u01") & (panel["week"] >= 2020), "treated"] = 1
    with pytest.raises(InvalidSpec) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.reason == "MULTIPLE_TREATED_UNITS"
    assert err.value.field == "roles.treatment"
    assert "did" in err.value.message


def test_constant_treatment_is_rejected() -> None:
    panel = _factor_panel(seed=3, effect=0.0).assign(treated=0)
    with pytest.raises(InvalidSpec) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.reason == "CONSTANT_TREATMENT"


def test_no_pre_period_is_insufficient_data() -> None:
    panel = _factor_panel(seed=3, effect=0.0)
    panel["treated"] = (panel["geo"] == "u00").astype(int)
    with pytest.raises(InsufficientData) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.subject == "pre-period"


def test_too_few_donors_is_insufficient_data() -> None:
    panel = _factor_panel(seed=3, effect=5.0, n_donors=1)
    with pytest.raises(InsufficientData) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.subject == "donor pool"


def test_constant_predictor_is_a_singular_design() -> None:
    panel = _factor_panel(seed=3, effect=5.0).assign(size=1.0)
    with pytest.raises(SingularDesign) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.subject == "roles.covariates"


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda p: p.drop(columns="size"), "roles.covariates", "INVALID_SPEC"),
        (lambda p: p.assign(sales=p["sales"].astype(str)), "roles.outcome", "INVALID_SPEC"),
        (lambda p: pd.concat([p, p.iloc[:1]]), "roles.time", "DUPLICATE_UNIT_TIME"),
        (
            lambda p: p.assign(
                treated=np.where((p["geo"] == "u00") & (p["week"] == 2027), 0, p["treated"])
            ),
            "roles.treatment",
            "TREATMENT_NOT_ABSORBING",
        ),
    ],
)
def test_bad_input_names_the_role(mutate, field: str, reason: str) -> None:
    panel = mutate(_factor_panel(seed=3, effect=5.0))
    with pytest.raises(InvalidSpec) as err:
        estimate_synthetic_control(panel, SIM_SPEC)
    assert err.value.field == field
    assert err.value.reason == reason


def test_missing_unit_role_and_unknown_lag_are_rejected() -> None:
    panel = _factor_panel(seed=3, effect=5.0)
    no_unit = EffectSpec(outcome="sales", treatment="treated", time="week")
    with pytest.raises(InvalidSpec) as err:
        estimate_synthetic_control(panel, no_unit)
    assert err.value.field == "roles.unit"
    with pytest.raises(InvalidSpec) as err:
        estimate_synthetic_control(panel, SIM_SPEC, lagged_outcomes=(2025,))
    assert err.value.field == "lagged_outcomes"


def test_dated_panel_labels_series_with_iso_dates() -> None:
    panel = _factor_panel(seed=3, effect=5.0)
    panel["week"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * (panel["week"] - 2000), "D")
    est = estimate_synthetic_control(panel, SIM_SPEC, lagged_outcomes=(pd.Timestamp("2024-02-05"),))
    gap = est.series[2]
    assert gap.index[0] == "2024-01-01" and gap.index[20] == "2024-05-20"
    assert "sales[2024-02-05]" in est.weights["predictor"]
