"""A registry lift test calibrates only an analysis of the outcome it measured, end to end:
a geo holdout whose recorded lift is revenue calibrates AnalyzeAttribution on revenue and is
set aside, with a warning naming it, on conversions (units a revenue lift cannot speak to)."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb

import sim

from .records import register_holdout, world_mesh

ORG = "liftmetric"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        channel = grpc.insecure_channel(services["ingestion"].address)
        experiment, _, _ = register_holdout(channel, world, ORG, common_pb.OUTCOME_METRIC_REVENUE)
        yield services, experiment


def _analyze(services, outcome: str) -> pb.AttributionResult:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
    metric = {"revenue": common_pb.OUTCOME_METRIC_REVENUE,
              "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS}[outcome]  # fmt: skip
    request = pb.AnalyzeAttributionRequest(org_id=ORG, outcome=metric)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def test_a_revenue_lift_calibrates_revenue_and_not_conversions(mesh) -> None:
    services, experiment = mesh
    revenue = _analyze(services, "revenue")
    assert len(revenue.calibration) == 1
    assert not [w for w in revenue.warnings if experiment in w and "not used" in w]
    orders = _analyze(services, "conversions")
    assert len(orders.calibration) == 0
    (why,) = [w for w in orders.warnings if experiment in w and "not used" in w]
    assert "revenue" in why and "conversions" in why
