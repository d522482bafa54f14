"""Budget response found over a stored window (causal_svc.confounders_retro), scored against the
simulator's own truth (sim.confounders): planted demand chasing is recovered, a world whose
budgets ignore demand is left alone, and a window too short to measure against is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from bench.confounder_detection import campaign_geo_sums, simulated_sums
from causal_svc.confounders_retro import (
    MIN_DAYS,
    _adstock,
    _common_variance,
    _national_move,
    _slow_elasticity,
    _spend_geo_move,
    budget_response_line,
    detect_budget_response,
)
from causal_svc.convert.aggregates import campaign_geo_frame
from causal_svc.errors import InsufficientData
from mesh.runtime.aggregates import campaign_column, melt_geo_days
from mesh.runtime.tables import frame_to_table
from sim.confounders import _demand_chase, confounder_truth


def _scored(result: sim.SimResult) -> tuple[float, float, int]:
    """(recall, precision, active rows) over the paid campaign × geo × day rows."""
    geo_days, campaign_days = simulated_sums(result)
    found = detect_budget_response(geo_days, campaign_days)
    truth = confounder_truth(result)
    paid = truth.loc[truth["source"] != "klaviyo"]
    flagged = found.flags_for("US-" + paid["region"].astype(str), paid["date"])
    active = paid["budget_response"].to_numpy(bool)
    tp = int((active & flagged).sum())
    return tp / max(int(active.sum()), 1), tp / max(int(flagged.sum()), 1), int(active.sum())


def test_planted_demand_chasing_is_recovered() -> None:
    # a world the detector was not tuned on (tuned on 1-9 and 60-79)
    recall, precision, active = _scored(sim.simulate("demo", seed=13, dirt=False))
    assert active > 300  # the world plants enough budget response to score
    assert recall >= 0.9, (recall, precision)
    assert precision >= 0.85, (recall, precision)


def test_the_line_reports_what_was_found() -> None:
    geo_days, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False))
    found = detect_budget_response(geo_days, campaign_days)
    flagged = int(found.geo_days["budget_response"].sum())
    assert flagged > 0
    assert f"on {flagged:,} of {len(found.geo_days):,} geo-days" in found.line()
    assert budget_response_line(geo_days, campaign_days) == found.line()


def test_budgets_that_ignore_demand_are_not_flagged() -> None:
    result = sim.simulate("demo", seed=13, dirt=False, confounding=0.0)
    geo_days, campaign_days = simulated_sums(result)
    found = detect_budget_response(geo_days, campaign_days)
    assert not confounder_truth(result)["budget_response"].any()
    assert found.flagged_share < 0.01
    assert abs(found.elasticity) < 0.3  # budgets do not move with the orders


def test_a_window_too_short_is_refused() -> None:
    geo_days, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False, days=40))
    first = geo_days["date"].min()
    geo_days = geo_days.loc[geo_days["date"] < first + MIN_DAYS - 1]
    with pytest.raises(InsufficientData, match="at least 28 days"):
        detect_budget_response(geo_days, campaign_days)
    # the attribution around it goes on, saying why
    line = budget_response_line(geo_days, campaign_days)
    assert line.startswith("budget response not assessed: ") and "28 days" in line


def test_spend_noise_is_weighed_without_the_move_it_carries() -> None:
    # three channels see the same geo-day move (sd 0.3) through their own noise (sd 0.1, 0.2,
    # 0.4): their shared variance is the move's, and each weight is the noise's alone
    rng = np.random.default_rng(0)
    move = rng.normal(0.0, 0.3, (30, 200))
    move = move - move.mean(axis=0) - move.mean(axis=1, keepdims=True) + move.mean()  # a geo move
    noise_sd = np.array([0.1, 0.2, 0.4])
    residual = move[None] + rng.normal(0.0, 1.0, (3, 30, 200)) * noise_sd[:, None, None]
    assert _common_variance(residual) == pytest.approx(0.09, rel=0.1)
    spend = np.exp(residual + 5.0)
    found, variance = _spend_geo_move(spend)
    combined = 1.0 / (1.0 / noise_sd**2).sum()  # the inverse-variance weighted reading's
    # (weighing each channel by its whole residual, move included, would err by ~65% more and
    # state a variance 6x too large)
    assert float(np.var(found - move)) < 1.15 * combined
    assert float(np.mean(variance)) == pytest.approx(combined, rel=0.25)


def test_slow_elasticity_reads_the_slow_pace_and_keeps_c_when_unsure() -> None:
    rng = np.random.default_rng(1)
    geos, days = 40, 365
    slow_move = np.cumsum(rng.normal(0.0, 0.01, (geos, days)), axis=1)  # demand, geo by geo
    orders = np.full((geos, days), 2000.0)
    from_orders = slow_move + rng.normal(0.0, 1.0 / np.sqrt(2000.0), (geos, days))
    from_spend = 1.8 * slow_move + rng.normal(0.0, 0.05, (geos, days))
    # budgets move 1.8x the orders at this pace; c read from fast days says 2.0
    assert _slow_elasticity(from_orders, from_spend, orders, 2.0) == pytest.approx(1.8, abs=0.05)
    # a slope above c is never taken (adstock only adds to the slow response)
    assert _slow_elasticity(from_orders, 2.4 * slow_move, orders, 2.0) == 2.0
    # orders too noisy to show a slow move: c stands
    flat = rng.normal(0.0, 1.0 / np.sqrt(5.0), (geos, days))
    assert _slow_elasticity(flat, from_spend, np.full((geos, days), 5.0), 2.0) == 2.0


def _pacing(rng: np.random.Generator, days: int) -> np.ndarray:
    """A slow national pacing path (a random walk over ~3-week steps, linearly joined)."""
    knots = np.cumsum(rng.normal(0.0, 0.05, days // 21 + 2))
    return np.interp(np.arange(days), np.arange(len(knots)) * 21, knots)


def test_campaigns_starting_inside_the_window_do_not_read_as_demand() -> None:
    # a second campaign of equal size starts on day 60: the media, and so orders, step up
    # while demand does not; the campaigns' common move (a level per campaign) does not step
    rng = np.random.default_rng(2)
    days, c = 180, 0.8
    t = np.arange(days)
    demand = 0.15 * np.sin(2 * np.pi * t / 45) + rng.normal(0.0, 0.05, days)
    running = np.where(t < 60, 1.0, 2.0)
    orders = demand + 0.12 * np.log(_adstock(running, 0.6)) + rng.normal(0.0, 0.005, days)
    spend = c * demand + _pacing(rng, days) + rng.normal(0.0, 0.01, days)
    national, elasticity = _national_move(
        orders, spend, np.zeros((0, 1, days)), None, running, np.full(days, 0.005**2)
    )
    error = national - c * demand
    error -= error.mean()
    assert elasticity == pytest.approx(c, abs=0.05)
    # the orders' step (0.12 x log 2 = 0.083, x c = 0.067) is not in the national move,
    # nor is the media's warm-up in the first week
    assert abs(error[65:120].mean() - error[20:55].mean()) < 0.015
    assert abs(error[:7].mean()) < 0.02


def test_the_spend_reading_weighs_more_where_the_orders_are_noisier() -> None:
    # the same demand read through orders with Poisson noise of sd 0.004 or 0.03: the national
    # move leans on the spend's day-to-day reading (noise 0.01) when the orders' is larger
    rng = np.random.default_rng(3)
    days, c = 240, 1.0
    demand = np.convolve(rng.normal(0.0, 0.08, days + 6), np.ones(7) / 7, "valid")
    demand += rng.normal(0.0, 0.05, days)
    spend = c * demand + _pacing(rng, days) + rng.normal(0.0, 0.01, days)
    running = np.ones(days)
    for sd, bound in ((0.004, 0.006), (0.03, 0.018)):
        orders = demand + rng.normal(0.0, sd, days)
        national, _ = _national_move(
            orders, spend, np.zeros((0, 1, days)), None, running, np.full(days, sd**2)
        )
        error = national - c * demand
        # a fixed 0.3 weight on the spend reading would leave ~0.021 at sd 0.03
        assert float(np.std(error - error.mean())) < bound, sd


def _move_error(result: sim.SimResult, per_campaign: bool) -> float:
    """rms of the estimated geo-day demand move less the truth's, in logs."""
    geo_days, campaign_days = simulated_sums(result)
    extra = campaign_geo_sums(result) if per_campaign else None
    found = detect_budget_response(geo_days, campaign_days, campaign_geo_days=extra)
    org = next(iter(result.truth["orgs"].values()))
    n = len(result.truth["dates"])
    chase = float(result.truth["config"]["confounding"]) * _demand_chase(org["demand"], n)
    regions = ["US-" + g["code"] for g in result.truth["geos"]]
    frame = found.geo_days
    g = pd.Index(regions).get_indexer(frame["geo"].astype(str))
    t = pd.Index(pd.to_datetime(result.truth["dates"])).get_indexer(frame["date"])
    return float(np.sqrt(np.mean((frame["demand_move"].to_numpy() - chase[g, t]) ** 2)))


