"""Recommend on a conversions analysis, end to end: without a value per conversion it is
refused naming value_per_outcome (INVALID_ARGUMENT, never INTERNAL), through the SDK, the CLI
and the report's plan; with one it ranks actions; OptimizeBudget maximising conversions under a
budget is unaffected (R4-F12). And the surfacing verbs' --timeout, whose DEADLINE_EXCEEDED says
how to give more time (R4-F13)."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.cli import commands as cli
from mesh.cli.report import plan as report_plan
from mesh.runtime.config import PeerConfig
from mesh.sdk import LiftOS
from tests.causal.attribution.records import world_mesh
from tests.support import error_details

ORG = "orders"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(
        org_id=ORG, outcome=common_pb.OUTCOME_METRIC_CONVERSIONS
    )
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result


@pytest.fixture
def peers(mesh, monkeypatch: pytest.MonkeyPatch) -> PeerConfig:
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    return PeerConfig.from_env()


def test_recommend_without_a_value_per_conversion_is_refused_naming_it(mesh, analysis) -> None:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    request = pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis.analysis_id],
                                  design_tests=False)  # fmt: skip
    with pytest.raises(grpc.RpcError) as refused:
        stub.Recommend(request, timeout=120)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(refused.value) == ("INVALID_REQUEST", ["value_per_outcome"])
    assert "what one conversion is worth" in str(refused.value.details())
    request.value_per_outcome = 80.0
    reply = stub.Recommend(request, timeout=120)
    assert reply.recommendations


def test_the_cli_and_the_report_say_which_flag_is_missing(
    peers: PeerConfig, analysis, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["recommend", analysis.analysis_id, "--org", ORG, "--no-design"]
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "--value-per-outcome" in err
    assert cli.main([*args, "--value-per-outcome", "80"]) == 0
    assert "[" in capsys.readouterr().out  # ranked actions, e.g. "1. [SCALE] ..."
    with LiftOS(peers, org_id=ORG) as client:
        full = causal_pb.Analysis.FromString(bytes(client.get_analysis(analysis.analysis_id)))
        planning = report_plan(client, full)
    assert planning.recommendations is None
    (note,) = [n for n in planning.notes if n.startswith("No recommendations")]
    assert "value_per_outcome" in note and "--value-per-outcome" in note
    # The budget shift maximises conversions under the same total: no value needed.
    assert planning.budget is not None and planning.budget.allocations
    # `liftos report --value-per-outcome 80` passes it on: the report has its recommendations
    with LiftOS(peers, org_id=ORG) as client:
        valued = report_plan(client, full, value_per_outcome=80.0)
    assert valued.recommendations is not None and valued.recommendations.recommendations
    assert not [n for n in valued.notes if n.startswith("No recommendations")]


def test_a_call_out_of_time_says_how_to_give_it_more(
    peers: PeerConfig, analysis, capsys: pytest.CaptureFixture[str]
) -> None:
    # R4-F13: 'DEADLINE_EXCEEDED: Deadline Exceeded' after the CLI's fixed 60 s, no way to wait
    # longer. A millisecond is too little for any plan.
    base = ["--org", ORG, "--timeout", "0.001"]
    assert cli.main(["recommend", analysis.analysis_id, *base, "--value-per-outcome", "80"]) == 5
    err = capsys.readouterr().err
    assert "DEADLINE_EXCEEDED" in err and "within 0.001 s" in err
    assert "--timeout SECONDS" in err and "--no-design" in err
    # deadline (mesh.cli.exits; 2 before s19 R41-F1)
    assert cli.main(["optimize", analysis.analysis_id, *base, "--budget", "1e5"]) == 5
    err = capsys.readouterr().err
    assert "--timeout SECONDS" in err and "--no-design" not in err
    # Given the time, the same call answers.
    assert cli.main(["optimize", analysis.analysis_id, "--org", ORG, "--budget", "1e5",
                     "--timeout", "120"]) == 0  # fmt: skip
