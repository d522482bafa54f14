"""Causal claims in text and their verdicts against the analyses (CheckClaims, the guardrail).

:func:`check_claims` is the one entry point: :mod:`.extract` finds the claims,
:mod:`.judge` decides each one, :mod:`.sentences` splits text (also for streamed output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_svc.claims.extract import Claim, ClaimKind, Mode, classify, extract_claims
from llm_svc.claims.judge import Judgement, Verdict, change_asks, judge, subject_patterns
from llm_svc.claims.spending import ChangeAsk, ChangeInterval, Counterfactuals
from llm_svc.claims.sweeping import combined, sweeping_judgements
from llm_svc.evidence import Analysis, Effect

__all__ = [
    "ChangeAsk",
    "ChangeInterval",
    "Claim",
    "ClaimKind",
    "Counterfactuals",
    "Judgement",
    "Mode",
    "ReadClaims",
    "Verdict",
    "changes_to_ask",
    "check_claims",
    "classify",
    "effects_of",
    "read_claims",
]


def effects_of(analyses: Sequence[Analysis]) -> tuple[Effect, ...]:
    """Every effect a claim can be judged against: those reported, and the causes a failed
    model names without a figure (judged as failed, never restated)."""
    return tuple(e for a in analyses for e in (*a.effects, *a.withheld))


@dataclass(frozen=True, slots=True)
class ReadClaims:
    """A text's causal claims, read once, with the effects they are judged against: CheckClaims
    asks the Counterfactuals its sized spend changes need, then judges the same claims."""

    claims: tuple[Claim, ...]
    effects: tuple[Effect, ...]
    # the verdicts on sweeping claims (every channel, the best channel, a forecast, "no
    # caveats"): judged on the effects as a whole, with no cause and size of their own
    sweeping: tuple[Judgement, ...] = ()

    def asks(self) -> list[ChangeAsk]:
        """The spend changes by part the claims give a size for, each as the Counterfactual
        of an analysis that would decide it (one ask per change)."""
        asks = (a for c in self.claims for a in change_asks(c, self.effects))
        return list({a.key: a for a in asks}.values())

    def judged(self, counterfactuals: Counterfactuals | None = None) -> list[Judgement]:
        """Every claim's verdict; a spend change by part on its analysis's Counterfactual
        where ``counterfactuals`` has it."""
        judged = [judge(c, self.effects, counterfactuals) for c in self.claims]
        return combined(judged, self.sweeping)


def read_claims(text: str, analyses: Sequence[Analysis]) -> ReadClaims:
    effects = effects_of(analyses)
    claims = tuple(extract_claims(text, subject_patterns(effects)))
    sweeping = tuple(sweeping_judgements(text, analyses, effects, claims))
    return ReadClaims(claims, effects, sweeping)


def changes_to_ask(text: str, analyses: Sequence[Analysis]) -> list[ChangeAsk]:
    """The spend changes by part that ``text`` claims a size for (:meth:`ReadClaims.asks`)."""
    return read_claims(text, analyses).asks()


def check_claims(
    text: str, analyses: Sequence[Analysis], counterfactuals: Counterfactuals | None = None
) -> list[Judgement]:
    """Every causal claim in ``text`` with its verdict against ``analyses``; a spend change by
    part is judged on its analysis's Counterfactual where ``counterfactuals`` has it."""
    return read_claims(text, analyses).judged(counterfactuals)
