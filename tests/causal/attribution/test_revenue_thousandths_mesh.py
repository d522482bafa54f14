"""s18 R34 F1's outcome side through the mesh: a German export's whole-euro revenue "80.620"
(= 80,620) stored in memory as 80.620 made every channel's correct spend many times the
revenue, and AnalyzeAttribution told each channel 'is it in cents? divide by 100'. The
analysis now names the revenue, once, with the fix. Real memory, ingestion and causal servers."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from tests.causal.attribution.records import world_mesh

ORG = "de_thousands"


def test_the_analysis_names_the_revenue_not_each_spend(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    world.outcomes["revenue"] = np.round(world.outcomes["revenue"].to_numpy(float)) / 1000.0
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as mesh:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
        request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
        result = list(causal.AnalyzeAttribution(request, timeout=300))[-1].result
    (check,) = [c for c in result.health.checks if c.name == "spend_scale"]
    assert check.verdict == causal_pb.HEALTH_VERDICT_REVIEW
    assert check.message.startswith("the outcome's revenue looks in another unit (revenue $")
    assert "thousands read as decimals" in check.message
    (warning,) = [w for w in result.warnings if "thousandth" in w or "another unit" in w]
    assert warning.startswith("the outcome's revenue (the first-party rows, ingested with")
    assert "liftos ingest --decimal ','" in warning and "divide by 100" not in warning
