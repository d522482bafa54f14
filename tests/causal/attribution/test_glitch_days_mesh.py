"""Glitched days of an export through the mesh (audit s21 R50): each world is the simulator's
demo world with one export's rows edited, written to real memory and analysed by real
AnalyzeAttribution; the health check names the day, what it is and the fix.

- F1: every geo's revenue ×50 on one day (a mis-keyed import) passed the health checks; the
  geo-day check takes each day's median shift over geos out, so nothing named the day.
- F5: a week of one channel's spend booked on its first day (a weekly invoice entered as a
  day) and F6: one channel's day keyed ×100 went through unnamed.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from tests.causal.attribution.records import world_mesh

NATDAY = pd.Timestamp("2024-10-20")
SPIKE = pd.Timestamp("2024-10-25")
WEEK = pd.date_range("2024-11-14", periods=7)


def _natday() -> sim.SimResult:
    w = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    on = w.outcomes["date"] == NATDAY
    w.outcomes.loc[on, "revenue"] *= 50
    return w


def _spike() -> sim.SimResult:
    w = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    on = (w.panel["channel"] == "tiktok") & (w.panel["date"] == SPIKE)
    w.panel.loc[on, ["spend", "spend_org"]] *= 100
    return w


def _lump() -> sim.SimResult:
    w = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    p = w.panel
    week = (p["channel"] == "google_search") & p["date"].isin(WEEK)
    for col in ("spend", "spend_org"):
        total = p.loc[week].groupby(["campaign_id", "region"])[col].transform("sum")
        p.loc[week, col] = total.where(p.loc[week, "date"] == WEEK[0], 0.0)
    return w


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, causal_pb.AttributionResult]]:
    worlds = {"natday": _natday(), "spike": _spike(), "lump": _lump()}
    with world_mesh(tmp_path_factory.mktemp("mesh"), worlds) as mesh:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
        yield {
            org: list(causal.AnalyzeAttribution(
                causal_pb.AnalyzeAttributionRequest(org_id=org), timeout=300))[-1].result
            for org in worlds
        }  # fmt: skip


def _check(result: causal_pb.AttributionResult, name: str) -> causal_pb.HealthCheck:
    (check,) = [c for c in result.health.checks if c.name == name]
    return check


def test_a_national_day_x50_fails_and_is_named(results) -> None:
    result = results["natday"]
    check = _check(result, "national_outliers")
    assert check.verdict == causal_pb.HEALTH_VERDICT_FAIL, check.message
    assert result.health.verdict == causal_pb.HEALTH_VERDICT_FAIL
    assert check.message.startswith(
        "1 day(s) of the national revenue are far from what the calendar, external factors "
        f"and media explain ({NATDAY.date()}: "
    ), check.message
    assert "in 6 of 6 geos" in check.message and "correct or drop the day" in check.message


def test_a_day_of_spend_keyed_x100_is_named(results) -> None:
    result = results["spike"]
    check = _check(result, "spend_spikes")
    assert check.verdict == causal_pb.HEALTH_VERDICT_REVIEW
    assert result.health.verdict != causal_pb.HEALTH_VERDICT_PASS
    assert check.message.startswith(
        f"1 channel-day(s) of input far above their usual day, which the model reads as that day's "
        f"spend, so the channel's effect, and the other channels' through it, rest on them: "
        f"tiktok's spend on {SPIKE.date()} is "
    ), check.message
    assert "a mis-keyed figure (an extra zero, cents read as units) or a real burst?" in (
        check.message
    )


def test_a_week_of_spend_on_one_day_is_named_as_such(results) -> None:
    check = _check(results["lump"], "spend_spikes")
    assert check.verdict == causal_pb.HEALTH_VERDICT_REVIEW
    assert f"google_search's spend on {WEEK[0].date()} is " in check.message, check.message
    assert "and the 6 days after it have none: 7 days booked on one day" in check.message


def test_the_clean_days_of_each_world_are_not_named(results) -> None:
    # each world has one glitch: the other checks name nothing else
    assert not [c for c in results["natday"].health.checks if c.name == "spend_spikes"]
    assert not [c for c in results["spike"].health.checks if c.name == "national_outliers"]
