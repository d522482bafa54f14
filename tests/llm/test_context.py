"""BuildContext's domain: ranked insights, the context document, the prompts per audience."""

from __future__ import annotations

import re

from llm_svc.context import build_context, build_prompts
from llm_svc.evidence import Audience, Check, CheckOutcome, Identification
from llm_svc.insights import InsightKind, confidence, rank_insights
from tests.llm.support import effect_analysis, fixtures

STRONG = effect_analysis("an-rt", "meta_retargeting", p_value=0.001)
NOISY = effect_analysis("an-email", "klaviyo_email", point=1.5, lower=-2.0, upper=5.0, p_value=0.4)
FAILED = effect_analysis(
    "an-tt", "tiktok", point=8.0, lower=2.0, upper=14.0, p_value=0.01,
    checks=(Check("pre-trend", "pre_trend", CheckOutcome.FAILED, "pre-period effects differ"),),
)  # fmt: skip
CORRELATION = effect_analysis("an-d", "display", identification=Identification.NONE, p_value=0.001)


def test_supported_effects_rank_first_and_confidence_follows_the_evidence() -> None:
    insights = rank_insights([NOISY, FAILED, CORRELATION, STRONG])
    kinds = [i.kind for i in insights]
    assert kinds[0] is InsightKind.SUPPORTED_EFFECT and insights[0].analysis_ids == ("an-rt",)
    assert kinds.index(InsightKind.CAVEAT) > max(
        i for i, k in enumerate(kinds) if k is InsightKind.UNSUPPORTED_EFFECT
    )
    assert kinds[-1] is InsightKind.NEXT_STEP
    assert confidence(STRONG.effects[0]) > 0.99
    assert confidence(FAILED.effects[0]) <= 0.2 and confidence(CORRELATION.effects[0]) <= 0.1
    caveat = next(i for i in insights if i.kind is InsightKind.CAVEAT)
    assert "pre-trend test failed" in caveat.text
    steps = [i.text for i in insights if i.kind is InsightKind.NEXT_STEP]
    assert any("randomised geo holdout of tiktok" in s for s in steps)


def test_every_figure_in_the_context_names_its_analysis_and_field() -> None:
    analyses = [f.analysis for f in fixtures()[:8]]
    context = build_context(analyses, rank_insights(analyses))
    evidence = context.split("# Insights")[0]
    for line in evidence.splitlines():
        if line.startswith("  - estimate"):
            assert (
                len(
                    re.findall(r"\[an-[^:\]]+:(?:point_estimate|ci_lower|ci_upper|p_value)\]", line)
                )
                >= 3
            )
    for a in analyses:
        assert f"[{a.analysis_id}:strategy.kind]" in context
    assert "CORRELATION ONLY" in build_context([CORRELATION], [])
    assert "NOT SUPPORTED: failed pre-trend test" in build_context([FAILED], [])
    assert "NO DETECTABLE EFFECT" in build_context([NOISY], [])


def test_prompts_differ_by_audience_and_carry_the_rules() -> None:
    context = build_context([STRONG], rank_insights([STRONG]))
    seen = set()
    for audience in Audience:
        system, user = build_prompts(context, audience, "What should we do?")
        assert "Quote the interval" in system.content and "correlation" in system.content
        assert "Never extrapolate beyond the data window" in system.content
        assert user.content.startswith("<evidence>\n# Evidence") and user.content.endswith(
            "What should we do?"
        )
        seen.add(system.content)
    assert len(seen) == 3


def test_the_naive_comparison_is_in_the_context_as_a_correlation() -> None:
    from dataclasses import replace

    contrast = replace(STRONG, naive=(20.0, 15.0, 25.0))
    context = build_context([contrast], [])
    assert (
        "naive comparison (a correlation, not an effect): 20.00 (15.00 to 25.00) [an-rt:naive_estimate]"
        in context
    )
