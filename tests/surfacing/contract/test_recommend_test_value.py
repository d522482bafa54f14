"""Recommend's value of testing a channel, end to end over real servers (memory, ingestion,
causal, surfacing) on a simulated org: the reply's tests and holds of channels a test would
measure carry it as a fact with its figure, and ``liftos recommend`` prints it first among
each action's facts."""

from __future__ import annotations

import re

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.cli import commands as cli
from tests.causal.attribution.records import world_mesh

ORG = "valued"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(causal.AnalyzeAttribution(request, timeout=600))[-1].result


def test_tests_and_holds_carry_the_value_of_testing_and_the_cli_prints_it_first(
    mesh, analysis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    reply = stub.Recommend(pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis.analysis_id],
                                               design_tests=False), timeout=300)  # fmt: skip
    unestablished = {c.channel for c in analysis.channels
                     if c.HasField("incremental_outcome") and c.incremental_outcome.lower <= 0}  # fmt: skip
    valued = {
        r.channel: next(f for f in r.facts if f.name == "test_value")
        for r in reply.recommendations
        if any(f.name == "test_value" for f in r.facts)
    }
    assert unestablished, "the world must leave a channel not established"
    held = {r.channel for r in reply.recommendations
            if r.kind in (pb.RECOMMENDATION_KIND_HOLD, pb.RECOMMENDATION_KIND_RUN_EXPERIMENT)}  # fmt: skip
    # Every hold or test of a channel not established carries the value, with its figure.
    assert unestablished & held <= set(valued), (unestablished, held, set(valued))
    assert valued
    for channel, fact in valued.items():
        assert fact.text.startswith(f"value of testing {channel}: ")
        assert fact.HasField("value") and fact.value.lower <= fact.value.estimate
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    rc = cli.main(["recommend", analysis.analysis_id, "--no-design", "--org", ORG,
                   "--timeout", "300"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    for channel in valued:
        # The action's first fact line is its value.
        head = next(i for i, line in enumerate(lines)
                    if re.match(rf"\s*\d+\. \[(HOLD|TEST)\] .*\b{channel}\b", line))  # fmt: skip
        first = next(line for line in lines[head + 1 :] if line.startswith("    - "))
        assert first.startswith(f"    - value of testing {channel}: "), lines[head : head + 12]
