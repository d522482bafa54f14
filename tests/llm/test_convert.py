"""Reading the causal service's Analysis: effect estimates and attribution results alike."""

from __future__ import annotations

import datetime as dt

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from llm_svc.claims import Verdict, check_claims
from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Audience, CheckOutcome, Identification, Metric
from llm_svc.guardrail import Guardrail
from llm_svc.insights import InsightKind, rank_insights
from llm_svc.writer import write
from tests.llm.support import audit_attribution, effect_analysis, failed_attribution, fixtures


def _interval(estimate: float, lower: float, upper: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=0.9)


def attribution(
    verdict: causal_pb.HealthVerdict.ValueType = causal_pb.HEALTH_VERDICT_PASS,
    unidentified: tuple[str, ...] = (),
) -> causal_pb.Analysis:
    result = causal_pb.AttributionResult(analysis_id="an-mmm", warnings=["short history"])
    result.health.verdict = verdict
    result.outcome = common_pb.OUTCOME_METRIC_REVENUE
    result.health.checks.add(name="holdout", verdict=verdict, message="holdout fit")
    result.health.unidentified_channels.extend(unidentified)
    result.channels.add(
        identified=True,
        channel="google_pmax",
        spend=common_pb.Money(amount=20_800, currency_code="USD"),
        incremental_outcome=_interval(52_000, 30_000, 74_000),
        incremental_roas=_interval(2.5, 1.8, 3.2),
    )
    result.channels.add(
        identified=True,
        channel="tiktok",
        spend=common_pb.Money(amount=5_000, currency_code="USD"),
        incremental_outcome=_interval(1_000, -4_000, 6_000),
        incremental_roas=_interval(0.2, -0.5, 0.9),
    )
    # A channel the analysis gave no effect (no interval): nothing to explain.
    result.channels.add(identified=True, channel="klaviyo_email")
    return causal_pb.Analysis(
        analysis_id="an-mmm", org_id="acme", kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=result,
    )  # fmt: skip


def test_an_attribution_result_is_one_outcome_and_one_roas_effect_per_channel() -> None:
    a = analysis_from_proto(attribution())
    assert a.kind == "attribution" and len(a.effects) == 4
    roas = next(e for e in a.effects if e.metric is Metric.ROAS and e.treatment == "google_pmax")
    assert (roas.point, roas.lower, roas.upper, roas.level) == (2.5, 1.8, 3.2, 90)
    assert roas.prefix + roas.point_fact == "channels[google_pmax].incremental_roas.estimate"
    assert a.warnings == ("short history",)
    assert {e.outcome for e in a.effects} == {"revenue"}


def test_a_channel_the_analysis_gave_no_effect_is_nothing_to_explain() -> None:
    a = analysis_from_proto(attribution())
    assert "klaviyo_email" not in {e.treatment for e in a.effects}


def test_a_channel_without_spend_keeps_its_effect() -> None:
    """The audit's H4: email runs on sends, not spend, and has 79% of the credit; it is an
    effect like any other (in outcome units: no return on spend without spend). A channel
    with nothing in and nothing out is still left out."""
    a = analysis_from_proto(audit_attribution())
    email = [e for e in a.effects if e.treatment == "klaviyo_email"]
    assert [(e.metric, e.point, e.lower, e.upper) for e in email] == [
        (Metric.OUTCOME, 29_597_531, 15_836_244, 43_358_818)
    ]
    assert email[0].established and "snapchat" not in {e.treatment for e in a.effects}
    assert a.window == (dt.date(2024, 9, 15), dt.date(2025, 1, 12))
    for audience in Audience:
        text = " ".join(s.text for s in write([a], audience))
        assert (
            "Klaviyo email increased revenue by 29,597,531 USD (90% CI 15,836,244 to 43,358,818 USD)"
            in text
        )
        assert "Klaviyo email's incremental ROAS" not in text
        assert "from 2024-09-15 to 2025-01-12" in text


def test_an_executive_hears_why_a_failed_model_reports_nothing() -> None:
    """The audit's M5: a failed model reports no channel, and the executive explanation was
    empty; it says the model failed which check, in plain words, and what to do."""
    a = analysis_from_proto(failed_attribution())
    assert not a.effects
    text = " ".join(s.text for s in write([a], Audience.EXECUTIVE))
    assert text.startswith(
        "This analysis gives no figure to base a decision on: the model failed its holdout "
        "check (it could not predict the days held back to test it), so it reports no channel "
        "effects."
    )
    assert "Next step:" in text and "from 2024-09-15 to 2025-01-15" in text
    assert "R²" not in text  # the statistics are the analyst's
    assert "holdout failed" in " ".join(s.text for s in write([a], Audience.ANALYST))


