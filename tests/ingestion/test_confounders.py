"""Confounder detectors, platform by platform, on days and series built to trigger them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ingestion_svc.calendar import calendar_columns
from ingestion_svc.confounder_budget import FLAG_LOG_MOVE, MATERIAL_LOG_MOVE
from ingestion_svc.confounders import Detected, detect
from ingestion_svc.external_factors import JoinedFactor


def _days(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[D]").astype(np.int64)


def _cube(n: int, conv: list[float] | None = None, spend_today: float = 100.0) -> np.ndarray:
    cube = np.full((n, 29, 3), np.nan)
    cube[:, :, 0] = 100.0
    cube[:, 0, 0] = spend_today
    if conv is not None:
        cube[:, :, 1] = np.array(conv)[None, :]
    return cube


def _run(
    source: str, days: np.ndarray, cube: np.ndarray | None = None, **kw
) -> dict[str, Detected]:  # type: ignore[no-untyped-def]
    n = days.size
    cube = _cube(n) if cube is None else cube
    rolling = np.nanmean(cube[:, 1:8, 0], axis=1)
    found = detect(
        source,
        kw.get("calendar", calendar_columns("US", days)),
        "US",
        days,
        cube,
        rolling,
        kw.get("names", pd.Series(["Prospecting"] * n)),
        kw.get("factors", []),
    )
    return {d.name: d for d in found}


def test_holiday_is_in_play_on_the_days_it_moves_demand() -> None:
    days = _days("2024-11-25", "2024-11-28", "2024-11-29", "2024-11-30", "2024-12-01",
                 "2024-12-02", "2024-12-03", "2024-10-14", "2024-10-07")  # fmt: skip
    for source in ("meta", "google_ads", "klaviyo"):
        found = _run(source, days)["holiday_proximity"]
        # Thanksgiving the 28th, Black Friday the 29th, its weekend (retail events of the
        # calendar's own), Cyber Monday 2 December, Columbus Day 14 October; not the days
        # around them.
        assert np.isnan(found.value[0]) and np.isnan(found.value[6]) and np.isnan(found.value[8])
        assert found.value[1:6].tolist() == [0.0] * 5 and found.value[7] == 0.0
        assert found.strength[1:6].tolist() == [1.0] * 5
        assert found.detector == f"{source}.holiday" and found.type == "holiday"
    described = _run("meta", days)["holiday_proximity"].description
    assert (
        described[3] == "Black Friday Saturday today"
        and described[4] == "Black Friday Sunday today"
    )


def test_retail_peak_is_the_gift_season() -> None:
    days = _days("2024-11-05", "2024-11-30", "2024-12-01", "2024-12-21", "2024-12-22")
    for source in ("meta", "google_ads"):
        peak = _run(source, days)["retail_peak_season"]
        assert np.isnan(peak.value[:2]).all() and np.isnan(peak.value[4])
        assert peak.value[2:4].tolist() == [24.0, 4.0]


def test_weekly_seasonality_needs_an_effect_beyond_poisson_noise() -> None:
    days = _days("2024-10-01", "2024-10-01", "2024-10-01")
    strong = [0.0] + [50.0 if k % 7 == 0 else 10.0 for k in range(1, 29)]
    flat = [0.0] + [10.0] * 28
    tiny = [0.0] + [2.0 if k % 7 == 0 else 1.0 for k in range(1, 29)]
    cube = np.concatenate([_cube(1, strong), _cube(1, flat), _cube(1, tiny)])
    found = _run("meta", days, cube)["weekly_seasonality"]
    assert found.value[0] == pytest.approx(50 / ((4 * 50 + 24 * 10) / 28) - 1)
    assert found.strength[0] == 1.0
    assert np.isnan(found.value[1]) and np.isnan(found.value[2])  # flat; within noise


def test_budget_response_is_the_days_budgets_moving_together() -> None:
    # Six series on 1 October all 40% above their 28-day spend; on 2 October one series
    # doubles and five hold (its own pacing, not demand); 3 October: too few series.
    days = _days(*(["2024-10-01"] * 6 + ["2024-10-02"] * 6 + ["2024-10-03"] * 4))
    together = [_cube(1, spend_today=140.0) for _ in range(6)]
    alone = [_cube(1, spend_today=200.0)] + [_cube(1) for _ in range(5)]
    few = [_cube(1, spend_today=200.0) for _ in range(4)]
    cube = np.concatenate(together + alone + few)
    for source in ("google_ads", "meta", "tiktok"):
        found = _run(source, days, cube)["budget_response"]
        assert found.value[:6] == pytest.approx([np.log(1.4)] * 6)
        assert "+40% together over 6 series" in found.description[0]
        assert np.isnan(found.value[6:]).all()
    assert "budget_response" not in _run("klaviyo", days, cube)


def test_budget_response_reads_the_usual_level_not_a_spike_in_the_window() -> None:
    # Six series 40% above their usual 100 today; five days of the window were a Black
    # Friday at 500. A 28-day mean (~133) would read today as +5%; the median reads +40%.
    days = _days(*(["2024-12-20"] * 6))
    cube = np.concatenate([_cube(1, spend_today=140.0) for _ in range(6)])
    cube[:, 20:25, 0] = 500.0
    found = _run("meta", days, cube)["budget_response"]
    assert found.value == pytest.approx([np.log(1.4)] * 6)


def test_budget_response_flags_past_materiality_plus_its_measurement_margin() -> None:
    days = _days(*(["2024-10-01"] * 6 + ["2024-10-02"] * 6))
    inside = np.exp((MATERIAL_LOG_MOVE + FLAG_LOG_MOVE) / 2)  # material, within the margin
    beyond = np.exp(FLAG_LOG_MOVE + 0.01)
    cube = np.concatenate([_cube(1, spend_today=100 * inside) for _ in range(6)]
                          + [_cube(1, spend_today=100 / beyond) for _ in range(6)])  # fmt: skip
    found = _run("meta", days, cube)["budget_response"]
    assert np.isnan(found.value[:6]).all()
    assert found.value[6:] == pytest.approx([-(FLAG_LOG_MOVE + 0.01)] * 6)


def test_budget_response_needs_a_weeks_spend_history() -> None:
    days = _days(*(["2024-10-01"] * 6))
    cube = np.concatenate([_cube(1, spend_today=200.0) for _ in range(6)])
    cube[:, 7:, 0] = np.nan  # six days of history
    assert "budget_response" not in _run("meta", days, cube)
    cube[:, 7, 0] = 100.0  # seven
    assert _run("meta", days, cube)["budget_response"].value == pytest.approx([np.log(2)] * 6)


def test_promotions_from_campaign_names_and_registered_series() -> None:
    days = _days("2024-10-01", "2024-10-02", "2024-10-03")
    names = pd.Series(["SMS - Drops & Offers #1", "Prospecting", "BFCM 20% off"])
    promo = JoinedFactor("summer_sale", "promotion", "crm", "flag", np.array([0.0, 1.0, np.nan]),
                         np.zeros(3))  # fmt: skip
    found = _run("klaviyo", days, names=names, factors=[promo])
    assert found["promotional_campaign"].value.tolist()[0] == 1.0
    assert np.isnan(found["promotional_campaign"].value[1])
    assert found["promotional_campaign"].value[2] == 1.0
    assert np.isnan(found["summer_sale"].value[0]) and found["summer_sale"].value[1] == 1.0
    assert found["summer_sale"].type == "promotion"


def test_factor_confounders_are_in_play_half_a_standard_deviation_out() -> None:
    days = _days("2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04")
    z = np.array([0.2, 1.0, -1.0, 3.0])
    macro = JoinedFactor("consumer_confidence", "macro", "", "index", z * 10, z)
    rival = JoinedFactor("competitor_sov", "competitor", "", "index", z * 10, z)
    other = JoinedFactor("notes", "other", "", "", z, z)
    found = _run("meta", days, factors=[macro, rival, other])
    assert np.isnan(found["consumer_confidence"].value).tolist() == [True, False, False, False]
    assert found["consumer_confidence"].strength[1:].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert found["consumer_confidence"].type == "macro"
    # A quiet competitor confounds nothing: only activity above normal is flagged.
    assert np.isnan(found["competitor_sov"].value).tolist() == [True, False, True, False]
    assert "notes" not in found


def test_no_calendar_means_no_calendar_confounders() -> None:
    days = _days("2024-11-28")
    found = detect("meta", None, "", days, _cube(1), np.array([100.0]), pd.Series(["x"]), [])
    assert not {d.name for d in found} & {"holiday_proximity", "retail_peak_season"}
    assert dt.date(2024, 11, 28)  # Thanksgiving, but the account's country is unknown


def test_a_registered_season_is_in_play_on_its_days_only_however_long_it_is() -> None:
    days = _days("2024-12-01", "2024-12-02", "2024-12-22", "2024-12-23")
    on = np.array([1.0, 1.0, 0.0, 0.0])
    # Half the days inside: a z-score rule would flag the off days too (|z| = 1).
    season = JoinedFactor("gift_season", "season", "merchandising", "flag", on, on * 2 - 1)
    found = _run("meta", days, factors=[season])
    assert found["gift_season"].type == "seasonality"
    assert np.isnan(found["gift_season"].value).tolist() == [False, False, True, True]
    assert found["gift_season"].strength.tolist() == [1.0, 1.0, 0.0, 0.0]
