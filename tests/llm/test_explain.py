"""Explain's stream: the guardrail checks every sentence a writer produces before it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from llm_svc.claims import Verdict
from llm_svc.context import Prompt
from llm_svc.evidence import Analysis, Audience
from llm_svc.explain import Delta, Done, explain_grounded, explain_with_llm
from llm_svc.guardrail import Resolution
from llm_svc.openai_chat import OpenAIChat
from llm_svc.settings import Endpoint
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import effect_analysis

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
    assert [f.judgement.verdict for f in done.flagged] == [Verdict.CONTRADICTED]
    assert done.model == "m"


def test_the_grounded_writer_streams_sentence_by_sentence() -> None:
    deltas, done = run(explain_grounded([META], Audience.EXECUTIVE))
    assert len(deltas) >= 3 and deltas[0].startswith("Meta retargeting increased revenue by 12")
    assert not done.flagged and done.model == ""
