"""CheckClaims judges a claimed change of spend by part on the analysis's own Counterfactual
(R10-F2), over real memory, ingestion, causal and llm servers on localhost: a fitted
attribution calibrated by the world's geo holdout, the claim's change asked of the causal service at the analysis's 90% level. A
causal service that refuses the call (one older than the llm service's `counterfactual`
scope) leaves the response curve's reading, unsupported, with a note."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from llm_svc.numbers import fmt
from llm_svc.settings import LlmSettings
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import Build, running_services
from tests.causal.attribution.records import register_holdout, write_world
from tests.llm.fake_openai import FakeOpenAI, Script, fake_openai, words

ORG = "cfshop"
V = pb.ClaimVerdict


@dataclass(frozen=True)
class Mesh:
    llm: llm_grpc.LlmServiceStub
    refusing_llm: llm_grpc.LlmServiceStub  # its causal service refuses it Counterfactual
    analysis_id: str
    channel: str
    delta: causal_pb.CounterfactualResponse  # the channel x1.3, asked directly at 90%
    fake: FakeOpenAI  # the LLM endpoint both llm services may call


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    data: Path = tmp_path_factory.mktemp("cf-claims")
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build,
              "llm": llm_build}  # fmt: skip
    with running_services(builds, data) as services:
        memory = grpc.insecure_channel(services["memory"].address)
        write_world(memory_grpc.MemoryServiceStub(memory), world, ORG)
        # the world's geo holdout, measured: it calibrates (and establishes) one channel
        register_holdout(grpc.insecure_channel(services["ingestion"].address), world, ORG)
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        events = causal.AnalyzeAttribution(
            causal_pb.AnalyzeAttributionRequest(org_id=ORG), timeout=300
        )
        result = list(events)[-1].result
        # the analysis's intervals are 90%: the Counterfactual is asked at that level
        assert {round(c.incremental_outcome.level, 3) for c in result.channels} == {0.9}

        def raised(channel: str) -> causal_pb.CounterfactualResponse:
            return causal.Counterfactual(causal_pb.CounterfactualRequest(
                org_id=ORG, analysis_id=result.analysis_id, alpha=0.1,
                changes=[causal_pb.SpendChange(channel=channel, multiplier=1.3)],
            ), timeout=60)  # fmt: skip

        # a paid channel whose raise the analysis establishes (its interval above no change)
        paid = [c.channel for c in result.channels if c.identified and c.spend.amount > 0]
        replies = {c: raised(c) for c in paid}
        channel, delta = max(replies.items(), key=lambda kv: kv[1].delta.lower)
        assert delta.delta.lower > 0, "the demo world should establish some channel's raise"
        # the same causal data served by a causal service whose keys let the llm service read
        # analyses but not call Counterfactual (as one older than the scope answers it)
        old = AuthConfig.parse(f"user-key:{ORG},old-llm-key:{ORG}:analyses.read")
        peers = PeerConfig.from_env().with_overrides(
            memory=services["memory"].address, ingestion=services["ingestion"].address
        )
        # a keyed llm service calls only the endpoints it allows (R14-F5): this module's one
        with fake_openai(Script()) as fake:
            allowed = replace(LlmSettings.from_env(), allowed_urls=(fake.url,))
            builds_old: dict[str, Build] = {
                "causal": causal_build,
                "llm": partial(llm_build, settings=allowed),
            }
            with running_services(builds_old, data, peers=peers, auth=old,
                                  api_keys={"llm": "old-llm-key"}) as refusing:  # fmt: skip
                yield Mesh(
                    llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address)),
                    llm_grpc.LlmServiceStub(grpc.insecure_channel(refusing["llm"].address)),
                    result.analysis_id, channel, delta, fake,
                )  # fmt: skip


def check(stub: llm_grpc.LlmServiceStub, m: Mesh, text: str) -> pb.ClaimCheck:
    reply = stub.CheckClaims(
        pb.CheckClaimsRequest(org_id=ORG, text=text, analysis_ids=[m.analysis_id]),
        timeout=60, metadata=auth_metadata("user-key") if stub is m.refusing_llm else None,
    )  # fmt: skip
    (claim,) = reply.claims
    return claim


def spoken(channel: str) -> str:
    return channel.replace("_", " ")


def test_a_claimed_raise_inside_the_counterfactual_interval_is_supported(mesh: Mesh) -> None:
    """The R10-F2 sentence with the size the Counterfactual gives: supported, quoting its
    figure and 90% interval (before, unsupported: "not checkable from this analysis")."""
    d = mesh.delta.delta
    claim = check(
        mesh.llm, mesh,
        f"Raising {spoken(mesh.channel)} spend by 30% would add {d.estimate:,.0f} in revenue.",
    )  # fmt: skip
    assert claim.verdict == V.CLAIM_VERDICT_SUPPORTED, claim.reason
    assert f"counterfactual puts raising {mesh.channel}'s spend" in claim.reason
    assert f"at {d.estimate:+,.0f}" in claim.reason
    assert f"90% interval {fmt(d.lower)} to {fmt(d.upper)}" in claim.reason
    assert "the claimed change is inside it" in claim.reason


def test_a_claimed_raise_outside_the_counterfactual_interval_is_contradicted(mesh: Mesh) -> None:
    d = mesh.delta.delta
    assert d.upper < 5_000_000, "5 million should be beyond the demo world's interval"
    claim = check(
        mesh.llm, mesh,
        f"Raising {spoken(mesh.channel)} spend by 30% would add 5 million in revenue.",
    )  # fmt: skip
    assert claim.verdict == V.CLAIM_VERDICT_CONTRADICTED, claim.reason
    assert f"90% interval {fmt(d.lower)} to {fmt(d.upper)}" in claim.reason
    assert "the claimed change is outside it" in claim.reason


def test_a_causal_service_that_refuses_the_counterfactual_leaves_the_curve_reading(
    mesh: Mesh,
) -> None:
    d = mesh.delta.delta
    claim = check(
        mesh.refusing_llm, mesh,
        f"Raising {spoken(mesh.channel)} spend by 30% would add {d.estimate:,.0f} in revenue.",
    )  # fmt: skip
    assert claim.verdict == V.CLAIM_VERDICT_UNSUPPORTED, claim.reason
    assert "not checkable from this analysis" in claim.reason
    assert f"liftos counterfactual {mesh.analysis_id} --set {mesh.channel}=1.3" in claim.reason
    assert "counterfactual could not be read: the causal service answered PERMISSION_DENIED" in (
        claim.reason
    )


def explain(stub: llm_grpc.LlmServiceStub, m: Mesh, answer: str) -> pb.ExplanationDone:
    """Explain with an LLM (a local endpoint, the one thing outside the mesh) whose answer is
    ``answer``: what went out after the guardrail."""
    m.fake.script = Script(pieces=words(answer))
    events = list(stub.Explain(
        pb.ExplainRequest(org_id=ORG, analysis_id=m.analysis_id,
                          llm=pb.LlmEndpoint(url=m.fake.url, model="tiny")),
        timeout=120, metadata=auth_metadata("user-key") if stub is m.refusing_llm else None,
    ))  # fmt: skip
    return events[-1].done


def test_explain_keeps_a_raise_its_counterfactual_supports(mesh: Mesh) -> None:
    """The guardrail judges an LLM's sized spend change as CheckClaims does: on the analysis's
    own Counterfactual (before, on the curve alone: unsupported, and the sentence was dropped
    or rewritten though CheckClaims supported it)."""
    d = mesh.delta.delta
    said = f"Raising {spoken(mesh.channel)} spend by 30% would add {d.estimate:,.0f} in revenue."
    done = explain(mesh.llm, mesh, said)
    assert said in done.text, done.unsupported_claims
    assert not done.unsupported_claims


def test_explain_removes_a_raise_its_counterfactual_contradicts(mesh: Mesh) -> None:
    said = f"Raising {spoken(mesh.channel)} spend by 30% would add 5 million in revenue."
    done = explain(mesh.llm, mesh, said)
    assert "5 million" not in done.text
    (flag,) = done.unsupported_claims
    assert flag.verdict == V.CLAIM_VERDICT_CONTRADICTED, flag.reason
    assert "the claimed change is outside it" in flag.reason


def test_explain_without_the_counterfactual_keeps_the_curve_reading(mesh: Mesh) -> None:
    d = mesh.delta.delta
    said = f"Raising {spoken(mesh.channel)} spend by 30% would add {d.estimate:,.0f} in revenue."
    done = explain(mesh.refusing_llm, mesh, said)
    assert said not in done.text
    (flag,) = done.unsupported_claims
    assert flag.verdict == V.CLAIM_VERDICT_UNSUPPORTED, flag.reason
    assert "counterfactual could not be read" in flag.reason
