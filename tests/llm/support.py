"""LLM test helpers: the simulator analyses fixture, and hand-made analyses with exact figures."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
from google.protobuf import json_format
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Analysis, Check, CheckOutcome, Effect, Identification
from mesh.runtime.tables import frame_to_table

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Fixture:
    scenario: str
    method: str
    seed: int
    true_effect: float
    proto: causal_pb.Analysis

    @property
    def analysis(self) -> Analysis:
        return analysis_from_proto(self.proto)

    @property
    def name(self) -> str:
        return f"{self.scenario}-{self.method}-{self.seed}"


@functools.cache
def fixtures() -> tuple[Fixture, ...]:
    """Simulator analyses of every method (bench/llm_fixtures.py writes them)."""
    out = []
    for line in (DATA / "analyses.jsonl").read_text().splitlines():
        row = json.loads(line)
        proto = json_format.ParseDict(row["analysis"], causal_pb.Analysis())
        out.append(Fixture(row["scenario"], row["method"], row["seed"], row["true_effect"], proto))
    return tuple(out)


def effect_analysis(
    analysis_id: str = "an-meta",
    treatment: str = "meta_retargeting",
    *,
    point: float = 12.0,
    lower: float = 4.0,
    upper: float = 20.0,
    baseline: float | None = 100.0,
    supported: bool = True,
    identification: Identification = Identification.RANDOMIZED,
    checks: tuple[Check, ...] = (
        Check("Placebo treatment", "placebo_treatment", CheckOutcome.PASSED),
    ),
    outcome: str = "revenue",
    p_value: float = 0.003,
) -> Analysis:
    """An effect estimate with exact, round figures."""
    failed = tuple(c.label for c in checks if c.outcome is CheckOutcome.FAILED)
    warned = tuple(c.label for c in checks if c.outcome is CheckOutcome.WARNING)
    effect = Effect(
        analysis_id, treatment, outcome, point, lower, upper, p_value=p_value,
        supported=supported and not failed, causal=identification is not Identification.NONE,
        baseline=baseline, baseline_fact="statistics.mean_control" if baseline else "",
        failed_checks=failed, warning_checks=warned,
    )  # fmt: skip
    method = "naive_regression" if identification is Identification.NONE else "difference_in_means"
    return Analysis(
        analysis_id, "effect_estimate", method, estimand="ate", identification=identification,
        assumptions=("treatment was assigned at random",), effects=(effect,), checks=checks,
        statistics={"mean_control": baseline} if baseline else {}, std_error=4.0, n=50,
        n_treated=25, n_control=25,
    )  # fmt: skip


def _interval(
    estimate: float, lower: float, upper: float, level: float = 0.9
) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=level)


def audit_attribution(analysis_id: str = "an-audit", org_id: str = "acme") -> causal_pb.Analysis:
    """An attribution shaped like the new-user audit's (org_001, --end 2025-01-12): email has
    no spend (its input is sends) and most of the credit; SMS, TikTok and PMax intervals start
    at zero (the test of no effect held them there)."""
    r = causal_pb.AttributionResult(analysis_id=analysis_id)
    r.health.verdict = causal_pb.HEALTH_VERDICT_PASS
    r.health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS, message="fit ok")
    r.outcome = common_pb.OUTCOME_METRIC_REVENUE
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=12))
    email = r.channels.add(
        channel="klaviyo_email", identified=True, media_input=2_400_000, contribution_share=0.792,
        incremental_outcome=_interval(29_597_531, 15_836_244, 43_358_818),
    )  # fmt: skip
    email.spend.CopyFrom(common_pb.Money(amount=0, currency_code="USD"))
    email.no_effect_test.CopyFrom(causal_pb.NoEffectTest(p_value=0.008))
    for channel, spend, inc, roas in (
        ("klaviyo_sms", 310_000, (0, 0, 4_548_585), (0, 0, 14.67)),
        ("tiktok", 450_000, (1_100_000, 0, 8_000_000), (2.44, 0, 17.8)),
        ("google_pmax", 820_000, (700_000, 0, 5_100_000), (0.85, 0, 6.2)),
        ("meta_prospecting", 1_200_000, (4_100_000, 2_000_000, 6_200_000), (3.42, 1.67, 5.17)),
    ):
        ch = r.channels.add(
            channel=channel, identified=True, media_input=spend,
            incremental_outcome=_interval(*inc), incremental_roas=_interval(*roas),
        )  # fmt: skip
        ch.spend.CopyFrom(common_pb.Money(amount=spend, currency_code="USD"))
    # the observed outcome per day (its sum is a channel's percentage's denominator, less the
    # channel's own incremental outcome)
    r.daily.actual_outcome.extend([30_000_000, 31_000_000, 29_800_000, 32_000_000])
    # A channel in the data with nothing in it and nothing out: no effect to speak of.
    r.channels.add(channel="snapchat", identified=True, incremental_outcome=_interval(0, 0, 0))
    return causal_pb.Analysis(
        analysis_id=analysis_id, org_id=org_id, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=r,
    )  # fmt: skip


def failed_attribution(analysis_id: str = "an-failed", org_id: str = "acme") -> causal_pb.Analysis:
    """An attribution whose model failed its health checks: the causal service then reports no
    channel at all (causal_svc.attribution.stages.assemble drops a failed model's scores)."""
    r = causal_pb.AttributionResult(
        analysis_id=analysis_id,
        warnings=["model health is FAIL: no ROIs are reported; see the health checks"],
    )
    r.health.verdict = causal_pb.HEALTH_VERDICT_FAIL
    r.health.checks.add(
        name="holdout", verdict=causal_pb.HEALTH_VERDICT_FAIL, value=-0.01, threshold=0.3,
        message="holdout (28 days): R² -0.01, MAPE 70.1%, NRMSE 0.93",
    )  # fmt: skip
    r.health.checks.add(name="convergence", verdict=causal_pb.HEALTH_VERDICT_PASS, message="ok")
    r.outcome = common_pb.OUTCOME_METRIC_REVENUE
    # the channels it modelled, as causal_svc.convert.attribution fills them whatever the verdict
    r.model.model_config.channels.extend(["klaviyo_email", "meta_prospecting", "meta_retargeting"])
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=15))
    return causal_pb.Analysis(
        analysis_id=analysis_id, org_id=org_id, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=r,
    )  # fmt: skip


