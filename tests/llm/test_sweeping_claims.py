"""Sweeping claims are judged or flagged, never passed as if checked (audit R23-F1), over real
causal and LLM servers on localhost with the audit's attribution: klaviyo_email (+29.6M, 90%
interval 15.8M to 43.4M) and meta_prospecting (+4.1M, 2.0M to 6.2M) established; tiktok,
google_pmax and klaviyo_sms not (their intervals start at zero).

Before, a sentence with no causal verb, named cause and size was no claim: "Every channel is
established", "Meta prospecting is our best channel", "12 times better than TikTok", "there are
no caveats" and "Revenue will grow 40% next quarter" reached the user unflagged, and
``check-claims --strict`` answered "no causal claims found".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.cli.commands import main
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import audit_attribution, claim_verdicts, store_analyses

ORG = "acme"
ANALYSIS = "an-audit"
ADDRESSES: dict[str, str] = {}
V = pb.ClaimVerdict


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("sweeping")
    a = audit_attribution(ANALYSIS, ORG)
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, a)
        ADDRESSES.update({name: s.address for name, s in services.items()})
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def verdict(llm: llm_grpc.LlmServiceStub, text: str) -> tuple[int, str]:
    ((_, v, reason),) = claim_verdicts(llm, ORG, ANALYSIS, text)
    return v, reason


@pytest.mark.parametrize(
    ("text", "expected", "said"),
    [
        # quantifiers over the channels, against every channel's state
        ("Every channel is established.", V.CLAIM_VERDICT_CONTRADICTED, "tiktok"),
        ("All five channels drove revenue.", V.CLAIM_VERDICT_CONTRADICTED, "google_pmax"),
        ("None of the channels drove revenue.", V.CLAIM_VERDICT_CONTRADICTED, "klaviyo_email"),
        # rankings, against the intervals' order
        ("Meta prospecting is our best channel.", V.CLAIM_VERDICT_CONTRADICTED, "klaviyo_email"),
        ("Klaviyo email is our best channel.", V.CLAIM_VERDICT_SUPPORTED, "above every other"),
        ("TikTok is our best channel.", V.CLAIM_VERDICT_CONTRADICTED, "klaviyo_email"),
        # comparisons between two channels
        ("Klaviyo email is better than TikTok.", V.CLAIM_VERDICT_SUPPORTED, "overlap"),
        ("Meta prospecting is 12 times better than TikTok.", V.CLAIM_VERDICT_UNSUPPORTED, "zero"),
        ("Klaviyo email is 30 times better than Meta prospecting.", V.CLAIM_VERDICT_CONTRADICTED, "outside"),
        ("TikTok outperformed Klaviyo email.", V.CLAIM_VERDICT_CONTRADICTED, "larger"),
        # the future, and the analysis's certainty
        ("Revenue will grow 40% next quarter.", V.CLAIM_VERDICT_UNSUPPORTED, "forecast"),
        ("The model's checks found no problems, so there are no caveats.", V.CLAIM_VERDICT_CONTRADICTED, "caveats"),
        ("These results are certain.", V.CLAIM_VERDICT_CONTRADICTED, "not established"),
    ],
)  # fmt: skip
def test_a_sweeping_claim_is_judged_on_the_effects(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int, said: str
) -> None:
    v, reason = verdict(llm, text)
    assert v == expected, reason
    assert said in reason


def test_check_claims_strict_fails_sweeping_claims(
    llm: llm_grpc.LlmServiceStub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "Every channel is established. All channels drove revenue. Meta prospecting is our "
        "best channel, 3 times better than TikTok. Revenue will grow 40% next quarter."
    )
    monkeypatch.setenv("LIFTOS_LLM_ADDR", ADDRESSES["llm"])
    code = main(["check-claims", text, "--analysis", ANALYSIS, "--org", ORG, "--strict"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "no causal claims found" not in out


def test_the_guardrail_flags_what_it_cannot_check(llm: llm_grpc.LlmServiceStub) -> None:
    """An LLM steered to sweep: each false sentence is flagged and kept out; a true ranking
    goes out."""
    answer = (
        "Every channel is established. Meta prospecting is our best channel. Meta prospecting "
        "is 12 times better than TikTok. There are no caveats. Revenue will grow 40% next "
        "quarter. Klaviyo email is our best channel."
    )
    with fake_openai(Script(pieces=words(answer))) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        done = list(llm.Explain(request, timeout=60))[-1].done
    flagged = [c.claim for c in done.unsupported_claims]
    for sentence in answer.split(". ")[:5]:
        assert sentence.rstrip(".") not in done.text.replace(".", ""), done.text
        assert any(sentence.rstrip(".") in c for c in flagged), flagged
    assert "Klaviyo email is our best channel." in done.text
