"""CheckClaims' domain: which clauses are causal claims, and the verdict on each."""

from __future__ import annotations

import pytest

from llm_svc.claims import Mode, Verdict, check_claims, classify, effects_of
from llm_svc.claims.sentences import sentences, split_complete
from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Analysis, Check, CheckOutcome, Effect, Identification, Metric
from tests.llm.support import audit_attribution, audit_demo, effect_analysis

EVIDENCE = [
    effect_analysis("an-rt", "meta_retargeting"),  # +12 (4 to 20) on revenue, baseline 100
    effect_analysis("an-email", "klaviyo_email", point=1.5, lower=-2.0, upper=5.0),
    effect_analysis(
        "an-tt",
        "tiktok",
        point=8.0,
        lower=2.0,
        upper=14.0,
        checks=(Check("pre-trend", "pre_trend", CheckOutcome.FAILED),),
    ),
    effect_analysis(
        "an-search", "google_search", point=-3, lower=-5, upper=-1, baseline=50, outcome="orders"
    ),
    effect_analysis("an-pr", "meta_prospecting", point=0.4, lower=0.1, upper=0.7, baseline=None),
    effect_analysis("an-disp", "display", identification=Identification.NONE),
]


def verdicts(text: str, evidence: list[Analysis] = EVIDENCE) -> list[Verdict]:
    return [j.verdict for j in check_claims(text, evidence)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Meta retargeting drove a 12% lift in revenue.", Verdict.SUPPORTED),
        ("Facebook retargeting raised sales by around eleven percent.", Verdict.SUPPORTED),
        ("Meta retargeting added $15 of revenue per region.", Verdict.SUPPORTED),
        ("Meta retargeting increased revenue by 12 (95% CI 4 to 20).", Verdict.SUPPORTED),
        ("Meta retargeting lifted revenue by between 5% and 15%.", Verdict.SUPPORTED),
        ("Meta retargeting drove revenue up by at least 3%.", Verdict.SUPPORTED),
        ("Cutting Meta retargeting spend would lower revenue by 8%.", Verdict.SUPPORTED),
        ("Google Search cannibalised about 6% of orders.", Verdict.SUPPORTED),
        ("Pausing Google Search will increase orders by 5%.", Verdict.SUPPORTED),
        ("Meta prospecting increased revenue by 0.6 per user.", Verdict.SUPPORTED),
        # wrong sign, size outside the interval, an effect where the interval spans zero,
        # a failed-check estimate, a quoted interval that is not the analysis's
        ("Meta retargeting reduced revenue.", Verdict.CONTRADICTED),
        ("Meta retargeting drove a 30% lift.", Verdict.CONTRADICTED),
        ("Meta retargeting lifted revenue by more than 25%.", Verdict.CONTRADICTED),
        ("Email caused a 20% increase in sales.", Verdict.CONTRADICTED),  # outside -2% to 5%
        ("Increasing TikTok spend will raise revenue by 10%.", Verdict.CONTRADICTED),
        ("TikTok had no effect on revenue.", Verdict.CONTRADICTED),
        ("Meta retargeting had no impact on revenue.", Verdict.CONTRADICTED),
        ("Meta retargeting lifted revenue by 12% (95% CI 10% to 30%).", Verdict.CONTRADICTED),
        # nothing speaks to it
        ("Snapchat drove 20% more orders.", Verdict.UNSUPPORTED),
        ("Meta retargeting drove 12% more orders.", Verdict.UNSUPPORTED),
        ("Meta prospecting lifted revenue by 15%.", Verdict.UNSUPPORTED),
        ("Display ads drove a 5% lift in revenue.", Verdict.UNSUPPORTED),
        ("Meta retargeting delivered a 3x ROAS.", Verdict.UNSUPPORTED),
        ("Meta retargeting increased revenue by over 10%.", Verdict.UNSUPPORTED),
        ("Meta lifted revenue by 12%.", Verdict.UNSUPPORTED),  # retargeting or prospecting?
        # not established: an interval that includes zero neither supports "no effect" nor
        # contradicts an effect of a size inside it (email: -2 to 5 over a baseline of 100)
        ("Email had no effect on revenue.", Verdict.UNSUPPORTED),
        ("Email caused a 5% increase in sales.", Verdict.UNSUPPORTED),
        ("Email drove revenue.", Verdict.UNSUPPORTED),
        ("Email cut revenue by 1.", Verdict.UNSUPPORTED),
    ],
)
def test_verdicts(text: str, expected: Verdict) -> None:
    assert verdicts(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Revenue is correlated with Meta retargeting spend.",
        "Weeks with more TikTok spend were associated with 8% higher revenue.",
        "Meta reported 1,200 purchases from retargeting.",
        "According to the platform, TikTok drove a 4x ROAS.",
        "Meta retargeting may have increased revenue by around 12%.",
        "We could not detect an effect of email on revenue.",
        "There is no evidence that TikTok drove revenue.",
        "Next step: run a randomised geo holdout of display to measure its effect directly.",
        "The placebo test passed (statistic 0.2, p = 0.41).",
        "Random reassignment produces effects this large.",
        "Meta retargeting ran in 25 regions during October.",
    ],
)
def test_associational_hedged_and_descriptive_text_makes_no_claim(text: str) -> None:
    assert verdicts(text) == []


