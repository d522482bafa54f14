"""PredictPerformance's warnings say what their figures are measured against (audit R29 F2,
F3): a plan's spend against the business-as-usual spend its multiplier scales and the level the
curve was fitted around; the media that are carry-over of spend before the horizon."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from surfacing_svc.forecast import predict_performance
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.test_forecast import _series


def _history() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    dates, y = _series(150, 1)
    # The curve was fitted around 100 a day (the window's mean); the last four weeks ran 110.
    daily = np.full(150, 100.0)
    daily[-28:] = 110.0
    return dates, y, {"meta": daily}


def test_a_multiplied_plan_is_measured_against_the_spend_the_multiplier_scales() -> None:
    dates, y, spend = _history()
    curve = hill("meta", spend=3000.0, scale=9000.0, kappa=1.0, days=30)  # 100 a day

    def warnings(daily: float) -> tuple[str, ...]:
        return predict_performance(dates, y, spend, [curve], {"meta": np.full(28, daily)},
                                   horizon=28, baseline_total=30 * 1e4, seed=3).warnings  # fmt: skip

    # ×5 of business as usual (110 a day) is 5.5× the window's mean: the warning gives both.
    assert (
        "meta: the plan spends 5.0× its business-as-usual spend (110 a day, the spend a "
        "multiplier scales) and 5.5× the analysis window's mean (100 a day, the level its curve "
        "was fitted around), beyond what the model saw; its curve there is extrapolation"
    ) in warnings(5 * 110.0)
    # ×1.9 of business as usual is 2.09× the window's mean: the model saw spend at 110 a day,
    # and 1.9× that is within the 2× it calls extrapolation (the old warning read "2.1× its
    # current level").
    assert not [w for w in warnings(1.9 * 110.0) if "extrapolation" in w]


def test_a_multiplier_of_a_low_usual_spend_is_not_extrapolation_within_the_window() -> None:
    dates, y, spend = _history()
    spend["meta"][-28:] = 40.0  # the last weeks ran at 40 a day
    curve = hill("meta", spend=3000.0, scale=9000.0, kappa=1.0, days=30)

    def beyond(daily: float) -> list[str]:
        f = predict_performance(dates, y, spend, [curve], {"meta": np.full(28, daily)},
                                horizon=28, baseline_total=30 * 1e4, seed=3)  # fmt: skip
        return [w for w in f.warnings if "extrapolation" in w]

    assert not beyond(3 * 40.0)  # ×3 of 40 a day is 1.2× the level the curve was fitted at
    (note,) = beyond(6 * 40.0)
    assert note.startswith("meta: the plan spends 6.0× its business-as-usual spend (40 a day")
    assert "and 2.4× the analysis window's mean (100 a day" in note


def test_media_with_no_spend_ahead_are_said_to_be_carry_over() -> None:
    dates, y, spend = _history()
    curve = replace(hill("meta", spend=3000.0, scale=9000.0, kappa=1.0, days=30),
                    carryover=np.array([0.3, 0.25, 0.2, 0.15, 0.1]))  # fmt: skip
    dark = predict_performance(dates, y, spend, [curve], {"meta": np.zeros(7)}, horizon=7,
                               baseline_total=30 * 1e4, seed=3)  # fmt: skip
    assert dark.media_total.estimate > 0  # the spend of the history's last days still works
    (note,) = [w for w in dark.warnings if "carry-over" in w]
    media = f"{dark.media_total.estimate:,.0f}"
    # With no spend ahead, all of the media are carry-over: the two figures are the same.
    assert note.startswith(f"of the media's {media}, {media} [")
    assert f"is carry-over of spend before {dates[-1] + np.timedelta64(1, 'D')}" in note
    # Business as usual over 56 days: the carry-over is a few days' worth, not worth a note.
    usual = predict_performance(dates, y, spend, [curve], {}, horizon=56,
                                baseline_total=30 * 1e4, seed=3)  # fmt: skip
    assert usual.media_total.estimate > 10 * dark.media_total.estimate
    assert not [w for w in usual.warnings if "carry-over" in w]
