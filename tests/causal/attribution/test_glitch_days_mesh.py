"""Glitched days of an export through the mesh (audit s21 R50): each world is the simulator's
demo world with one export's rows edited, written to real memory and analysed by real
AnalyzeAttribution; the health check names the day, what it is and the fix.

- F1: every geo's revenue ×50 on one day (a mis-keyed import) passed the health checks; the
  geo-day check takes each day's median shift over geos out, so nothing named the day.
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


def _natday() -> sim.SimResult:
    w = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    on = w.outcomes["date"] == NATDAY
    w.outcomes.loc[on, "revenue"] *= 50
    return w


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, causal_pb.AttributionResult]]:
    worlds = {"natday": _natday()}
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