def test_classify_modes() -> None:
    assert classify("Meta drove revenue") is Mode.CAUSAL
    assert classify("Meta is correlated with revenue") is Mode.ASSOCIATIONAL
    assert classify("Meta may have driven revenue") is Mode.HEDGED
    assert classify("Revenue was 1.2M") is Mode.NONE


def test_two_claims_in_one_sentence_are_judged_apart_with_their_spans() -> None:
    text = "Meta retargeting drove a 12% lift in revenue, while email had no effect."
    found = check_claims(text, EVIDENCE)
    assert [j.verdict for j in found] == [Verdict.SUPPORTED, Verdict.UNSUPPORTED]
    assert [text[j.claim.start : j.claim.end] for j in found] == [
        "Meta retargeting drove a 12% lift in revenue",
        "email had no effect.",
    ]
    assert found[1].analysis_ids == ("an-email",)


def test_an_implicit_cause_is_the_only_cause_in_evidence() -> None:
    one = [EVIDENCE[0]]
    assert verdicts("It drove a 12% lift in revenue.", one) == [Verdict.SUPPORTED]
    assert verdicts("It drove a 12% lift in revenue.", EVIDENCE) == [Verdict.UNSUPPORTED]


def test_no_evidence_leaves_every_claim_unsupported() -> None:
    assert verdicts("Meta retargeting drove a 12% lift.", []) == [Verdict.UNSUPPORTED]


def test_roas_claims_against_a_return_on_spend() -> None:
    roas = Effect("an-pmax", "google_pmax", "revenue", 2.5, 1.8, 3.2, metric=Metric.ROAS)
    pmax = [Analysis("an-pmax", "attribution", "causal_mmm", effects=(roas,))]
    assert verdicts("PMax delivered a 2.8x ROAS.", pmax) == [Verdict.SUPPORTED]
    assert verdicts("Google PMax returned $2.20 for every dollar spent.", pmax) == [
        Verdict.SUPPORTED
    ]
    assert verdicts("PMax delivered a 5x return on ad spend.", pmax) == [Verdict.CONTRADICTED]


def test_reasons_name_the_interval_and_the_derivation() -> None:
    (j,) = check_claims("Meta retargeting drove a 30% lift in revenue.", EVIDENCE)
    assert "4.0% to 20.0%" in j.reason and "baseline of 100" in j.reason
    (j,) = check_claims("TikTok lifted revenue by 8.", EVIDENCE)
    assert "failed" in j.reason and "pre-trend" in j.reason


def test_sentences_keep_decimals_and_abbreviations_whole() -> None:
    text = "Revenue rose 3.78 (e.g. in CA). Next: test it!\n- a bullet"
    assert [s.text for s in sentences(text)] == [
        "Revenue rose 3.78 (e.g. in CA).", "Next: test it!", "a bullet",
    ]  # fmt: skip


def test_streamed_text_splits_only_complete_sentences() -> None:
    done, rest = split_complete("Meta drove 3.")
    assert done == [] and rest == "Meta drove 3."
    done, rest = split_complete("Meta drove 3.78 more. Email")
    assert done == ["Meta drove 3.78 more. "] and rest == "Email"


def test_an_interval_that_includes_zero_is_not_evidence_of_no_effect() -> None:
    """The audit's claims (M4): an interval from 0 to 8M cannot say TikTok did nothing, and 1M
    inside SMS's 0 to 4.5M is consistent, not contradicted; a size outside it is."""
    audit = [analysis_from_proto(audit_attribution())]
    found = {j.claim.text: j for j in check_claims(
        "TikTok had no effect on revenue. Klaviyo SMS drove 1 million in revenue. "
        "Google pmax drove revenue. Klaviyo SMS drove 10 million in revenue.", audit,
    )}  # fmt: skip
    verdicts = {text: (j.verdict, j.reason) for text, j in found.items()}
    tiktok, sms, pmax, sms10 = verdicts.values()
    assert tiktok[0] is Verdict.UNSUPPORTED and tiktok[1].startswith("not established")
    assert "0 to 8,000,000" in tiktok[1]
    assert sms[0] is Verdict.UNSUPPORTED and "consistent" in sms[1]
    assert pmax[0] is Verdict.UNSUPPORTED and pmax[1].startswith("not established")
    assert sms10[0] is Verdict.CONTRADICTED and "outside" in sms10[1]


