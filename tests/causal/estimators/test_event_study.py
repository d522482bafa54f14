"""Event study against linearmodels with hand-built lead/lag dummies on castle data, and
simulated dynamic effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from causaldata import castle
from linearmodels import PanelOLS
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign
from causal_svc.estimators.event_study import estimate_event_study
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Method

SAME_POINT_RTOL = 1e-8
SAME_SE_RTOL = 1e-7
F_RTOL = 1e-7

SPEC = EffectSpec(outcome="l_homicide", treatment="post", unit="sid", time="year")


@pytest.fixture(scope="module")
def castle_data() -> pd.DataFrame:
    data = castle.load_pandas().data[["sid", "year", "post", "l_homicide"]]
    data = data.astype({"l_homicide": float, "year": int, "sid": int})
    first = data[data.post == 1].groupby("sid").year.min()
    return data.assign(rel=data.year - data.sid.map(first))  # NaN for never-treated states


def _reference(frame: pd.DataFrame, leads: int, lags: int, binned: bool):
    """linearmodels on dummies built here from calendar years (not from the estimator)."""
    if not binned:
        frame = frame[frame.rel.isna() | frame.rel.between(-leads, lags)].reset_index(drop=True)
    rel = frame.rel.clip(-leads, lags)
    columns = {
        (f"lead{-e}" if e < 0 else f"lag{e}"): (rel == e).astype(float)
        for e in range(-leads, lags + 1)
        if e != -1
    }
    years = pd.get_dummies(frame.year, prefix="y", drop_first=True).astype(float)
    x = sm.add_constant(pd.concat([pd.DataFrame(columns), years], axis=1))
    x.index = pd.MultiIndex.from_frame(frame[["sid", "year"]])
    y = frame.set_index(["sid", "year"]).l_homicide
    fit = PanelOLS(y, x, entity_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True
    )
    return fit, list(columns)


@pytest.mark.parametrize("binned", [True, False])
def test_matches_linearmodels_lead_lag_regression(castle_data: pd.DataFrame, binned: bool) -> None:
    res = estimate_event_study(castle_data, SPEC, leads=4, lags=3, bin_endpoints=binned)
    ref, columns = _reference(castle_data, 4, 3, binned)
    assert res.method is Method.EVENT_STUDY
    assert [c.name for c in res.coefficients] == [
        "event_time=-4",
        "event_time=-3",
        "event_time=-2",
        "event_time=+0",
        "event_time=+1",
        "event_time=+2",
        "event_time=+3",
    ]
    for coef, col in zip(res.coefficients, columns, strict=True):
        assert coef.estimate == pytest.approx(ref.params[col], rel=SAME_POINT_RTOL)
        assert coef.stderr == pytest.approx(ref.std_errors[col], rel=SAME_SE_RTOL)
    post = ["lag0", "lag1", "lag2", "lag3"]
    a = np.full(len(post), 1 / len(post))
    assert res.point_estimate == pytest.approx(a @ ref.params[post], rel=SAME_POINT_RTOL)
    se = np.sqrt(a @ ref.cov.loc[post, post].to_numpy() @ a)
    assert res.stderr == pytest.approx(se, rel=SAME_SE_RTOL)
    wald = ref.wald_test(formula=["lead4 = 0", "lead3 = 0", "lead2 = 0"])
    # the Hotelling T² form of the same Wald statistic, F(q, G - q) with G = 50 states
    g = castle_data["sid"].nunique()
    assert res.statistics["pretrend_df2"] == g - 3
    hotelling = wald.stat * (g - 3) / (3 * (g - 1))
    assert res.statistics["pretrend_f"] == pytest.approx(hotelling, rel=F_RTOL)
    assert res.statistics["pretrend_pvalue"] == pytest.approx(
        stats.f.sf(hotelling, 3, g - 3), rel=1e-6
    )
    (check,) = res.checks
    assert check.kind is CheckKind.PRE_TREND
    assert check.outcome is (
        CheckOutcome.FAILED if res.statistics["pretrend_pvalue"] < 0.05 else CheckOutcome.PASSED
    )
    assert res.statistics["rows_dropped_outside_window"] == (
        0 if binned else len(castle_data) - ref.nobs
    )


def test_series_has_reference_period_at_zero(castle_data: pd.DataFrame) -> None:
    res = estimate_event_study(castle_data, SPEC, leads=3, lags=2)
    (series,) = res.series
    assert series.index == ("-3", "-2", "-1", "+0", "+1", "+2")
    assert series.lower is not None and series.upper is not None
    assert series.values[2] == 0.0 and series.lower[2] == series.upper[2] == 0.0


def _dynamic_panel(
    rng: np.random.Generator, n_units: int = 60, lead_bump: float = 0.0
) -> pd.DataFrame:
    """Half the units adopt at period 6 or 8 (staggered), effect 1 + 0.5·event time."""
    periods = 14
    unit = np.repeat(np.arange(n_units), periods)
    t = np.tile(np.arange(periods), n_units)
    start = np.where(np.arange(n_units) < n_units // 4, 6, 8).astype(float)
    start[n_units // 2 :] = np.inf
    rel = t - start[unit]
    on = rel >= 0
    y = (
        rng.normal(0, 1, n_units)[unit]
        + 0.3 * t
        + np.where(on, 1 + 0.5 * rel, 0.0)
        + lead_bump * (rel == -3)
        + rng.normal(0, 0.5, len(unit))
    )
    return pd.DataFrame({"store": unit, "week": t, "on": on.astype(int), "sales": y})


def test_simulated_dynamic_effects_are_recovered() -> None:
    frame = _dynamic_panel(np.random.default_rng(42))
    spec = EffectSpec(outcome="sales", treatment="on", unit="store", time="week")
    res = estimate_event_study(frame, spec, leads=5, lags=5)
    by_name = {c.name: c for c in res.coefficients}
    for e in range(0, 5):  # the last lag is a bin mixing event times 5 and 6+
        coef = by_name[f"event_time={e:+d}"]
        assert coef.ci_lower <= 1 + 0.5 * e <= coef.ci_upper
    assert res.checks[0].outcome is CheckOutcome.PASSED


def test_pre_trend_violation_fails() -> None:
    frame = _dynamic_panel(np.random.default_rng(1), lead_bump=1.5)
    spec = EffectSpec(outcome="sales", treatment="on", unit="store", time="week")
    res = estimate_event_study(frame, spec, leads=5, lags=3)
    assert res.checks[0].outcome is CheckOutcome.FAILED and not res.supported
    assert res.statistics["pretrend_pvalue"] < 1e-6


def test_bad_input(castle_data: pd.DataFrame) -> None:
    flicker = castle_data.assign(post=np.where(castle_data.year == 2010, 0, castle_data.post))
    with pytest.raises(InvalidSpec) as off:
        estimate_event_study(flicker, SPEC)
    assert off.value.reason == "NON_ABSORBING_TREATMENT"
    with pytest.raises(InvalidSpec) as ref:
        estimate_event_study(castle_data, SPEC, leads=3, lags=2, reference=-5)
    assert ref.value.field == "reference"
    with pytest.raises(InvalidSpec, match="post-treatment"):
        estimate_event_study(castle_data, SPEC, leads=3, lags=0, reference=(-1, 0))
    with pytest.raises(InvalidSpec) as leads:
        estimate_event_study(castle_data, SPEC, leads=0)
    assert leads.value.field == "leads"
    # Everyone adopts in the same year: there is nobody to compare with.
    common = castle_data.assign(post=(castle_data.year >= 2007).astype(int))
    with pytest.raises(InsufficientData, match="clusters in each arm"):
        estimate_event_study(common, SPEC)
    # Only adopting states, every lead and lag: event time = year - cohort, so the dummies span
    # the year and state effects' linear trends (Borusyak, Jaravel & Spiess 2024).
    adopters = castle_data[castle_data.rel.notna()]
    with pytest.raises(SingularDesign, match="linear combination"):
        estimate_event_study(adopters, SPEC)
    assert estimate_event_study(adopters, SPEC, reference=(-1, -10)).nobs == len(adopters)


def test_window_wider_than_data_is_cut_with_a_warning(castle_data: pd.DataFrame) -> None:
    res = estimate_event_study(castle_data, SPEC, leads=20, lags=20)
    assert res.statistics["n_leads"] == 9 and res.statistics["n_lags"] == 5
    assert any("window was cut" in w for w in res.warnings)


def test_few_clusters_take_the_average_effect_from_the_wild_bootstrap() -> None:
    rng = np.random.default_rng(8)
    unit, t = np.repeat(np.arange(12), 10), np.tile(np.arange(10), 12)
    frame = pd.DataFrame(
        {"u": unit, "t": t, "d": ((unit < 6) & (t >= 6)).astype(int),
         "y": rng.normal(size=unit.size) + 0.2 * t + 1.0 * ((unit < 6) & (t >= 6))}
    )  # fmt: skip
    spec = EffectSpec(outcome="y", treatment="d", unit="u", time="t")
    wild = estimate_event_study(frame, spec)
    cr1 = estimate_event_study(frame, spec, cluster_inference="cluster_robust")
    assert wild.point_estimate == cr1.point_estimate and wild.stderr == cr1.stderr
    assert wild.statistics["wild_bootstrap_draws"] == 4096  # 12 clusters: enumerated
    assert (cr1.ci_lower, cr1.ci_upper) == (
        wild.statistics["cr1_ci_lower"],
        wild.statistics["cr1_ci_upper"],
    )
    assert wild.ci_lower < wild.point_estimate < wild.ci_upper
    assert "wild_bootstrap_draws" not in cr1.statistics


def _many_leads_panel(seed: int, pre_trend: float = 0.0) -> pd.DataFrame:
    """The audit's H5 data: 20 geos x 60 days, 10 treated from day 40 (39 leads, 20 clusters),
    parallel trends unless ``pre_trend`` (a treated-only slope before treatment)."""
    rng = np.random.default_rng(seed)
    geo, day = np.meshgrid(np.arange(20), np.arange(60), indexing="ij")
    geo, day = geo.ravel(), day.ravel()
    treated = (geo < 10) & (day >= 40)
    slope = np.where((geo < 10) & (day < 40), pre_trend * (day - 40), 0.0)
    y = 10 + 0.5 * geo + 0.1 * day + 5 * treated + slope + rng.normal(size=geo.size)
    return pd.DataFrame({"geo": geo, "day": day, "treated": treated.astype(int), "y": y})


MANY_LEADS = EffectSpec(outcome="y", treatment="treated", unit="geo", time="day")


def test_more_leads_than_clusters_does_not_reject_clean_data() -> None:
    """39 leads against a cluster covariance of rank <= 19: the Wald F was 1.9e14 (p ~ 1e-132)
    on parallel-trend data. The sup-t Bonferroni test holds its level over seeds."""
    rejections = 0
    for seed in range(12):
        res = estimate_event_study(_many_leads_panel(seed), MANY_LEADS)
        assert res.statistics["pretrend_df1"] == 39 and res.statistics["n_clusters"] == 20
        assert "pretrend_f" not in res.statistics  # no Wald F from a singular covariance
        assert res.statistics["pretrend_max_t"] < 10
        rejections += res.checks[0].outcome is CheckOutcome.FAILED
    assert rejections <= 2  # level 0.05 (conservative): P(>2 of 12) < 0.02 even at 5%


def test_more_leads_than_clusters_still_detects_a_pre_trend() -> None:
    res = estimate_event_study(_many_leads_panel(0, pre_trend=0.1), MANY_LEADS)
    assert res.checks[0].outcome is CheckOutcome.FAILED and not res.supported
    assert "Bonferroni" in res.checks[0].interpretation


def test_few_leads_keep_the_wald_f() -> None:
    res = estimate_event_study(_many_leads_panel(0), MANY_LEADS, leads=5, lags=5)
    assert res.statistics["pretrend_df1"] == 4 and "pretrend_f" in res.statistics  # -5..-2
    assert res.checks[0].interpretation.startswith("F(4, 16) = ")  # Hotelling: G - q
