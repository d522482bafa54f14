"""Synthetic DiD against the published Prop 99 estimate, the reference port of the R package
(synthdid-py), and simulated panels with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from synthdid import (
    SynthDIDEstimate,
    load_california_prop99,
    panel_matrices,
    refit,
    staggered_synthdid_estimate,
    synthdid_estimate,
)

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand, Method
from causal_svc.estimators.sdid import estimate_sdid

# Arkhangelsky et al. (2021), Table 1: SDID -15.6 packs per capita for California's Prop 99.
PUBLISHED_SDID = -15.6
PUBLISHED_DID = -27.3
# Same algorithm, same data: the point and the weights agree to the solver's arithmetic.
POINT_TOL = 1e-8
WEIGHT_TOL = 1e-10
# Same draws (the placebo's permutations, the bootstrap's resamples come from the same numpy
# stream as the reference's with the same seed), each refitted as the reference's refit with
# ``weights=None`` (its regularisation, uniform starting weights): the standard errors agree
# to rounding.
SE_TOL = 1e-8

PROP99 = EffectSpec(outcome="PacksPerCapita", treatment="treated", unit="State", time="Year")


def _reference_se(ref: SynthDIDEstimate, method: str, replications: int, seed: int) -> float:
    """synthdid-py's ``placebo_se``/``bootstrap_sample`` draw for draw (same numpy stream),
    but each draw refitted from uniform weights (``refit(..., weights=None)``) instead of the
    fitted ones, the reference's warm start that collapses the variance when N0 <= T0."""
    rng = np.random.default_rng(seed)
    setup = ref.setup
    n = setup.Y.shape[0]
    draws = []
    while len(draws) < replications:
        if method == "placebo":
            ind = rng.permutation(setup.N0)
            n0 = setup.N0 - setup.N1
        else:
            ind = np.sort(rng.integers(0, n, size=n))
            n0 = int((ind < setup.N0).sum())
            if n0 in (0, n):
                continue
        y = setup.Y[ind]
        draws.append(float(refit(ref, Y=y, N0=n0, T0=setup.T0, X=setup.X[ind], weights=None)))
    return float(np.sqrt((replications - 1) / replications) * np.std(draws, ddof=1))


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return load_california_prop99()


def test_prop99_reproduces_the_published_estimate_and_the_reference(prop99: pd.DataFrame) -> None:
    # 40 placebo draws: the reference's solver is interpreted Python, ~0.1 s a draw
    est = estimate_sdid(prop99, PROP99, replications=40, random_state=0)
    panel = panel_matrices(prop99)
    ref = synthdid_estimate(panel.Y, panel.N0, panel.T0)
    assert est.method is Method.SDID and est.estimand is Estimand.ATT
    assert round(est.point_estimate, 1) == PUBLISHED_SDID
    assert round(est.statistics["did_estimate"], 1) == PUBLISHED_DID
    assert est.point_estimate == pytest.approx(float(ref), abs=POINT_TOL)
    # one treated unit: the placebo variance (Algorithm 4), the reference's draws with seed 0
    assert est.stderr == pytest.approx(_reference_se(ref, "placebo", 40, 0), abs=SE_TOL)
    assert est.ci_lower < est.point_estimate < est.ci_upper
    controls = [str(u) for u in panel.units[: panel.N0]]
    omega = dict(zip(controls, ref.weights.omega, strict=True))
    for unit, w in est.weights["unit"].items():
        assert w == pytest.approx(omega[unit], abs=WEIGHT_TOL)
    assert sum(est.weights["unit"].values()) == pytest.approx(1.0)
    assert est.statistics["effective_controls"] == pytest.approx(
        1 / np.sum(ref.weights.omega**2), rel=1e-9
    )
    check = est.checks[0]
    assert check.kind is CheckKind.PRE_TREND and check.outcome is CheckOutcome.PASSED
    names = {s.name for s in est.series}
    assert {"treated", "synthetic", "effect"} <= names


def _panel(
    seed: int, n_units: int = 24, n_treated: int = 6, periods: int = 30, start: int = 20,
    effect: float = 2.0,
) -> pd.DataFrame:  # fmt: skip
    """Interactive fixed effects (unit loadings on a common factor, the same path in every
    draw): plain DiD is biased when treated units load more on the factor; SDID's weights undo
    it."""
    rng = np.random.default_rng(seed)
    unit, t = np.repeat(np.arange(n_units), periods), np.tile(np.arange(periods), n_units)
    loading = rng.normal(1.0, 0.5, n_units)
    loading[:n_treated] += 0.6
    factor = np.cumsum(np.random.default_rng(99).normal(0, 1, periods))
    treated = (unit < n_treated) & (t >= start)
    y = 5 + unit * 0.3 + loading[unit] * factor[t] + rng.normal(0, 0.5, unit.size)
    return pd.DataFrame({"unit": unit, "t": t, "d": treated.astype(int), "y": y + effect * treated})


SIM = EffectSpec(outcome="y", treatment="d", unit="unit", time="t")


