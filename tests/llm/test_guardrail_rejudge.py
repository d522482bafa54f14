"""The guardrail's rewrite is judged before it goes out (R10-F9, R36-F7): a flagged sentence is
replaced by the grounded writer's headline for its effect only when the judge supports that
headline; otherwise the sentence is removed.

A headline the judge flags: two analyses of one channel over other windows that disagree and
neither supersedes (the judge calls either's headline UNSUPPORTED, naming both readings), so a
sentence both contradict is removed, not replaced by a headline that would itself be flagged.

Until s18 (N) this file pinned a campaign label as such a headline: a generic channel named
"Promo - doubled sales" got "Promo - doubled sales increased revenue by 900,000 USD (...)",
which the judge read as a +100% claim ("doubled sales") and CONTRADICTED, so the guardrail
removed every flagged sentence about that channel. The claim reader now takes a name as the
subject's name, never the claim's size (llm_svc/claims/names.py): that headline is SUPPORTED
and an overclaim about the channel is rewritten to it."""

from __future__ import annotations

from liftos.v1 import common_pb2 as common_pb

from llm_svc.claims import Verdict
from llm_svc.convert import analysis_from_proto
from llm_svc.guardrail import Guardrail, Resolution
from llm_svc.writer import headline
from tests.llm.support import ChannelRows, attribution_of

PROMO = "Promo - doubled sales"
CHANNELS: ChannelRows = {
    PROMO: (400_000.0, (900_000, 300_000, 1_500_000), (2.25, 0.75, 3.75)),
    "meta_prospecting": (3_188_836.0, (6_557_424, 3_525_589, 9_589_259), (2.06, 1.11, 3.01)),
}


def _guardrail() -> Guardrail:
    return Guardrail([analysis_from_proto(attribution_of("an-promo", "acme", CHANNELS))])


def _disagreeing() -> Guardrail:
    """tiktok in two analyses of other windows whose intervals do not overlap."""
    autumn = attribution_of("an-autumn", "acme", {"tiktok": TIKTOK_AUTUMN})
    spring = attribution_of("an-spring", "acme", {"tiktok": TIKTOK_SPRING})
    window = spring.attribution.date_range
    window.start_date.CopyFrom(common_pb.Date(year=2024, month=3, day=1))
    window.end_date.CopyFrom(common_pb.Date(year=2024, month=6, day=1))
    return Guardrail([analysis_from_proto(autumn), analysis_from_proto(spring)])


TIKTOK_AUTUMN = (400_000.0, (900_000.0, 300_000.0, 1_500_000.0), (2.25, 0.75, 3.75))
TIKTOK_SPRING = (400_000.0, (5_900_000.0, 5_300_000.0, 6_500_000.0), (14.75, 13.25, 16.25))


def test_the_fixture_headline_is_one_the_judge_flags() -> None:
    g = _disagreeing()
    for analysis in g.analyses:
        for effect in analysis.effects:
            text = headline(analysis, effect).text
            judged = g.judge(text)
            assert [j.verdict for j in judged] == [Verdict.UNSUPPORTED], text
            assert "the analyses disagree" in judged[0].reason


def test_a_flagged_sentence_whose_rewrite_would_be_flagged_is_removed() -> None:
    g = _disagreeing()
    passed = g.check("TikTok increased revenue by 50,000,000 USD.")
    assert passed.text == "" and passed.cites == ()
    assert [(f.resolution, f.judgement.verdict) for f in passed.flagged] == [
        (Resolution.REMOVED, Verdict.CONTRADICTED)
    ]
    # judged against an effect that has a headline: the re-judge, not a missing effect, removed it
    effect = passed.flagged[0].judgement.effect
    assert effect is not None and effect.treatment == "tiktok"


def test_a_label_that_reads_as_a_claim_gets_a_supported_headline_and_a_rewrite() -> None:
    g = _guardrail()
    (analysis,) = g.analyses
    outcome = {e.treatment: e for e in analysis.effects if "incremental_outcome" in e.prefix}
    promo = headline(analysis, outcome[PROMO]).text
    assert promo.startswith(f"{PROMO} increased revenue by 900,000 USD")
    assert [j.verdict for j in g.judge(promo)] == [Verdict.SUPPORTED]
    passed = g.check(f"{PROMO} increased revenue by 5,000,000 USD.")
    assert passed.text.startswith(f"{PROMO} increased revenue by 900,000 USD")
    assert [(f.resolution, f.judgement.verdict) for f in passed.flagged] == [
        (Resolution.REWRITTEN, Verdict.CONTRADICTED)
    ]
    effect = passed.flagged[0].judgement.effect
    assert effect is not None and effect.treatment == PROMO


def test_a_flagged_sentence_whose_rewrite_passes_is_rewritten() -> None:
    g = _guardrail()
    passed = g.check("meta_prospecting increased revenue by 50,000,000 USD.")
    assert passed.text.startswith("Meta prospecting increased revenue by 6,557,424 USD")
    assert [f.resolution for f in passed.flagged] == [Resolution.REWRITTEN]
    assert all(j.verdict is Verdict.SUPPORTED for j in g.judge(passed.text))
