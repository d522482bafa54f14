"""Recommend refuses an analysis that doubts a channel's spend unit (audit R18 #1): with one
channel's spend in cents every channel's estimate carries the error, and Recommend said 'cut'
to every channel at confidence 100%. Real memory, ingestion, causal and surfacing servers."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from tests.causal.attribution.records import world_mesh
from tests.support import error_details

ORG = "cents"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    cents = world.panel["channel"].astype(str) == "tiktok"
    world.panel.loc[cents, "spend_org"] *= 100  # the export's spend in cents
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result


def test_recommend_refuses_while_a_spend_unit_is_in_doubt(mesh, analysis) -> None:
    (check,) = [c for c in analysis.health.checks if c.name == "spend_scale"]
    assert check.verdict == causal_pb.HEALTH_VERDICT_REVIEW and "tiktok" in check.message
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    with pytest.raises(grpc.RpcError) as info:
        stub.Recommend(
            pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis.analysis_id]), timeout=300
        )
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(info.value)[0] == "SPEND_UNIT_IN_DOUBT"
    assert "tiktok" in str(info.value.details()) and "run the analysis again" in str(
        info.value.details()
    )
    # OptimizeBudget answers the question asked of the curves, and says the doubt
    plan = stub.OptimizeBudget(
        pb.OptimizeBudgetRequest(
            org_id=ORG,
            analysis_id=analysis.analysis_id,
            total_budget=common_pb.Money(amount=sum(c.spend.amount for c in analysis.channels)),
        ),
        timeout=300,
    )
    assert any("spend_scale" in w or "tiktok" in w for w in plan.warnings)