@pytest.mark.parametrize("variance", ["bootstrap", "jackknife"])
def test_several_treated_units_match_the_reference_variances(variance: str) -> None:
    frame = _panel(1)
    est = estimate_sdid(frame, SIM, variance=variance, replications=50, random_state=3)
    wide = frame.pivot(index="unit", columns="t", values="y")
    order = [*range(6, 24), *range(6)]  # controls first, in the estimator's order
    ref = synthdid_estimate(wide.loc[order].to_numpy(), 18, 20)
    assert est.point_estimate == pytest.approx(float(ref), abs=POINT_TOL)
    expected = (
        _reference_se(ref, "bootstrap", 50, 3)
        if variance == "bootstrap"
        else ref.se(method="jackknife")  # fixed weights by design (Algorithm 3)
    )
    assert est.stderr == pytest.approx(expected, rel=1e-7)


def test_staggered_adoption_matches_the_reference_cohort_average() -> None:
    frame = _panel(2, n_units=30, n_treated=8)
    late = frame["unit"].isin([4, 5, 6, 7])
    frame.loc[late & (frame["t"] < 24), "d"] = 0
    est = estimate_sdid(frame, SIM, variance="jackknife")
    ref = staggered_synthdid_estimate(frame, unit="unit", time="t", outcome="y", treatment="d")
    assert est.point_estimate == pytest.approx(ref.att, abs=1e-8)
    assert est.statistics["n_cohorts"] == 2
    assert [c.name for c in est.coefficients] == ["cohort 20", "cohort 24"]
    assert set(est.weights) == {"unit:20", "time:20", "unit:24", "time:24"}


def test_recovers_a_known_effect_where_did_is_biased() -> None:
    points, dids, covered = [], [], 0
    for seed in range(8):
        est = estimate_sdid(_panel(10 + seed), SIM, replications=100)
        points.append(est.point_estimate)
        dids.append(est.statistics["did_estimate"])
        covered += est.ci_lower <= 2.0 <= est.ci_upper
    assert abs(np.mean(points) - 2.0) < 0.3
    assert abs(np.mean(points) - 2.0) < abs(np.mean(dids) - 2.0)
    assert covered >= 6


def _geo_holdout(
    seed: int, n_treated: int, n_units: int = 10, pre: int = 60, post: int = 14
) -> pd.DataFrame:
    """A null geo test: unit effects, a random-walk common factor, N(0, 1) noise, no effect;
    few controls and a long pre-period (N0 <= T0, the marketing shape)."""
    rng = np.random.default_rng(seed)
    t_all = pre + post
    factor, level = np.cumsum(rng.normal(size=t_all)), rng.normal(size=n_units)
    unit, t = np.repeat(np.arange(n_units), t_all), np.tile(np.arange(t_all), n_units)
    y = level[unit] + factor[t] + rng.normal(size=unit.size)
    d = ((unit < n_treated) & (t >= pre)).astype(int)
    return pd.DataFrame({"unit": unit, "t": t, "d": d, "y": y})


@pytest.mark.parametrize(("n_treated", "variance"), [(1, "auto"), (3, "bootstrap")])
def test_variance_covers_with_few_controls_and_a_long_pre_period(
    n_treated: int, variance: str
) -> None:
    # R11-F1: refits warm-started from the fitted weights gave placebo SEs near 0 here (the
    # time weights interpolate every control's post-period mean, the relabelled one's too):
    # coverage 8/40 with 1 treated + 9 controls x 60 pre-days, 31/40 with the bootstrap on
    # 3 + 7. From uniform weights: 39/40 and 40/40 (the bootstrap is conservative with 3
    # treated units).
    covered, errors, ses, pretrend_failed = 0, [], [], 0
    for seed in range(40):
        est = estimate_sdid(
            _geo_holdout(seed, n_treated), SIM, variance=variance, replications=50,
            random_state=seed,
        )  # fmt: skip
        covered += est.ci_lower <= 0.0 <= est.ci_upper
        errors.append(est.point_estimate)
        ses.append(est.stderr)
        pretrend_failed += est.checks[0].outcome is CheckOutcome.FAILED
    assert covered >= 36  # nominal 38 of 40
    rms = float(np.sqrt(np.mean(np.square(errors))))
    assert np.median(ses) > 0.7 * rms
    if n_treated == 1:  # the in-time placebo's variance is the same placebo's
        assert pretrend_failed <= 6  # 28/40 failed on null data before


