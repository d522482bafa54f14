"""PredictPerformance's domain: intervals that widen with the horizon, cover, and move with
the spend plan."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from surfacing_svc.errors import InsufficientData
from surfacing_svc.forecast import media_share, predict_performance
from surfacing_svc.seasons import resolve_seasons
from tests.surfacing.curves_fixtures import hill

START = np.datetime64("2023-03-01")


def _series(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    e = np.zeros(n)
    for k in range(1, n):
        e[k] = 0.8 * e[k - 1] + rng.normal(0, 0.03)
    y = 1e4 * np.exp(0.1 * t / 365 + 0.05 * np.sin(2 * np.pi * t / 7) + e)
    return START + np.arange(n).astype("timedelta64[D]"), y


def test_intervals_widen_with_the_horizon_and_the_total_adds_up() -> None:
    dates, y = _series(200, 0)
    f = predict_performance(dates, y, {}, [], {}, horizon=56, level=0.9)
    width = [(d.upper - d.lower) / d.estimate for d in f.daily]
    assert width[55] > 1.5 * width[0]
    assert f.dates[0] == dates[-1] + np.timedelta64(1, "D") and f.dates.size == 56
    assert f.total.estimate == pytest.approx(sum(d.estimate for d in f.daily), rel=1e-9)
    assert f.total.lower < f.total.estimate < f.total.upper
    assert f.media_total.estimate == 0.0


def test_intervals_cover_the_realised_outcome() -> None:
    hits = []
    for seed in range(12):
        dates, y = _series(228, seed)
        f = predict_performance(dates[:200], y[:200], {}, [], {}, horizon=28, level=0.9, seed=seed)
        lo = np.array([d.lower for d in f.daily])
        hi = np.array([d.upper for d in f.daily])
        hits.append(np.mean((y[200:] >= lo) & (y[200:] <= hi)))
    assert 0.75 <= float(np.mean(hits)) <= 1.0


def test_the_spend_plan_moves_the_forecast_by_the_curve() -> None:
    dates, y = _series(150, 1)
    curve = hill("meta", spend=3000.0, scale=9000.0, kappa=1.0, days=30)  # 100/day
    spend = {"meta": np.full(150, 100.0)}
    baseline = 30 * 1e4
    as_is = predict_performance(dates, y, spend, [curve], {}, horizon=28,
                                baseline_total=baseline, seed=3)  # fmt: skip
    doubled = predict_performance(dates, y, spend, [curve], {"meta": np.full(28, 200.0)},
                                  horizon=28, baseline_total=baseline, seed=3)  # fmt: skip
    # β = 9000 / 300000 = 0.03; Hill at 1× = 1/2, at 2× = 2/3: media share 1.5% → 2%.
    share = media_share(curve, np.full(60, 200.0), baseline)[:, -1]
    assert float(share.mean()) == pytest.approx(0.03 * 2 / 3)
    ratio = doubled.total.estimate / as_is.total.estimate
    assert ratio == pytest.approx(1.02 / 1.015, rel=2e-3)
    assert doubled.media_total.estimate > as_is.media_total.estimate > 0


def test_a_plan_beyond_the_spend_the_model_saw_is_called_extrapolation() -> None:
    dates, y = _series(150, 1)
    curve = hill("meta", spend=3000.0, scale=9000.0, kappa=1.0, days=30)  # 100/day
    spend = {"meta": np.full(150, 100.0)}
    f = predict_performance(dates, y, spend, [curve], {"meta": np.full(28, 1e7)}, horizon=28,
                            baseline_total=30 * 1e4, seed=3)  # fmt: skip
    assert "meta: the plan spends 100,000.0× its business-as-usual spend (100 a day, the " \
        "spend a multiplier scales) and 100,000.0× the analysis window's mean (100 a day, the " \
        "level its curve was fitted around), beyond what the model saw; its curve there is " \
        "extrapolation" in f.warnings  # fmt: skip
    within = predict_performance(dates, y, spend, [curve], {"meta": np.full(28, 200.0)},
                                 horizon=28, baseline_total=30 * 1e4, seed=3)  # fmt: skip
    assert not any("extrapolation" in w for w in within.warnings)


def test_too_short_a_history_is_refused() -> None:
    dates, y = _series(40, 0)
    with pytest.raises(InsufficientData, match="56 days"):
        predict_performance(dates, y, {}, [], {}, horizon=7)


def test_a_fan_nests_and_its_level_of_the_main_interval_matches_it() -> None:
    dates, y = _series(200, 2)
    f = predict_performance(dates, y, {}, [], {}, horizon=21, level=0.9,
                            fan_levels=(0.5, 0.9, 0.99), seed=4)  # fmt: skip
    assert f.fan_levels == (0.5, 0.9, 0.99) and len(f.daily_fan) == 21
    for main, (half, same, wide) in zip(f.daily, f.daily_fan, strict=True):
        assert (same.lower, same.upper) == (main.lower, main.upper)  # one set of paths
        assert wide.lower < same.lower < half.lower < half.upper < same.upper < wide.upper
    assert (f.total_fan[1].lower, f.total_fan[1].upper) == (f.total.lower, f.total.upper)
    assert not predict_performance(dates, y, {}, [], {}, horizon=7).daily_fan


def test_an_unseen_holiday_widens_its_day_not_its_neighbours() -> None:
    dates, y = _series(200, 5)  # 2023-03-01 .. 2023-09-16: no Thanksgiving seen
    f = predict_performance(dates, y, {}, [], {}, horizon=90, level=0.9, seed=1)
    width = {d.item(): (v.upper - v.lower) / v.estimate
             for d, v in zip(f.dates.astype("datetime64[D]"), f.daily, strict=True)}  # fmt: skip
    black_friday, before = dt.date(2023, 11, 24), dt.date(2023, 11, 17)
    assert width[black_friday] > 1.5 * width[before]
    assert any("Black Friday" in w and "unknown" in w for w in f.warnings)


def _seasonal(n: int, seed: int, amplitude: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """A series with a yearly season of ``amplitude`` on the log and AR(1) noise."""
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for k in range(1, n):
        e[k] = 0.7 * e[k - 1] + rng.normal(0, 0.02)
    t = np.arange(n) + 40 * seed  # each world starts at another point of the year
    y = 1e4 * np.exp(amplitude * np.sin(2 * np.pi * t / 365.25) + e)
    return START + np.arange(n).astype("timedelta64[D]"), y


def test_a_season_half_a_year_cannot_identify_widens_the_far_horizon_and_covers() -> None:
    """180 days of a yearly season: where it goes next is not identified, so the 56-day
    total's interval must allow it — and the next days, which it cannot move, stay narrow."""
    hits, widths = [], []
    for seed in range(10):
        dates, y = _seasonal(236, seed)
        f = predict_performance(dates[:180], y[:180], {}, [], {}, horizon=56, level=0.9,
                                seed=seed)  # fmt: skip
        hits.append(f.total.lower <= y[180:].sum() <= f.total.upper)
        widths.append([(f.daily[h].upper - f.daily[h].lower) / f.daily[h].estimate
                       for h in (0, 55)])  # fmt: skip
        _, calm = _seasonal(236, seed, amplitude=0.0)  # the same noise, no season
        g = predict_performance(dates[:180], calm[:180], {}, [], {}, horizon=56, level=0.9,
                                seed=seed)  # fmt: skip
        widths[-1].append((g.daily[55].upper - g.daily[55].lower) / g.daily[55].estimate)
    assert np.mean(hits) >= 0.6  # 7 of these 10 (20 worlds: 75%, and 35% without the term)
    first, last, calm_last = np.mean(widths, axis=0)
    # The swing is sized by the months seen: a history without one is not widened by it.
    assert last > 2.5 * first and last > 1.5 * calm_last


