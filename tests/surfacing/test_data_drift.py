"""surfacing_svc.data_drift on frames: what counts as a change of an analysis's data, and what
is not compared (days the analysis may have filled, days outside the range read)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from surfacing_svc.data_drift import StoredReading, data_drift

DAYS = pd.date_range("2024-01-01", periods=30, freq="D")
GEOS = ("a", "b", "c")


def _frame(revenue: np.ndarray, spend: float = 10.0) -> pd.DataFrame:
    """First-party revenue (G, T) and one channel's spend per geo-day, as memory's sums read."""
    rows = []
    for g, geo in enumerate(GEOS):
        for t, day in enumerate(DAYS):
            rows.append((day, "generic", "first_party", geo, 0.0, 0.0, 1.0, revenue[g, t]))
            rows.append((day, "meta", "meta", geo, spend, 100.0, 0.0, 0.0))
    cols = ["local_date", "data_source", "channel", "geo", "spend", "impressions",
            "conversions", "revenue"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _stored(revenue: np.ndarray, spend: float = 10.0) -> StoredReading:
    return StoredReading(
        "an-1", DAYS.to_numpy().astype("datetime64[D]"), revenue.sum(axis=0),
        spend={"meta": spend * len(GEOS) * len(DAYS)},
    )  # fmt: skip


def test_a_restated_day_and_spend_are_named_and_float_noise_is_not() -> None:
    y = np.random.default_rng(0).uniform(100, 200, (3, 30))
    assert data_drift(_frame(y * (1 + 1e-12)), _stored(y)).changed == ()
    now = y.copy()
    now[:, 10] *= 1.1
    drift = data_drift(_frame(now, spend=11.0), _stored(y))
    assert [d for d, _, _ in drift.changed] == [dt.date(2024, 1, 11)]
    assert np.isclose(drift.delta, 0.1 * y[:, 10].sum())
    (outcome, spend) = drift.warnings("forecast")
    assert "the outcome of 1 day in this analysis's window changed since it was made " \
           "(2024-01-11, +" in outcome  # fmt: skip
    assert "meta 900 -> 990 (+10.0%)" in spend


def test_days_the_analysis_may_have_filled_and_days_outside_the_read_are_not_compared() -> None:
    y = np.random.default_rng(1).uniform(100, 200, (3, 30))
    then = y.copy()
    then[0, 5] = 150.0  # the analysis filled geo a's missing day 5 with an estimate
    now = y.copy()
    now[0, 5] = 0.0  # still missing now
    now[:, 2] *= 1.2  # restated, but before the range read
    drift = data_drift(_frame(now), _stored(then), start=dt.date(2024, 1, 4))
    assert drift.changed == () and drift.compared_days == 30 - 3 - 1
    assert drift.spend == ()  # the read does not cover the window: spend not compared
    # Once the late row arrives, the day compares (and differs from the estimate).
    now[0, 5] = 120.0
    drift = data_drift(_frame(now), _stored(then), start=dt.date(2024, 1, 4))
    assert [d for d, _, _ in drift.changed] == [dt.date(2024, 1, 6)]


def _frame_spend(revenue: np.ndarray, spend: np.ndarray) -> pd.DataFrame:
    """As :func:`_frame`, with meta's spend per geo-day ``spend`` (G, T)."""
    frame = _frame(revenue)
    media = frame["data_source"] == "meta"
    frame.loc[media, "spend"] = spend.ravel()  # rows are geo-major, day-minor
    return frame


def test_spend_moved_between_days_or_geos_is_named_though_its_total_held() -> None:
    """R33-F3: a reporting-day (or region) restatement keeps the channel's total; the check
    compared only totals and called the data unchanged."""
    y = np.random.default_rng(2).uniform(100, 200, (3, 30))
    spend = np.random.default_rng(3).uniform(5, 15, (3, 30))
    stored = StoredReading(
        "an-1", DAYS.to_numpy().astype("datetime64[D]"), y.sum(axis=0),
        spend={"meta": float(spend.sum())}, daily_spend={"meta": spend.sum(axis=0)},
        geos=GEOS, geo_spend={"meta": spend.sum(axis=1)},
    )  # fmt: skip
    assert data_drift(_frame_spend(y, spend * (1 + 1e-12)), stored).moved == ()
    days = spend.copy()
    days[:, [4, 5]] = days[:, [5, 4]]  # day 5 <-> day 6 in every geo: geo totals hold
    drift = data_drift(_frame_spend(y, days), stored)
    assert drift.spend == () and drift.changed == ()
    ((channel, where, n, example, then, now),) = drift.moved
    assert (channel, where, n) == ("meta", "days", 2)
    assert example in ("2024-01-05", "2024-01-06") and then != now
    (said,) = drift.warnings("plan", as_made=True)
    assert said.startswith("channel spend in this analysis's window changed since it was made, "
                           "its total held (moved between days or geos: meta: 2 days differ, most 2024-01-0")  # fmt: skip
    geos = spend.copy()
    geos[[0, 1], 7] = geos[[1, 0], 7]  # geo a <-> b on one day: the day's national total holds
    drift = data_drift(_frame_spend(y, geos), stored)
    ((channel, where, n, example, _, _),) = drift.moved
    assert (channel, where, n, example in ("a", "b")) == ("meta", "geos", 2, True)