def test_the_grounded_explanation_words_roas_as_a_return_not_an_amount() -> None:
    a = analysis_from_proto(attribution())
    guard = Guardrail([a])
    sent = []
    for sentence in write([a], Audience.ANALYST):
        passed = guard.check(sentence.text, sentence.cites)
        assert not passed.flagged, passed.flagged  # every sentence the writer says is supported
        sent.append(passed.text)
    text = " ".join(sent)
    assert "Google pmax increased revenue by 52,000 USD (90% CI 30,000 to 74,000 USD)." in text
    assert (
        "Google pmax's incremental ROAS is 2.50 (90% CI 1.80 to 3.20) of revenue per unit" in text
    )
    assert "increased revenue by 2.50" not in text
    # Each channel's headline once; tiktok's ROAS interval includes zero, so no ROAS sentence.
    assert text.count("Google pmax increased revenue") == 1
    assert "Tiktok's incremental ROAS" not in text and text.count("tiktok on revenue") == 1


def test_claims_and_insights_read_attribution_like_estimates() -> None:
    a = analysis_from_proto(attribution())
    verdicts = [
        j.verdict for j in check_claims("PMax delivered a 2.8x ROAS. TikTok drove a 3x ROAS.", [a])
    ]
    assert verdicts == [Verdict.SUPPORTED, Verdict.CONTRADICTED]
    kinds = [i.kind for i in rank_insights([a])]
    assert (
        kinds.count(InsightKind.SUPPORTED_EFFECT) == 2
        and kinds.count(InsightKind.UNSUPPORTED_EFFECT) == 2
    )


def test_an_unhealthy_model_or_an_unidentified_channel_supports_no_claim() -> None:
    claim = "PMax delivered a 2.8x ROAS."
    failed = analysis_from_proto(attribution(causal_pb.HEALTH_VERDICT_FAIL))
    assert not any(e.supported for e in failed.effects)
    assert [j.verdict for j in check_claims(claim, [failed])] != [Verdict.SUPPORTED]
    assert not any(i.kind is InsightKind.SUPPORTED_EFFECT for i in rank_insights([failed]))

    review = analysis_from_proto(attribution(causal_pb.HEALTH_VERDICT_REVIEW))
    assert all(e.warning_checks for e in review.effects)
    assert not any(i.kind is InsightKind.SUPPORTED_EFFECT for i in rank_insights([review]))

    pmax_unidentified = analysis_from_proto(attribution(unidentified=("google_pmax",)))
    pmax = [e for e in pmax_unidentified.effects if e.treatment == "google_pmax"]
    assert pmax and not any(e.supported for e in pmax)
    assert [j.verdict for j in check_claims(claim, [pmax_unidentified])] != [Verdict.SUPPORTED]


def test_an_effect_estimate() -> None:
    by_method = {f.method: f.proto for f in fixtures()}
    naive = analysis_from_proto(by_method["naive_regression"])
    assert naive.identification is Identification.NONE and not naive.effects[0].causal
    dim = analysis_from_proto(by_method["difference_in_means"])
    e = dim.effects[0]
    assert dim.identification is Identification.RANDOMIZED and e.causal
    assert (
        e.baseline == dim.statistics["mean_control"]
        and e.baseline_fact == "statistics.mean_control"
    )
    assert dim.window == (dt.date(2024, 10, 1), dt.date(2024, 10, 28))
    assert all(c.outcome is not CheckOutcome.SKIPPED or c.kind for c in dim.checks)
    assert e.failed_checks == tuple(c.label for c in dim.failed_checks)


def test_a_claim_about_a_channel_of_a_failed_model_is_judged_against_the_failure() -> None:
    """The re-audit's N4: a failed model reports no channel, so "Meta prospecting drove 40
    million" was UNSUPPORTED "no analysis speaks to 'Meta prospecting'" although the model has
    that channel. It is judged as a claim about an estimate that failed its checks is: the
    model failed which checks, and it reports no effects."""
    a = analysis_from_proto(failed_attribution())
    assert not a.effects
    for text in (
        "Meta prospecting drove 40 million in revenue.",
        "Meta prospecting had no effect on revenue.",
        "Meta drove a 3x ROAS.",  # both meta channels: the same failure, not "ambiguous"
        "Our newsletter drove revenue.",
    ):
        (j,) = check_claims(text, [a])
        assert j.verdict is Verdict.CONTRADICTED, (text, j.reason)
        assert j.reason.startswith("the analysis failed its health checks (holdout)"), j.reason
        assert "reports no channel effects" in j.reason and j.analysis_ids == ("an-failed",)
        assert j.effect is None  # no figure to restate
    assert {e.treatment for e in a.withheld} == {
        "klaviyo_email", "meta_prospecting", "meta_retargeting",
    }  # fmt: skip
    (j,) = check_claims("Meta prospecting drove 40 million in revenue.", [a])
    assert "meta_prospecting" in j.reason and "convergence" not in j.reason  # it passed
    # a channel the model did not have: nothing speaks to it
    (j,) = check_claims("TikTok drove 40 million in revenue.", [a])
    assert j.verdict is Verdict.UNSUPPORTED and j.reason.startswith("no analysis speaks to")
    # the analyses measured revenue, whatever the model's health
    (j,) = check_claims("Meta prospecting drove 40 thousand orders.", [a])
    assert j.verdict is Verdict.UNSUPPORTED and "not orders" in j.reason
    # another analysis that reports the channel is the evidence, not the failed one's silence
    ok = analysis_from_proto(audit_attribution())
    (j,) = check_claims("Meta prospecting drove 4 million in revenue.", [a, ok])
    assert j.verdict is Verdict.SUPPORTED and j.analysis_ids == ("an-audit",)
    # the Explain guardrail removes such a sentence (no figure to rewrite it with)
    passed = Guardrail([a]).check("Meta prospecting drove 40 million in revenue.")
    assert passed.text == "" and [f.judgement.verdict for f in passed.flagged] == [
        Verdict.CONTRADICTED
    ]