def test_a_history_ending_inside_a_promotion_does_not_carry_it_forward() -> None:
    """The last four days run a +30% sale: with the promotion calendar, the next week is
    forecast at the usual level (and covers it); without it, the sale is carried forward."""
    dates, y = _series(200, 7)
    promo = np.zeros(200)
    promo[-4:] = 1.0
    y_sale = y.copy()
    y_sale[-4:] *= 1.3
    with_calendar = predict_performance(dates, y_sale, {}, [], {}, horizon=7, level=0.9,
                                        seed=2, promotion=promo)  # fmt: skip
    without = predict_performance(dates, y_sale, {}, [], {}, horizon=7, level=0.9, seed=2)
    usual = predict_performance(dates, y, {}, [], {}, horizon=7, level=0.9, seed=2)
    week = with_calendar.total.estimate / usual.total.estimate
    # 0.972 on every seed 0-7 when a 7-day forecast's origins reached the history's last days,
    # 0.970 since they start at least 56 days before its end (R29 F1); the sale is +30%.
    assert week == pytest.approx(1.0, abs=0.04)
    assert without.total.estimate / usual.total.estimate > 1.1
    # A calendar without a promotion in the last weeks changes nothing there.
    none = predict_performance(dates, y, {}, [], {}, horizon=7, level=0.9, seed=2,
                               promotion=np.zeros(200))  # fmt: skip
    assert none.total.estimate == pytest.approx(usual.total.estimate, rel=1e-9)
    with pytest.raises(ValueError, match="promotion"):
        predict_performance(dates, y, {}, [], {}, horizon=7, promotion=np.zeros(10))


