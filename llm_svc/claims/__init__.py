"""Causal claims in text and their verdicts against the analyses (CheckClaims, the guardrail).

:func:`check_claims` is the one entry point: :mod:`.extract` finds the claims,
:mod:`.judge` decides each one, :mod:`.sentences` splits text (also for streamed output).
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_svc.claims.extract import Claim, ClaimKind, Mode, classify, extract_claims
from llm_svc.claims.judge import Judgement, Verdict, change_asks, judge, subject_patterns
from llm_svc.claims.spending import ChangeAsk, ChangeInterval, Counterfactuals
from llm_svc.evidence import Analysis, Effect

__all__ = [
    "ChangeAsk",
    "ChangeInterval",
    "Claim",
    "ClaimKind",
    "Counterfactuals",
    "Judgement",
    "Mode",
    "Verdict",
    "changes_to_ask",
    "check_claims",
    "classify",
    "effects_of",
]


def effects_of(analyses: Sequence[Analysis]) -> tuple[Effect, ...]:
    """Every effect a claim can be judged against: those reported, and the causes a failed
    model names without a figure (judged as failed, never restated)."""
    return tuple(e for a in analyses for e in (*a.effects, *a.withheld))


def changes_to_ask(text: str, analyses: Sequence[Analysis]) -> list[ChangeAsk]:
    """The spend changes by part that ``text`` claims a size for, each as the Counterfactual
    of an analysis that would decide it (the service asks them, then :func:`check_claims`)."""
    effects = effects_of(analyses)
    asks = (
        a for c in extract_claims(text, subject_patterns(effects)) for a in change_asks(c, effects)
    )
    return list({a.key: a for a in asks}.values())


def check_claims(
    text: str, analyses: Sequence[Analysis], counterfactuals: Counterfactuals | None = None
) -> list[Judgement]:
    """Every causal claim in ``text`` with its verdict against ``analyses``; a spend change by
    part is judged on its analysis's Counterfactual where ``counterfactuals`` has it."""
    effects = effects_of(analyses)
    claims = extract_claims(text, subject_patterns(effects))
    return [judge(c, effects, counterfactuals) for c in claims]
