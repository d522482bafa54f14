"""Explain: an explanation streamed as text deltas, then ``Done`` with the full text, its
citations and the claims the guardrail acted on.

Two writers behind one stream: the grounded writer (sentences generated from facts, checked
by the guardrail as a self-test) and a chat backend (an LLM; its tokens are buffered into
sentences and each sentence is checked before it is sent, so an unsupported claim never
reaches the caller unmarked, even mid-stream). A question naming other analyses gets what changed
between them and this one (``changes``): the grounded writer writes it (llm_svc.what_changed),
the LLM reads it in its context; the guardrail knows every analysis compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from llm_svc.chat import ChatBackend
from llm_svc.claims.sentences import split_complete
from llm_svc.context import build_context, build_prompts
from llm_svc.errors import LlmRefused
from llm_svc.evidence import Analysis, Audience
from llm_svc.guardrail import AskChanges, Flagged, Guardrail, Passed
from llm_svc.insights import rank_insights
from llm_svc.plain_text import ControlFilter
from llm_svc.what_changed import Change
from llm_svc.what_changed import write as write_changes
from llm_svc.writer import Cite, write

__all__ = ["Delta", "Done", "explain_grounded", "explain_with_llm"]


# the refusals of a request too large for the endpoint (OpenAI-compatible servers answer a
# context-length overflow with 400; some proxies with 413 Payload Too Large)
_TOO_LARGE = (400, 413)


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    text: str
    cites: tuple[Cite, ...]
    flagged: tuple[Flagged, ...]
    model: str = ""  # empty: the grounded writer


@dataclass
class _Transcript:
    """The text sent so far, with citations and flags moved to full-text offsets."""

    parts: list[str] = field(default_factory=list)
    cites: list[Cite] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)
    length: int = 0

    def add(self, passed: Passed) -> str:
        at = self.length
        self.cites += [Cite(c.analysis_id, c.fact, c.start + at, c.end + at) for c in passed.cites]
        self.flagged += [
            Flagged(f.judgement, f.resolution, f.start + at, f.end + at) for f in passed.flagged
        ]
        self.parts.append(passed.text)
        self.length += len(passed.text)
        return passed.text

    def done(self, model: str = "") -> Done:
        text = "".join(self.parts)
        stripped = text.rstrip()
        return Done(stripped, tuple(self.cites), tuple(self.flagged), model)


def _compared(analyses: Sequence[Analysis], changes: Sequence[Change]) -> list[Analysis]:
    """``analyses`` and every other analysis ``changes`` compare them with."""
    out = {a.analysis_id: a for a in analyses}
    for c in changes:
        for a in (c.earlier, c.later):
            out.setdefault(a.analysis_id, a)
    return list(out.values())


async def explain_grounded(
    analyses: Sequence[Analysis],
    audience: Audience,
    question: str = "",
    changes: Sequence[Change] = (),
) -> AsyncIterator[Delta | Done]:
    """The grounded writer's explanation, one sentence per delta (each checked by the
    guardrail, except the analysis's own words it quotes). A question is answered from the
    analysis's figures only: the explanation keeps to the causes it names, and says so; with
    ``changes`` (it names other analyses) the answer is what changed between them."""
    async for event in _grounded(analyses, audience, question, changes, _Transcript()):
        yield event


async def _grounded(
    analyses: Sequence[Analysis],
    audience: Audience,
    question: str,
    changes: Sequence[Change],
    transcript: _Transcript,
) -> AsyncIterator[Delta | Done]:
    guard = Guardrail(_compared(analyses, changes))
    sentences = (
        write_changes(changes, analyses[0].analysis_id, audience, question)
        if changes
        else write(analyses, audience, question)
    )
    for sentence in sentences:
        text = sentence.text + " "
        passed = (
            Passed(text, sentence.cites) if sentence.quotes else guard.check(text, sentence.cites)
        )
        guard.note_written(sentence)
        if transcript.add(passed):
            yield Delta(passed.text)
    yield transcript.done()


async def explain_with_llm(
    analyses: Sequence[Analysis],
    audience: Audience,
    question: str,
    backend: ChatBackend,
    changes: Sequence[Change] = (),
    ask: AskChanges | None = None,
) -> AsyncIterator[Delta | Done]:
    """An LLM's explanation from the context and prompts (with what changed between the
    analyses the question names and these), checked sentence by sentence; ``ask`` reads the
    Counterfactual of a sized spend change a sentence claims (the guardrail judges it on that)."""
    context = build_context(analyses, rank_insights(analyses), changes)
    prompts = build_prompts(context, audience, question)
    guard = Guardrail(_compared(analyses, changes))
    transcript = _Transcript()
    buffer = ""
    controls = ControlFilter()  # the reply's escape sequences never reach the caller (R23-F4)
    try:
        async for chunk in backend.stream(prompts):
            buffer += controls.feed(chunk)
            complete, buffer = split_complete(buffer)
            for text in complete:
                await guard.ask_changes(text, ask)
                out = transcript.add(guard.check(text))
                if out.strip():
                    yield Delta(out)
    except LlmRefused as e:
        # an endpoint that refuses the request's size (a context window smaller than the
        # prompt) before it said anything: the grounded explanation, saying why (R23-F6);
        # any other refusal (key, model) is the operator's to fix, and fails the call
        if transcript.length or e.status not in _TOO_LARGE:
            raise
        note = Passed(
            f"(The LLM endpoint refused the request, HTTP {e.status}: the analysis's evidence "
            "may be larger than its context window. This is LiftOS's grounded explanation.) "
        )
        yield Delta(transcript.add(note))
        async for event in _grounded(analyses, audience, question, changes, transcript):
            yield event
        return
    buffer += controls.end()
    if buffer.strip():
        await guard.ask_changes(buffer, ask)
        out = transcript.add(guard.check(buffer))
        if out.strip():
            yield Delta(out)
    yield transcript.done(backend.model)
