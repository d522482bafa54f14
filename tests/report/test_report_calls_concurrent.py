"""`liftos report` asks the surfacing service's independent questions at once (R17-F4: four
calls one after another), and the page is the one the calls made one by one give. Real memory,
causal and surfacing servers; the client is the real SDK, with a barrier in front of three of
its calls, which only calls in flight together can pass."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as surfacing_pb

import sim
from mesh.cli.report import DESIGN_ALPHA, FAN_LEVELS, FORECAST_DAYS, _window, channel_to_test, plan
from mesh.report import render_report
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS
from tests.causal.attribution.records import world_mesh

ORG = "simshop"
_RENDERED = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)


class _Together(LiftOS):
    """The SDK, where Recommend, OptimizeBudget and PredictPerformance each wait for the other
    two to be called before going out: asked one after another, the first waits in vain."""

    def __init__(self, peers: PeerConfig, **kwargs: Any) -> None:
        super().__init__(peers, **kwargs)
        self.barrier = threading.Barrier(3, timeout=30)
        self.threads: dict[str, str] = {}

    def _meet(self, call: str) -> None:
        self.threads[call] = threading.current_thread().name
        self.barrier.wait()

    def recommend(self, *args: Any, **kwargs: Any) -> Any:
        self._meet("recommend")
        return super().recommend(*args, **kwargs)

    def optimize_budget(self, *args: Any, **kwargs: Any) -> Any:
        self._meet("optimize_budget")
        return super().optimize_budget(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        self._meet("predict")
        return super().predict(*args, **kwargs)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh: dict[str, Any]) -> causal_pb.Analysis:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    result = list(causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=ORG),
                                            timeout=180))[-1].result  # fmt: skip
    request = causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=result.analysis_id)
    return causal.GetAnalysis(request).analysis


def _peers(mesh: dict[str, Any], *, surfacing: str | None = None) -> PeerConfig:
    return PeerConfig(
        ingestion=mesh["ingestion"].address, memory=mesh["memory"].address,
        causal=mesh["causal"].address, llm="127.0.0.1:1",  # no llm: the plan does not ask it
        surfacing=surfacing or mesh["surfacing"].address,
    )  # fmt: skip


def _one_by_one(client: LiftOS, analysis: causal_pb.Analysis) -> str:
    """The page as the report made it before: each call after the one before, in this order."""
    result, analysis_id = analysis.attribution, analysis.analysis_id
    rec = surfacing_pb.RecommendResponse.FromString(bytes(client.recommend([analysis_id])))
    current = sum(c.spend.amount for c in result.channels)
    cur = next((c.spend.currency_code for c in result.channels if c.spend.currency_code), "")
    budget = surfacing_pb.OptimizeBudgetResponse.FromString(
        bytes(client.optimize_budget(analysis_id, budget=current, currency=cur))
    )
    forecast = surfacing_pb.PredictPerformanceResponse.FromString(
        bytes(client.predict(analysis_id, days=FORECAST_DAYS, fan_levels=FAN_LEVELS))
    )
    channel, why = channel_to_test(result, rec)
    assert channel  # the world has a channel to test: the design is on the page
    design = surfacing_pb.DesignExperimentResponse.FromString(bytes(client.design_experiment(
        channel, analysis_id=analysis_id, history=_window(result), alpha=DESIGN_ALPHA,
    )))  # fmt: skip
    return render_report(analysis, budget=budget, forecast=forecast, design=design,
                         recommendations=rec, design_channel=channel, design_why=why,
                         rendered=_RENDERED)  # fmt: skip


def test_the_plan_asks_at_once_and_the_page_is_the_same(
    mesh: dict[str, Any], analysis: causal_pb.Analysis
) -> None:
    with _Together(_peers(mesh), org_id=ORG) as client:
        planning = plan(client, analysis)
        threads = dict(client.threads)
    # all three passed the barrier: they were in flight together, none on the caller's thread
    assert set(threads) == {"recommend", "optimize_budget", "predict"}
    assert threading.current_thread().name not in threads.values()
    assert not planning.notes
    assert None not in (planning.recommendations, planning.budget, planning.forecast,
                        planning.design)  # fmt: skip
    page = render_report(
        analysis, budget=planning.budget, forecast=planning.forecast, design=planning.design,
        recommendations=planning.recommendations, design_channel=planning.design_channel,
        design_why=planning.design_why, rendered=_RENDERED,
    )  # fmt: skip
    with LiftOS(_peers(mesh), org_id=ORG) as client:
        assert page == _one_by_one(client, analysis)


def test_the_notes_keep_their_order_when_the_service_is_down(
    mesh: dict[str, Any], analysis: causal_pb.Analysis, tmp_path: Path, capsys: Any
) -> None:
    with LiftOS(_peers(mesh, surfacing="127.0.0.1:1"), org_id=ORG) as client:
        planning = plan(client, analysis)
    whats = [n.split(" in this report:")[0] for n in planning.notes]
    assert whats[:3] == ["No recommendations", "No budget shift", "No forecast"]
    assert all("UNAVAILABLE" in n for n in planning.notes)
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert said == [f"note: {n}" for n in planning.notes]
