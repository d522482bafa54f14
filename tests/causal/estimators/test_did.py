"""DiD (2×2, TWFE) against linearmodels / statsmodels on castle-doctrine data, and simulations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from causaldata import castle, organ_donations
from linearmodels import PanelOLS
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign
from causal_svc.estimators.did import estimate_did
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand, Method

# Same estimator and small-sample factor as the reference: agreement to rounding.
SAME_POINT_RTOL = 1e-9
SAME_SE_RTOL = 1e-7

SPEC = EffectSpec(outcome="l_homicide", treatment="post", unit="sid", time="year")


@pytest.fixture(scope="module")
def castle_data() -> pd.DataFrame:
    # Cheng & Hoekstra (2013): US states adopting castle-doctrine laws 2005-2010; log homicides.
    data = castle.load_pandas().data[["sid", "year", "post", "l_homicide", "popwt"]]
    return data.astype({"l_homicide": float, "popwt": float, "year": int, "sid": int})


def _panel_ols(frame: pd.DataFrame, regressors: list[str], weights: str | None = None):
    """linearmodels with unit effects and year dummies, clustered by state: its small-sample
    factor G/(G-1)·(n-1)/(n-K) with K = regressors + year dummies + constant is Stata's
    ``xtreg, fe vce(cluster)`` (two-way ``time_effects=True`` would also count the unit effects
    that are nested in the clusters)."""
    panel = frame.set_index(["sid", "year"])
    years = pd.get_dummies(frame.year, prefix="y", drop_first=True).astype(float)
    x = sm.add_constant(pd.concat([panel[regressors].reset_index(drop=True), years], axis=1))
    x.index = panel.index
    model = PanelOLS(
        panel.l_homicide,
        x,
        entity_effects=True,
        weights=None if weights is None else panel[weights],
    )
    return model.fit(cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)


def test_twfe_matches_linearmodels_on_castle(castle_data: pd.DataFrame) -> None:
    res = estimate_did(castle_data, SPEC)
    ref = _panel_ols(castle_data.astype({"post": float}), ["post"])
    assert res.method is Method.DID and res.estimand is Estimand.ATT
    assert [c.name for c in res.coefficients] == ["treatment"]
    assert res.point_estimate == pytest.approx(ref.params["post"], rel=SAME_POINT_RTOL)
    assert res.stderr == pytest.approx(ref.std_errors["post"], rel=SAME_SE_RTOL)
    assert res.statistics["df"] == 49 and res.statistics["n_clusters"] == 50
    assert any("staggered_did" in w for w in res.warnings)  # five adoption years


def test_unbalanced_twfe_matches_linearmodels(castle_data: pd.DataFrame) -> None:
    # Alternating projections must converge to the dummy-variable answer when rows are missing.
    holes = castle_data.sample(frac=0.1, random_state=4).index
    sub = castle_data.drop(holes).reset_index(drop=True)
    res = estimate_did(sub, SPEC)
    ref = _panel_ols(sub.astype({"post": float}), ["post"])
    assert res.point_estimate == pytest.approx(ref.params["post"], rel=1e-7)
    assert res.stderr == pytest.approx(ref.std_errors["post"], rel=1e-6)


def test_weighted_twfe_matches_linearmodels(castle_data: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="l_homicide", treatment="post", unit="sid", time="year", weights="popwt"
    )
    res = estimate_did(castle_data, spec)
    ref = _panel_ols(castle_data.astype({"post": float}), ["post"], weights="popwt")
    assert res.point_estimate == pytest.approx(ref.params["post"], rel=1e-7)
    assert res.stderr == pytest.approx(ref.std_errors["post"], rel=1e-6)


def test_2x2_matches_clustered_ols_and_equals_twfe_point(castle_data: pd.DataFrame) -> None:
    first = castle_data[castle_data.post == 1].groupby("sid").year.min()
    cohort = castle_data.sid.map(first)
    sub = castle_data[cohort.isna() | (cohort == 2007)].reset_index(drop=True)
    res = estimate_did(sub, SPEC)
    group = sub.sid.isin(first[first == 2007].index).astype(float)
    post = (sub.year >= 2007).astype(float)
    x = sm.add_constant(pd.DataFrame({"g": group, "p": post, "gp": group * post}))
    ref = sm.OLS(sub.l_homicide, x).fit(cov_type="cluster", cov_kwds={"groups": sub.sid})
    assert [c.name for c in res.coefficients] == ["treated_group", "post", "treated_group:post"]
    assert res.point_estimate == pytest.approx(ref.params["gp"], rel=SAME_POINT_RTOL)
    assert res.stderr == pytest.approx(ref.bse["gp"], rel=SAME_SE_RTOL)
    twfe = estimate_did(sub, SPEC, design="twfe")
    assert twfe.point_estimate == pytest.approx(res.point_estimate, rel=1e-9)  # balanced panel
    assert res.n_treated == 13 and res.n_control == 29


def test_organ_donations_single_treated_state_is_insufficient() -> None:
    # Kessler & Roth (2014): only California changed its organ-donor question (2011 Q3), so a
    # state-clustered DiD has one treated cluster and cannot estimate its own uncertainty.
    data = organ_donations.load_pandas().data
    data = data.assign(treated=((data.State == "California") & (data.Quarter_Num >= 4)).astype(int))
    spec = EffectSpec(outcome="Rate", treatment="treated", unit="State", time="Quarter_Num")
    with pytest.raises(InsufficientData, match="2 clusters in each arm") as err:
        estimate_did(data, spec)
    assert err.value.subject == "clusters"


def _two_by_two(
    rng: np.random.Generator, n_units: int, effect: float, drift: float = 0.0
) -> pd.DataFrame:
    units = np.repeat(np.arange(n_units), 8)
    period = np.tile(np.arange(8), n_units)
    treated_unit = units < n_units // 2
    level = rng.normal(0, 2, n_units)[units]
    shock = rng.normal(0, 1, 8)[period]
    y = (
        level
        + shock
        + drift * treated_unit * period
        + effect * (treated_unit & (period >= 5))
        + rng.normal(0, 1, len(units))
    )
    return pd.DataFrame(
        {"geo": units, "week": period, "sales": y, "on": (treated_unit & (period >= 5)).astype(int)}
    )


def test_simulated_effect_is_recovered_and_pretrend_passes() -> None:
    rng = np.random.default_rng(11)
    spec = EffectSpec(outcome="sales", treatment="on", unit="geo", time="week")
    covered, passed, reps = 0, 0, 100
    for _ in range(reps):
        res = estimate_did(_two_by_two(rng, 40, effect=2.0), spec)
        covered += res.ci_lower <= 2.0 <= res.ci_upper
        passed += res.checks[0].outcome is CheckOutcome.PASSED
    assert 0.88 <= covered / reps <= 1.0  # nominal 95%, 100 draws
    assert passed / reps >= 0.88  # a 5%-level test under the null


def test_differential_pretrend_fails_the_check() -> None:
    frame = _two_by_two(np.random.default_rng(5), 40, effect=2.0, drift=0.6)
    res = estimate_did(frame, EffectSpec(outcome="sales", treatment="on", unit="geo", time="week"))
    (check,) = res.checks
    assert check.kind is CheckKind.PRE_TREND and check.outcome is CheckOutcome.FAILED
    assert not res.supported
    assert res.statistics["pretrend_slope"] == pytest.approx(0.6, abs=0.15)


def test_pretrend_check_has_its_power_at_a_moderate_drift() -> None:
    """At 0.25 a period the check must fail about as often as a 5%-level t-test of the slope
    does (R36-F2: a threshold of α/10 kept the drift-0.6 case above failing, at p = 1.4e-7).

    The slope's standard error is σ·sqrt(1/Σ(t−t̄)² · (1/n₁ + 1/n₀)) = sqrt(1/10 · 2/20) = 0.1
    (5 pre-periods, 20 units per arm, unit noise σ = 1), so the t-statistic has
    non-centrality 2.5 on G − 1 = 39 degrees of freedom: power 0.68 at α = 0.05, 0.33 at α/10.
    """
    rng = np.random.default_rng(7)
    spec = EffectSpec(outcome="sales", treatment="on", unit="geo", time="week")
    reps, alpha, df = 100, 0.05, 39
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    power = stats.nct.sf(crit, df, 2.5) + stats.nct.cdf(-crit, df, 2.5)
    failed = 0
    for _ in range(reps):
        res = estimate_did(_two_by_two(rng, 40, effect=2.0, drift=0.25), spec, alpha=alpha)
        fail = res.checks[0].outcome is CheckOutcome.FAILED
        # The verdict is the reported p-value read at α, and a failed check unsupports.
        assert fail == (res.statistics["pretrend_pvalue"] < alpha)
        assert res.supported is not fail
        failed += fail
    # Binomial(100, 0.68) sd 4.7: three of them either side (α/10 gives ~33)
    assert abs(failed - reps * power) <= 3.0 * np.sqrt(reps * power * (1.0 - power))


def test_bad_panels(castle_data: pd.DataFrame) -> None:
    with pytest.raises(InvalidSpec) as no_unit:
        estimate_did(castle_data, EffectSpec(outcome="l_homicide", treatment="post", time="year"))
    assert no_unit.value.field == "roles.unit"
    with pytest.raises(InvalidSpec) as text_time:
        estimate_did(castle_data.assign(year=castle_data.year.astype(str)), SPEC)
    assert text_time.value.field == "roles.time"
    with pytest.raises(InvalidSpec) as dup:
        estimate_did(pd.concat([castle_data, castle_data.head(3)]), SPEC)
    assert dup.value.reason == "DUPLICATE_UNIT_PERIOD"
    with pytest.raises(InvalidSpec) as staggered:
        estimate_did(castle_data, SPEC, design="2x2")
    assert staggered.value.reason == "STAGGERED_TIMING"
    always = castle_data.assign(post=castle_data.sid.isin([1, 2, 3]).astype(int))
    with pytest.raises(InsufficientData, match="pre-period"):
        estimate_did(always, SPEC)
    with pytest.raises(InvalidSpec) as design:
        estimate_did(castle_data, SPEC, design="synthetic")  # type: ignore[arg-type]
    assert design.value.field == "design"


def test_time_invariant_covariate_is_absorbed_by_unit_effects(castle_data: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="l_homicide", treatment="post", unit="sid", time="year", covariates=("popwt",)
    )
    with pytest.raises(SingularDesign, match="popwt has no variation left after the fixed"):
        estimate_did(castle_data, spec, design="twfe")


def test_few_clusters_take_the_wild_bootstrap_or_warn() -> None:
    frame = _two_by_two(np.random.default_rng(2), 8, effect=1.0)
    spec = EffectSpec(outcome="sales", treatment="on", unit="geo", time="week")
    res = estimate_did(frame, spec, cluster_inference="cluster_robust")
    assert any("only 8 clusters" in w for w in res.warnings)
    assert any("treated clusters" in w for w in res.warnings)
    wild = estimate_did(frame, spec)  # below 30 clusters: the wild cluster bootstrap
    assert wild.statistics["wild_bootstrap_draws"] == 9999
    assert any("wild cluster bootstrap-t" in a for a in wild.assumptions)


def _price_shock_panel(seed: int, trending_x: bool = False) -> pd.DataFrame:
    """R27-F0: 40 regions × 10 periods, half treated from period 6. The covariate x (a price)
    carries 3× the unit effect and rises in the treated regions when treatment starts (or, with
    ``trending_x``, drifts up in the treated regions throughout); y = a + x + 2·d + 0.1·t + e,
    so parallel trends hold given x and the effect is 2.0. The pooled 2×2 regression fits x's
    slope on the between-unit variation too and lands near 1.36."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(40):
        a, treated = rng.normal(), u < 20
        for t in range(10):
            d = int(treated and t >= 6)
            shift = 0.5 * t * treated if trending_x else 2.0 * d
            x = 3 * a + shift + rng.normal()
            rows.append({"unit": u, "period": t, "d": d, "x": x, "y": a + x + 2 * d + 0.1 * t})
    frame = pd.DataFrame(rows)
    return frame.assign(y=frame.y + rng.normal(size=len(frame)))


