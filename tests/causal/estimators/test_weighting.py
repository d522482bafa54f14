"""IPW and AIPW on NHEFS against statsmodels and Hernán & Robins, and on simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from causaldata import nhefs_complete
from scipy import stats
from sklearn.linear_model import LinearRegression
from statsmodels.treatment.treatment_effects import TreatmentEffect
from threadpoolctl import threadpool_limits

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand
from causal_svc.estimators.weighting import estimate_aipw, estimate_ipw

# Point estimates: same estimating equations as the references -> floating-point agreement.
POINT_RTOL = 1e-6
# Influence-function SE vs a 100-replicate bootstrap: the bootstrap SE itself has ~7% Monte
# Carlo error, so allow 20%.
BOOTSTRAP_SE_RTOL = 0.20
BOOTSTRAP_REPS = 100


@pytest.fixture(scope="module")
def nhefs() -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Hernán & Robins (2020, ch. 12) propensity model for quitting smoking (qsmk)."""
    d = nhefs_complete.load_pandas().data
    f = pd.DataFrame(
        {
            "wt82_71": d.wt82_71,
            "qsmk": d.qsmk,
            "sex": d.sex.astype(float),
            "race": d.race.astype(float),
            "age": d.age,
            "age2": d.age**2,
            "smokeintensity": d.smokeintensity,
            "smokeintensity2": d.smokeintensity**2,
            "smokeyrs": d.smokeyrs,
            "smokeyrs2": d.smokeyrs**2,
            "wt71": d.wt71,
            "wt712": d.wt71**2,
        }
    )
    for level in ("2", "3", "4", "5"):
        f[f"education{level}"] = (d.education.astype(str) == level).astype(float)
    for level in ("1", "2"):
        f[f"exercise{level}"] = (d.exercise.astype(str) == level).astype(float)
        f[f"active{level}"] = (d.active.astype(str) == level).astype(float)
    covariates = tuple(c for c in f.columns if c not in ("wt82_71", "qsmk"))
    return f, covariates


def _statsmodels(f: pd.DataFrame, covariates: tuple[str, ...]) -> TreatmentEffect:
    x = sm.add_constant(f[list(covariates)]).to_numpy()
    selection = sm.Logit(f.qsmk.to_numpy(), x).fit(disp=0)
    return TreatmentEffect(
        sm.OLS(f.wt82_71.to_numpy(), x), f.qsmk.to_numpy().astype(int), results_select=selection
    )


def _bootstrap_se(f: pd.DataFrame, spec: EffectSpec, estimator: object, **kw: object) -> float:
    rng = np.random.default_rng(2024)
    with threadpool_limits(1):  # many tiny fits: BLAS threads only add overhead here
        draws = [
            estimator(
                f.iloc[rng.integers(0, len(f), len(f))].reset_index(drop=True), spec, **kw
            ).point_estimate  # type: ignore[operator]
            for _ in range(BOOTSTRAP_REPS)
        ]
    return float(np.std(draws, ddof=1))


def test_nhefs_ipw_ate_matches_hernan_robins_and_statsmodels(nhefs: tuple) -> None:
    f, covariates = nhefs
    spec = EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=covariates)
    result = estimate_ipw(f, spec)
    ate, pom0, pom1 = _statsmodels(f, covariates).ipw(return_results=False)

    assert result.estimand is Estimand.ATE
    assert result.point_estimate == pytest.approx(ate, rel=POINT_RTOL)
    assert result.statistics["mean_control"] == pytest.approx(pom0, rel=POINT_RTOL)
    assert result.statistics["mean_treated"] == pytest.approx(pom1, rel=POINT_RTOL)
    # Hernán & Robins, Causal Inference: What If, Program 12.2: 3.4 kg (95% CI 2.4 to 4.5).
    assert result.point_estimate == pytest.approx(3.44, abs=0.005)
    assert result.stderr == pytest.approx(
        _bootstrap_se(f, spec, estimate_ipw), rel=BOOTSTRAP_SE_RTOL
    )
    # Accounting for the estimated score makes the SE smaller than the robust WLS one (0.525).
    assert result.stderr < 0.525
    assert [c.kind for c in result.checks] == [CheckKind.OVERLAP, CheckKind.BALANCE]
    balance = next(c for c in result.checks if c.kind is CheckKind.BALANCE)
    assert balance.outcome is CheckOutcome.PASSED
    assert {row.covariate for row in result.balance} == set(covariates)
    assert max(abs(r.smd_before) for r in result.balance) > 0.1  # imbalanced before weighting


