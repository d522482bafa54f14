"""R52-F7: on a one-channel attribution whose holdout and budget response warned, the
executive explanation lost its "Model health: REVIEW …" sentence: the claim reader took "the
holdout and budget response raised warnings" for a claim that TV raised revenue, and the
guardrail rewrote the verdict into TV's figure (or removed it), so the reader the executive
text is for never read REVIEW. The verdict is the analysis's own statement of its checks and
goes out as written, whatever the guardrail does to the sentences about channels."""

from __future__ import annotations

import asyncio
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
from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Audience
from llm_svc.explain import Done, explain_grounded
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai
from tests.llm.support import explained, store_analyses

ORG = "acme_pref"
TV = "an-tv"
# R52's acme_pref analysis: TV's national spend followed a local promotion; the holdout and
# the budget response warned
REVIEW = (
    "Model health: REVIEW: usable, with caveats to read first: the holdout and budget response "
    "raised warnings (budgets followed demand, so part of what the paid channels seem to have "
    "caused may be demand they chased), so read the figures below as indicative rather than "
    "established."
)
# every check an attribution's health reports (causal_svc/attribution/health*.py), and a lift
# test's calibration
KINDS = (
    "holdout", "convergence", "baseline", "residual_autocorrelation", "spend_variation",
    "collinearity", "spend_size", "spend_spikes", "prior_bound", "lag_beyond_window",
    "outcome_outliers", "outcome_gaps", "sparse_outcome", "national_outliers",
    "omitted_channels", "budget_response", "calibration:tv_holdout_2024",
)  # fmt: skip


def _interval(estimate: float, lower: float, upper: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=0.9)


def tv_attribution(warned: tuple[str, ...], analysis_id: str = TV) -> causal_pb.Analysis:
    """One paid channel, TV, whose interval spans zero; ``warned`` checks at REVIEW."""
    r = causal_pb.AttributionResult(analysis_id=analysis_id)
    r.outcome = common_pb.OUTCOME_METRIC_REVENUE
    r.health.verdict = causal_pb.HEALTH_VERDICT_REVIEW
    for kind in warned if "holdout" in warned else ("holdout", *warned):
        verdict = (
            causal_pb.HEALTH_VERDICT_REVIEW if kind in warned else causal_pb.HEALTH_VERDICT_PASS
        )
        r.health.checks.add(name=kind, verdict=verdict, value=0.43, threshold=0.1,
                            message=f"{kind}: see the analyst explanation")  # fmt: skip
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=1))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=12, day=29))
    tv = r.channels.add(
        channel="tv", identified=True, media_input=432_000,
        incremental_outcome=_interval(310_000, -120_000, 740_000),
        incremental_roas=_interval(0.72, -0.28, 1.71),
    )  # fmt: skip
    tv.spend.CopyFrom(common_pb.Money(amount=432_000, currency_code="USD"))
    r.daily.actual_outcome.extend([16_000.0] * 120)
    return causal_pb.Analysis(
        analysis_id=analysis_id, org_id=ORG, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=r,
    )  # fmt: skip


def _grounded(a: causal_pb.Analysis) -> Done:
    async def run() -> Done:
        async for event in explain_grounded([analysis_from_proto(a)], Audience.EXECUTIVE):
            if isinstance(event, Done):
                return event
        raise AssertionError("no done event")

    return asyncio.run(run())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_budget", [False, True])
def test_the_verdict_goes_out_whatever_checks_warned(kind: str, with_budget: bool) -> None:
    """Each check's wording, alone and beside the budget response: the executive text opens
    with the REVIEW verdict, and nothing the guardrail flagged is the verdict."""
    warned = (kind, "budget_response") if with_budget and kind != "budget_response" else (kind,)
    done = _grounded(tv_attribution(warned))
    assert done.text.startswith("Model health: REVIEW: usable, with caveats to read first: ")
    assert not [f for f in done.flagged if "Model health" in f.judgement.claim.text]
    # the verdict cites its fact
    assert "health" in {c.fact.split(" ")[0].removeprefix("derived:") for c in done.cites}


def test_a_lift_tests_name_never_goes_out_unread() -> None:
    """V1-F2: the verdict goes out unread, and it carried a lift test's id as the client
    typed it, so a test named "TV raised revenue by 2,400,000" opened the executive text with
    that claim (TV's estimate is 310,000, its interval through zero). The verdict now names
    the check by its kind; the id, quoted as a name, is in a sentence the guardrail reads."""
    claim = "TV raised revenue by 2,400,000"
    done = _grounded(tv_attribution((f"calibration:{claim}",)))
    assert done.text.startswith(
        "Model health: REVIEW: usable, with caveats to read first: the lift-test calibration "
        "raised a warning"
    )
    assert "2,400,000" not in done.text
    assert [f.judgement.claim.text for f in done.flagged] == [
        f"The lift-test calibration of “{claim}” raised a warning."
    ]
    # a plain id is named after the verdict, quoted, and passes the guardrail
    done = _grounded(tv_attribution(("calibration:tv_holdout_2024", "calibration:exp 7")))
    assert not done.flagged
    verdict, named = done.text.split(". ")[:2]
    assert "tv_holdout_2024" not in verdict and "exp 7" not in verdict
    assert "the lift-test calibration raised warnings" in verdict
    assert named == "The lift-test calibration of “tv_holdout_2024” and “exp 7” raised warnings"


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("executive_health")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, tv_attribution(("holdout", "budget_response")))
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def test_the_executive_reads_review_over_the_servers(llm: llm_grpc.LlmServiceStub) -> None:
    """The R52 reproduction over real causal and LLM servers: the old text opened with TV's
    figure in place of the verdict ("rewritten (UNSUPPORTED): 'Model health: REVIEW …'")."""
    done = explained(
        llm, pb.ExplainRequest(org_id=ORG, analysis_id=TV, audience=pb.AUDIENCE_EXECUTIVE)
    )
    assert done.text.startswith(REVIEW)
    assert not [c for c in done.unsupported_claims if "Model health" in c.claim]


def test_the_verdict_survives_the_llm_endpoints_refusal(llm: llm_grpc.LlmServiceStub) -> None:
    """An endpoint that refuses the prompt's size: the grounded explanation that replaces the
    model's opens with the verdict too."""
    with fake_openai(Script(status=413, error="context length exceeded")) as fake:
        done = explained(
            llm,
            pb.ExplainRequest(
                org_id=ORG, analysis_id=TV, audience=pb.AUDIENCE_EXECUTIVE,
                llm=pb.LlmEndpoint(url=fake.url, model="tiny"),
            ),
        )  # fmt: skip
    assert fake.requests, "the endpoint was not asked"
    assert "This is LiftOS's grounded explanation.) " + REVIEW in done.text
    assert not [c for c in done.unsupported_claims if "Model health" in c.claim]
