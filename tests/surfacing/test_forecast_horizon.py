"""PredictPerformance's horizon: one history gives one model whatever horizon is asked, so a
day's interval does not move with the horizon and a longer horizon's total never has a
narrower interval (audit R29 F1: a 120-day history switched model at 54 days, and the 54-day
total's interval was 30% narrower than the 53-day one's)."""

from __future__ import annotations

import pytest

from surfacing_svc.forecast import predict_performance
from tests.surfacing.test_forecast import _series


@pytest.mark.parametrize("days", [60, 120, 180])
def test_a_days_interval_does_not_depend_on_the_horizon_asked(days: int) -> None:
    dates, y = _series(days, 4)
    first = {
        h: predict_performance(dates, y, {}, [], {}, horizon=h, level=0.9, fan_levels=(0.5,))
        for h in (28, 53, 54, 56, 120)
    }
    for h, f in first.items():
        for k in range(28):
            day, ref = f.daily[k], first[28].daily[k]
            got = (day.lower, day.estimate, day.upper, f.daily_fan[k][0].lower)
            want = (ref.lower, ref.estimate, ref.upper, first[28].daily_fan[k][0].lower)
            assert got == pytest.approx(want, rel=1e-12), f"day {k + 1} at horizon {h}"


def test_a_longer_horizons_total_never_has_a_narrower_interval() -> None:
    # 120 days: the demo's history, where the old method changed at 54 days.
    dates, y = _series(120, 4)
    horizons = [7, 14, 28, *range(45, 63), 90, 180, 365]
    totals = [predict_performance(dates, y, {}, [], {}, horizon=h, level=0.9).total
              for h in horizons]  # fmt: skip
    for h, shorter, longer in zip(horizons[1:], totals, totals[1:], strict=False):
        # Each path's longer total is its shorter one plus positive days: both bounds rise.
        assert longer.lower > shorter.lower and longer.upper > shorter.upper, h
        # The width is a difference of two quantiles of 2,000 paths: a day added can reorder
        # the paths near them, so it may move by their sampling noise (~1%), never by the 30%
        # the old switch took off at 54 days.
        width = longer.upper - longer.lower
        assert width >= 0.995 * (shorter.upper - shorter.lower), h
    # And the whole total widens relative to its size far ahead: a day a year out is not as
    # certain as one next month.
    rel = [(t.upper - t.lower) / t.estimate for t in totals]
    assert rel[-1] > rel[horizons.index(56)]
