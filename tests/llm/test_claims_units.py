"""CheckClaims and the LLM guardrail read a claim's figure as what it says it is (audits R20,
R22), over real causal and LLM servers on localhost with a stored attribution shaped like the
audits' (org_001, 2024-09-15..2025-01-12: 120 days, USD, 90% intervals).

- R22-F0: a channel whose name holds a number ("offline_18", "Radio 101.125 FM") no longer
  blanks those digits out of every claim's size.
"""

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

from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.runtime.inprocess import running_services

ORG = "org_001"
ANALYSIS = "an-units"
V = pb.ClaimVerdict

# channel: spend, incremental revenue (estimate, lower, upper), iROAS (None: no spend)
CHANNELS: dict[str, tuple[float, tuple[float, float, float], tuple[float, float, float] | None]] = {
    "meta_prospecting": (3_188_836.0, (6_632_778, 3_594_822, 9_670_734), (2.08, 1.13, 3.03)),
    "google_pmax": (2_060_574.0, (8_288_695, 2_126_188, 14_451_202), (4.02, 1.03, 7.01)),
    "klaviyo_email": (0.0, (18_157_199, 9_590_492, 26_723_906), None),
    "offline_18": (500_000.0, (900_000, 300_000, 1_500_000), (1.80, 0.60, 3.00)),
    "Radio 101.125 FM": (400_000.0, (600_000, 100_000, 1_100_000), (1.50, 0.25, 2.75)),
}


def _interval(estimate: float, lower: float, upper: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=0.9)


def attribution() -> causal_pb.Analysis:
    r = causal_pb.AttributionResult(analysis_id=ANALYSIS, outcome=common_pb.OUTCOME_METRIC_REVENUE)
    r.health.verdict = causal_pb.HEALTH_VERDICT_PASS
    r.health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS, message="fit ok")
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=12))
    for name, (spend, inc, roas) in CHANNELS.items():
        ch = r.channels.add(
            channel=name, identified=True, media_input=spend or 2_400_000,
            incremental_outcome=_interval(*inc),
        )  # fmt: skip
        if roas is not None:
            ch.incremental_roas.CopyFrom(_interval(*roas))
        ch.spend.CopyFrom(common_pb.Money(amount=spend, currency_code="USD"))
    r.daily.actual_outcome.extend([30_000_000.0] * 4)
    return causal_pb.Analysis(
        analysis_id=ANALYSIS, org_id=ORG, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, attribution=r
    )


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("claim-units")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store = AnalysisStore(data / "causal" / "analyses.sqlite")
        a = attribution()
        now = dt.datetime.now(dt.UTC)
        store.put(StoredAnalysis(ORG, ANALYSIS, "attribution", now, a.SerializeToString()))
        store.close()
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def verdicts(llm: llm_grpc.LlmServiceStub, text: str) -> list[tuple[str, int, str]]:
    reply = llm.CheckClaims(
        pb.CheckClaimsRequest(org_id=ORG, text=text, analysis_ids=[ANALYSIS]), timeout=30
    )
    return [(c.claim, c.verdict, c.reason) for c in reply.claims]


def verdict(llm: llm_grpc.LlmServiceStub, text: str) -> tuple[int, str]:
    ((_, v, reason),) = verdicts(llm, text)
    return v, reason


# -- R22-F0: a number inside a channel's name is the name's, never a claim's size -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "18" and "101"/"125" are tokens of channel names: the sizes below hold them
        ("Klaviyo email increased revenue by 18,157,199 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Klaviyo email increased revenue by 19,000,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Klaviyo email increased revenue by 101.125 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Klaviyo email increased revenue by 125 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        # the named channels themselves, their digits masked as their names
        ("Offline 18 increased revenue by 900,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("offline_18 increased revenue by 18 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Radio 101.125 FM increased revenue by 600,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Radio 101.125 FM increased revenue by 101 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
    ],
)
def test_a_number_in_a_channels_name_is_not_read_out_of_a_claims_size(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int
) -> None:
    v, reason = verdict(llm, text)
    assert v == expected, reason


def test_the_grounded_explanation_keeps_an_established_effect_beside_numbered_names(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """R22-F0: the report's "In plain words" struck the writer's own "Klaviyo email increased
    revenue by 18,157,199 USD (90% CI 9,590,492 to 26,723,906 USD)" as contradicted."""
    events = list(llm.Explain(pb.ExplainRequest(org_id=ORG, analysis_id=ANALYSIS), timeout=60))
    done = events[-1].done
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    assert "Klaviyo email increased revenue by 18,157,199" in done.text
