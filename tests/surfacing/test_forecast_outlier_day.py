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
    assert "register a real one-day sale as a promotion" in said
