"""The daily national series: the fit, the decomposition adding up, the holdout's days, and the
series on the wire."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from causal_svc import convert
from causal_svc.attribution import ModelSpec, Verdict, analyze, restore_fit
from causal_svc.attribution.fit import log_outcome
from causal_svc.attribution.health import assess
from causal_svc.attribution.series import DECOMPOSITION, daily_series

from .world import World


@pytest.fixture(scope="module")
def report(demo: World):
    assert demo.experiment is not None
    return analyze(demo.panel, ModelSpec(), [demo.experiment])


def test_baseline_and_channels_add_up_to_the_prediction(report, demo: World) -> None:
    s = report.series
    assert s is not None and s.baseline is not None
    assert s.channels == demo.panel.channels
    assert s.contributions.shape == (demo.panel.n_channels, demo.panel.n_days)
    total = s.baseline + s.contributions.sum(axis=0)
    np.testing.assert_allclose(total, s.predicted, rtol=1e-10)
    assert (s.contributions >= 0).all() and (s.baseline > 0).all()
    assert s.contributions.sum() > 0.02 * s.predicted.sum()  # media explain something
    np.testing.assert_allclose(s.actual, demo.panel.outcome.sum(axis=0))
    assert [str(d) for d in s.dates] == [str(d) for d in demo.panel.dates]


def test_each_channel_is_what_removing_it_alone_takes_away(report) -> None:
    """The decomposition's claim, checked by switching channels off in the model itself: the
    one-at-a-time removals add up to the all-off baseline."""
    fit = restore_fit(report.state)
    s = report.series
    _, m = fit.media()
    resid = fit.residuals[None] if fit.residuals.ndim == 1 else fit.residuals
    predicted = np.exp(log_outcome(fit.panel.outcome) - resid)
    np.testing.assert_allclose(predicted.sum(axis=0), s.predicted, rtol=1e-10)
    n = fit.layout.n_channels
    off = fit.theta.copy()
    off[:n] = 0.0
    _, m_off = fit.media(off)
    np.testing.assert_allclose((predicted * m_off / m).sum(axis=0), s.baseline, rtol=1e-8)
    for c in range(n):
        without = fit.theta.copy()
        without[c] = 0.0
        _, m_without = fit.media(without)
        removed = (predicted - predicted * m_without / m).sum(axis=0)
        np.testing.assert_allclose(removed, s.contributions[c], rtol=1e-8, atol=1e-6)


def test_the_prediction_fits_and_channel_totals_match_the_scores(report) -> None:
    s = report.series
    a, p = s.actual, s.predicted
    r2 = 1 - float(((a - p) ** 2).sum()) / float(((a - a.mean()) ** 2).sum())
    assert r2 > 0.8
    assert abs(p.sum() / a.sum() - 1) < 0.02
    # Scores apply the same shares to the observed outcome: the totals differ by the residual.
    for c in report.channels:
        total = float(s.contributions[s.channels.index(c.channel)].sum())
        assert total == pytest.approx(c.incremental.estimate, rel=0.03, abs=1e-6 * a.sum())


def test_the_decomposition_text_states_both_identities(report) -> None:
    """The text shown with the decomposition names what each total adds up to: the daily series
    to the prediction, the attribution table (baseline + channels) to the actual outcome."""
    s = report.series
    assert report.baseline is not None
    table = report.baseline.estimate + sum(c.incremental.estimate for c in report.channels)
    assert table == pytest.approx(float(s.actual.sum()), rel=1e-12)
    assert table != pytest.approx(float(s.predicted.sum()), rel=1e-6)
    series = float(s.baseline.sum() + s.contributions.sum())
    assert series == pytest.approx(float(s.predicted.sum()), rel=1e-10)
    text = DECOMPOSITION
    assert "baseline + Σ channels = prediction exactly" in text
    assert "attribution table" in text and "= the actual outcome" in text


def test_holdout_days_are_the_health_checks(report, demo: World) -> None:
    s = report.series
    days = report.health.holdout.days
    assert days == ModelSpec().holdout_days
    assert s.holdout.sum() == days and s.holdout[-days:].all() and not s.holdout[:-days].any()
    # Without a holdout in the health check, no day is flagged.
    fit = restore_fit(report.state)
    health = assess(fit, holdout=False)
    assert health.holdout is None and not daily_series(fit, health).holdout.any()
    # 21 days: 14 would score 13 (New Year's Day is unseen), under the 14 a holdout is judged on
    shorter = dataclasses.replace(fit.spec, holdout_days=21)
    health = assess(dataclasses.replace(fit, spec=shorter))
    assert health.holdout is not None and health.holdout.days == 21
    assert daily_series(fit, health).holdout.sum() == 21


def test_geo_identification_adds_up_too(demo: World) -> None:
    from causal_svc.attribution import Identification, fit_mmm

    fit = fit_mmm(demo.panel, ModelSpec(identification=Identification.GEO, holdout_days=0))
    assert fit.residuals.ndim == 2
    s = daily_series(fit, assess(fit, holdout=False))
    assert s.baseline is not None
    np.testing.assert_allclose(s.baseline + s.contributions.sum(axis=0), s.predicted, rtol=1e-10)
    assert abs(s.predicted.sum() / s.actual.sum() - 1) < 0.02


def test_a_failed_model_shows_its_fit_and_no_decomposition(demo: World) -> None:
    p = demo.panel
    c = p.channels.index("google_search")
    x = p.media[c] / p.population[:, None]
    fake = dataclasses.replace(p, outcome=1.0 + 50.0 * x * p.population[:, None])
    rep = analyze(fake, ModelSpec())
    assert rep.verdict is Verdict.FAIL
    s = rep.series
    assert s is not None and s.baseline is None and s.contributions.shape == (0, p.n_days)
    assert rep.health.holdout is not None
    assert s.predicted.shape == (p.n_days,) and s.holdout.sum() == rep.health.holdout.days
    wire = convert.report_to_proto(rep, convert.ReportContext("an-x", "acme", 0, "t")).daily
    assert len(wire.predicted_outcome) == p.n_days and not wire.baseline_outcome
    assert not wire.channels and not wire.decomposition


def test_the_series_on_the_wire(report, demo: World) -> None:
    from liftos.v1 import causal_pb2 as causal_pb

    result = convert.report_to_proto(report, convert.ReportContext("an-1", "acme", 0, "test"))
    back = causal_pb.AttributionResult.FromString(result.SerializeToString()).daily
    s = report.series
    n = demo.panel.n_days
    assert len(back.dates) == len(back.actual_outcome) == len(back.holdout) == n
    assert (back.dates[0].year, back.dates[0].month, back.dates[0].day) == (
        result.date_range.start_date.year, result.date_range.start_date.month,
        result.date_range.start_date.day,
    )  # fmt: skip
    assert back.dates[-1] == result.date_range.end_date
    assert sum(back.holdout) == result.health.holdout_days
    assert [c.channel for c in back.channels] == list(s.channels)
    total = np.array(back.baseline_outcome) + np.sum([c.contribution for c in back.channels], 0)
    np.testing.assert_allclose(total, back.predicted_outcome, rtol=1e-10)
    assert "baseline" in back.decomposition and "Shapley" in back.decomposition


def test_calibration_metrics_are_nan_without_lift_tests(report) -> None:
    """0 would read as a perfect MAPE and a 0 % coverage: without lift tests they are NaN
    ("no lift tests"); with them the MAPE is the calibrated predictions' against the tests and
    the coverage the share of tests inside the model's intervals."""
    ctx = convert.ReportContext("an-1", "acme", 0, "test")
    assert report.calibration
    vm = convert.report_to_proto(report, ctx).model.validation_metrics
    want = np.mean([abs(c.predicted - c.measured) / abs(c.measured) for c in report.calibration])
    assert vm.calibration_mape == pytest.approx(want, rel=1e-12) and vm.calibration_mape > 0
    # Coverage: the lift tests whose measured lift lies inside the model's interval of it.
    rows = report.calibration
    assert all(c.predicted_interval is not None for c in rows)
    inside = [c.predicted_interval.lower <= c.measured <= c.predicted_interval.upper for c in rows]
    assert vm.calibration_coverage == pytest.approx(np.mean(inside))
    assert all(c.predicted_interval.estimate == pytest.approx(c.predicted) for c in rows)
    bare = convert.report_to_proto(dataclasses.replace(report, calibration=()), ctx)
    vm = bare.model.validation_metrics
    assert np.isnan(vm.calibration_mape) and np.isnan(vm.calibration_coverage)


def test_a_window_wider_than_the_outcome_is_said(report) -> None:
    """A request for more days than the outcome covers is analysed over the outcome's days;
    the result says which were asked for and which were used."""
    start, end = report.start, report.end
    asked = (start - dt.timedelta(days=14), end + dt.timedelta(days=47))
    ctx = convert.ReportContext("an-1", "acme", 0, "test", requested=asked)
    warnings = list(convert.report_to_proto(report, ctx).warnings)
    note = (f"the requested window {asked[0]}..{asked[1]} was analysed as {start}..{end} "
            f"({report.n_days} days): the first-party outcome has no rows on the 14 day(s) "
            f"before {start} and 47 day(s) after {end}")  # fmt: skip
    assert any(w.startswith(note) for w in warnings), warnings
    for same in ((start, end), (None, None), (None, end), (start + dt.timedelta(days=3), end)):
        ctx = convert.ReportContext("an-1", "acme", 0, "test", requested=same)
        assert not any(
            "requested window" in w for w in convert.report_to_proto(report, ctx).warnings
        )
    open_start = convert.window_note(None, end + dt.timedelta(days=1), start, end)
    assert open_start.startswith(f"the requested window (open)..{end + dt.timedelta(days=1)}")