def test_the_christmas_shopping_weeks_are_not_carried_past_their_end() -> None:
    """December's shopping weeks stand 15% above the level and the history ends inside them:
    the days after them are forecast at the usual level (US calendar), not carried forward as
    a calendar without the season (JP: no Christmas holiday) does; the days still inside keep
    the lift."""
    _, y = _series(200, 5)
    dates = np.datetime64("2023-12-18") - np.arange(200)[::-1].astype("timedelta64[D]")
    lifted = y.copy()
    lifted[-18:] *= 1.15  # 1-18 December
    after = slice(3, 21)  # 22 December to 8 January

    def days(f) -> np.ndarray:
        return np.array([d.estimate for d in f.daily])

    def run(series: np.ndarray, country: str) -> np.ndarray:
        return days(predict_performance(dates, series, {}, [], {}, horizon=21, level=0.9,
                                        seed=4, country=country))  # fmt: skip

    us, usual = run(lifted, "US"), run(y, "US")
    assert us[after].sum() / usual[after].sum() == pytest.approx(1.0, abs=0.04)
    assert us[:3].sum() / usual[:3].sum() == pytest.approx(1.15, abs=0.05)
    assert run(lifted, "JP")[after].sum() / run(y, "JP")[after].sum() > 1.1


# -- the org's own seasons (external factors of type SEASON) --------------------------------

SEASON = (dt.date(2023, 4, 25), dt.date(2023, 5, 15))  # a garden shop's spring peak, +25%