def test_placebo_inference_uses_t_with_n0_minus_1_df() -> None:
    """The placebo SE is a spread over the N0 controls' relabellings: with the normal, 1 treated
    + 4 controls covered 0.82 over 200 null panels (s15, E1); t(N0 − 1) gives the interval,
    the p-value, another level's interval and the in-time check. The bootstrap keeps the
    normal (the paper's, already conservative with few controls)."""
    est = estimate_sdid(
        _geo_holdout(0, 1, n_units=5, pre=15, post=5), SIM, variance="placebo", replications=50
    )
    point, se = est.point_estimate, est.stderr
    q = stats.t.ppf(0.975, 3)
    assert est.df == 3 and est.statistics["n_control_units"] == 4
    assert (est.ci_lower, est.ci_upper) == pytest.approx((point - q * se, point + q * se))
    assert est.pvalue == pytest.approx(2 * stats.t.sf(abs(point / se), 3))
    q90 = stats.t.ppf(0.95, 3)
    assert est.conf_int(0.1) == pytest.approx((point - q90 * se, point + q90 * se))
    assert "N0 - 1 = 3 degrees of freedom" in est.assumptions[-1]
    placebo = est.statistics["placebo_in_time_estimate"] / est.statistics["placebo_in_time_stderr"]
    assert est.statistics["placebo_in_time_pvalue"] == pytest.approx(
        2 * stats.t.sf(abs(placebo), 3)
    )
    boot = estimate_sdid(_geo_holdout(0, 3), SIM, variance="bootstrap", replications=20)
    assert boot.df is None and "normal reference" in boot.assumptions[-1]


def test_covariates_are_partialled_out() -> None:
    frame = _panel(4)
    rng = np.random.default_rng(5)
    frame["x"] = rng.normal(size=len(frame)) + 0.5 * frame["d"]
    frame["y"] = frame["y"] + 3.0 * frame["x"]
    spec = EffectSpec(outcome="y", treatment="d", unit="unit", time="t", covariates=("x",))
    est = estimate_sdid(frame, spec, variance="jackknife")
    assert est.statistics["beta:x"] == pytest.approx(3.0, abs=0.1)
    assert abs(est.point_estimate - 2.0) < 0.6


def test_point_only_for_refits() -> None:
    est = estimate_sdid(_panel(1), SIM, variance="none")
    assert np.isfinite(est.point_estimate) and np.isnan(est.stderr)
    assert est.checks[0].outcome is CheckOutcome.SKIPPED


def test_refusals_name_the_field() -> None:
    frame = _panel(1)
    with pytest.raises(InvalidSpec) as info:
        estimate_sdid(frame.iloc[1:], SIM)
    assert info.value.reason == "UNBALANCED_PANEL"
    with pytest.raises(InvalidSpec, match="more controls than treated") as info:
        estimate_sdid(_panel(1, n_units=10, n_treated=5), SIM, variance="placebo")
    assert info.value.field == "variance"
    one = frame.assign(d=((frame["unit"] == 0) & (frame["t"] >= 20)).astype(int))
    with pytest.raises(InvalidSpec, match="one treated unit"):
        estimate_sdid(one, SIM, variance="bootstrap")
    with pytest.raises(InvalidSpec):
        estimate_sdid(frame, SIM, variance="sandwich")  # type: ignore[arg-type]
    with pytest.raises(InsufficientData):
        estimate_sdid(frame.assign(d=((frame["unit"] < 6) & (frame["t"] >= 1)).astype(int)), SIM)


def _reference_frank_wolfe(
    A: np.ndarray, b: np.ndarray, x: np.ndarray, eta: float, zeta2: float, min_decrease: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """R synthdid's ``sc.weight.fw`` loop as written there: both products every iteration,
    the objective evaluated and differenced."""
    n = A.shape[0]
    x = x.copy()
    values = [np.inf]
    for t in range(max_iter):
        ax = A @ x
        half_grad = (ax - b) @ A + eta * x
        i = int(np.argmin(half_grad))
        d_x = -x.copy()
        d_x[i] += 1.0
        if np.any(d_x != 0):
            d_err = A[:, i] - ax
            step = -(half_grad @ d_x) / (d_err @ d_err + eta * (d_x @ d_x))
            x = x + min(1.0, max(0.0, step)) * d_x
        err = A @ x - b
        values.append(zeta2 * (x @ x) + (err @ err) / n)
        if t >= 1 and values[-2] - values[-1] <= min_decrease**2:
            return x, t + 1
    return x, max_iter


@pytest.mark.parametrize("shape", [(25, 56), (56, 25), (8, 200)])
def test_the_gram_solver_takes_the_reference_iterates(shape: tuple[int, int]) -> None:
    from causal_svc.estimators._sdid_weights import _frank_wolfe

    rng = np.random.default_rng(sum(shape))
    A = rng.normal(size=shape) + rng.normal(size=shape[1])[None, :]
    b = A @ rng.dirichlet(np.ones(shape[1])) + rng.normal(0, 0.1, shape[0])
    x0 = np.full(shape[1], 1.0 / shape[1])
    for zeta in (1e-6, 0.5):
        eta = shape[0] * zeta**2
        for iterations in (7, 300):
            ours = _frank_wolfe(A, b, x0, eta, zeta**2, 1e-5, iterations)
            ref, _ = _reference_frank_wolfe(A, b, x0, eta, zeta**2, 1e-5, iterations)
            assert ours == pytest.approx(ref, abs=1e-12)
    # run to its own stopping rule: the same number of steps, the same weights
    ours = _frank_wolfe(A, b, x0, eta, zeta**2, 1e-3, 10_000)
    ref, steps = _reference_frank_wolfe(A, b, x0, eta, zeta**2, 1e-3, 10_000)
    assert steps < 10_000 and ours == pytest.approx(ref, abs=1e-10)
