"""The guardrail every explanation passes before it is sent: CheckClaims, sentence by sentence.

A sentence whose causal claims are all supported goes out as written (each claim cited to the
effect it was judged against). A sentence with any other claim does not: it is *rewritten* as
the grounded writer's statement of what the analysis supports about that cause (once per
effect in an explanation, and never as a copy of a sentence already sent), or *removed* when
no analysis speaks to its cause. Either way the
claim, its verdict and the reason are recorded for ``done.unsupported_claims``.

A sized change of one part's spend ("raising Meta by 30% would add 40k") is judged on the
analysis's own Counterfactual when the caller can ask for it (:meth:`Guardrail.ask_changes`), as
CheckClaims judges it: without it the response curve can only call such a claim unsupported, and
an explanation would drop a sentence CheckClaims supports.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from llm_svc.claims import (
    ChangeAsk,
    ChangeInterval,
    Counterfactuals,
    Judgement,
    ReadClaims,
    Verdict,
    effects_of,
)
from llm_svc.claims.extract import extract_claims
from llm_svc.claims.judge import judge, subject_patterns
from llm_svc.claims.spending import ChangeKey
from llm_svc.claims.sweeping import combined, sweeping_judgements
from llm_svc.evidence import Analysis, Effect
from llm_svc.writer import Cite, Sentence, headline

__all__ = ["AskChanges", "Flagged", "Guardrail", "Passed", "Resolution"]

# asks the causal service for each change's Counterfactual; a failed ask maps to its reason
AskChanges = Callable[[Sequence[ChangeAsk]], Awaitable[Counterfactuals]]


class Resolution(enum.StrEnum):
    REMOVED = "removed"
    REWRITTEN = "rewritten"


@dataclass(frozen=True, slots=True)
class Flagged:
    """A claim the guardrail acted on; ``start:end`` is where its replacement stands in the
    sentence that went out (empty when removed)."""

    judgement: Judgement
    resolution: Resolution
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Passed:
    """What goes out for one sentence: its text (maybe empty), citations and flags."""

    text: str
    cites: tuple[Cite, ...] = ()
    flagged: tuple[Flagged, ...] = ()


@dataclass
class Guardrail:
    """Checks sentences against ``analyses``; remembers which effects it has restated."""

    analyses: Sequence[Analysis]
    _restated: set[tuple[str, str]] = field(default_factory=set)
    _asked: dict[ChangeKey, ChangeInterval | str] = field(default_factory=dict)
    # every sentence that went out, and those of them the guardrail wrote in place of another:
    # a rewrite never repeats a sentence already sent, and a later copy of one is not sent
    _sent: set[str] = field(default_factory=set)
    _inserted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._effects = effects_of(self.analyses)
        self._patterns = subject_patterns(self._effects)
        self._by_id = {a.analysis_id: a for a in self.analyses}

    def judge(self, text: str) -> list[Judgement]:
        claims = extract_claims(text, self._patterns)
        judged = [judge(c, self._effects, self._asked) for c in claims]
        # a sweeping claim ("every channel is established", "our best channel") is judged
        # too: what the guardrail cannot check must not go out as if it had (R23-F1)
        return combined(judged, sweeping_judgements(text, self.analyses, self._effects, claims))

    async def ask_changes(self, text: str, ask: AskChanges | None) -> None:
        """Asks, through ``ask``, the Counterfactual of each sized spend change ``text`` claims
        that was not asked before, so that :meth:`check` judges them as CheckClaims does."""
        if ask is None:
            return
        read = ReadClaims(tuple(extract_claims(text, self._patterns)), self._effects)
        asks = [a for a in read.asks() if a.key not in self._asked]
        if asks:
            self._asked.update(await ask(asks))

    def note_sent(self, text: str) -> None:
        """A sentence the service sent itself (a data caveat): the model's copy of it is not
        sent again."""
        self._sent.add(text.strip())
        self._inserted.add(text.strip())

    def was_sent(self, text: str) -> bool:
        return text.strip() in self._sent

    def note_written(self, sentence: Sentence) -> None:
        """A sentence the grounded writer produced: its effects count as stated."""
        for c in sentence.cites:
            self._restated.add((c.analysis_id, c.fact))

    def check(self, text: str, cites: tuple[Cite, ...] = ()) -> Passed:
        """The sentence as it may go out (``text`` keeps its surrounding whitespace)."""
        body = text.strip()
        if not body:
            return Passed(text, cites)
        judgements = self.judge(body)
        bad = [j for j in judgements if j.verdict is not Verdict.SUPPORTED]
        lead = text[: len(text) - len(text.lstrip())]
        if not bad:
            if body in self._inserted:
                return Passed("")  # the guardrail already said it, in place of a flagged one
            self._sent.add(body)
            extra = tuple(
                self._claim_cite(j, len(lead)) for j in judgements if j.effect is not None
            )
            return Passed(text, cites + extra)
        effect = next((j.effect for j in bad if j.effect is not None), None)
        tail = text[len(text.rstrip()) :] or " "
        rewrite = self._rewrite(effect, body)
        if effect is not None and rewrite is not None:
            self._restated.add(self._key(effect))
            self._sent.add(rewrite.text.strip())
            self._inserted.add(rewrite.text.strip())
            start, end = len(lead), len(lead) + len(rewrite.text)
            shifted = tuple(
                Cite(c.analysis_id, c.fact, c.start + start, c.end + start) for c in rewrite.cites
            )
            flags = tuple(Flagged(j, Resolution.REWRITTEN, start, end) for j in bad)
            return Passed(lead + rewrite.text + tail, shifted, flags)
        flags = tuple(Flagged(j, Resolution.REMOVED, 0, 0) for j in bad)
        return Passed("", (), flags)

    def _rewrite(self, effect: Effect | None, body: str) -> Sentence | None:
        """The grounded writer's statement of ``effect`` in place of a flagged sentence, or
        None (the sentence is removed): when the effect was already restated, or when the
        statement is the flagged sentence itself or would itself be flagged (a "rewrite" that
        changes nothing, or says what was just rejected, is no rewrite: R10-F9)."""
        if effect is None or self._key(effect) in self._restated:
            return None
        rewrite = headline(self._by_id[effect.analysis_id], effect)
        if rewrite.text.strip() == body or rewrite.text.strip() in self._sent:
            return None  # no change, or a second copy of a sentence already sent (R20-F3)
        if any(j.verdict is not Verdict.SUPPORTED for j in self.judge(rewrite.text)):
            return None
        return rewrite

    @staticmethod
    def _key(e: Effect) -> tuple[str, str]:
        return (e.analysis_id, e.prefix + e.point_fact)

    @staticmethod
    def _claim_cite(j: Judgement, offset: int) -> Cite:
        e = j.effect
        assert e is not None
        return Cite(
            e.analysis_id, e.prefix + e.point_fact, offset + j.claim.start, offset + j.claim.end
        )