def test_the_next_step_names_the_channel_its_figure_bounds() -> None:
    """The re-audit's N8: "Next step: plan with the conservative end of the interval,
    15,836,244, ..." followed the last channel's sentence (klaviyo_sms), not the channel whose
    lower bound it is (klaviyo_email)."""
    a = analysis_from_proto(audit_attribution())
    sentences = write([a], Audience.EXECUTIVE)
    (step,) = [s for s in sentences if s.text.startswith("Next step:")]
    # R6-F6: the step is about a channel that spends (klaviyo email runs on sends: no budget)
    assert step.text == (
        "Next step: plan meta prospecting's effect on revenue at the lower bound of its 90% "
        "interval, 2,000,000 USD (the conservative end), rather than the point estimate, "
        "4,100,000 USD."
    )
    facts = {step.text[c.start : c.end]: c.fact for c in step.cites}
    assert facts["2,000,000"] == "channels[meta_prospecting].incremental_outcome.lower"
    assert facts["4,100,000"] == "channels[meta_prospecting].incremental_outcome.estimate"
    # every sentence the writer says passes its own guardrail
    guard = Guardrail([a])
    assert not guard.check(step.text, step.cites).flagged
    cut = effect_analysis("an-cut", "google_search", point=-6.0, lower=-9.0, upper=-3.0)
    assert write([cut], Audience.EXECUTIVE)[-1].text == (
        "Next step: plan google search's effect on revenue at the upper bound of its 95% "
        "interval, -3.00 (the conservative end), rather than the point estimate, -6.00."
    )


def test_a_lift_test_check_keeps_its_id_verbatim() -> None:
    """The re-audit's N5 (wording): "The calibration:exp org 001 001 raised a warning: lift test
    exp_org_001_001: ..." turned the id's underscores into spaces."""
    p = audit_attribution()
    p.attribution.health.verdict = causal_pb.HEALTH_VERDICT_REVIEW
    p.attribution.health.checks.add(
        name="calibration:exp_org_001_001", verdict=causal_pb.HEALTH_VERDICT_REVIEW, value=-1228.4,
        threshold=3.0,
        message="lift test exp_org_001_001: measured 40,413,390 ± 21,849, model 13,574,340 "
        "(-1228.4 se)",
    )  # fmt: skip
    a = analysis_from_proto(p)
    for audience in (Audience.ANALYST, Audience.DATA_SCIENTIST):
        text = " ".join(s.text for s in write([a], audience))
        assert "exp org 001" not in text, text
        assert "lift-test calibration of exp_org_001_001 raised a warning" in text
    assert all("lift-test calibration of exp_org_001_001" in e.warning_checks for e in a.effects)
    insights = " ".join(i.text for i in rank_insights([a]))
    assert "exp org 001" not in insights


def test_an_unidentified_channel_is_not_established_rather_than_contradicted() -> None:
    """A channel the data could not identify (the model passed): its interval is the prior's,
    so a claim about it is "not established", and the writer says why (it said "it failed the ,
    so it should not be read as causal", naming no check)."""
    a = analysis_from_proto(attribution(unidentified=("google_pmax",)))
    for claim in (
        "PMax delivered a 2.8x ROAS.",
        "Google PMax had no effect on revenue.",
        "Google PMax drove revenue.",
    ):
        (j,) = check_claims(claim, [a])
        assert j.verdict is Verdict.UNSUPPORTED and "could not identify" in j.reason, j.reason
    (pmax,) = [s.text for s in write([a], Audience.ANALYST) if "google pmax on" in s.text]
    assert pmax.startswith("The data could not identify the effect of google pmax on revenue")
    assert "failed the ," not in pmax and "model's prior" in pmax
