"""What the panel says about data of the wrong shape (audit R4 F2, F3, F4, F8), from memory's
sums in both forms (long rows, and the wide form the service reads): weekly outcome rows, a
single national geo, a conversions-only outcome asked for revenue — refused with what to do —
and one channel's spend weekly next to daily data — analysed, with a warning naming it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import panel_from_aggregates, with_external_series
from causal_svc.errors import InsufficientData

SUMS = ("spend", "impressions", "conversions", "revenue")
START = int(np.datetime64("2024-01-01", "D").astype(np.int64))  # a Monday


def _sums(
    geos: tuple[str, ...] = ("US-CA", "US-NY", "US-TX"),
    days: int = 84,
    every: int = 1,
    revenue: bool = True,
    weekly_channel: str = "",
) -> pd.DataFrame:
    """Long geo-day sums: orders (generic) and two channels' spend, one row per ``every`` days
    from a Monday; ``weekly_channel``'s spend only on Mondays."""
    rng = np.random.default_rng(0)
    rows = []
    for g in geos:
        for d in range(0, days, every):
            y = 1000.0 + rng.normal(0, 50)
            rows.append((START + d, g, "generic", "first_party", 0.0, 0.0, y / 80,
                         y if revenue else 0.0))  # fmt: skip
            for ch in ("meta", "tv"):
                if ch == weekly_channel and d % 7:
                    continue
                spend = 100.0 + rng.normal(0, 20) + (300.0 if ch == weekly_channel else 0.0)
                rows.append((START + d, g, "google_ads", ch, spend, spend * 50, 1.0, 90.0))
    return pd.DataFrame(rows, columns=["date", "geo", "source", "channel", *SUMS])


def _wide(long: pd.DataFrame) -> pd.DataFrame:
    wide = long.pivot_table(index=["date", "geo"], columns=["source", "channel"], values=SUMS,
                            aggfunc="sum", fill_value=0.0)  # fmt: skip
    wide.columns = [f"{s}:{c}:{m}" for m, s, c in wide.columns]
    return wide.loc[:, (wide != 0).any()].reset_index()


@pytest.fixture(params=["long", "wide"])
def form(request: pytest.FixtureRequest):
    return (lambda f: f) if request.param == "long" else _wide


def _refusal(sums: pd.DataFrame, outcome: str = "revenue") -> InsufficientData:
    with pytest.raises(InsufficientData) as info:
        panel_from_aggregates(sums, outcome_name=outcome)
    return info.value


def test_daily_data_is_a_panel_without_cadence_warnings(form) -> None:
    panel = panel_from_aggregates(form(_sums()))
    assert panel.n_geos == 3 and panel.n_days == 84
    assert not [w for w in panel.warnings if "weekly" in w]


def test_weekly_rows_are_refused_as_weekly(form) -> None:
    """F2: 12 geos × 52 Mondays read 'got 358 days and 0 geos'; the geos were all dropped
    for missing 6 days in 7, and the reason was thrown away."""
    err = _refusal(form(_sums(every=7)))
    assert err.subject == "date_range"
    assert "got 78 days and 0 geos" in err.message
    assert "every outcome date is a Monday (12 dates), so the data looks weekly" in err.message
    assert "attribution needs daily rows" in err.message


def test_geos_dropped_for_missing_days_are_named(form) -> None:
    sums = _sums()
    # two geos lose every third day: dropped, one geo left
    gone = sums["geo"].isin(["US-NY", "US-TX"]) & ((sums["date"] - START) % 3 == 1)
    err = _refusal(form(sums.loc[~gone]))
    assert "2 of 3 geo(s) dropped because they lack an outcome on more than 2% of the days " \
           "(US-NY, US-TX)" in err.message  # fmt: skip
    assert "looks weekly" not in err.message


def test_a_single_national_geo_is_told_it_needs_a_geo_panel(form) -> None:
    """F4."""
    err = _refusal(form(_sums(geos=("US",))))
    # R48-F5: "1 geos" before.
    assert "got 84 days and 1 geo; the outcome has one geo (US)" in err.message
    assert "attribution needs a geo panel" in err.message


def test_conversions_only_asked_for_revenue_says_which_flag(form) -> None:
    """F8: an orders-only file was told it had no first-party outcome rows."""
    err = _refusal(form(_sums(revenue=False)))
    assert err.subject == "outcome"
    assert err.message.startswith(
        "the first-party rows carry conversions but no revenue: pass --outcome conversions"
    )
    assert panel_from_aggregates(form(_sums(revenue=False)), outcome_name="conversions").n_geos == 3
    # no first-party measure at all: the old message
    none = _sums()
    none = none.loc[none["source"] != "generic"]
    assert "no first-party outcome rows" in _refusal(form(none)).message


def test_one_weekly_channel_next_to_daily_data_is_named(form) -> None:
    """F3: weekly TV spend dated Mondays was read as Monday spikes, silently."""
    panel = panel_from_aggregates(form(_sums(weekly_channel="tv")))
    (w,) = [w for w in panel.warnings if "weekly" in w]
    assert w.startswith(
        "tv's spend falls on Mondays only (12 of 84 days) while the outcome is daily"
    )
    assert "meta" not in w


def test_a_weekly_external_factor_is_carried_over_its_weeks() -> None:
    """F10: a promotions calendar dated Mondays was filled with the series mean on the other
    six days."""
    panel = panel_from_aggregates(_sums())
    mondays = [dt.date(2023, 12, 25) + dt.timedelta(weeks=i) for i in range(14)]
    promo = [float(i % 4 == 2) for i in range(14)]
    daily = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(84)]
    out = with_external_series(panel, [
        ("promo", "", mondays, promo),
        ("macro", "", daily, [float(i) for i in range(84)]),
    ])  # fmt: skip
    # 2023-12-25's value covers nothing of the panel; each Monday's covers its own week
    want = np.repeat(promo[1:13], 7)
    np.testing.assert_array_equal(out.national["promo"], want)
    np.testing.assert_array_equal(out.national["macro"], np.arange(84.0))
    (note,) = [w for w in out.warnings if "external factor" in w]
    assert note == ("external factor promo has values on Mondays only (14 dates): read as "
                    "weekly, each value carried over the six days after its date")  # fmt: skip
    # a few events on one weekday, months apart: as given (NaN between, the mean in the fit)
    events = [dt.date(2024, 1, 8), dt.date(2024, 2, 19), dt.date(2024, 3, 18)]
    sparse = with_external_series(panel, [("launch", "", events, [1.0, 1.0, 1.0])])
    assert int(np.isfinite(sparse.national["launch"]).sum()) == 3
    assert not [w for w in sparse.warnings if "external factor" in w]
