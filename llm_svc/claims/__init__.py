"""Causal claims in text and their verdicts against the analyses (CheckClaims, the guardrail).

:func:`check_claims` is the one entry point: :mod:`.extract` finds the claims,
:mod:`.judge` decides each one, :mod:`.sentences` splits text (also for streamed output).
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_svc.claims.extract import Claim, ClaimKind, Mode, classify, extract_claims
from llm_svc.claims.judge import Judgement, Verdict, judge, subject_patterns
from llm_svc.evidence import Analysis, Effect

__all__ = [
    "Claim",
    "ClaimKind",
    "Judgement",
    "Mode",
    "Verdict",
    "check_claims",
    "classify",
    "effects_of",
]


def effects_of(analyses: Sequence[Analysis]) -> tuple[Effect, ...]:
    """Every effect a claim can be judged against: those reported, and the causes a failed
    model names without a figure (judged as failed, never restated)."""
    return tuple(e for a in analyses for e in (*a.effects, *a.withheld))


def check_claims(text: str, analyses: Sequence[Analysis]) -> list[Judgement]:
    """Every causal claim in ``text`` with its verdict against ``analyses``."""
    effects = effects_of(analyses)
    claims = extract_claims(text, subject_patterns(effects))
    return [judge(c, effects) for c in claims]