def _panel_ols_with_periods(frame: pd.DataFrame, regressors: list[str]):
    """PanelOLS with unit effects and period dummies (the documented K convention)."""
    panel = frame.set_index(["unit", "period"])
    periods = pd.get_dummies(frame.period, prefix="t", drop_first=True).astype(float)
    x = sm.add_constant(pd.concat([panel[regressors].reset_index(drop=True), periods], axis=1))
    x.index = panel.index
    model = PanelOLS(panel.y, x, entity_effects=True)
    return model.fit(cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)


COV_SPEC = EffectSpec(outcome="y", treatment="d", unit="unit", time="period", covariates=("x",))


def test_covariates_on_a_common_start_use_unit_and_period_effects() -> None:
    frame = _price_shock_panel(7)
    res = estimate_did(frame, COV_SPEC, cluster_inference="cluster_robust")
    ref = _panel_ols_with_periods(frame.astype({"d": float}), ["d", "x"])
    two_way = PanelOLS(
        frame.set_index(["unit", "period"]).y,
        frame.set_index(["unit", "period"])[["d", "x"]].astype(float),
        entity_effects=True,
        time_effects=True,
    ).fit(cov_type="clustered", cluster_entity=True)
    assert [c.name for c in res.coefficients] == ["treatment", "x"]
    assert res.point_estimate == pytest.approx(two_way.params["d"], rel=SAME_POINT_RTOL)
    assert res.point_estimate == pytest.approx(ref.params["d"], rel=SAME_POINT_RTOL)
    assert res.stderr == pytest.approx(ref.std_errors["d"], rel=SAME_SE_RTOL)
    assert res.ci_lower <= 2.0 <= res.ci_upper
    assert any("unit and period effects" in a and "x as controls" in a for a in res.assumptions)
    with pytest.raises(InvalidSpec, match="design='twfe'") as err:
        estimate_did(frame, COV_SPEC, design="2x2")
    assert err.value.field == "design"


def test_pretrend_check_is_conditional_on_the_covariates() -> None:
    # x drifts up in the treated regions before treatment; y follows x, so the raw outcomes
    # drift apart but parallel trends hold given x: the check must not fail on that.
    frame = _price_shock_panel(7, trending_x=True)
    res = estimate_did(frame, COV_SPEC, cluster_inference="cluster_robust")
    ref = _panel_ols_with_periods(frame.astype({"d": float}), ["d", "x"])
    assert res.point_estimate == pytest.approx(ref.params["d"], rel=SAME_POINT_RTOL)
    (check,) = res.checks
    assert check.outcome is CheckOutcome.PASSED
    assert abs(res.statistics["pretrend_slope"]) < 0.15
    plain_spec = EffectSpec(outcome="y", treatment="d", unit="unit", time="period")
    plain = estimate_did(frame, plain_spec, cluster_inference="cluster_robust")
    assert plain.checks[0].outcome is CheckOutcome.FAILED  # unconditionally, they do drift