def test_spend_read_per_campaign_beats_channel_sums() -> None:
    # each campaign's own noise averages over every campaign; a channel's sum is dominated by
    # its largest campaigns (a world not used in development: confounded 20-29, 40-49)
    result = sim.simulate("confounded", seed=31, dirt=False)
    sums, per_campaign = _move_error(result, False), _move_error(result, True)
    assert per_campaign < 0.93 * sums, (per_campaign, sums)


def test_memory_s_wide_spend_reads_as_the_per_campaign_rows() -> None:
    # AggregateRecords' campaign_geo_days (wide: a spend column per source:channel:campaign_id)
    # through causal's conversion gives the detector what the long rows give it; a calendar
    # source's spend (Klaviyo's sends cost nothing to the budgets) is not read as paid spend
    result = sim.simulate("demo", seed=13, dirt=False)
    geo_days, campaign_days = simulated_sums(result)
    long = campaign_geo_sums(result)
    panel = result.panel.drop_duplicates("campaign_id").set_index("campaign_id")
    wide = long.pivot_table(index=["date", "geo"], columns="campaign_id", values="spend",
                            aggfunc="sum", fill_value=0.0)  # fmt: skip
    wide.columns = [campaign_column(str(panel.at[c, "source"]), str(panel.at[c, "channel"]), c)
                    for c in wide.columns]  # fmt: skip
    wide["klaviyo:klaviyo_email:news"] = 50.0
    table = frame_to_table(wide.reset_index())
    back = campaign_geo_frame(table)
    assert back.columns.tolist() == ["date", "geo", "source", "channel", "campaign_id", "spend"]
    paid = back.loc[back["source"] != "klaviyo"].astype({"geo": str, "campaign_id": str})
    keys = ["date", "geo", "campaign_id"]
    got = paid.sort_values(keys)[[*keys, "spend"]].reset_index(drop=True)
    want = long.loc[long["spend"] != 0].astype({"geo": str, "campaign_id": str})
    want = want.sort_values(keys)[[*keys, "spend"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    from_wire = detect_budget_response(geo_days, campaign_days, campaign_geo_days=back)
    from_rows = detect_budget_response(geo_days, campaign_days, campaign_geo_days=long)
    np.testing.assert_allclose(from_wire.geo_days["demand_move"], from_rows.geo_days["demand_move"],
                               rtol=0, atol=1e-9)  # fmt: skip
    sums = detect_budget_response(geo_days, campaign_days)
    assert not np.allclose(from_wire.geo_days["demand_move"], sums.geo_days["demand_move"])
    line = budget_response_line(geo_days, campaign_days, back)
    assert line == from_wire.line() != budget_response_line(geo_days, campaign_days)


def test_a_newest_day_with_orders_in_few_geos_is_not_a_demand_collapse() -> None:
    """Audit R5-F1: the newest day's orders had landed for 5 of 20 states; the detector read
    the other 15 as zero orders and the budgets' elasticity fell from 0.88 to 0.21. A day at
    the window's edge with orders in fewer than half the geos is left out, as the fit does."""
    wide, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False, days=90))
    geo_days = melt_geo_days(wide)
    last = geo_days["date"].max()
    complete = detect_budget_response(geo_days.loc[geo_days["date"] < last], campaign_days)
    fp = geo_days["source"].astype(str).eq("generic")
    geos = sorted(geo_days.loc[fp, "geo"].astype(str).unique())
    lost = fp & (geo_days["date"] == last) & geo_days["geo"].astype(str).isin(geos[3:])
    partial = detect_budget_response(geo_days.loc[~lost], campaign_days)
    assert partial.elasticity == pytest.approx(complete.elasticity, abs=1e-9)
    assert partial.flagged_share == pytest.approx(complete.flagged_share, abs=1e-9)