def test_no_effect_is_supported_where_the_interval_rules_out_any_that_matters() -> None:
    tight = [effect_analysis("an-tight", "tiktok", point=0.1, lower=-0.3, upper=0.4)]
    (j,) = check_claims("TikTok had no effect on revenue.", tight)
    assert j.verdict is Verdict.SUPPORTED and "0.5% of the baseline of 100" in j.reason
    wide = [effect_analysis("an-wide", "tiktok", point=0.1, lower=-0.3, upper=0.6)]
    assert verdicts("TikTok had no effect on revenue.", wide) == [Verdict.UNSUPPORTED]
    no_baseline = [effect_analysis("an-nb", "tiktok", lower=-0.3, upper=0.4, baseline=None)]
    assert verdicts("TikTok had no effect on revenue.", no_baseline) == [Verdict.UNSUPPORTED]


def test_a_claim_is_judged_against_the_most_specific_channel_it_names() -> None:
    """The audit's H4: "Klaviyo email" is klaviyo_email, never klaviyo_sms; plain "Klaviyo"
    with both in evidence is ambiguous, not a pick of one."""
    audit = [analysis_from_proto(audit_attribution())]
    for text in (
        "Klaviyo email drove 29.6 million in revenue.",
        "Email drove 29.6 million in revenue.",
        "Our newsletter drove 29.6 million in revenue.",
        "klaviyo_email drove 29.6 million in revenue.",
    ):
        (j,) = check_claims(text, audit)
        assert j.verdict is Verdict.SUPPORTED, (text, j.reason)
        assert j.effect is not None and j.effect.treatment == "klaviyo_email"
        assert "15,836,244 to 43,358,818" in j.reason
    for text in ("Klaviyo drove 29.6 million in revenue.", "Klaviyo drove revenue."):
        (j,) = check_claims(text, audit)
        assert j.verdict is Verdict.UNSUPPORTED and j.reason.startswith("ambiguous"), j.reason
        assert "klaviyo_email" in j.reason and "klaviyo_sms" in j.reason
    (j,) = check_claims("SMS drove revenue.", audit)
    assert j.effect is not None and j.effect.treatment == "klaviyo_sms"
    # email in evidence only as SMS: no analysis speaks to email
    sms_only = [effect_analysis("an-sms", "klaviyo_sms")]
    (j,) = check_claims("Email drove a 12% lift in revenue.", sms_only)
    assert j.verdict is Verdict.UNSUPPORTED and j.reason.startswith("no analysis speaks")


def test_an_ambiguous_cause_gets_a_verdict_only_when_every_reading_agrees_without_a_size() -> None:
    meta = [
        effect_analysis("an-rt", "meta_retargeting"),
        effect_analysis("an-pr", "meta_prospecting", point=9.0, lower=3.0, upper=15.0),
    ]
    (j,) = check_claims("Meta drove revenue.", meta)
    # the readings are named in one order, whatever order the analyses came in
    assert j.verdict is Verdict.SUPPORTED and "meta_prospecting or meta_retargeting" in j.reason
    assert check_claims("Meta drove revenue.", meta[::-1])[0].reason == j.reason
    # each channel's interval holds 10, but "Meta" may mean their total (about 21)
    (j,) = check_claims("Meta drove a lift of 10 in revenue.", meta)
    assert j.verdict is Verdict.UNSUPPORTED and "their total" in j.reason


def test_a_percentage_claim_about_a_channel_is_over_the_outcome_without_it() -> None:
    """The audit's "Meta prospecting caused a 50% lift" was UNSUPPORTED for want of a
    baseline; the attribution gives one: the observed total less the channel's own effect."""
    audit = analysis_from_proto(audit_attribution())
    (meta,) = [e for e in audit.effects if e.treatment == "meta_prospecting" and e.baseline]
    assert meta.baseline == 122_800_000 - 4_100_000
    (j,) = check_claims("Meta prospecting caused a 50% lift in revenue.", [audit])
    assert j.verdict is Verdict.CONTRADICTED and "baseline of 118,700,000" in j.reason
    (j,) = check_claims("Meta prospecting caused a 3.5% lift in revenue.", [audit])
    assert j.verdict is Verdict.SUPPORTED, j.reason
    assert not any(e.baseline for e in audit.effects if e.metric is Metric.ROAS)


