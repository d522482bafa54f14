"""The report's labels: a FAIL analysis's header counts the channels it modelled, and an
uncalibrated analysis says "no lift tests" instead of a 0 % coverage."""

from __future__ import annotations

import math

from liftos.v1 import causal_pb2 as causal_pb

from mesh.report import render_report

CHANNELS = ("google_pmax", "google_search", "klaviyo_email", "klaviyo_sms", "meta_prospecting",
            "meta_retargeting", "tiktok")  # fmt: skip


def _analysis(verdict: causal_pb.HealthVerdict.ValueType) -> causal_pb.Analysis:
    analysis = causal_pb.Analysis(analysis_id="an-labels", org_id="acme")
    result = analysis.attribution
    result.health.verdict = verdict
    result.health.holdout_days = 14
    result.health.holdout_r_squared = 0.42
    result.model.model_config.channels.extend(CHANNELS)
    return analysis


def test_a_failed_analysis_is_headed_by_the_channels_it_modelled() -> None:
    html = render_report(_analysis(causal_pb.HEALTH_VERDICT_FAIL))
    assert "attribution, 7 channels modelled, none reported: model health FAIL" in html
    assert "0 channels" not in html


def test_a_reported_analysis_is_headed_by_its_channels() -> None:
    analysis = _analysis(causal_pb.HEALTH_VERDICT_PASS)
    for name in CHANNELS[:3]:
        analysis.attribution.channels.add(channel=name)
    assert "attribution, 3 channels" in render_report(analysis)


def test_an_uncalibrated_analysis_says_no_lift_tests() -> None:
    analysis = _analysis(causal_pb.HEALTH_VERDICT_PASS)
    vm = analysis.attribution.model.validation_metrics
    # What an older analysis stored (0) and what the converter now stores (NaN) read alike.
    for value in (0.0, math.nan):
        vm.calibration_mape = vm.calibration_coverage = value
        html = render_report(analysis)
        assert "no lift tests" in html
        assert "Lift tests inside the intervals" not in html and "Calibration MAPE" not in html


def test_a_calibrated_analysis_shows_its_mape() -> None:
    analysis = _analysis(causal_pb.HEALTH_VERDICT_PASS)
    analysis.attribution.calibration.add(experiment_id="geo-1", channel="tiktok",
                                         measured_lift=100.0, predicted_lift=80.0)  # fmt: skip
    vm = analysis.attribution.model.validation_metrics
    vm.calibration_mape, vm.calibration_coverage = 0.2, 1.0
    html = render_report(analysis)
    assert "Calibration MAPE" in html and "Lift tests inside the intervals" in html
    assert "no lift tests" not in html
    vm.calibration_coverage = math.nan  # a failed model keeps no intervals: not computed
    html = render_report(analysis)
    assert "Calibration MAPE" in html and "Lift tests inside the intervals" not in html
