"""Naive regression against statsmodels on real observational data, and a confounded simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from causaldata import nhefs

from causal_svc.errors import InvalidSpec, SingularDesign
from causal_svc.estimators.naive import estimate_naive, estimate_naive_regression
from causal_svc.estimators.result import EffectSpec, Method

# Same estimator (OLS, HC1/CR1) as the reference: agreement to rounding.
SAME_POINT_RTOL = 1e-9
SAME_SE_RTOL = 1e-7


@pytest.fixture(scope="module")
def smokers() -> pd.DataFrame:
    # NHEFS (Hernán & Robins): quitting smoking (qsmk) and weight change 1971-82, observational.
    data = nhefs.load_pandas().data.dropna(subset=["wt82_71"]).reset_index(drop=True)
    return data.astype({"sex": int, "race": int})


def test_matches_statsmodels_hc1_with_covariates(smokers: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="wt82_71", treatment="qsmk", covariates=("age", "sex", "race", "smokeintensity")
    )
    res = estimate_naive_regression(smokers, spec)
    ref = smf.ols("wt82_71 ~ qsmk + age + sex + race + smokeintensity", smokers).fit(
        cov_type="HC1", use_t=True
    )
    assert res.method is Method.NAIVE_REGRESSION
    assert res.point_estimate == pytest.approx(ref.params["qsmk"], rel=SAME_POINT_RTOL)
    assert res.stderr == pytest.approx(ref.bse["qsmk"], rel=SAME_SE_RTOL)
    assert res.pvalue == pytest.approx(ref.pvalues["qsmk"], rel=1e-6)
    assert (res.ci_lower, res.ci_upper) == pytest.approx(tuple(ref.conf_int().loc["qsmk"]))
    assert res.statistics["r_squared"] == pytest.approx(ref.rsquared, rel=1e-9)
    by_name = {c.name: c for c in res.coefficients}
    assert by_name["age"].estimate == pytest.approx(ref.params["age"], rel=SAME_POINT_RTOL)
    assert "not a causal effect" in res.assumptions[0]


def test_clustered_and_weighted_match_statsmodels(smokers: pd.DataFrame) -> None:
    spec = EffectSpec(outcome="wt82_71", treatment="qsmk", cluster="age")
    res = estimate_naive(smokers, spec)
    ref = smf.ols("wt82_71 ~ qsmk", smokers).fit(
        cov_type="cluster", cov_kwds={"groups": smokers.age}
    )
    assert res.stderr == pytest.approx(ref.bse["qsmk"], rel=SAME_SE_RTOL)
    weighted = estimate_naive(
        smokers, EffectSpec(outcome="wt82_71", treatment="qsmk", weights="wt71")
    )
    ref_w = smf.wls("wt82_71 ~ qsmk", smokers, weights=smokers.wt71).fit(cov_type="HC1")
    assert weighted.point_estimate == pytest.approx(ref_w.params["qsmk"], rel=SAME_POINT_RTOL)
    assert weighted.stderr == pytest.approx(ref_w.bse["qsmk"], rel=SAME_SE_RTOL)


def test_confounding_biases_naive_and_adjustment_removes_it() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    engaged = rng.normal(size=n)  # drives both exposure to ads and purchases
    exposed = (engaged + rng.normal(size=n) > 0).astype(float)
    sales = 1.0 * exposed + 3.0 * engaged + rng.normal(size=n)
    frame = pd.DataFrame({"sales": sales, "exposed": exposed, "engaged": engaged})
    naive = estimate_naive(frame, EffectSpec(outcome="sales", treatment="exposed"))
    adjusted = estimate_naive(
        frame, EffectSpec(outcome="sales", treatment="exposed", covariates=("engaged",))
    )
    assert naive.ci_lower > 2.0  # the naive answer is far above the true 1.0
    assert adjusted.ci_lower < 1.0 < adjusted.ci_upper
    assert naive.statistics["raw_difference"] == pytest.approx(
        sales[exposed == 1].mean() - sales[exposed == 0].mean()
    )


def test_continuous_treatment_is_a_slope() -> None:
    rng = np.random.default_rng(3)
    spend = rng.uniform(0, 100, 500)
    frame = pd.DataFrame({"spend": spend, "revenue": 2.5 * spend + rng.normal(0, 10, 500)})
    res = estimate_naive(frame, EffectSpec(outcome="revenue", treatment="spend"))
    assert res.ci_lower < 2.5 < res.ci_upper
    assert res.n_treated is None and "raw_difference" not in res.statistics


def test_bad_input(smokers: pd.DataFrame) -> None:
    with pytest.raises(InvalidSpec) as constant:
        estimate_naive(smokers.assign(qsmk=0), EffectSpec(outcome="wt82_71", treatment="qsmk"))
    assert constant.value.reason == "CONSTANT_TREATMENT"
    with pytest.raises(InvalidSpec) as missing:
        estimate_naive(smokers, EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=("x",)))
    assert missing.value.field == "roles.covariates"
    with pytest.raises(SingularDesign, match="age"):
        estimate_naive(
            smokers.assign(age_again=smokers.age),
            EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=("age", "age_again")),
        )


def test_few_clusters_take_the_wild_bootstrap_as_wildboottest_does() -> None:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    from tests.causal.estimators.test_inference import _castle_few_states

    sub, _ = _castle_few_states()  # 13 states
    spec = EffectSpec(
        outcome="l_homicide", treatment="post", covariates=("unemployrt",), cluster="sid"
    )
    res = estimate_naive_regression(sub, spec)
    cr1 = estimate_naive_regression(sub, spec, cluster_inference="cluster_robust")
    design = sm.add_constant(sub[["post", "unemployrt"]].astype(float))
    with pytest.warns(UserWarning, match="full_enumeration"):
        ref = wildboottest(
            sm.OLS(sub["l_homicide"].to_numpy(), design), param="post",
            cluster=sub["sid"].to_numpy(), B=9999, weights_type="rademacher", seed=1, show=False,
        )  # fmt: skip
    # Both enumerate all 2^13 sign vectors; v and -v reproducing the sample's |t| are ties.
    assert res.statistics["wild_bootstrap_draws"] == 2**13
    assert res.pvalue == pytest.approx(float(ref["p-value"].iloc[0]), abs=2 / 2**13)
    # The point and CR1 standard error are the regression's; the interval and p-value are not.
    assert (res.point_estimate, res.stderr) == (cr1.point_estimate, cr1.stderr)
    assert (res.statistics["cr1_ci_lower"], res.statistics["cr1_pvalue"]) == (
        cr1.ci_lower,
        cr1.pvalue,
    )
    assert res.ci_lower < res.point_estimate < res.ci_upper
    assert res.ci_lower != cr1.ci_lower
    assert any("only 13 clusters" in w for w in cr1.warnings)
    assert "wild_bootstrap_draws" not in cr1.statistics
    assert any("wild cluster bootstrap-t" in a for a in res.assumptions)
    # Weighted fits keep CR1 and say so.
    weighted = estimate_naive_regression(
        sub.assign(w=1.0), EffectSpec(outcome="l_homicide", treatment="post", cluster="sid",
                                      weights="w")
    )  # fmt: skip
    assert "wild_bootstrap_draws" not in weighted.statistics
    assert any("not available for weighted" in w for w in weighted.warnings)
