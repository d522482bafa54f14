"""Ranked insights from analyses: what is supported, what is not, caveats and next steps.

Each effect gives one insight whose text is the grounded writer's headline for it (so an
insight never says more than the writer would). Failed or warning checks and the analyses'
warnings give caveats; each effect's next step closes the list.

Confidence
    How strongly the evidence backs the effect being real, in [0, 1]: ``1 - p`` for an
    identified estimate whose checks passed, shrunk by 15% per check that warned; at most
    0.2 for an estimate that failed a check and 0.1 for a correlation (neither licenses a
    causal reading, whatever its p-value). Without a p-value, the interval's distance from
    zero stands in for it.
Rank
    Effects by ``confidence × size``, where size is the estimate over its interval's
    half-width capped at 1 (so a precise large effect outranks a noisy one and units do not
    matter across analyses); then caveats, then next steps.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from llm_svc.evidence import Analysis, CheckOutcome, Effect
from llm_svc.writer import Cite, Sentence, headline, next_step

__all__ = ["Insight", "InsightKind", "confidence", "rank_insights"]

WARNING_SHRINK = 0.85
FAILED_CAP = 0.2
CORRELATION_CAP = 0.1


class InsightKind(enum.StrEnum):
    SUPPORTED_EFFECT = "supported_effect"
    UNSUPPORTED_EFFECT = "unsupported_effect"
    CAVEAT = "caveat"
    NEXT_STEP = "next_step"


@dataclass(frozen=True, slots=True)
class Insight:
    kind: InsightKind
    text: str
    analysis_ids: tuple[str, ...]
    confidence: float
    score: float
    cites: tuple[Cite, ...] = ()


def _p_value(e: Effect) -> float:
    if e.p_value is not None and math.isfinite(e.p_value):
        return min(max(e.p_value, 0.0), 1.0)
    z_crit = NormalDist().inv_cdf(1 - e.alpha / 2)
    se = (e.upper - e.lower) / (2 * z_crit) if e.upper > e.lower else 0.0
    if se <= 0:
        return 1.0
    return 2 * (1 - NormalDist().cdf(abs(e.point) / se))


def confidence(e: Effect) -> float:
    """Confidence in [0, 1] that the effect is real (see the module docstring)."""
    base = 1.0 - _p_value(e)
    if not e.causal:
        return min(base, CORRELATION_CAP)
    if not e.supported:
        return min(base, FAILED_CAP)
    return base * WARNING_SHRINK ** len(e.warning_checks)


def _size(e: Effect) -> float:
    half = (e.upper - e.lower) / 2
    if half <= 0:
        return 1.0
    return min(abs(e.point) / half, 1.0)


def _insight(
    kind: InsightKind, s: Sentence, ids: tuple[str, ...], conf: float, score: float
) -> Insight:
    return Insight(kind, s.text, ids, round(conf, 4), score, s.cites)


def rank_insights(analyses: Sequence[Analysis]) -> list[Insight]:
    """Every insight of ``analyses``, most important first (see the module docstring)."""
    effects: list[Insight] = []
    caveats: list[Insight] = []
    steps: list[Insight] = []
    for a in analyses:
        ids = (a.analysis_id,)
        for e in a.effects:
            c = confidence(e)
            kind = InsightKind.SUPPORTED_EFFECT if e.established else InsightKind.UNSUPPORTED_EFFECT
            effects.append(_insight(kind, headline(a, e), ids, c, c * _size(e)))
            steps.append(_insight(InsightKind.NEXT_STEP, next_step(a, e), ids, c, c * _size(e)))
        for check in a.checks:
            if check.outcome in (CheckOutcome.FAILED, CheckOutcome.WARNING):
                verb = "failed" if check.outcome is CheckOutcome.FAILED else "raised a warning"
                detail = (
                    f": {check.interpretation.strip().rstrip('.')}" if check.interpretation else ""
                )
                text = f"The {check.label} {verb}{detail}."
                start = len("The ")
                cite = Cite(a.analysis_id, check.fact, start, start + len(check.label))
                weight = 1.0 if check.outcome is CheckOutcome.FAILED else 0.5
                caveats.append(Insight(InsightKind.CAVEAT, text, ids, 1.0, weight, (cite,)))
        for i, warning in enumerate(a.warnings):
            text = warning.strip()
            cite = Cite(a.analysis_id, f"warnings[{i}]", 0, len(text))
            caveats.append(Insight(InsightKind.CAVEAT, text, ids, 1.0, 0.25, (cite,)))
    seen: set[str] = set()
    unique_steps = []
    for s in sorted(steps, key=lambda i: -i.score):
        if s.text not in seen:
            seen.add(s.text)
            unique_steps.append(s)
    by_score = lambda i: -i.score  # noqa: E731
    return sorted(effects, key=by_score) + sorted(caveats, key=by_score) + unique_steps
