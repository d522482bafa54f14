"""Local-linear RD against rdrobust / rddensity on real data, and on simulated known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdrobust
from causaldata import close_elections_lmb, gov_transfers, gov_transfers_density
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators.rdd import estimate_rdd
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand

# The brief allows 1% (point, bandwidth) and 5% (SE); the re-implementation follows rdrobust's
# algebra step by step, so we hold it to floating-point agreement.
POINT_RTOL = 1e-6
SE_RTOL = 1e-6
BANDWIDTH_RTOL = 1e-6
DENSITY_RTOL = 1e-6


def _check(result: object, kind: CheckKind) -> object:
    return next(c for c in result.checks if c.kind is kind)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def senate() -> pd.DataFrame:
    data = rdrobust.rdrobust_RDsenate().dropna(subset=["vote", "margin"])
    return data.assign(democrat_won=(data.margin >= 0).astype(float))


def test_senate_matches_rdrobust(senate: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="vote", treatment="democrat_won", running_variable="margin", cutoff=0.0
    )
    result = estimate_rdd(senate, spec)
    ref = rdrobust.rdrobust(senate.vote, senate.margin)

    assert result.estimand is Estimand.LATE
    assert result.point_estimate == pytest.approx(ref.coef.iloc[0, 0], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.se.iloc[0, 0], rel=SE_RTOL)
    stats = result.statistics
    assert stats["bias_corrected_estimate"] == pytest.approx(ref.coef.iloc[2, 0], rel=POINT_RTOL)
    assert stats["robust_stderr"] == pytest.approx(ref.se.iloc[2, 0], rel=SE_RTOL)
    assert result.ci_lower == pytest.approx(ref.ci.iloc[2, 0], rel=SE_RTOL)
    assert result.ci_upper == pytest.approx(ref.ci.iloc[2, 1], rel=SE_RTOL)
    assert result.pvalue == pytest.approx(ref.pv.iloc[2, 0], rel=1e-4)
    assert stats["bandwidth_h_left"] == pytest.approx(ref.bws.iloc[0, 0], rel=BANDWIDTH_RTOL)
    assert stats["bandwidth_b_right"] == pytest.approx(ref.bws.iloc[1, 1], rel=BANDWIDTH_RTOL)
    assert (stats["n_effective_left"], stats["n_effective_right"]) == tuple(ref.N_h)
    assert (stats["n_bias_left"], stats["n_bias_right"]) == tuple(ref.N_b)
    # Published: Cattaneo, Frandsen & Titiunik (2015) incumbency advantage ~7.4 points.
    assert result.point_estimate == pytest.approx(7.414, abs=0.01)
    assert _check(result, CheckKind.DENSITY).outcome is CheckOutcome.PASSED


def test_senate_density_matches_rddensity(senate: pd.DataFrame) -> None:
    rddensity = pytest.importorskip("rddensity")
    spec = EffectSpec(
        outcome="vote", treatment="democrat_won", running_variable="margin", cutoff=0.0
    )
    stats = estimate_rdd(senate, spec).statistics
    ref = rddensity.rddensity(senate.margin.to_numpy())
    assert stats["density_t"] == pytest.approx(ref.test["t_jk"], rel=DENSITY_RTOL)
    assert stats["density_pvalue"] == pytest.approx(ref.test["p_jk"], rel=DENSITY_RTOL)
    assert stats["density_bandwidth_left"] == pytest.approx(ref.h["left"], rel=DENSITY_RTOL)
    assert stats["density_bandwidth_right"] == pytest.approx(ref.h["right"], rel=DENSITY_RTOL)
    assert stats["density_n_left"] == ref.n["eff_left"]


def test_gov_transfers_density_detects_sorting_like_rddensity() -> None:
    # Huntington-Klein, The Effect (ch. 20): this running variable bunches at the cutoff.
    data = gov_transfers_density.load_pandas().data
    frame = data.assign(
        y=0.0 + np.arange(len(data)) % 7,  # outcome is irrelevant to the density test
        treated=(data.Income_Centered < 0).astype(float),
    )
    spec = EffectSpec(
        outcome="y", treatment="treated", running_variable="Income_Centered", cutoff=0.0
    )
    result = estimate_rdd(frame, spec)
    density = _check(result, CheckKind.DENSITY)
    assert density.outcome is CheckOutcome.FAILED
    assert not result.supported
    rddensity = pytest.importorskip("rddensity")
    ref = rddensity.rddensity(data.Income_Centered.to_numpy())
    assert density.statistic == pytest.approx(ref.test["t_jk"], rel=DENSITY_RTOL)


def test_gov_transfers_treated_below_cutoff_flips_sign() -> None:
    data = gov_transfers.load_pandas().data
    spec = EffectSpec(
        outcome="Support",
        treatment="Participation",
        running_variable="Income_Centered",
        cutoff=0.0,
        covariates=("Age",),
    )
    result = estimate_rdd(data, spec)
    ref = rdrobust.rdrobust(data.Support, data.Income_Centered)
    # Participation = 1 below the cutoff: the effect is left limit minus right limit.
    assert result.statistics["treated_above"] == 0.0
    assert result.point_estimate == pytest.approx(-ref.coef.iloc[0, 0], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.se.iloc[0, 0], rel=SE_RTOL)
    assert result.ci_lower == pytest.approx(-ref.ci.iloc[2, 1], rel=SE_RTOL)
    assert result.statistics["bandwidth_h_left"] == pytest.approx(
        ref.bws.iloc[0, 0], rel=BANDWIDTH_RTOL
    )
    age = rdrobust.rdrobust(data.Age, data.Income_Centered)
    jump = next(c for c in result.coefficients if c.name == "covariate_jump:Age")
    assert jump.estimate == pytest.approx(age.coef.iloc[2, 0], rel=POINT_RTOL)
    assert jump.stderr == pytest.approx(age.se.iloc[2, 0], rel=SE_RTOL)
    # Age does jump at this cutoff in the published data (robust p ~ 0.02): the check says so.
    balance = _check(result, CheckKind.BALANCE)
    assert balance.pvalue == pytest.approx(age.pv.iloc[2, 0], rel=1e-4)
    assert balance.outcome is CheckOutcome.FAILED


def test_close_elections_clustered_matches_rdrobust_cr1() -> None:
    data = close_elections_lmb.load_pandas().data.dropna(subset=["lagdemvoteshare", "demvoteshare"])
    data = data.assign(
        state_code=pd.factorize(data.state)[0], won=(data.lagdemvoteshare >= 0.5).astype(float)
    )
    spec = EffectSpec(
        outcome="demvoteshare",
        treatment="won",
        running_variable="lagdemvoteshare",
        cutoff=0.5,
        cluster="state_code",
    )
    result = estimate_rdd(data, spec, manipulation_test=False)
    ref = rdrobust.rdrobust(
        data.demvoteshare.to_numpy(float),
        data.lagdemvoteshare.to_numpy(float),
        c=0.5,
        cluster=data.state_code.to_numpy(),
    )
    assert result.point_estimate == pytest.approx(ref.coef.iloc[0, 0], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.se.iloc[0, 0], rel=SE_RTOL)
    assert result.statistics["robust_stderr"] == pytest.approx(ref.se.iloc[2, 0], rel=SE_RTOL)
    assert result.statistics["bandwidth_h_left"] == pytest.approx(
        ref.bws.iloc[0, 0], rel=BANDWIDTH_RTOL
    )
    assert result.statistics["n_clusters"] == data.state_code.nunique()
    # The same robust SE as rdrobust, with t(G - 1) instead of its normal (R11-F4).
    g = data.state_code.nunique()
    assert result.df == g - 1
    half = stats.t.ppf(0.975, g - 1) * ref.se.iloc[2, 0]
    assert (result.ci_upper - result.ci_lower) / 2 == pytest.approx(half, rel=SE_RTOL)
    assert result.statistics["robust_pvalue_normal"] == pytest.approx(ref.pv.iloc[2, 0], rel=1e-4)


def _simulate(n: int, seed: int, fuzzy: bool = False, effect: float = 3.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    above = (x >= 0).astype(float)
    # Fuzzy: crossing the cutoff lifts the treatment probability from 0.2 to 0.8.
    treated = (rng.uniform(size=n) < 0.2 + 0.6 * above).astype(float) if fuzzy else above
    y = 1.0 + 0.8 * x - 0.5 * x**2 + effect * treated + rng.normal(scale=1.0, size=n)
    return pd.DataFrame({"y": y, "x": x, "d": treated, "w": rng.uniform(0.5, 2.0, n)})


def test_simulated_sharp_known_effect_and_weights() -> None:
    frame = _simulate(3000, seed=11)
    spec = EffectSpec(outcome="y", treatment="d", running_variable="x", cutoff=0.0)
    result = estimate_rdd(frame, spec)
    assert result.ci_lower < 3.0 < result.ci_upper
    assert abs(result.point_estimate - 3.0) < 3 * result.stderr
    assert result.supported

    weighted = estimate_rdd(frame, EffectSpec(**{**_spec_kwargs(spec), "weights": "w"}))
    ref = rdrobust.rdrobust(frame.y, frame.x, weights=frame.w)
    assert weighted.point_estimate == pytest.approx(ref.coef.iloc[0, 0], rel=POINT_RTOL)
    assert weighted.statistics["robust_stderr"] == pytest.approx(ref.se.iloc[2, 0], rel=SE_RTOL)


def test_few_clusters_use_t_and_warn_with_rdrobust_standard_errors() -> None:
    """R11-F4: 8 clusters of the running variable's rows. rdrobust's CR1 SE is kept; the
    reference is t(7) instead of the normal, with a few-clusters warning."""
    frame = _simulate(3000, seed=11).assign(g=lambda f: np.arange(len(f)) % 8)
    spec = EffectSpec(outcome="y", treatment="d", running_variable="x", cutoff=0.0, cluster="g")
    result = estimate_rdd(frame, spec, manipulation_test=False)
    with pytest.warns(UserWarning, match="clusters"):  # rdrobust warns below 10 a side
        ref = rdrobust.rdrobust(frame.y, frame.x, cluster=frame.g.to_numpy())
    assert result.stderr == pytest.approx(ref.se.iloc[0, 0], rel=SE_RTOL)
    assert result.df == 7 and result.statistics["n_clusters"] == 8
    _lo, hi = result.conf_int(0.1)  # another level follows the same t(7) reference
    assert hi - result.point_estimate == pytest.approx(
        stats.t.ppf(0.95, 7) * result.stderr, rel=1e-9
    )
    assert result.statistics["robust_pvalue_normal"] < result.pvalue
    assert any("only 8 clusters" in w for w in result.warnings)


def _spec_kwargs(spec: EffectSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__slots__}


def test_simulated_fuzzy_matches_rdrobust_and_recovers_late() -> None:
    frame = _simulate(4000, seed=12, fuzzy=True)
    spec = EffectSpec(outcome="y", treatment="d", running_variable="x", cutoff=0.0)
    result = estimate_rdd(frame, spec)
    ref = rdrobust.rdrobust(frame.y, frame.x, fuzzy=frame.d)
    assert result.statistics["fuzzy"] == 1.0
    assert result.point_estimate == pytest.approx(ref.coef.iloc[0, 0], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.se.iloc[0, 0], rel=SE_RTOL)
    assert result.statistics["robust_stderr"] == pytest.approx(ref.se.iloc[2, 0], rel=SE_RTOL)
    assert result.statistics["bandwidth_h_left"] == pytest.approx(
        ref.bws.iloc[0, 0], rel=BANDWIDTH_RTOL
    )
    assert result.statistics["first_stage_jump"] == pytest.approx(
        ref.tau_T.iloc[0, 0], rel=POINT_RTOL
    )
    assert result.statistics["first_stage_stderr"] == pytest.approx(
        ref.se_T.iloc[0, 0], rel=SE_RTOL
    )
    # Known LATE 3.0, within three robust standard errors of the bias-corrected estimate.
    stats = result.statistics
    assert abs(stats["bias_corrected_estimate"] - 3.0) < 3 * stats["robust_stderr"]
    assert _check(result, CheckKind.WEAK_INSTRUMENT).outcome is CheckOutcome.PASSED
    assert result.n_treated is None


def test_simulated_manipulation_fails_density_check() -> None:
    rng = np.random.default_rng(13)
    x = rng.uniform(-1, 1, 4000)
    # Half of those just below the cutoff push themselves just above it.
    movers = (x > -0.2) & (x < 0) & (rng.uniform(size=x.size) < 0.5)
    x = np.where(movers, -x, x)
    frame = pd.DataFrame({"x": x, "d": (x >= 0).astype(float), "y": rng.normal(size=x.size)})
    result = estimate_rdd(
        frame, EffectSpec(outcome="y", treatment="d", running_variable="x", cutoff=0.0)
    )
    density = _check(result, CheckKind.DENSITY)
    assert density.outcome is CheckOutcome.FAILED
    assert density.pvalue is not None and density.pvalue < 0.01


def test_bad_input_is_named() -> None:
    frame = _simulate(400, seed=14)
    base = {"outcome": "y", "treatment": "d", "running_variable": "x"}
    with pytest.raises(InvalidSpec) as no_cutoff:
        estimate_rdd(frame, EffectSpec(**base))
    assert no_cutoff.value.field == "roles.cutoff"
    with pytest.raises(InvalidSpec) as outside:
        estimate_rdd(frame, EffectSpec(**base, cutoff=5.0))
    assert outside.value.reason == "CUTOFF_OUT_OF_RANGE"
    with pytest.raises(InvalidSpec) as no_running:
        estimate_rdd(frame, EffectSpec(outcome="y", treatment="d", cutoff=0.0))
    assert no_running.value.field == "roles.running_variable"
    with pytest.raises(InvalidSpec) as text:
        estimate_rdd(frame.assign(x=frame.x.astype(str)), EffectSpec(**base, cutoff=0.0))
    assert text.value.field == "roles.running_variable"
    with pytest.raises(InvalidSpec) as constant:
        estimate_rdd(frame.assign(d=1.0), EffectSpec(**base, cutoff=0.0))
    assert constant.value.reason == "CONSTANT_TREATMENT"
    with pytest.raises(InsufficientData):
        estimate_rdd(frame, EffectSpec(**base, cutoff=float(np.sort(frame.x)[-5])))
    with pytest.raises(InsufficientData) as flat:
        estimate_rdd(frame.assign(y=2.0), EffectSpec(**base, cutoff=0.0))
    assert flat.value.subject == "roles.outcome"
    with pytest.raises(InvalidSpec) as kernel:
        estimate_rdd(frame, EffectSpec(**base, cutoff=0.0), kernel="gaussian")  # type: ignore[arg-type]
    assert kernel.value.field == "options.kernel"


def test_sharp_design_needs_no_treatment_column() -> None:
    frame = _simulate(3000, seed=11)
    named = estimate_rdd(
        frame, EffectSpec(outcome="y", treatment="d", running_variable="x", cutoff=0.0)
    )
    implied = estimate_rdd(
        frame.drop(columns="d"),
        EffectSpec(outcome="y", treatment="", running_variable="x", cutoff=0.0),
    )
    assert implied.point_estimate == pytest.approx(named.point_estimate, rel=1e-12)
    assert implied.statistics["fuzzy"] == 0.0


def test_treatments_that_cannot_jump_are_refused_with_the_fix() -> None:
    frame = _simulate(800, seed=15)
    # The running variable given as the treatment (issue 19: a fuzzy fit with a zero first
    # stage printed -2.9e16).
    with pytest.raises(InvalidSpec) as same:
        estimate_rdd(
            frame, EffectSpec(outcome="y", treatment="x", running_variable="x", cutoff=0.0)
        )
    assert same.value.field == "roles.treatment"
    assert same.value.reason == "TREATMENT_IS_RUNNING_VARIABLE"
    assert "Leave the treatment empty" in same.value.message
    copy = frame.assign(score=frame["x"])
    with pytest.raises(InvalidSpec, match="running variable") as equal:
        estimate_rdd(
            copy, EffectSpec(outcome="y", treatment="score", running_variable="x", cutoff=0.0)
        )
    assert equal.value.reason == "TREATMENT_IS_RUNNING_VARIABLE"
    dose = frame.assign(dose=np.where(frame["x"] >= 0, 2.0, 0.5) + 0.1 * frame["x"] ** 2)
    with pytest.raises(InvalidSpec, match="fuzzy") as dosed:
        estimate_rdd(
            dose, EffectSpec(outcome="y", treatment="dose", running_variable="x", cutoff=0.0)
        )
    assert dosed.value.reason == "NON_BINARY_TREATMENT"
    assert dosed.value.field == "roles.treatment"
    fuzzy = estimate_rdd(
        dose,
        EffectSpec(outcome="y", treatment="dose", running_variable="x", cutoff=0.0),
        fuzzy=True,
    )
    assert fuzzy.statistics["fuzzy"] == 1.0 and np.isfinite(fuzzy.point_estimate)


def test_a_discrete_running_variable_is_said_as_rdrobust_says_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R27-F9: an integer running variable (21 values; 5 within the bandwidth) matched
    rdrobust's numbers, but its "Mass points detected in the running variable." was lost."""
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(-10, 10, 1000))
    frame = pd.DataFrame({"x": x, "y": 1 + 0.3 * x + 1.5 * (x >= 0) + rng.normal(size=x.size)})
    spec = EffectSpec(outcome="y", treatment="", running_variable="x", cutoff=0.0)
    res = estimate_rdd(frame, spec)
    ref = rdrobust.rdrobust(frame.y, frame.x, c=0)
    assert "Mass points detected" in capsys.readouterr().out
    assert res.point_estimate == pytest.approx(ref.coef.iloc[0, 0], rel=1e-6)
    (said,) = [w for w in res.warnings if w.startswith("mass points")]
    assert "x takes 21 distinct values, 2 below and 3 at or above the cutoff" in said
    smooth = frame.assign(x=rng.uniform(-10, 10, 1000))
    assert not any("mass points" in w for w in estimate_rdd(smooth, spec).warnings)
