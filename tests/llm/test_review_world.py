"""A REVIEW attribution (paid budgets moved with demand): the grounded writer, the guardrail,
CheckClaims and BuildContext tell one story about each channel (audit R10-F9), over real
causal and LLM servers on localhost; the LLM endpoint is a local fake.

Shaped like the audit's confounded world (cf_001, an-5220…): klaviyo_email has no spend (its
input is sends), meta_prospecting spends, no lift test calibrates either. The audit: the
grounded writer stated klaviyo_email's effect plainly (the budget-response warning is a paid
channel's, R6-F19), its guardrail judged it UNSUPPORTED (identification at risk) and "rewrote"
it into the same sentence, BuildContext labelled it ESTABLISHED. One rule now, the writer's:
paid budgets chasing demand put the paid channels at risk, not email (whose 14.85M [6.47M,
23.2M] in that world held its true 15.10M); meta_prospecting is at risk and hedged everywhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.claims import Verdict
from llm_svc.evidence import Analysis, Effect
from llm_svc.guardrail import Guardrail, Resolution
from llm_svc.writer import headline
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import explained, store_analyses

ORG = "cf_001"
REVIEW = "an-review"
RISK = (
    "paid budgets moved with demand on 16.8% of geo-days: the model may credit paid channels "
    "with demand"
)
EMAIL = "Klaviyo email increased revenue by 14,854,773 USD (90% CI 6,465,934 to 23,243,612 USD)."


def _interval(estimate: float, lower: float, upper: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=0.9)


def review_attribution() -> causal_pb.Analysis:
    r = causal_pb.AttributionResult(analysis_id=REVIEW, outcome=common_pb.OUTCOME_METRIC_REVENUE)
    r.health.verdict = causal_pb.HEALTH_VERDICT_REVIEW
    r.health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS, message="fit ok")
    r.health.checks.add(
        name="budget_response", verdict=causal_pb.HEALTH_VERDICT_REVIEW, value=0.168,
        threshold=0.1, message=RISK,
    )  # fmt: skip
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=12))
    email = r.channels.add(
        channel="klaviyo_email", identified=True, media_input=2_400_000,
        incremental_outcome=_interval(14_854_773, 6_465_934, 23_243_612),
    )  # fmt: skip
    email.spend.CopyFrom(common_pb.Money(amount=0, currency_code="USD"))
    meta = r.channels.add(
        channel="meta_prospecting", identified=True, media_input=1_200_000,
        incremental_outcome=_interval(4_100_000, 2_000_000, 6_200_000),
        incremental_roas=_interval(3.42, 1.67, 5.17),
    )  # fmt: skip
    meta.spend.CopyFrom(common_pb.Money(amount=1_200_000, currency_code="USD"))
    r.daily.actual_outcome.extend([30_000_000, 31_000_000, 29_800_000, 32_000_000])
    return causal_pb.Analysis(
        analysis_id=REVIEW, org_id=ORG, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, attribution=r
    )


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("review")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, review_attribution())
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


@pytest.mark.parametrize("audience", [pb.AUDIENCE_EXECUTIVE, pb.AUDIENCE_ANALYST])
def test_the_grounded_writer_states_only_what_the_guardrail_accepts(
    llm: llm_grpc.LlmServiceStub, audience: pb.Audience.ValueType
) -> None:
    """Nothing the writer states is flagged, and CheckClaims supports the sentence it states
    about email and rejects the plain one it avoids about meta_prospecting."""
    done = explained(llm, pb.ExplainRequest(org_id=ORG, analysis_id=REVIEW, audience=audience))
    assert not done.unsupported_claims, [c.reason for c in done.unsupported_claims]
    assert EMAIL in done.text
    assert "Meta prospecting increased" not in done.text  # at risk: hedged, never plain
    reply = llm.CheckClaims(pb.CheckClaimsRequest(org_id=ORG, text=EMAIL, analysis_ids=[REVIEW]))
    assert [c.verdict for c in reply.claims] == [pb.CLAIM_VERDICT_SUPPORTED]
    meta = llm.CheckClaims(
        pb.CheckClaimsRequest(
            org_id=ORG, text="Meta prospecting increased revenue by 4,100,000.",
            analysis_ids=[REVIEW],
        )
    )  # fmt: skip
    assert [c.verdict for c in meta.claims] == [pb.CLAIM_VERDICT_UNSUPPORTED]
    assert "at risk" in meta.claims[0].reason


def test_build_context_labels_each_effect_as_the_judge_reads_it(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    context = llm.BuildContext(
        pb.BuildContextRequest(org_id=ORG, analysis_ids=[REVIEW], audience=pb.AUDIENCE_ANALYST)
    ).context
    blocks = context.split("- effect of ")
    email = next(b for b in blocks if b.startswith('"klaviyo email" on revenue'))
    meta = next(b for b in blocks if b.startswith('"meta prospecting" on revenue\n'))
    assert "state: ESTABLISHED" in email
    assert "state: INDICATIVE" in meta and "ESTABLISHED" not in meta
    # and CheckClaims reads them so: the established effect stated plainly is supported
    reply = llm.CheckClaims(pb.CheckClaimsRequest(org_id=ORG, text=EMAIL, analysis_ids=[REVIEW]))
    assert [c.verdict for c in reply.claims] == [pb.CLAIM_VERDICT_SUPPORTED]


def test_a_rewrite_changes_the_sentence_and_passes_the_guardrail(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """An LLM states both effects plainly: email's passes; meta_prospecting's is rewritten
    into the hedged form, a different sentence the guardrail itself accepts."""
    claim = "Meta prospecting increased revenue by 4,100,000."
    with fake_openai(Script(pieces=words(f"{EMAIL} {claim}"))) as fake:
        done = explained(
            llm,
            pb.ExplainRequest(
                org_id=ORG, analysis_id=REVIEW, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
            ),
        )
    (flag,) = done.unsupported_claims
    assert flag.claim == claim and flag.resolution == pb.CLAIM_RESOLUTION_REWRITTEN
    rewrite = done.text[flag.start : flag.end]
    assert rewrite != claim and claim not in done.text and EMAIL in done.text
    assert "indicative rather than established" in rewrite
    checked = llm.CheckClaims(
        pb.CheckClaimsRequest(org_id=ORG, text=rewrite, analysis_ids=[REVIEW])
    ).claims
    assert all(c.verdict == pb.CLAIM_VERDICT_SUPPORTED for c in checked)


def test_a_rewrite_the_guardrail_would_itself_flag_removes_the_sentence() -> None:
    """Where the writer's own statement of an effect is what the judge rejects (two analyses
    of other windows that disagree: the judge picks neither), restating it is no rewrite: the
    old guardrail sent the flagged sentence back as its own "rewrite"; now it is removed and
    says so."""

    def analysis(aid: str, window: tuple[dt.date, dt.date], point: float) -> Analysis:
        e = Effect(
            aid, "meta_prospecting", "revenue", point, point - 2_100_000, point + 2_100_000,
            alpha=0.1, prefix="channels[meta_prospecting].incremental_outcome.",
            point_fact="estimate", lower_fact="lower", upper_fact="upper", window=window,
        )  # fmt: skip
        return Analysis(aid, "attribution", "causal_mmm", effects=(e,), window=window)

    a = analysis("an-a", (dt.date(2024, 9, 15), dt.date(2025, 1, 12)), 4_100_000)
    b = analysis("an-b", (dt.date(2024, 5, 1), dt.date(2024, 8, 31)), 12_000_000)
    guard = Guardrail([a, b])
    text = headline(a, a.effects[0]).text
    assert (
        text == "Meta prospecting increased revenue by 4,100,000 (90% CI 2,000,000 to 6,200,000)."
    )
    (j,) = guard.judge(text)
    assert j.verdict is Verdict.UNSUPPORTED and "disagree" in j.reason
    passed = guard.check(text)
    assert passed.text == ""
    assert [f.resolution for f in passed.flagged] == [Resolution.REMOVED]
