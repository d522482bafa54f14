"""Explain: an explanation streamed as text deltas, then ``Done`` with the full text, its
citations and the claims the guardrail acted on.

Two writers behind one stream: the grounded writer (sentences generated from facts, checked
by the guardrail as a self-test) and a chat backend (an LLM; its tokens are buffered into
sentences and each sentence is checked before it is sent, so an unsupported claim never
reaches the caller unmarked, even mid-stream). A question naming other analyses gets what changed
between them and this one (``changes``): the grounded writer writes it (llm_svc.what_changed),
the LLM reads it in its context; the guardrail knows every analysis compared.

Either writer's explanation opens with what changed under the analysis's window since it was
made (``Analysis.data_changes``): the figures that follow are the data's as it was, and an SDK
caller reads only this text (R33-F1 after s18). When that could not be checked, its last
sentence says so (a note, as the CLI's is, not a finding to read the figures by).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from llm_svc.chat import ChatBackend
from llm_svc.claims.sentences import split_complete
from llm_svc.context import build_context, build_prompts
from llm_svc.errors import LlmRefused
from llm_svc.evidence import DATA_CHECK, Analysis, Audience
from llm_svc.guardrail import AskChanges, Flagged, Guardrail, Passed
from llm_svc.insights import rank_insights
from llm_svc.plain_text import ControlFilter
from llm_svc.what_changed import Change
from llm_svc.what_changed import write as write_changes
from llm_svc.writer import Cite, Sentence, write

__all__ = ["Delta", "Done", "data_caveats", "explain_grounded", "explain_with_llm", "unchecked"]


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


def _quoted(analysis_id: str, before: str, fact: str, text: str, after: str) -> Sentence:
    return Sentence(
        before + text + after,
        (Cite(analysis_id, fact, len(before), len(before) + len(text)),),
        quotes=True,  # the check's own words, not a claim the writer composed
    )


def data_caveats(analyses: Sequence[Analysis]) -> list[Sentence]:
    """What changed under each analysis's window since it was made, a sentence per line of
    the check: the first sentences of an explanation."""
    return [
        _quoted(a.analysis_id, "Caveat: ", f"{DATA_CHECK}.warnings[{i}]", text.rstrip(". "), ".")
        for a in analyses
        for i, text in enumerate(a.data_changes)
    ]


def unchecked(analyses: Sequence[Analysis]) -> list[Sentence]:
    """That whether the data changed under an analysis's window could not be checked, and
    why: the last sentence of an explanation."""
    return [
        _quoted(
            a.analysis_id,
            "Note: whether the data under this analysis's window changed since "
            "it was made was not checked (",
            DATA_CHECK,
            a.data_unchecked,
            ").",
        )
        for a in analyses
        if a.data_unchecked
    ]


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
    # after the endpoint refused (the LLM path's fallback) the caveats were sent already
    first = [] if transcript.length else data_caveats(analyses)
    for sentence in first + sentences + unchecked(analyses):
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
    # the caveats first, as the grounded writer says them: whatever the model writes, the
    # caller reads that the figures are the data's as it was
    for caveat in data_caveats(analyses):
        guard.note_sent(caveat.text)  # a model repeating it word for word is not sent twice
        yield Delta(transcript.add(Passed(caveat.text + " ", caveat.cites)))
    opened = transcript.length
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
        if transcript.length > opened or e.status not in _TOO_LARGE:
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
    for last in unchecked(analyses):
        if guard.was_sent(last.text):  # the model said it already
            continue
        gap = "" if "".join(transcript.parts)[-1:].isspace() else " "
        yield Delta(transcript.add(Passed(gap)) + transcript.add(Passed(last.text, last.cites)))
    yield transcript.done(backend.model)