def audit_demo(*, calibrated: bool) -> causal_pb.Analysis:
    """Two attributions the causal service stored in the R2 audit (demo world, seed 1, 10
    geos, org_001, 2024-09-15..2025-01-12), trimmed to what the LLM service reads: before the
    lift test was recorded (an-6531…: meta_prospecting 2.78M [0, 8.28M]) and calibrated by it
    (an-35e8…: 4.27M [2.25M, 6.30M], contribution share 23.8%)."""
    name = "audit_demo_calibrated" if calibrated else "audit_demo_uncalibrated"
    row = json.loads((DATA / f"{name}.json").read_text())
    return json_format.ParseDict(row, causal_pb.Analysis())


def stored_lift(address: str, org: str, metadata: Sequence[tuple[str, str]] | None) -> str:
    """A randomised lift test estimated and stored by the causal service at ``address`` (a
    difference in means on a simulated table): its analysis id, for an llm service to read."""
    rng = np.random.default_rng(1)
    treated = rng.permutation(np.repeat([0, 1], 200))
    frame = pd.DataFrame({"meta_retargeting": treated,
                          "revenue": 100 + 12 * treated + rng.normal(0, 5, 400)})  # fmt: skip
    reply = causal_grpc.CausalServiceStub(grpc.insecure_channel(address)).EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=org, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
            table=frame_to_table(frame),
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="meta_retargeting"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=1),
            randomized=True,
        ),
        metadata=metadata,
    )  # fmt: skip
    return reply.analysis_id


# channel: spend, incremental outcome (estimate, lower, upper), iROAS (None: no spend)
ChannelRows = dict[str, tuple[float, tuple[float, float, float], tuple[float, float, float] | None]]


def attribution_of(analysis_id: str, org_id: str, channels: ChannelRows) -> causal_pb.Analysis:
    """A passing revenue attribution over the audits' window (2024-09-15..2025-01-12, USD, 90%
    intervals), one identified row per channel of ``channels``."""
    r = causal_pb.AttributionResult(
        analysis_id=analysis_id, outcome=common_pb.OUTCOME_METRIC_REVENUE
    )
    r.health.verdict = causal_pb.HEALTH_VERDICT_PASS
    r.health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS, message="fit ok")
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=12))
    for name, (spend, inc, roas) in channels.items():
        ch = r.channels.add(
            channel=name, identified=True, media_input=spend or 2_400_000,
            incremental_outcome=_interval(*inc),
        )  # fmt: skip
        if roas is not None:
            ch.incremental_roas.CopyFrom(_interval(*roas))
        ch.spend.CopyFrom(common_pb.Money(amount=spend, currency_code="USD"))
    r.daily.actual_outcome.extend([30_000_000.0] * 4)
    return causal_pb.Analysis(
        analysis_id=analysis_id, org_id=org_id, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=r,
    )  # fmt: skip


def store_analyses(data_dir: Path, *analyses: causal_pb.Analysis) -> None:
    """Store attribution analyses where a causal server on ``data_dir`` reads them."""
    from causal_svc.analyses import AnalysisStore, StoredAnalysis

    store = AnalysisStore(data_dir / "causal" / "analyses.sqlite")
    now = dt.datetime.now(dt.UTC)
    for a in analyses:
        store.put(
            StoredAnalysis(a.org_id, a.analysis_id, "attribution", now, a.SerializeToString())
        )
    store.close()


def claim_verdicts(
    llm: llm_grpc.LlmServiceStub, org_id: str, analysis_id: str, text: str
) -> list[tuple[str, int, str]]:
    """CheckClaims over one stored analysis: (claim, verdict, reason) per claim read."""
    reply = llm.CheckClaims(
        llm_pb.CheckClaimsRequest(org_id=org_id, text=text, analysis_ids=[analysis_id]),
        timeout=30,
    )
    return [(c.claim, c.verdict, c.reason) for c in reply.claims]


def explained(
    llm: llm_grpc.LlmServiceStub, request: llm_pb.ExplainRequest
) -> llm_pb.ExplanationDone:
    """Explain streamed to its end: the done event."""
    done = None
    for reply in llm.Explain(request, timeout=30):
        if reply.WhichOneof("event") == "done":
            done = reply.done
    assert done is not None
    return done
