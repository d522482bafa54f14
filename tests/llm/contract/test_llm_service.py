"""LlmService on a real server, reading analyses from a real causal server, both on localhost;
the LLM writer talks to a local endpoint speaking the OpenAI streaming wire format."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.settings import LlmSettings
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from tests.llm.fake_openai import Script, closed_port_url, fake_openai, words
from tests.support import error_details

ORG = "acme"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    settings = LlmSettings(timeout_s=5.0, retries=1)
    builds = {"causal": causal_build, "llm": functools.partial(llm_build, settings=settings)}
    with running_services(builds, tmp_path_factory.mktemp("llm")) as services:
        yield services


@pytest.fixture(scope="module")
def llm(mesh: dict[str, RunningService]) -> llm_grpc.LlmServiceStub:
    return llm_grpc.LlmServiceStub(grpc.insecure_channel(mesh["llm"].address))


def _estimate(mesh: dict[str, RunningService], org: str, effect: float, seed: int) -> str:
    """A randomised experiment on a table: treated regions get ``effect`` more revenue."""
    rng = np.random.default_rng(seed)
    n = 400
    treated = rng.permutation(np.repeat([0, 1], n // 2))
    revenue = 100 + effect * treated + rng.normal(0, 5, n)
    frame = pd.DataFrame({"meta_retargeting": treated, "revenue": revenue})
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    reply = stub.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=org, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
            table=frame_to_table(frame),
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="meta_retargeting"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=seed),
            randomized=True,
        )
    )  # fmt: skip
    return reply.analysis_id


@pytest.fixture(scope="module")
def lift(mesh: dict[str, RunningService]) -> str:
    return _estimate(mesh, ORG, 12.0, 1)


def _explain(
    llm: llm_grpc.LlmServiceStub, request: pb.ExplainRequest
) -> tuple[list[str], pb.ExplanationDone]:
    deltas, done = [], None
    for reply in llm.Explain(request, timeout=30):
        if reply.WhichOneof("event") == "text_delta":
            deltas.append(reply.text_delta)
        else:
            done = reply.done
    assert done is not None
    return deltas, done


def test_build_context(llm: llm_grpc.LlmServiceStub, lift: str) -> None:
    reply = llm.BuildContext(
        pb.BuildContextRequest(org_id=ORG, analysis_ids=[lift], audience=pb.AUDIENCE_EXECUTIVE)
    )
    assert reply.insights[0].kind == pb.INSIGHT_KIND_SUPPORTED_EFFECT
    assert reply.insights[0].analysis_ids == [lift] and reply.insights[0].confidence > 0.9
    assert any(c.fact == "ci_lower" for c in reply.insights[0].citations)
    assert f"[{lift}:point_estimate]" in reply.context and "ESTABLISHED" in reply.context
    assert [p.role for p in reply.prompts] == ["system", "user"]
    assert "executive" in reply.prompts[0].content


def test_explain_streams_the_grounded_writer(llm: llm_grpc.LlmServiceStub, lift: str) -> None:
    deltas, done = _explain(llm, pb.ExplainRequest(org_id=ORG, analysis_id=lift))
    assert len(deltas) > 3 and "".join(deltas).rstrip() == done.text
    assert done.text.startswith("Meta retargeting increased revenue by ")
    assert done.writer == pb.EXPLANATION_WRITER_GROUNDED and not done.unsupported_claims
    cited = {c.fact for c in done.citations}
    assert {"point_estimate", "ci_lower", "ci_upper", "method", "strategy.kind"} <= cited
    assert all(c.analysis_id == lift for c in done.citations)


def test_explain_with_an_llm_never_sends_an_unsupported_claim(
    llm: llm_grpc.LlmServiceStub, lift: str
) -> None:
    answer = (
        "The randomised test shows that Meta retargeting raised revenue. "
        "Meta retargeting drove a 60% lift in revenue, so double the budget. "
        "TikTok also grew revenue by 30%."
    )
    with fake_openai(Script(pieces=words(answer))) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=lift, question="Should we scale it?",
            llm=pb.LlmEndpoint(url=fake.url, model="tiny"),
        )  # fmt: skip
        deltas, done = _explain(llm, request)
    sent = "".join(deltas)
    assert "60%" not in sent and "TikTok" not in sent and "60%" not in done.text
    assert done.writer == pb.EXPLANATION_WRITER_LLM and done.model == "tiny"
    flagged = {c.claim: c for c in done.unsupported_claims}
    rewritten = flagged["Meta retargeting drove a 60% lift in revenue"]
    assert rewritten.verdict == pb.CLAIM_VERDICT_CONTRADICTED
    assert rewritten.resolution == pb.CLAIM_RESOLUTION_REWRITTEN
    assert done.text[rewritten.start : rewritten.end].startswith(
        "Meta retargeting increased revenue by"
    )
    removed = flagged["TikTok also grew revenue by 30%."]
    assert removed.verdict == pb.CLAIM_VERDICT_UNSUPPORTED
    assert removed.resolution == pb.CLAIM_RESOLUTION_REMOVED
    (seen,) = fake.requests
    assert seen.body["model"] == "tiny"
    assert f"[{lift}:ci_lower]" in seen.body["messages"][1]["content"]


def test_explain_with_the_llm_down_is_unavailable(llm: llm_grpc.LlmServiceStub, lift: str) -> None:
    request = pb.ExplainRequest(
        org_id=ORG, analysis_id=lift, llm=pb.LlmEndpoint(url=closed_port_url())
    )
    with pytest.raises(grpc.RpcError) as caught:
        _explain(llm, request)
    status = decode_status(caught.value)
    assert status.code == grpc.StatusCode.UNAVAILABLE and status.reason == "LLM_UNAVAILABLE"
    assert status.retry_after_s is not None


def test_explain_refuses_an_endpoint_it_may_not_call(
    llm: llm_grpc.LlmServiceStub, lift: str
) -> None:
    request = pb.ExplainRequest(
        org_id=ORG, analysis_id=lift, llm=pb.LlmEndpoint(url="http://169.254.169.254/v1")
    )
    with pytest.raises(grpc.RpcError) as caught:
        _explain(llm, request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value) == ("LLM_URL_NOT_ALLOWED", ["llm.url"])


def test_explain_with_the_llm_writer_and_no_endpoint(
    llm: llm_grpc.LlmServiceStub, lift: str
) -> None:
    request = pb.ExplainRequest(org_id=ORG, analysis_id=lift, writer=pb.EXPLANATION_WRITER_LLM)
    with pytest.raises(grpc.RpcError) as caught:
        _explain(llm, request)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0] == "LLM_NOT_CONFIGURED"


def test_check_claims(llm: llm_grpc.LlmServiceStub, lift: str) -> None:
    text = (
        "Meta retargeting increased revenue by 12. Meta retargeting cut revenue by 5. "
        "Revenue is correlated with Meta retargeting. Snapchat drove 20% more revenue."
    )
    reply = llm.CheckClaims(pb.CheckClaimsRequest(org_id=ORG, text=text, analysis_ids=[lift]))
    got = [(text[c.start : c.end], c.verdict) for c in reply.claims]
    assert got == [
        ("Meta retargeting increased revenue by 12.", pb.CLAIM_VERDICT_SUPPORTED),
        ("Meta retargeting cut revenue by 5.", pb.CLAIM_VERDICT_CONTRADICTED),
        ("Snapchat drove 20% more revenue.", pb.CLAIM_VERDICT_UNSUPPORTED),
    ]
    assert reply.claims[0].analysis_ids == [lift] and "interval" in reply.claims[0].reason


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda s, a: s.CheckClaims(
                pb.CheckClaimsRequest(org_id=ORG, text="  ", analysis_ids=[a])
            ),
            "text",
        ),
        (lambda s, a: s.BuildContext(pb.BuildContextRequest(org_id=ORG)), "analysis_ids"),
        (lambda s, a: _explain(s, pb.ExplainRequest(org_id=ORG)), "analysis_id"),
        (
            lambda s, a: s.BuildContext(pb.BuildContextRequest(org_id=ORG, analysis_ids=[a] * 21)),
            "analysis_ids",
        ),
        (
            lambda s, a: _explain(
                s, pb.ExplainRequest(org_id=ORG, analysis_id=a, question="?" * 2001)
            ),
            "question",
        ),
    ],
    ids=["empty text", "no analyses", "no analysis id", "too many analyses", "long question"],
)
def test_bad_input_is_invalid_argument_naming_the_field(llm, lift, call, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        call(llm, lift)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [field]


def test_unknown_and_other_orgs_analyses_are_not_found(
    mesh: dict[str, RunningService], llm: llm_grpc.LlmServiceStub, lift: str
) -> None:
    theirs = _estimate(mesh, "globex", 5.0, 2)
    for org, analysis in ((ORG, "an-missing"), (ORG, theirs), ("globex", lift)):
        with pytest.raises(grpc.RpcError) as caught:
            _explain(llm, pb.ExplainRequest(org_id=org, analysis_id=analysis))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(caught.value)[0] == "ANALYSIS_NOT_FOUND"
        with pytest.raises(grpc.RpcError) as caught:
            llm.CheckClaims(
                pb.CheckClaimsRequest(
                    org_id=org, text="Meta drove revenue.", analysis_ids=[analysis]
                )
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_causal_service_down_is_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    peers = PeerConfig.from_env().with_overrides(
        causal=closed_port_url().removeprefix("http://").removesuffix("/v1")
    )
    with running_services({"llm": llm_build}, tmp_path, peers=peers) as services:
        stub = llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))
        with pytest.raises(grpc.RpcError) as caught:
            stub.CheckClaims(
                pb.CheckClaimsRequest(org_id=ORG, text="x drove y", analysis_ids=["an-1"]),
                timeout=30,
            )
    status = decode_status(caught.value)
    assert status.code == grpc.StatusCode.UNAVAILABLE and status.reason == "CAUSAL_UNAVAILABLE"