def test_nhefs_ipw_att_equals_att_weighted_regression(nhefs: tuple) -> None:
    f, covariates = nhefs
    spec = EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=covariates)
    result = estimate_ipw(f, spec, estimand=Estimand.ATT)
    x = sm.add_constant(f[list(covariates)])
    e = sm.Logit(f.qsmk, x).fit(disp=0).predict()
    w = np.where(f.qsmk == 1, 1.0, e / (1 - e))
    wls = sm.WLS(f.wt82_71, sm.add_constant(f.qsmk), weights=w).fit()
    assert result.estimand is Estimand.ATT
    assert result.point_estimate == pytest.approx(wls.params["qsmk"], rel=POINT_RTOL)


def test_nhefs_aipw_matches_statsmodels(nhefs: tuple) -> None:
    f, covariates = nhefs
    spec = EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=covariates)
    result = estimate_aipw(f, spec)
    ate, pom0, pom1 = _statsmodels(f, covariates).aipw(return_results=False)
    assert result.point_estimate == pytest.approx(ate, rel=POINT_RTOL)
    assert result.statistics["mean_control"] == pytest.approx(pom0, rel=POINT_RTOL)
    assert result.statistics["mean_treated"] == pytest.approx(pom1, rel=POINT_RTOL)
    assert result.stderr == pytest.approx(
        _bootstrap_se(f, spec, estimate_aipw), rel=BOOTSTRAP_SE_RTOL
    )
    # Regression adjustment alone agrees with statsmodels' RA.
    ra, _, _ = _statsmodels(f, covariates).ra(return_results=False)
    assert result.statistics["regression_estimate"] == pytest.approx(ra, rel=POINT_RTOL)


