"""A holdout whose days the training days cannot forecast, over a real mesh (memory, ingestion,
causal): a 90-day demo world from 15 September ends on 13 December; held out 14 days, every one
falls on Black Friday weekend or the December gift weeks, which the 76 training days never saw.
AnalyzeAttribution answered INTERNAL (``held.max()`` of no scored day, health.py); held out 17
days, only 27 November could be scored, R² was NaN and the model FAILED its health (no ROIs).
Now the holdout check is REVIEW and says why and what to do; the channels are scored."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from mesh.runtime.inprocess import RunningService

from .records import world_mesh

ORG = "decembershop"


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[causal_grpc.CausalServiceStub]:
    world = sim.simulate("demo", seed=0, days=90, dirt=False, n_geos=10)
    services: dict[str, RunningService]
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


@pytest.mark.parametrize("holdout_days", [14, 17])
def test_a_holdout_the_training_days_cannot_forecast_is_review_and_said(
    stub: causal_grpc.CausalServiceStub, holdout_days: int
) -> None:
    request = pb.AnalyzeAttributionRequest(org_id=ORG, holdout_days=holdout_days)
    result = list(stub.AnalyzeAttribution(request, timeout=300))[-1].result
    checks = {c.name: c for c in result.health.checks}
    holdout = checks["holdout"]
    assert holdout.verdict == pb.HEALTH_VERDICT_REVIEW, holdout
    assert f"holdout ({holdout_days} days) not scored" in holdout.message, holdout.message
    assert "the December gift weeks" in holdout.message, holdout.message
    assert "Cyber Monday (2024-12-02)" in holdout.message, holdout.message
    # The fix it names: a longer holdout (a 90-day window allows 30 days) or a longer window.
    assert "holdout_days up to 30" in holdout.message, holdout.message
    assert result.health.verdict != pb.HEALTH_VERDICT_FAIL, result.health
    assert result.health.holdout_days == 0  # no R² was measured, none is reported
    assert any(c.HasField("incremental_roas") for c in result.channels), result.channels
