"""Counterfactual over the wire (issue 15): the stored table's tests of no effect decide the
plan's intervals, and a widened interval says why in the response's warnings."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from mesh.cli import commands as cli
from tests.causal.attribution.records import world_mesh

ORG = "gateshop"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield services


@pytest.fixture(scope="module")
def stub(mesh) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


@pytest.fixture(scope="module")
def result(stub) -> pb.AttributionResult:
    events = list(stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=120))
    return events[-1].result


def _without(stub, result: pb.AttributionResult, channel: str, alpha: float):
    return stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=result.analysis_id, alpha=alpha,
        changes=[pb.SpendChange(channel=channel, multiplier=0.0)],
    ))  # fmt: skip


def test_the_stored_table_and_the_counterfactual_agree(stub, result) -> None:
    tested = {c.channel: c.no_effect_test for c in result.channels if c.HasField("no_effect_test")}
    assert tested, "the demo analysis should have claimed (and tested) some channel"
    for c in result.channels:
        level = c.incremental_outcome.level
        gated = c.channel in tested and tested[c.channel].p_value > (1 - level) / 2
        if c.channel in tested:
            assert tested[c.channel].shapes == 15 and tested[c.channel].draws == 1999
            # (a test run for a marginal-ROAS claim alone leaves the incremental bound at 0)
            if gated:
                assert c.incremental_outcome.lower <= 0
        # "Without X" at the table's level claims a loss exactly where the table claims an
        # effect, with the same bounds (the table's interval is clipped at zero, the plan's
        # is not: only a claimed bound is compared).
        r = _without(stub, result, c.channel, 1 - level)
        inc = c.incremental_outcome
        assert r.delta.estimate == pytest.approx(-inc.estimate, rel=1e-6)
        assert r.delta.lower == pytest.approx(-inc.upper, rel=1e-6)
        assert (r.delta.upper < 0) == (inc.lower > 0)
        if inc.lower > 0:
            assert r.delta.upper == pytest.approx(-inc.lower, rel=1e-6)
        assert bool(r.warnings) == gated


def test_a_level_the_test_does_not_reach_claims_no_loss_and_says_why(stub, result) -> None:
    widened = 0
    for c in result.channels:
        if not c.HasField("no_effect_test"):
            continue
        p = c.no_effect_test.p_value
        # alpha = p: the one-sided level p / 2 is below the test's p-value, so no loss may be
        # claimed, whatever the delta-method interval says.
        r = _without(stub, result, c.channel, p)
        assert r.delta.upper >= 0.0
        assert r.delta.estimate == pytest.approx(-c.incremental_outcome.estimate, rel=1e-6)
        if r.delta.upper == 0.0:
            widened += 1
            (warning,) = r.warnings
            assert warning.startswith(f"{c.channel}: ") and f"p = {p:.3g}" in warning
            assert r.counterfactual_outcome.upper == pytest.approx(r.reference_outcome.estimate)
        # Where the test rejects, nothing is widened.
        assert not _without(stub, result, c.channel, min(0.5, 2.1 * p)).warnings
    assert widened, "a strongly claimed channel's delta-method interval should outlast its test"


def test_the_cli_prints_the_warnings(
    mesh, stub, result, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    # A channel whose "without" is widened at alpha = its test's p-value (see above).
    widened = [
        (c.channel, c.no_effect_test.p_value, r)
        for c in result.channels
        if c.HasField("no_effect_test")
        for r in [_without(stub, result, c.channel, c.no_effect_test.p_value)]
        if r.warnings
    ]
    assert widened, "a strongly claimed channel's delta-method interval should outlast its test"
    channel, p, r = widened[0]
    assert cli.main(["counterfactual", result.analysis_id, "--org", ORG, "--set",
                     f"{channel}=0", "--alpha", repr(p)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    warned = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert warned == [f"warning: {w}" for w in r.warnings]
