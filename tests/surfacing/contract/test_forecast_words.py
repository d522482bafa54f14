"""PredictPerformance's warnings over gRPC on a real attribution analysis (memory holds a
simulated world, the causal service fits it, the surfacing service forecasts): a plan that
spends nothing says its media are carry-over (audit R29 F3), and a multiplied plan's
extrapolation warning names the spend its multiplier scales (F2)."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from tests.causal.attribution.records import world_mesh

ORG = "simshop"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as mesh:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
        events = list(causal.AnalyzeAttribution(
            causal_pb.AnalyzeAttributionRequest(org_id=ORG), timeout=120))  # fmt: skip
        stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
        yield stub, events[-1].result


def _forecast(stub, analysis, days: int, **multipliers: float) -> pb.PredictPerformanceResponse:
    return stub.PredictPerformance(pb.PredictPerformanceRequest(
        org_id=ORG, analysis_id=analysis.analysis_id, horizon_days=days, alpha=0.1,
        plan=[pb.SpendPlan(channel=c, multiplier=m) for c, m in multipliers.items()]))  # fmt: skip


def test_a_plan_that_spends_nothing_says_its_media_are_carry_over(planned) -> None:
    stub, analysis = planned
    dark = _forecast(stub, analysis, 7, **{c.channel: 0.0 for c in analysis.channels})
    assert dark.media_total.estimate > 0
    (note,) = [w for w in dark.warnings if "carry-over" in w]
    media = f"{dark.media_total.estimate:,.0f}"
    assert note.startswith(f"of the media's {media}, {media} [")
    assert "so it is not what the plan's spend buys" in note


def test_a_multiplied_plan_names_the_spend_its_multiplier_scales(planned) -> None:
    stub, analysis = planned
    paid = next(c.channel for c in analysis.channels if c.spend.amount > 0)
    more = _forecast(stub, analysis, 28, **{paid: 5.0})
    (note,) = [w for w in more.warnings if "extrapolation" in w]
    assert note.startswith(f"{paid}: the plan spends 5.0× its business-as-usual spend (")
    assert "the analysis window's mean (" in note
