"""LiftOS's own explanation passes its own checker, and an LLM that repeats it keeps every
assumption and caveat (audit R20-F3), over real causal and LLM servers on localhost with the
demo's calibrated attribution (tests/llm/data) and its klaviyo_sms data warning; the LLM is a
local OpenAI-compatible endpoint, the one thing outside the mesh.

Before: `check-claims --strict` exited 3 on the grounded explanation, flagging the model's
assumption ("… and add to baseline demand") and two caveats; the guardrail removed the
assumption and replaced the two caveats by second copies of other sentences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.claims.sentences import sentences
from mesh.cli.commands import main
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import audit_demo, store_analyses
from tests.llm.test_executive import SMS

ADDRESSES: dict[str, str] = {}


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[llm_grpc.LlmServiceStub, str, str]]:
    data: Path = tmp_path_factory.mktemp("qualifications")
    a = audit_demo(calibrated=True)
    a.attribution.warnings.insert(0, SMS + "; ingest it as daily rows and analyse again")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, a)
        ADDRESSES.update({name: s.address for name, s in services.items()})
        yield (
            llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address)),
            a.org_id,
            a.analysis_id,
        )


def explain(
    stub: llm_grpc.LlmServiceStub, org: str, analysis: str, **kw: object
) -> pb.ExplanationDone:
    request = pb.ExplainRequest(org_id=org, analysis_id=analysis, **kw)  # type: ignore[arg-type]
    return list(stub.Explain(request, timeout=60))[-1].done


@pytest.mark.parametrize(
    "audience", [pb.AUDIENCE_ANALYST, pb.AUDIENCE_DATA_SCIENTIST, pb.AUDIENCE_EXECUTIVE]
)
def test_the_grounded_explanation_passes_check_claims(
    demo: tuple[llm_grpc.LlmServiceStub, str, str], audience: int
) -> None:
    stub, org, analysis = demo
    text = explain(stub, org, analysis, audience=audience).text
    assert "Caveat" in text
    reply = stub.CheckClaims(pb.CheckClaimsRequest(org_id=org, text=text, analysis_ids=[analysis]))
    bad = [(c.claim, c.reason) for c in reply.claims if c.verdict != pb.CLAIM_VERDICT_SUPPORTED]
    assert not bad, bad
    claimed = " ".join(c.claim for c in reply.claims)
    assert "rest on" not in claimed and "baseline demand" not in claimed


def test_check_claims_strict_passes_liftos_own_explanation(
    demo: tuple[llm_grpc.LlmServiceStub, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub, org, analysis = demo
    text = explain(stub, org, analysis).text
    monkeypatch.setenv("LIFTOS_LLM_ADDR", ADDRESSES["llm"])
    assert main(["check-claims", text, "--analysis", analysis, "--org", org, "--strict"]) == 0, (
        capsys.readouterr().out
    )


def test_an_llm_repeating_the_explanation_keeps_every_assumption_and_caveat(
    demo: tuple[llm_grpc.LlmServiceStub, str, str],
) -> None:
    stub, org, analysis = demo
    grounded = explain(stub, org, analysis).text
    with fake_openai(Script(pieces=words(grounded))) as fake:
        done = explain(stub, org, analysis, llm=pb.LlmEndpoint(url=fake.url, model="tiny"))
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    sent = [s.text for s in sentences(done.text)]
    assert sent == [s.text for s in sentences(grounded)]
    assert len(set(sent)) == len(sent)  # no sentence twice
    assert sum(s.startswith("Caveat:") for s in sent) == 4
    assert any(s.startswith("It rests on this assumption:") for s in sent)


def test_a_caveat_that_states_a_named_effects_size_is_still_judged(
    demo: tuple[llm_grpc.LlmServiceStub, str, str],
) -> None:
    """A qualification is no hiding place: a clause in it that gives a named cause a size is
    a claim like any other."""
    stub, org, analysis = demo
    text = "Caveat: Meta prospecting increased revenue by 40 million, though the interval is wide."
    reply = stub.CheckClaims(pb.CheckClaimsRequest(org_id=org, text=text, analysis_ids=[analysis]))
    (claim,) = reply.claims
    assert claim.verdict == pb.CLAIM_VERDICT_CONTRADICTED, claim.reason


def test_a_rewrite_never_repeats_a_sentence_already_sent(
    demo: tuple[llm_grpc.LlmServiceStub, str, str],
) -> None:
    """The LLM's own hedged sentence about google search goes out; a later overstatement of
    google search is removed, not rewritten into a second copy of it."""
    stub, org, analysis = demo
    grounded = explain(stub, org, analysis).text
    (hedged,) = [s.text for s in sentences(grounded) if "effect of google search" in s.text]
    answer = f"{hedged} Google search increased revenue by 90 million."
    with fake_openai(Script(pieces=words(answer))) as fake:
        done = explain(stub, org, analysis, llm=pb.LlmEndpoint(url=fake.url, model="tiny"))
    assert done.text.count(hedged) == 1, done.text
    (flag,) = done.unsupported_claims
    assert flag.resolution == pb.CLAIM_RESOLUTION_REMOVED and "90 million" not in done.text