def _spring(n: int, start: str = "2023-03-01") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_series`` from ``start`` for ``n`` days and a 35-day horizon: dates, the outcome with
    the spring peak lifted by 25% (history and horizon), and the days inside the peak."""
    _, y = _series(n + 35, 9)
    dates = np.datetime64(start) + np.arange(n + 35).astype("timedelta64[D]")
    days = [d.item() for d in dates.astype("datetime64[D]")]
    inside = np.array([SEASON[0].replace(year=d.year) <= d <= SEASON[1].replace(year=d.year)
                       for d in days])  # fmt: skip
    return dates, np.where(inside, 1.25 * y, y), inside


def _calendar(dates: np.ndarray, inside: np.ndarray, keep: np.ndarray) -> dict:
    days = [d.item() for d in dates.astype("datetime64[D]")]
    return {"spring_peak": {d: float(v) for d, v, k in zip(days, inside, keep, strict=True) if k}}


def _estimates(f) -> np.ndarray:
    return np.array([d.estimate for d in f.daily])


def _widths(f) -> np.ndarray:
    return np.array([(d.upper - d.lower) / d.estimate for d in f.daily])


def test_a_registered_season_the_history_holds_lifts_its_days_ahead_as_the_data_say() -> None:
    """A year and two months of history hold last spring's peak (+25%): registered, the peak
    ahead is forecast 25% above the days around it; unregistered, the forecast misses it."""
    n = 420  # 2023-03-01 .. 2024-04-23; the peak ahead runs 2024-04-25 .. 05-15
    dates, y, inside = _spring(n)
    ahead = inside[n:]
    _, plain, _ = _spring(n)
    plain = np.where(inside, plain / 1.25, plain)  # the same world without the peak

    def run(series: np.ndarray, seasons=None):
        return predict_performance(dates[:n], series[:n], {}, [], {}, horizon=35, level=0.9,
                                   seed=3, seasons=seasons)  # fmt: skip

    usual = _estimates(run(plain))
    registered = run(y, _calendar(dates, inside, np.ones(inside.size, bool)))
    lift = _estimates(registered)[ahead].sum() / usual[ahead].sum()
    assert lift == pytest.approx(1.25, abs=0.05)
    after = _estimates(registered)[~ahead][2:] / usual[~ahead][2:]  # past the peak
    assert after.mean() == pytest.approx(1.0, abs=0.04)
    assert not registered.warnings or all("spring_peak" not in w for w in registered.warnings)
    real = y[n:]
    covered = [d.lower <= r <= d.upper for d, r in zip(registered.daily, real, strict=True)]
    assert np.mean(covered) >= 0.8
    unregistered = _estimates(run(y))[ahead].sum() / usual[ahead].sum()
    assert unregistered < 1.12  # the yearly terms alone smear the peak


def test_a_season_registered_only_ahead_is_estimated_from_its_dates_a_year_earlier() -> None:
    """The org registers only this year's peak: last year's same dates stand in for it."""
    n = 420
    dates, y, inside = _spring(n)
    ahead_only = np.arange(inside.size) >= n - 60  # values from late February 2024 on
    f = predict_performance(dates[:n], y[:n], {}, [], {}, horizon=35, level=0.9, seed=3,
                            seasons=_calendar(dates, inside, ahead_only))  # fmt: skip
    g = predict_performance(dates[:n], y[:n], {}, [], {}, horizon=35, level=0.9, seed=3,
                            seasons=_calendar(dates, inside, np.ones(inside.size, bool)))  # fmt: skip
    assert _estimates(f) == pytest.approx(_estimates(g), rel=0.03)
    assert any("spring_peak" in w and "a year earlier" in w and "2023-04-25" in w
               for w in f.warnings)  # fmt: skip


def test_a_season_the_history_cannot_estimate_is_left_out_widened_and_said() -> None:
    """200 days (no spring seen, no year earlier): the peak ahead is an unknown effect — the
    estimate stays at the level, the interval widens on its days only, covers the peak, and a
    warning names it; an org's 0/1 season is read as registered (2.0 is read as inside)."""
    n = 200  # 2023-10-09 .. 2024-04-25: the history's last day is the peak's first
    dates, y, inside = _spring(n, start="2023-10-09")
    ahead = inside[n:]
    plain = np.where(inside, y / 1.25, y)
    calendar = _calendar(dates, inside, np.ones(inside.size, bool))

    def run(series: np.ndarray, seasons=None):
        return predict_performance(dates[:n], series[:n], {}, [], {}, horizon=35, level=0.9,
                                   seed=3, seasons=seasons)  # fmt: skip

    f, g, usual = run(y, calendar), run(y), run(plain)
    # Today's level is read without the peak's first day (unregistered, it is carried on).
    level = _estimates(f)[~ahead].mean() / _estimates(usual)[~ahead].mean()
    assert level == pytest.approx(1.0, abs=0.01)
    assert _estimates(g)[~ahead].mean() / _estimates(usual)[~ahead].mean() > 1.02
    # The peak's effect is left out of the estimate (a factor of mean one), and widens its days.
    assert _estimates(f)[ahead].mean() / _estimates(usual)[ahead].mean() == pytest.approx(
        1.0, abs=0.04)  # fmt: skip
    assert _widths(f)[ahead].mean() > 2.0 * _widths(g)[ahead].mean()
    assert _widths(f)[~ahead][-5:] == pytest.approx(_widths(g)[~ahead][-5:], rel=0.15)
    real = y[n:]
    assert all(d.lower <= r <= d.upper
               for d, r, on in zip(f.daily, real, ahead, strict=True) if on)  # fmt: skip
    (warning,) = [w for w in f.warnings if "spring_peak" in w]
    assert "1 days in the history" in warning and "too few" in warning
    calendar["spring_peak"][dt.date(2024, 5, 1)] = 2.0
    assert any("other than 0 and 1" in w for w in run(y, calendar).warnings)


def test_an_orgs_season_replaces_the_built_in_one_it_overlaps() -> None:
    days = np.datetime64("2022-11-01") + np.arange(450).astype("timedelta64[D]")
    builtin = resolve_seasons(days, 400, "US")
    assert builtin.names == ("Christmas shopping season",)
    own = {"holidays": {dt.date(2022, 12, 10) + dt.timedelta(k): 1.0 for k in range(20)}}
    assert resolve_seasons(days, 400, "US", own).names == ("holidays",)
    summer = {"summer": {dt.date(2023, 7, 1) + dt.timedelta(k): 1.0 for k in range(20)}}
    assert resolve_seasons(days, 400, "US", summer).names == (
        "Christmas shopping season", "summer")  # fmt: skip
    assert resolve_seasons(days, 400, "GB", own).names == ("holidays",)
