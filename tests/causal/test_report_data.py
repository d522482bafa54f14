"""What the estimators send for the report's plots: the naive comparison, RD plot series,
propensity overlap histograms and the BSTS observed / one-step series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc import convert
from causal_svc.estimators.bsts import estimate_bsts
from causal_svc.estimators.matching import estimate_matching
from causal_svc.estimators.rdd import estimate_rdd
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.estimators.weighting import estimate_ipw
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect, naive_comparison


def _confounded(n: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    t = rng.binomial(1, 1 / (1 + np.exp(-1.5 * x)))
    y = 2.0 * t + 3.0 * x + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "t": t, "x": x})


def test_naive_comparison_is_the_unadjusted_difference_in_means() -> None:
    frame = _confounded()
    naive = naive_comparison(frame, EffectSpec("y", "t", covariates=("x",)), 0.05)
    assert naive is not None
    raw = frame.loc[frame.t == 1, "y"].mean() - frame.loc[frame.t == 0, "y"].mean()
    assert naive.estimate == pytest.approx(raw, rel=1e-10)
    assert naive.ci_lower < naive.estimate < naive.ci_upper
    assert naive.nobs == len(frame)


def test_naive_comparison_is_none_when_it_cannot_be_computed() -> None:
    frame = _confounded().assign(t=1)
    assert naive_comparison(frame, EffectSpec("y", "t"), 0.05) is None


def test_pipeline_sends_the_naive_estimate_beside_the_adjusted_one() -> None:
    frame = _confounded()
    spec = EffectSpec("y", "t", covariates=("x",))
    result = estimate_effect(
        frame, spec, Method.IPW, options=EstimationOptions(), skip_refutation=True
    )
    wire = convert.estimate_to_proto(
        result.estimate, outcome="y", treatment="t", summary="", naive=result.naive
    )
    assert wire.HasField("naive_estimate")
    # Confounding by x pushes the naive comparison far above the true effect (2); IPW is close.
    assert wire.naive_estimate.estimate > 4
    assert abs(wire.point_estimate - 2.0) < 0.6


def test_rd_plot_fits_jump_by_the_conventional_estimate() -> None:
    rng = np.random.default_rng(3)
    score = rng.uniform(0, 100, 3000)
    spend = 20 + 0.6 * score + 8.0 * (score >= 50) + rng.normal(0, 5, score.size)
    frame = pd.DataFrame({"spend": spend, "score": score})
    e = estimate_rdd(frame, EffectSpec("spend", "", running_variable="score", cutoff=50.0))
    series = {s.name: s for s in e.series}
    assert set(series) == {"bins:below", "bins:above", "fit:below", "fit:above"}
    below, above = series["fit:below"], series["fit:above"]
    assert below.positions is not None and above.positions is not None
    assert below.positions[-1] == pytest.approx(50.0) and above.positions[0] == pytest.approx(50.0)
    assert above.values[0] - below.values[-1] == pytest.approx(e.point_estimate, rel=1e-6)
    bins = series["bins:below"]
    assert bins.positions is not None and max(bins.positions) < 50.0
    assert all(lo <= v <= hi for lo, v, hi in zip(bins.lower, bins.values, bins.upper, strict=True))  # type: ignore[arg-type]
    wire = convert.estimate_to_proto(e, outcome="spend", treatment="", summary="")
    assert list(next(s for s in wire.series if s.name == "fit:above").positions) == list(
        above.positions
    )


@pytest.mark.parametrize("estimator", [estimate_matching, estimate_ipw])
def test_propensity_overlap_histograms_cover_each_arm(estimator) -> None:
    frame = _confounded()
    e = estimator(frame, EffectSpec("y", "t", covariates=("x",)))
    series = {s.name: s for s in e.series}
    treated, control = series["propensity:treated"], series["propensity:control"]
    assert sum(treated.values) == pytest.approx(1.0) and sum(control.values) == pytest.approx(1.0)
    assert treated.positions is not None and len(treated.positions) == 40
    assert 0 < treated.positions[0] < treated.positions[-1] < 1
    # Treated units have higher propensity: their histogram's mean lies to the right.
    mean = lambda s: float(np.dot(s.positions, s.values))  # noqa: E731
    assert mean(treated) > mean(control)


def test_bsts_sends_the_observed_series_and_pre_period_predictions() -> None:
    rng = np.random.default_rng(6)
    n, start = 120, 90
    control = 100 + np.cumsum(rng.normal(0, 1, n))
    y = 0.8 * control + 20 + rng.normal(0, 1, n) + 5 * (np.arange(n) >= start)
    frame = pd.DataFrame({
        "day": pd.date_range("2026-01-01", periods=n), "y": y,
        "post": (np.arange(n) >= start).astype(int), "control": control,
    })  # fmt: skip
    e = estimate_bsts(frame, EffectSpec("y", "post", time="day", covariates=("control",)))
    series = {s.name: s for s in e.series}
    observed, one_step = series["observed"], series["one_step_prediction"]
    assert observed.index[0] == "2026-01-01" and len(observed.values) == n
    assert np.allclose(observed.values, y)
    assert len(one_step.values) == start and np.isnan(one_step.values[0])
    tail = np.asarray(one_step.values[start // 2 :])
    assert np.all(np.isfinite(tail))
    # Tracking the pre-period: one-step errors are small next to the series' own spread.
    assert np.std(y[start // 2 : start] - tail) < 0.5 * np.std(y[:start])


def test_did_sends_the_group_means_over_time() -> None:
    from causal_svc.estimators.did import estimate_did

    rng = np.random.default_rng(8)
    rows = []
    for g in range(12):
        for t in range(10):
            treated = int(g < 6 and t >= 6)
            rows.append({"geo": g, "week": t, "y": 100 + 5 * g + 2 * t + 30 * treated + rng.normal(0, 1),
                         "d": treated})  # fmt: skip
    frame = pd.DataFrame(rows)
    e = estimate_did(frame, EffectSpec("y", "d", unit="geo", time="week"))
    series = {s.name: s for s in e.series}
    treated, control = series["mean:treated"], series["mean:control"]
    assert treated.index == control.index == tuple(str(t) for t in range(10))
    expected = frame[frame.geo < 6].groupby("week").y.mean().to_numpy()
    assert np.allclose(treated.values, expected)
    assert e.statistics["n_pre_periods"] == 6
    gap = np.subtract(treated.values, control.values)
    assert gap[6:].mean() - gap[:6].mean() == pytest.approx(e.point_estimate, rel=1e-6)