def test_the_words_naming_a_cause_are_the_longest_names_without_overlap() -> None:
    """_subject keeps a sorted index of the spans taken (it scanned them all, which was
    quadratic: seconds on 20,000 characters of "Meta "); same words as that scan."""
    import random
    import re

    from llm_svc.claims.extract import _CHANNEL_WORDS, _subject
    from llm_svc.claims.judge import subject_patterns

    patterns = subject_patterns(effects_of([analysis_from_proto(audit_attribution())]))

    def scan(text: str) -> str:  # the former quadratic scan, as the reference
        found: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        for pattern in [*patterns, _CHANNEL_WORDS]:
            for m in pattern.finditer(text):
                if not any(a < m.end() and m.start() < b for a, b in taken):
                    taken.append((m.start(), m.end()))
                    found.append((m.start(), m.group(0)))
        return " ".join(word for _, word in sorted(found))

    words = ["Meta", "prospecting", "Klaviyo", "email", "sms", "google", "pmax", "drove", "and"]
    rng = random.Random(7)
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        assert _subject(text, patterns) == scan(text), text
    assert _subject("Klaviyo email and Meta prospecting drove it", patterns) == (
        "Klaviyo email Meta prospecting"
    )
    assert re.fullmatch(r"(Meta ){3999}Meta", _subject("Meta " * 4000, patterns))


def _audit() -> tuple[Analysis, Analysis]:
    return (
        analysis_from_proto(audit_demo(calibrated=True)),
        analysis_from_proto(audit_demo(calibrated=False)),
    )


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        # R2 F6: the analysis's own contribution share (0.238), not a lift over the baseline
        (
            "Meta prospecting is responsible for 23.8% of incremental revenue.",
            Verdict.SUPPORTED,
            "contribution share is 23.8%",
        ),
        (
            "Meta prospecting drove 60% of the incremental revenue.",
            Verdict.CONTRADICTED,
            "12.5% to 35.1%",
        ),
        # share 21.7%, but search's interval includes zero: not established, not contradicted
        (
            "Google search drove 21.7% of the incremental revenue.",
            Verdict.UNSUPPORTED,
            "not established",
        ),
        # the 95% interval `liftos counterfactual` prints, against the analysis's 90% one
        (
            "Meta prospecting caused revenue to increase by 4.3M (95% CI 1.8M to 6.7M).",
            Verdict.SUPPORTED,
            "normal approximation",
        ),
        # the analysis's 90% interval mislabelled as 95% is still not the analysis's
        (
            "Meta prospecting caused revenue to increase by 4.3M (95% CI 2.2M to 6.3M).",
            Verdict.CONTRADICTED,
            "not the analysis's",
        ),
        # R2 F7: read, not dropped
        ("Meta prospecting's iROAS was 3.5.", Verdict.CONTRADICTED, "0.784 to 2.20"),
        ("Meta prospecting had an iROAS of 3.5.", Verdict.CONTRADICTED, "0.784 to 2.20"),
        ("Meta prospecting's iROAS was 1.5.", Verdict.SUPPORTED, "0.784 to 2.20"),
        ("Klaviyo SMS did not work.", Verdict.UNSUPPORTED, "cannot tell no effect"),
        ("Klaviyo email did not work.", Verdict.CONTRADICTED, "excludes zero"),
        (
            "Cutting meta prospecting would lose about 4.3 million in revenue.",
            Verdict.SUPPORTED,
            "2,247,897 to 6,296,972",
        ),
        (
            "Cutting meta prospecting would lose about 9 million in revenue.",
            Verdict.CONTRADICTED,
            "outside",
        ),
        (
            "Without Meta prospecting, revenue would have been 4.3M lower.",
            Verdict.SUPPORTED,
            "2,247,897 to 6,296,972",
        ),
        (
            "If we cut TikTok we would lose 2 million in revenue.",
            Verdict.UNSUPPORTED,
            "not established",
        ),
        # the platform's own figure is not a claim this text makes
        ("Meta reported a ROAS of 5 for prospecting.", None, ""),
    ],
)
def test_audit_claims_against_the_calibrated_attribution(
    text: str, expected: Verdict | None, why: str
) -> None:
    calibrated, _ = _audit()
    found = check_claims(text, [calibrated])
    if expected is None:
        assert not found
        return
    (j,) = found
    assert j.verdict is expected and why in j.reason, j.reason


