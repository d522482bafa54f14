"""Explain's stream: the guardrail checks every sentence a writer produces before it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from liftos.v1 import causal_pb2 as causal_pb

from llm_svc.claims import Verdict
from llm_svc.context import Prompt
from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Analysis, Audience
from llm_svc.explain import Delta, Done, explain_grounded, explain_with_llm
from llm_svc.guardrail import Resolution
from llm_svc.openai_chat import OpenAIChat
from llm_svc.settings import Endpoint
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import audit_demo, effect_analysis, failed_attribution

META = effect_analysis("an-rt", "meta_retargeting")  # +12 (4 to 20) on revenue


@dataclass
class ScriptedChat:
    """A chat backend that streams a fixed answer in small pieces."""

    answer: str
    model: str = "scripted"
    prompts: Sequence[Prompt] = ()

    async def stream(self, prompts: Sequence[Prompt]) -> AsyncIterator[str]:
        self.prompts = prompts
        for piece in words(self.answer):
            yield piece


def run(events: AsyncIterator[Delta | Done]) -> tuple[list[str], Done]:
    async def go() -> tuple[list[str], Done]:
        deltas: list[str] = []
        async for e in events:
            if isinstance(e, Delta):
                deltas.append(e.text)
            else:
                return deltas, e
        raise AssertionError("no done")

    return asyncio.run(go())


def llm(answer: str, analyses: list[Analysis] | None = None) -> tuple[list[str], Done]:
    return run(explain_with_llm(analyses or [META], Audience.ANALYST, "", ScriptedChat(answer)))


def test_supported_sentences_pass_through_with_a_citation() -> None:
    answer = "Meta retargeting lifted revenue by 12% (95% CI 4% to 20%). Keep it running."
    deltas, done = llm(answer)
    assert done.text == answer and "".join(deltas).strip() == answer
    assert not done.flagged and done.model == "scripted"
    (cite,) = done.cites
    assert cite.fact == "point_estimate" and done.text[cite.start : cite.end].startswith("Meta")


def test_a_contradicted_claim_is_rewritten_before_it_is_sent() -> None:
    bad = "Meta retargeting drove a 45% lift in revenue."
    deltas, done = llm(f"Here is the summary. {bad} Keep testing.")
    assert bad not in "".join(deltas) and bad not in done.text
    (flag,) = done.flagged
    assert (
        flag.judgement.verdict is Verdict.CONTRADICTED and flag.resolution is Resolution.REWRITTEN
    )
    assert flag.judgement.claim.text == bad
    rewrite = done.text[flag.start : flag.end]
    assert rewrite.startswith("Meta retargeting increased revenue by 12") and "95% CI 4" in rewrite
    assert any(c.fact == "ci_lower" and flag.start <= c.start < flag.end for c in done.cites)


def test_a_claim_no_analysis_speaks_to_is_removed() -> None:
    deltas, done = llm(
        "Meta retargeting increased revenue by 12. Snapchat tripled orders overnight."
    )
    assert "Snapchat" not in done.text and "Snapchat" not in "".join(deltas)
    (flag,) = done.flagged
    assert flag.resolution is Resolution.REMOVED and flag.judgement.verdict is Verdict.UNSUPPORTED
    assert flag.start == flag.end == len("Meta retargeting increased revenue by 12. ")


def test_each_effect_is_restated_once() -> None:
    _, done = llm("Meta retargeting drove a 45% lift. Meta retargeting doubled revenue.")
    assert [f.resolution for f in done.flagged] == [Resolution.REWRITTEN, Resolution.REMOVED]
    assert done.text.count("Meta retargeting increased revenue") == 1


def test_the_prompts_carry_the_context_and_the_rules() -> None:
    chat = ScriptedChat("Fine.")
    run(explain_with_llm([META], Audience.EXECUTIVE, "Should we scale retargeting?", chat))
    system, user = chat.prompts
    assert (
        system.role == "system" and "interval" in system.content and "executive" in system.content
    )
    assert "[an-rt:ci_lower]" in user.content and "Should we scale retargeting?" in user.content


def test_the_openai_backend_end_to_end_through_the_guardrail() -> None:
    """The real client, a local endpoint speaking SSE, an unsupported claim in its answer."""
    answer = (
        "The experiment shows Meta retargeting increased revenue by 12 (95% CI 4 to 20). "
        "Meta retargeting drove a 35% lift in revenue, our best channel ever."
    )
    with fake_openai(Script(pieces=words(answer))) as fake:
        backend = OpenAIChat(Endpoint(fake.url, "m"), backoff_s=0.01)
        deltas, done = run(explain_with_llm([META], Audience.ANALYST, "", backend))
    assert "35%" not in "".join(deltas) and "35%" not in done.text
    # the 35% is contradicted; "our best channel ever" cannot be checked with one channel (R23-F1)
    assert [f.judgement.verdict for f in done.flagged] == [
        Verdict.CONTRADICTED,
        Verdict.UNSUPPORTED,
    ]
    assert done.model == "m"


def test_the_grounded_writer_streams_sentence_by_sentence() -> None:
    deltas, done = run(explain_grounded([META], Audience.EXECUTIVE))
    assert len(deltas) >= 3 and deltas[0].startswith("Meta retargeting increased revenue by 12")
    assert not done.flagged and done.model == ""


def _grounded(analysis: Analysis, audience: Audience, question: str = "") -> str:
    _, done = run(explain_grounded([analysis], audience, question))
    assert isinstance(done, Done) and not done.flagged, done.flagged
    return done.text


def test_a_data_scientist_reads_an_attributions_estimand_once() -> None:
    """R2 F12: "The estimand is the effect." followed every channel (7x) and said nothing."""
    audit = analysis_from_proto(audit_demo(calibrated=True))
    text = _grounded(audit, Audience.DATA_SCIENTIST)
    assert "The estimand is the effect" not in text
    assert text.count("estimand") == 1
    assert "The estimand of each channel is its incremental revenue over the window" in text


def test_an_analysis_that_reports_no_estimate_starts_with_why() -> None:
    """R2 F12: a FAIL analysis began "The estimate comes from a causal marketing-mix model"."""
    failed = analysis_from_proto(failed_attribution())
    for audience in (Audience.ANALYST, Audience.DATA_SCIENTIST):
        text = _grounded(failed, audience)
        assert text.startswith(
            "This analysis reports no estimate: the model failed its holdout check"
        ), text
        assert "The estimate comes from" not in text and "The analysis fitted a causal" in text
        assert text.endswith("the analysis rerun.")


def test_the_grounded_writer_keeps_to_the_channels_a_question_names() -> None:
    """R2 F12: --question was ignored by the grounded writer (byte-for-byte the same text)."""
    audit = analysis_from_proto(audit_demo(calibrated=True))
    plain = _grounded(audit, Audience.ANALYST)
    asked = _grounded(audit, Audience.ANALYST, "Should I increase TikTok spend?")
    assert asked != plain and asked.startswith("The question names tiktok:")
    assert "We could not detect an effect of tiktok on revenue" in asked
    assert "Klaviyo email" not in asked and "Meta prospecting increased" not in asked
    assert "Next step: a larger or longer test of tiktok" in asked
    meta = _grounded(audit, Audience.EXECUTIVE, "What about Meta?")
    assert meta.startswith("The question names meta prospecting and meta retargeting")
    assert "tiktok" not in meta
    # a question the figures cannot narrow: the whole explanation, and it says why
    vague = _grounded(audit, Audience.ANALYST, "Which channel is best?")
    assert vague.startswith("The question names no channel of this analysis")
    assert vague.endswith(plain)


def test_a_failed_check_whose_label_names_it_a_check_is_not_called_a_check_check() -> None:
    """R22-F7: "the model failed its convergence check check"."""
    proto = failed_attribution()
    for check in proto.attribution.health.checks:
        check.verdict = causal_pb.HEALTH_VERDICT_FAIL
    text = _grounded(analysis_from_proto(proto), Audience.ANALYST)
    assert text.startswith(
        "This analysis reports no estimate: the model failed its holdout check and convergence "
        "check, so it reports no channel effects."
    ), text
    assert "check check" not in text
