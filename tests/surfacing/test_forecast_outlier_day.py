"""One day of the history far outside its usual range (R50-F4: a national day imported ×50)
must not move the forecast: kept in, every residual path crossing it replayed the jump, the
draws' mean — the daily figure shown — lay above its own 90% interval on most days and the
28-day total read a third high. It is left out, and the forecast names it."""

from __future__ import annotations

import numpy as np
import pytest

from surfacing_svc.forecast import Forecast, predict_performance
from surfacing_svc.outlier_days import outlier_days
from tests.surfacing.test_forecast import _series

DAYS, GLITCH = 300, 180


def _forecast(y: np.ndarray, dates: np.ndarray, seed: int = 0) -> Forecast:
    return predict_performance(dates, y, {}, [], {}, horizon=28, level=0.9, seed=seed)


@pytest.mark.parametrize("factor", [50.0, 0.0])
def test_a_glitch_day_leaves_the_forecast_as_it_was_and_is_named(factor: float) -> None:
    dates, y = _series(DAYS, 4)
    bad = y.copy()
    bad[GLITCH] *= factor  # ×50 (a day imported twice over, in cents...) or an outage's zero
    clean, glitched = _forecast(y, dates), _forecast(bad, dates)
    outside = [d for d in glitched.daily if not d.lower <= d.estimate <= d.upper]
    assert not outside, outside[:3]
    assert glitched.total.estimate == pytest.approx(clean.total.estimate, rel=0.03)
    assert glitched.total.upper == pytest.approx(clean.total.upper, rel=0.05)
    day = str(dates[GLITCH])
    (said,) = [w for w in glitched.warnings if "far outside its usual range" in w]
    assert said.startswith(f"1 day(s) of the history's outcome are far outside its usual range "
                           f"({day}: {bad[GLITCH]:,.0f} where ~")  # fmt: skip
    assert "correct the rows at the source" in said
    assert not [w for w in clean.warnings if "far outside" in w]


def test_ordinary_days_are_not_outliers() -> None:
    """No day of the smooth clean histories (weekday swing, AR(1) drift) is flagged, nor a
    four-day promotion at +40%."""
    for seed in range(10):
        _, y = _series(DAYS, seed)
        y[100:104] *= 1.4
        x = np.ones((DAYS, 1))
        assert not outlier_days(x, np.log(y)).any, seed


def test_a_registered_promotion_day_is_not_an_outlier() -> None:
    """A one-day sale ×4 the org registered as a promotion is an excursion it knows of: not
    named, not left out (it is named when not registered, with the advice to register it)."""
    dates, y = _series(DAYS, 5)
    y[GLITCH] *= 4.0
    promotion = np.zeros(DAYS)
    promotion[GLITCH] = 1.0
    known = predict_performance(dates, y, {}, [], {}, horizon=7, promotion=promotion)
    assert not [w for w in known.warnings if "far outside" in w]
    unknown = predict_performance(dates, y, {}, [], {}, horizon=7)
    (said,) = [w for w in unknown.warnings if "far outside" in w]
    assert "a glitch or an unregistered promotion: register it (liftos factors register" in said


def _far(y: np.ndarray) -> tuple[list[int], int]:
    o = outlier_days(np.ones((y.size, 1)), np.log(np.maximum(y, 1e-9)))
    return np.flatnonzero(o.days).tolist(), o.end


@pytest.mark.parametrize("factor", [0.2, 5.0, 50.0, 0.0])
def test_a_change_in_the_last_days_is_read_as_it_is(factor: float) -> None:
    """V2-F1: the last days far from the level before them have no day after them to call
    them a one-off: a drop or a jump the forecast's level must rest on. None is left out (the
    last 3 days at ×0.3 were, and 3 of the last 4), and they are counted whole."""
    for seed in range(3):
        for tail in (1, 3, 4, 6):
            _, y = _series(DAYS, seed)
            y[-tail:] *= factor
            assert _far(y) == ([], tail), (seed, tail)


def test_a_drop_in_the_last_days_moves_the_forecast_and_is_said() -> None:
    dates, y = _series(DAYS, 4)
    low = y.copy()
    low[-3:] *= 0.2
    clean, dropped = _forecast(y, dates), _forecast(low, dates)
    # read at the old level before, the first day's figure was the clean one's
    assert dropped.daily[0].estimate < 0.8 * clean.daily[0].estimate
    (said,) = [w for w in dropped.warnings if "the history's last" in w]
    assert said.startswith(f"the history's last 3 days ({dates[-3]}..{dates[-1]}) are at ×0.2")
    assert "reads them as they are" in said and "correct the rows at the source" in said
    assert not [w for w in dropped.warnings if "one-offs" in w]


def test_a_run_of_far_days_is_left_out_whole_or_kept_whole() -> None:
    """A run inside the history (1-7 days, ending mid-history or 1-3 days before its end) is
    one event: never a part of it left out and the rest kept (the days straddling the ×3
    threshold at ×0.3 were split; a 6-day run 1 day before the end had 4 days left out and the
    3 usual days after it called a change)."""
    for seed in range(3):
        for k in range(1, 8):
            for factor in (0.3, 4.0, 50.0):
                for at in (150, DAYS - k - 1, DAYS - k - 3):
                    _, y = _series(DAYS, seed)
                    y[at : at + k] *= factor
                    days, end = _far(y)
                    assert end == 0 and days in ([], list(range(at, at + k))), (seed, k, factor, at)


def test_a_glitch_just_before_the_end_is_still_left_out() -> None:
    """R50-F4 near the end: a day ×50 with two usual days after it is apart on both sides."""
    _, y = _series(DAYS, 4)
    y[DAYS - 3] *= 50.0
    assert _far(y) == ([DAYS - 3], 0)


def test_a_short_sale_is_named_as_a_glitch_or_a_promotion() -> None:
    """V2-F13: two days at ×4 are as likely a sale the calendar does not hold as an error:
    the warning says both and how to register it; a ×50 day beside them is a data error."""
    dates, y = _series(DAYS, 5)
    y[100:102] *= 4.0
    (said,) = [w for w in _forecast(y, dates).warnings if "far outside" in w]
    sale = f"{dates[100]}..{dates[101]} is a glitch or an unregistered promotion: register it "
    assert sale + "(liftos factors register" in said
    assert "data error" not in said
    y[200] *= 50.0
    (said,) = [w for w in _forecast(y, dates).warnings if "far outside" in w]
    assert said.startswith("3 day(s) of the history's outcome are far outside")
    assert "unregistered promotion" in said and "for the others, a data error" in said