def test_a_share_needs_an_analysis_that_reports_one() -> None:
    (j,) = check_claims("Meta retargeting drove 30% of the incremental revenue.", EVIDENCE)
    assert j.verdict is Verdict.UNSUPPORTED and "no share of the incremental" in j.reason


def test_the_verdict_does_not_depend_on_the_order_of_the_analyses() -> None:
    """R2 F16: the uncalibrated and the calibrated analysis of the same window; the calibrated
    one is read whichever comes first, and the reason names the one set aside."""
    calibrated, uncalibrated = _audit()
    for text, expected in (
        ("Meta prospecting drove 4.3 million in revenue.", Verdict.SUPPORTED),
        ("Meta prospecting's iROAS was 1.5.", Verdict.SUPPORTED),
        ("Klaviyo SMS did not work.", Verdict.UNSUPPORTED),
    ):
        a = check_claims(text, [uncalibrated, calibrated])
        b = check_claims(text, [calibrated, uncalibrated])
        assert [(j.verdict, j.reason) for j in a] == [(j.verdict, j.reason) for j in b]
        assert a[0].verdict is expected, a[0].reason
        assert calibrated.analysis_id in a[0].reason and uncalibrated.analysis_id in a[0].reason
    (j,) = check_claims(
        "Meta prospecting drove 4.3 million in revenue.", [uncalibrated, calibrated]
    )
    assert "without the lift-test calibration" in j.reason


def test_analyses_of_other_windows_that_disagree_are_reported_not_picked() -> None:
    import dataclasses
    import datetime as dt

    calibrated, uncalibrated = _audit()
    later = (dt.date(2025, 1, 13), dt.date(2025, 4, 12))
    moved = dataclasses.replace(
        uncalibrated,
        effects=tuple(dataclasses.replace(e, window=later) for e in uncalibrated.effects),
    )
    text = "Meta prospecting drove 4.3 million in revenue."
    for order in ([moved, calibrated], [calibrated, moved]):
        (j,) = check_claims(text, order)
        assert j.verdict is Verdict.UNSUPPORTED and "the analyses disagree" in j.reason
        assert "2025-01-13 to 2025-04-12" in j.reason and "supported" in j.reason


def test_a_channel_whose_identification_the_analysis_puts_at_risk_is_not_established() -> None:
    """Re-audit R3-N2: on a REVIEW analysis whose budgets chased demand (its budget_response
    check) CheckClaims called the model's inflated figure SUPPORTED and the truth CONTRADICTED,
    while Explain called it indicative. An uncalibrated paid channel's figure is now 'not
    established'; the channel a lift test calibrates keeps its verdicts, and so does a channel
    without spend, which has no budget to chase demand with (R6-F19: the writer states it
    plainly, and CheckClaims agrees with the writer, R10-F9)."""
    import liftos.v1.causal_pb2 as causal_pb

    proto = audit_demo(calibrated=True)
    check = proto.attribution.health.checks.add(
        name="budget_response", verdict=causal_pb.HEALTH_VERDICT_REVIEW, value=0.41,
        threshold=0.10, message="paid budgets moved with demand on 41.0% of geo-days",
    )  # fmt: skip
    assert check.name == "budget_response"
    proto.attribution.health.verdict = causal_pb.HEALTH_VERDICT_REVIEW
    # google_search (paid, uncalibrated) with an interval above zero: what budgets chasing
    # demand would inflate
    (search,) = [c for c in proto.attribution.channels if c.channel == "google_search"]
    search.incremental_outcome.lower = 1_000_000.0
    at_risk = analysis_from_proto(proto)
    calibrated, _ = _audit()
    claim = "Google search drove 3.9 million in revenue."
    (j,) = check_claims(claim, [at_risk])
    assert j.verdict is Verdict.UNSUPPORTED and "41.0% of geo-days" in j.reason, j.reason
    assert "identification" in j.reason and "no lift test" in j.reason
    # Klaviyo email (8.4M [2.76M, 14.1M], no spend): judged as without the warning
    email = "Klaviyo email drove 12 million in revenue."
    (before,) = check_claims(email, [calibrated])
    assert before.verdict is Verdict.SUPPORTED
    assert check_claims(email, [at_risk])[0].verdict is Verdict.SUPPORTED
    # meta_prospecting is calibrated by the lift test: judged as before
    meta = "Meta prospecting drove 4.3 million in revenue."
    assert check_claims(meta, [at_risk])[0].verdict is check_claims(meta, [calibrated])[0].verdict
    assert check_claims(meta, [at_risk])[0].verdict is Verdict.SUPPORTED
