"""AnalyzeAttributionRequest.max_lag_days (s18 R37 F1): the carry-over window was fixed at 28
days and nothing let a user set it. Over a real mesh (memory, ingestion, causal): the window
asked for reaches the fit and is kept with the analysis (its model config and every channel's
stored carry-over, which counterfactuals, optimize and predict read); out of bounds it is
INVALID_ARGUMENT naming the field, through gRPC, the SDK and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from mesh.cli.commands import main
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure
from tests.support import error_details

from .records import world_mesh

ORG = "longlag"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    world = sim.simulate("demo", seed=3, days=120, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield services


@pytest.fixture(scope="module")
def stub(mesh: dict[str, RunningService]) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


def _analyze(stub: causal_grpc.CausalServiceStub, max_lag_days: int = 0) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=ORG, max_lag_days=max_lag_days)
    return list(stub.AnalyzeAttribution(request, timeout=600))[-1].result


@pytest.fixture(scope="module")
def longer(stub: causal_grpc.CausalServiceStub) -> pb.AttributionResult:
    return _analyze(stub, max_lag_days=42)


def test_the_window_reaches_the_fit_and_is_stored(
    stub: causal_grpc.CausalServiceStub, longer: pb.AttributionResult
) -> None:
    stored = stub.GetAnalysis(
        pb.GetAnalysisRequest(org_id=ORG, analysis_id=longer.analysis_id)
    ).analysis.attribution
    for r in (longer, stored):
        assert r.model.model_config.max_lag_days == 42
        assert r.response_models
        assert {len(m.carryover) for m in r.response_models} == {42}
    # the default is still 28
    assert _analyze(stub).model.model_config.max_lag_days == 28
    # a counterfactual on the stored analysis restores its model (and its 42-day window)
    out = stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=longer.analysis_id,
        changes=[pb.SpendChange(channel=longer.channels[0].channel, multiplier=0.0)],
    ))  # fmt: skip
    assert out.channels


@pytest.mark.parametrize("days", [-1, 121])
def test_out_of_bounds_is_refused_naming_the_field(
    stub: causal_grpc.CausalServiceStub, days: int
) -> None:
    with pytest.raises(grpc.RpcError) as e:
        _analyze(stub, max_lag_days=days)
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "max_lag_days" in error_details(e.value)[1]
    assert "max_lag_days must be 0..120 (0 for the default 28)" in (e.value.details() or "")


def test_the_sdk_and_the_cli(
    mesh: dict[str, RunningService],
    longer: pb.AttributionResult,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    peers = PeerConfig.from_env().with_overrides(causal=mesh["causal"].address)
    with LiftOS(peers, org_id=ORG) as client, pytest.raises(RpcFailure) as e:
        client.analyze(max_lag_days=500)
    assert e.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in e.value.field_violations] == ["max_lag_days"]
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    assert main(["analyze", "--org", ORG, "--max-lag-days", "42", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["modelConfig"]["maxLagDays"] == 42
    # the same request as the gRPC one: the same fit
    cli = {c["channel"]: (c.get("incrementalRoas") or {}).get("estimate", 0.0)
           for c in out["channels"]}  # fmt: skip
    assert cli == pytest.approx(
        {c.channel: c.incremental_roas.estimate for c in longer.channels}, rel=1e-6, abs=1e-9
    )