def _confounded(n: int, seed: int, overlap: float = 1.0) -> pd.DataFrame:
    """Effect 1 + x1 (ATE 1.0; ATT larger since treated have higher x1); naive diff biased."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    e = 1 / (1 + np.exp(-(overlap * (0.8 * x1 - 0.5 * x2))))
    t = (rng.uniform(size=n) < e).astype(float)
    y = 2.0 + 1.5 * x1 + x2 + 0.5 * x2**2 + t * (1.0 + x1) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2, "true_att": 1.0 + x1 * t})


def test_simulated_known_ate_and_att_and_double_robustness() -> None:
    frame = _confounded(6000, seed=5)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    naive = frame.y[frame.t == 1].mean() - frame.y[frame.t == 0].mean()
    att_true = float(frame.true_att[frame.t == 1].mean())
    assert abs(naive - 1.0) > 0.5
    for estimator in (estimate_ipw, estimate_aipw):
        ate = estimator(frame, spec)
        assert abs(ate.point_estimate - 1.0) < 3 * ate.stderr, estimator.__name__
        att = estimator(frame, spec, estimand=Estimand.ATT)
        assert abs(att.point_estimate - att_true) < 3 * att.stderr, estimator.__name__
        assert att.point_estimate > ate.point_estimate
    # The OLS outcome model omits x2^2 (misspecified), the propensity model is right: AIPW stays
    # consistent; its regression-only plug-in does not have to.
    aipw = estimate_aipw(frame, spec)
    assert aipw.statistics["ipw_correction"] == pytest.approx(
        aipw.point_estimate - aipw.statistics["regression_estimate"]
    )


def test_aipw_with_sklearn_outcome_model_is_cross_fitted() -> None:
    frame = _confounded(3000, seed=6)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    default = estimate_aipw(frame, spec)
    crossfit = estimate_aipw(frame, spec, outcome_model=LinearRegression(), n_folds=5)
    assert crossfit.point_estimate == pytest.approx(default.point_estimate, rel=0.05)
    assert crossfit.point_estimate != default.point_estimate  # different (out-of-fold) fits
    with pytest.raises(InvalidSpec):
        estimate_aipw(frame, spec, outcome_model=LinearRegression(), n_folds=1)


def test_trimming_and_clipping_under_poor_overlap() -> None:
    frame = _confounded(4000, seed=7, overlap=4.0)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    plain = estimate_ipw(frame, spec)
    assert plain.statistics["share_extreme_propensity"] > 0
    overlap = next(c for c in plain.checks if c.kind is CheckKind.OVERLAP)
    assert overlap.outcome in (CheckOutcome.WARNING, CheckOutcome.FAILED)

    trimmed = estimate_ipw(frame, spec, trimming="crump")
    a = trimmed.statistics["trim_threshold"]
    assert 0 < a < 0.5
    assert trimmed.statistics["n_trimmed"] > 0
    assert trimmed.nobs == len(frame) - trimmed.statistics["n_trimmed"]
    assert any("overlap population" in w for w in trimmed.warnings)
    assert trimmed.statistics["ess_control"] > plain.statistics["ess_control"]

    clipped = estimate_aipw(frame, spec, trimming="clip", clip_bounds=(0.05, 0.95))
    assert clipped.statistics["n_clipped"] > 0
    assert clipped.statistics["propensity_min"] >= 0.05
    assert clipped.statistics["propensity_max"] <= 0.95


def test_cluster_of_singletons_rescales_se() -> None:
    frame = _confounded(500, seed=8).assign(unit=np.arange(500))
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    plain = estimate_ipw(frame, spec)
    clustered = estimate_ipw(frame, EffectSpec(**{**_kw(spec), "cluster": "unit"}))
    assert clustered.stderr == pytest.approx(plain.stderr * np.sqrt(500 / 499), rel=1e-9)


def test_few_clusters_use_t_record_clusters_and_warn() -> None:
    """R11-F4/F8: clustered IPW/AIPW used G/(G-1) with a normal reference, no n_clusters and
    no warning; AIPW at G = 8 covered 0.907 (300 runs). With t(G - 1) it covers 0.95."""
    n_clusters, n, reps, covered = 8, 240, 300, 0
    g = np.repeat(np.arange(n_clusters), n // n_clusters)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1",), cluster="g")
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        x1 = rng.normal(size=n) + rng.normal(size=n_clusters)[g]
        t = (rng.uniform(size=n) < 1 / (1 + np.exp(-0.5 * x1))).astype(float)
        slope, level = rng.normal(size=n_clusters)[g], rng.normal(size=n_clusters)[g]
        y = x1 + t * (1 + slope) + level + rng.normal(size=n)
        frame = pd.DataFrame({"y": y, "t": t, "x1": x1, "g": g})
        r = estimate_aipw(frame, spec)
        covered += r.ci_lower <= 1.0 <= r.ci_upper
    assert covered / reps >= 0.93
    for estimator in (estimate_ipw, estimate_aipw):
        r = estimator(frame, spec)
        assert r.df == n_clusters - 1
        assert r.statistics["n_clusters"] == n_clusters
        assert r.statistics["n_treated_clusters"] == n_clusters
        half = stats.t.ppf(0.975, n_clusters - 1) * r.stderr
        assert r.ci_upper - r.point_estimate == pytest.approx(half, rel=1e-9)
        assert any("only 8 clusters" in w for w in r.warnings)


def _kw(spec: EffectSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__slots__}


def test_bad_input_is_named() -> None:
    frame = _confounded(300, seed=9)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    with pytest.raises(InvalidSpec) as no_covariates:
        estimate_ipw(frame, EffectSpec(outcome="y", treatment="t"))
    assert no_covariates.value.field == "roles.covariates"
    with pytest.raises(InvalidSpec) as non_binary:
        estimate_ipw(frame.assign(t=frame.t * 2), spec)
    assert non_binary.value.field == "roles.treatment"
    with pytest.raises(InvalidSpec) as constant:
        estimate_aipw(frame.assign(t=1.0), spec)
    assert constant.value.reason == "CONSTANT_TREATMENT"
    with pytest.raises(InvalidSpec) as late:
        estimate_ipw(frame, spec, estimand=Estimand.LATE)
    assert late.value.field == "roles.estimand"
    with pytest.raises(InvalidSpec) as weights:
        estimate_ipw(frame.assign(w=1.0), EffectSpec(**{**_kw(spec), "weights": "w"}))
    assert weights.value.field == "roles.weights"
    with pytest.raises(SingularDesign) as collinear:
        estimate_ipw(
            frame.assign(x3=frame.x1 + frame.x2),
            EffectSpec(**{**_kw(spec), "covariates": ("x1", "x2", "x3")}),
        )
    assert collinear.value.subject == "roles.covariates"
    separated = frame.assign(x1=np.where(frame.t == 1, 1.0, -1.0) + 0.01 * frame.x2)
    with pytest.raises(InsufficientData) as separation:
        estimate_aipw(separated, spec)
    assert separation.value.reason == "PERFECT_SEPARATION"
    with pytest.raises(InsufficientData) as flat:
        estimate_ipw(frame.assign(y=3.0), spec)
    assert flat.value.subject == "roles.outcome"
    with pytest.raises(InvalidSpec) as trim:
        estimate_ipw(frame, spec, trimming="clip", clip_bounds=(0.5, 0.4))
    assert trim.value.field == "options.clip_bounds"
