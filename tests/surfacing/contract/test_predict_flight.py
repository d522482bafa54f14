"""PredictPerformance of a channel that ran on part of the analysis window, over real servers
(R51-F1): TikTok runs 61 days inside the window and stops. Re-running that flight — the same
number of days at the same daily rate — must read about what the analysis's own curve reads
for the flight as run, inside the analysis's interval, and without calling the rate it ran
at "beyond what the model saw". Before the fix the forecast re-applied the window's off-days
on every planned day (the curve's nodes hold them at zero input): 0.09 per dollar where the
curve read the same flight at 0.29, and a warning that the rate was extrapolation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from datetime import date
from typing import Any

import grpc
import numpy as np
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
import sim.core
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService
from mesh.sdk import InvalidArgument, LiftOS
from surfacing_svc.curves import HillCurve
from tests.causal.attribution.records import world_mesh

ORG = "flight"
DAYS = 180
ON, OFF = 60, 121  # tiktok spends on days [ON, OFF) of the window: 61 days
HORIZON = 70


def _build(*args: Any, **kwargs: Any) -> sim.core.World:
    world = _BUILD(*args, **kwargs)
    flight = tuple(
        dataclasses.replace(c, start_day=ON, end_day=OFF) if c.channel == "tiktok" else c
        for c in world.campaigns
    )
    return dataclasses.replace(world, campaigns=flight)


_BUILD = sim.core.build_world


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    """The demo world over 180 days with TikTok's campaigns running on 61 of them only (in the
    world itself: the outcome carries its effect on those days)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim.core, "build_world", _build)
        return sim.simulate("demo", seed=0, days=DAYS, start=date(2024, 1, 1), n_geos=10,
                            dirt=False)  # fmt: skip


def _curve_at(model: causal_pb.ChannelResponseModel, spend: float) -> float:
    """The planning curve's mean outcome over the window at ``spend`` (the analysis's curve, as
    recommend and optimize read it)."""
    curve = HillCurve(
        channel=model.channel, reference_spend=model.reference_spend,
        period_days=model.period_days, scale=np.asarray(model.scale),
        half_saturation=np.asarray(model.half_saturation), shape=np.asarray(model.shape),
        nodes=np.asarray(model.nodes), node_weights=np.asarray(model.node_weights),
    )  # fmt: skip
    return float(curve.mean_outcome(spend))


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult
) -> Iterator[dict[str, RunningService]]:
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh: dict[str, RunningService]) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    events = list(causal.AnalyzeAttribution(
        causal_pb.AnalyzeAttributionRequest(org_id=ORG), timeout=300))  # fmt: skip
    return events[-1].result


def _predict(
    mesh: dict[str, RunningService], analysis_id: str, daily: list[float]
) -> pb.PredictPerformanceResponse:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    return stub.PredictPerformance(pb.PredictPerformanceRequest(
        org_id=ORG, analysis_id=analysis_id, horizon_days=HORIZON,
        plan=[pb.SpendPlan(channel="tiktok", daily=daily)]))  # fmt: skip


def _flight(model: causal_pb.ChannelResponseModel) -> list[float]:
    """The flight re-run: the same 61 days at the same daily rate, after a week off."""
    rate = model.reference_spend / model.active_days
    return [rate if 7 <= h < 7 + model.active_days else 0.0 for h in range(HORIZON)]


def test_rerunning_a_flight_reads_what_the_analysis_read_of_it(
    mesh: dict[str, RunningService], analysis: causal_pb.AttributionResult
) -> None:
    result = analysis
    model = next(m for m in result.response_models if m.channel == "tiktok")
    assert model.stopped and model.active_days == OFF - ON, (model.active_days, model.stopped)
    days = model.active_days
    flight = _flight(model)
    on = _predict(mesh, result.analysis_id, flight)
    off = _predict(mesh, result.analysis_id, [0.0] * HORIZON)
    heavy = _predict(mesh, result.analysis_id, [3.0 * v for v in flight])
    spent = sum(flight)
    assert spent == pytest.approx(model.reference_spend, rel=1e-9)
    gained = on.media_total.estimate - off.media_total.estimate
    curve = _curve_at(model, model.reference_spend)
    row = next(c for c in result.channels if c.channel == "tiktok")
    # what the analysis read of the flight as run: its curve there (the forecast's baseline is
    # another period's, so a band), and inside the analysis's own interval
    assert 0.7 * curve <= gained <= 1.4 * curve, (gained, curve)
    assert row.incremental_outcome.lower <= gained <= row.incremental_outcome.upper
    # the rate it ran at is what the model saw
    beyond = [w for w in on.warnings if w.startswith("tiktok") and "beyond what the model" in w]
    assert not beyond, beyond
    # three times the rate is not: named against the rate it ran at, on the days it spends
    (said,) = [w for w in heavy.warnings if w.startswith("tiktok") and "beyond what the model" in w]
    assert f"on its {days} day(s) with spend, 3.0× what it spent a day while it ran" in said, said


def test_the_sdk_and_the_cli_plan_a_flight_by_day(
    mesh: dict[str, RunningService],
    analysis: causal_pb.AttributionResult,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R51-F6: the SDK's ``daily_plan`` and the CLI's ``--daily CHANNEL=AMOUNT@START..END``
    send the per-day plan the API takes; before, both could only spend one amount on every
    day of the horizon."""
    model = next(m for m in analysis.response_models if m.channel == "tiktok")
    flight = _flight(model)
    raw = _predict(mesh, analysis.analysis_id, flight)
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    with LiftOS(PeerConfig.from_env(), org_id=ORG) as client:
        sdk = client.predict(analysis.analysis_id, days=HORIZON, daily_plan={"tiktok": flight})
        with pytest.raises(InvalidArgument, match="has 3 daily values for a 70-day horizon"):
            client.predict(analysis.analysis_id, days=HORIZON, daily_plan={"tiktok": [1.0] * 3})
        with pytest.raises(InvalidArgument, match="tiktok is planned more than once"):
            client.predict(analysis.analysis_id, days=HORIZON, daily_spend={"tiktok": 1.0},
                           daily_plan={"tiktok": flight})  # fmt: skip
    assert sdk.total is not None
    assert sdk.total.estimate == pytest.approx(raw.total.estimate, rel=1e-9)
    end = analysis.date_range.end_date
    start = dt.date(end.year, end.month, end.day) + dt.timedelta(days=8)  # a week off first
    last = start + dt.timedelta(days=model.active_days - 1)
    rate = model.reference_spend / model.active_days
    assert cli.main(["predict", analysis.analysis_id, "--org", ORG, "--days", str(HORIZON),
                     "--daily", f"tiktok={rate!r}@{start}..{last}"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert (f"plan: tiktok {rate:,.0f} a day on {start}..{last} ({model.active_days} days); 0 "
            f"on the horizon's other {HORIZON - model.active_days} days") in err  # fmt: skip
    assert f"total: {raw.total.estimate:,.0f} [" in out, out
