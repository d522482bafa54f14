"""The guardrail's rewrite is judged before it goes out (R10-F9, R36-F7): a flagged sentence is
replaced by the grounded writer's headline for its effect only when the judge supports that
headline; otherwise the sentence is removed.

A campaign label a customer chose can make the writer's own headline read as a claim: a
generic channel named "Promo - doubled sales" gets the headline "Promo - doubled sales
increased revenue by 900,000 USD (...)", in which the judge reads "doubled sales" as a +100%
claim outside the channel's interval. Sent as a rewrite, it would put a contradicted sentence
in the explanation in place of the one just rejected."""

from __future__ import annotations

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


def test_the_fixture_headline_is_one_the_judge_flags() -> None:
    g = _guardrail()
    (analysis,) = g.analyses
    outcome = {e.treatment: e for e in analysis.effects if "incremental_outcome" in e.prefix}
    promo = headline(analysis, outcome[PROMO]).text
    assert promo.startswith(f"{PROMO} increased revenue by 900,000 USD")
    assert [j.verdict for j in g.judge(promo)] == [Verdict.CONTRADICTED]
    meta = headline(analysis, outcome["meta_prospecting"]).text
    assert all(j.verdict is Verdict.SUPPORTED for j in g.judge(meta))


def test_a_flagged_sentence_whose_rewrite_would_be_flagged_is_removed() -> None:
    g = _guardrail()
    passed = g.check(f"{PROMO} increased revenue by 5,000,000 USD.")
    assert passed.text == "" and passed.cites == ()
    assert [(f.resolution, f.judgement.verdict) for f in passed.flagged] == [
        (Resolution.REMOVED, Verdict.CONTRADICTED)
    ]
    # judged against the channel's incremental revenue, whose headline is the flagged one
    effect = passed.flagged[0].judgement.effect
    assert effect is not None and effect.treatment == PROMO
    assert "incremental_outcome" in effect.prefix


def test_a_flagged_sentence_whose_rewrite_passes_is_rewritten() -> None:
    g = _guardrail()
    passed = g.check("meta_prospecting increased revenue by 50,000,000 USD.")
    assert passed.text.startswith("Meta prospecting increased revenue by 6,557,424 USD")
    assert [f.resolution for f in passed.flagged] == [Resolution.REWRITTEN]
    assert all(j.verdict is Verdict.SUPPORTED for j in g.judge(passed.text))
