"""The typed Python SDK.

Low-volume calls (experiments, and later analyses, explanations, recommendations) speak
betterproto2 dataclasses, so users get plain dataclasses, ``datetime``s and enums. Bulk calls
(ingest, scan, tables) use the pb2 classes and pandas, which are ~58x faster to build and
parse (see README: "SDK message types").
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import liftos_dc.liftos.v1 as dc
import pandas as pd
from grpc_health.v1 import health_pb2, health_pb2_grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from mesh.runtime.channels import sync_channel
from mesh.runtime.config import SERVICES, PeerConfig
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from mesh.sdk.failures import RpcFailure

T = TypeVar("T")

SERVICE_NAMES = {
    "ingestion": "liftos.v1.IngestionService",
    "memory": "liftos.v1.MemoryService",
    "causal": "liftos.v1.CausalService",
    "llm": "liftos.v1.LlmService",
    "surfacing": "liftos.v1.SurfacingService",
}


# A call refused for overload (RESOURCE_EXHAUSTED with RetryInfo: it was never run) is tried
# again after the delay the server asks for, at most OVERLOAD_RETRIES times.
OVERLOAD_RETRIES = 5
MAX_RETRY_DELAY_S = 10.0


def retry_delay(error: grpc.RpcError) -> float | None:
    """The delay a RESOURCE_EXHAUSTED error's RetryInfo asks for; None when it carries none
    (then the same call will not succeed later) or the error is something else."""
    if not isinstance(error, grpc.Call) or error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    delay = decode_status(error).retry_after_s
    return None if delay is None else min(max(delay, 0.0), MAX_RETRY_DELAY_S)


def _call(fn: Callable[[], T], retries: int = OVERLOAD_RETRIES) -> T:
    attempt = 0
    while True:
        try:
            return fn()
        except grpc.RpcError as exc:
            delay = retry_delay(exc)
            if delay is None or attempt >= retries:
                raise RpcFailure.from_rpc_error(exc) from None
            attempt += 1
            time.sleep(delay)


def _date_pb(value: dt.date) -> common_pb.Date:
    return common_pb.Date(year=value.year, month=value.month, day=value.day)


def _date(value: dt.date) -> dc.Date:
    return dc.Date(year=value.year, month=value.month, day=value.day)


@dataclass(frozen=True)
class Records:
    """A query over an org's records in memory, aggregated into an analysis table.

    Columns of the table: date, day, geo (or campaign_id / channel), spend, impressions,
    clicks, conversions, revenue (first-party when the org ingests it), platform_conversions,
    platform_revenue, spend__<channel>, treatment_intensity, data_quality_score,
    external__<factor>, and with an experiment: treated, post, treated_post.
    """

    experiment_id: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    sources: Sequence[str] = ()
    campaign_ids: Sequence[str] = ()
    channels: Sequence[str] = ()
    aggregation: str = "geo_day"

    def to_proto(self) -> causal_pb.RecordQuery:
        query = causal_pb.RecordQuery(
            experiment_id=self.experiment_id,
            sources=[common_pb.DataSource.Value(f"DATA_SOURCE_{s.upper()}") for s in self.sources],
            campaign_ids=list(self.campaign_ids),
            channels=list(self.channels),
            aggregation=causal_pb.AggregationLevel.Value(
                f"AGGREGATION_LEVEL_{self.aggregation.upper()}"
            ),
        )
        for value, target in (
            (self.start, query.date_range.start_date),
            (self.end, query.date_range.end_date),
        ):
            if value is not None:
                target.year, target.month, target.day = value.year, value.month, value.day
        return query


class LiftOS:
    """A client for the whole mesh. ``org_id`` is the default org for every call."""

    def __init__(
        self,
        peers: PeerConfig | None = None,
        *,
        org_id: str = "",
        timeout: float = 60.0,
        api_key: str | None = None,
        tls_ca: str | None = None,
        tls_client_cert: str | None = None,
        tls_client_key: str | None = None,
    ) -> None:
        """``api_key`` defaults to ``LIFTOS_API_KEY``; ``tls_ca`` (a PEM file) to
        ``LIFTOS_TLS_CA``; ``tls_client_cert``/``tls_client_key`` (presented to servers that
        require client certificates) to ``LIFTOS_TLS_CLIENT_CERT``/``LIFTOS_TLS_CLIENT_KEY``."""
        self.peers = peers or PeerConfig.from_env()
        self.org_id = org_id
        self._channels = {
            s: sync_channel(
                getattr(self.peers, s),
                api_key=api_key,
                ca=tls_ca,
                timeout=timeout,
                cert=tls_client_cert,
                key=tls_client_key,
            )
            for s in SERVICES
        }
        self._ingestion_dc = dc.IngestionServiceStub(self._channels["ingestion"])
        self._ingestion = ingestion_grpc.IngestionServiceStub(self._channels["ingestion"])
        self._causal = causal_grpc.CausalServiceStub(self._channels["causal"])
        self._causal_dc = dc.CausalServiceStub(self._channels["causal"])
        self._llm = llm_grpc.LlmServiceStub(self._channels["llm"])
        self._surfacing = surfacing_grpc.SurfacingServiceStub(self._channels["surfacing"])

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def __enter__(self) -> LiftOS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _org(self, org_id: str | None) -> str:
        return org_id if org_id is not None else self.org_id

    # -- health -------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> dict[str, str]:
        """Each service's health status name, or 'UNREACHABLE'."""
        out = {}
        for service, channel in self._channels.items():
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[service]), timeout=timeout
                )
                out[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError:
                out[service] = "UNREACHABLE"
        return out

    # -- experiments (betterproto2 dataclasses) -----------------------------------------
    def create_experiment(self, experiment: dc.CausalExperiment) -> dc.CausalExperiment:
        if not experiment.org_id:
            experiment.org_id = self.org_id
        request = dc.CreateExperimentRequest(experiment=experiment)
        return _call(lambda: self._ingestion_dc.create_experiment(request)).experiment  # type: ignore[return-value]

    def get_experiment(
        self, experiment_id: str, *, org_id: str | None = None
    ) -> dc.CausalExperiment:
        request = dc.GetExperimentRequest(org_id=self._org(org_id), experiment_id=experiment_id)
        return _call(lambda: self._ingestion_dc.get_experiment(request)).experiment  # type: ignore[return-value]

    def list_experiments(
        self, *, org_id: str | None = None, active_on: dt.date | None = None, page_size: int = 0
    ) -> Iterator[dc.CausalExperiment]:
        """Every experiment of the org, newest first, following page tokens."""
        token = ""
        while True:
            request = dc.ListExperimentsRequest(
                org_id=self._org(org_id),
                page_size=page_size,
                page_token=token,
                active_on=_date(active_on) if active_on else None,
            )
            reply = _call(lambda r=request: self._ingestion_dc.list_experiments(r))  # type: ignore[misc]
            yield from reply.experiments
            token = reply.next_page_token
            if not token:
                return

    # -- calendar (pb2 → DataFrame) -----------------------------------------------------
    def calendar(
        self, country: str, start: dt.date, end: dt.date, *, subdivision: str = ""
    ) -> pd.DataFrame:
        """The calendar dimension as a DataFrame, one row per date."""
        request = ingestion_pb.GetCalendarRequest(
            country=country,
            start_date=common_pb.Date(year=start.year, month=start.month, day=start.day),
            end_date=common_pb.Date(year=end.year, month=end.month, day=end.day),
            subdivision=subdivision,
        )
        reply = _call(lambda: self._ingestion.GetCalendar(request))
        return pd.DataFrame(
            {
                "date": [dt.date(d.date.year, d.date.month, d.date.day) for d in reply.days],
                "year": [d.year for d in reply.days],
                "quarter": [d.quarter for d in reply.days],
                "month": [d.month for d in reply.days],
                "iso_week": [d.week for d in reply.days],
                "day_of_week": [d.day_of_week for d in reply.days],
                "is_weekend": [d.is_weekend for d in reply.days],
                "is_holiday": [d.is_holiday for d in reply.days],
                "holiday_name": [d.holiday_name for d in reply.days],
                "season": [
                    md_pb.Season.Name(d.season).removeprefix("SEASON_").lower() for d in reply.days
                ],
                "days_to_next_holiday": [d.days_to_next_holiday for d in reply.days],
            }
        )

    # -- causal ---------------------------------------------------------------------------
    def estimate(
        self,
        data: pd.DataFrame | Records,
        *,
        method: str = "auto",
        outcome: str,
        treatment: str = "",
        unit: str = "",
        time: str = "",
        covariates: Sequence[str] = (),
        instruments: Sequence[str] = (),
        running_variable: str = "",
        cutoff: float | None = None,
        cluster: str = "",
        weights: str = "",
        effect_modifiers: Sequence[str] = (),
        pre_outcome: str = "",
        estimand: str = "",
        alpha: float = 0.05,
        randomized: bool = False,
        refutation_simulations: int = 0,
        skip_refutation: bool = False,
        seed: int = 0,
        org_id: str | None = None,
        rdd_fuzzy: bool = False,
        cluster_inference: str = "",
    ) -> dc.EstimateEffectResponse:
        """One causal estimate with its checks, on a DataFrame (sent as a columnar Table) or on
        the org's records in memory (``Records(experiment_id=…, start=…, end=…)``).

        ``treatment`` may be empty for a sharp RDD; ``cluster_inference`` is ``""`` (auto),
        ``"cluster_robust"`` or ``"wild_bootstrap"``."""
        roles = causal_pb.EffectRoles(
            outcome=outcome, treatment=treatment, unit=unit, time=time,
            covariates=list(covariates), instruments=list(instruments),
            running_variable=running_variable, cluster=cluster, weights=weights,
            effect_modifiers=list(effect_modifiers), pre_outcome=pre_outcome,
        )  # fmt: skip
        if cutoff is not None:
            roles.cutoff = cutoff
        request = causal_pb.EstimateEffectRequest(
            org_id=self._org(org_id),
            method=causal_pb.EstimationMethod.Value(f"ESTIMATION_METHOD_{method.upper()}"),
            roles=roles,
            estimand=causal_pb.Estimand.Value(f"ESTIMAND_{estimand.upper() or 'UNSPECIFIED'}"),
            alpha=alpha,
            randomized=randomized,
            options=causal_pb.EstimationOptions(
                refutation_simulations=refutation_simulations,
                skip_refutation=skip_refutation,
                seed=seed,
                rdd_fuzzy=rdd_fuzzy,
                cluster_inference=causal_pb.ClusterInference.Value(
                    f"CLUSTER_INFERENCE_{cluster_inference.upper() or 'UNSPECIFIED'}"
                ),
            ),
        )
        if isinstance(data, Records):
            request.records.CopyFrom(data.to_proto())
        else:
            request.table.CopyFrom(frame_to_table(data))
        reply = _call(lambda: self._causal.EstimateEffect(request))
        return dc.EstimateEffectResponse.parse(reply.SerializeToString())

    def get_analysis(self, analysis_id: str, *, org_id: str | None = None) -> dc.Analysis:
        request = dc.GetAnalysisRequest(org_id=self._org(org_id), analysis_id=analysis_id)
        return _call(lambda: self._causal_dc.get_analysis(request)).analysis  # type: ignore[return-value]

    def list_analyses(
        self, *, kind: str = "", org_id: str | None = None, page_size: int = 0
    ) -> Iterator[dc.AnalysisSummary]:
        """The org's stored analyses, newest first, following page tokens; ``kind`` is
        ``"effect_estimate"``, ``"attribution"`` or ``""`` (all)."""
        token = ""
        while True:
            request = dc.ListAnalysesRequest(
                org_id=self._org(org_id),
                kind=dc.AnalysisKind[kind.upper() or "UNSPECIFIED"],
                page_size=page_size,
                page_token=token,
            )
            reply = _call(lambda r=request: self._causal_dc.list_analyses(r))  # type: ignore[misc]
            yield from reply.analyses
            token = reply.next_page_token
            if not token:
                return

    # -- attribution ---------------------------------------------------------------------------
    def analyze_stream(
        self,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        outcome: str = "revenue",
        channels: Sequence[str] = (),
        calibration: Sequence[md_pb.ExperimentResult] = (),
        holdout_days: int = 0,
        seed: int = 0,
        org_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dc.AnalysisProgress | dc.AttributionResult]:
        """AnalyzeAttribution's events as they stream: one AnalysisProgress per step
        (retrieve … attribution), then the AttributionResult."""
        request = causal_pb.AnalyzeAttributionRequest(
            org_id=self._org(org_id), channels=list(channels), calibration=list(calibration),
            holdout_days=holdout_days, seed=seed,
            outcome=common_pb.OutcomeMetric.Value(f"OUTCOME_METRIC_{outcome.upper()}"),
        )  # fmt: skip
        for bound, day in (("start_date", start), ("end_date", end)):
            if day is not None:
                getattr(request.date_range, bound).CopyFrom(
                    common_pb.Date(year=day.year, month=day.month, day=day.day)
                )
        try:
            for reply in self._causal.AnalyzeAttribution(request, timeout=timeout):
                if reply.WhichOneof("event") == "progress":
                    yield dc.AnalysisProgress.parse(reply.progress.SerializeToString())
                else:
                    yield dc.AttributionResult.parse(reply.result.SerializeToString())
        except grpc.RpcError as exc:
            raise RpcFailure.from_rpc_error(exc) from None

    def analyze(
        self,
        *,
        on_progress: Callable[[dc.AnalysisProgress], object] | None = None,
        **kwargs: Any,
    ) -> dc.AttributionResult:
        """Attribution of the org's channels and campaigns (see :meth:`analyze_stream` for the
        arguments): progress events go to ``on_progress`` as they arrive; returns the result
        (stored: :meth:`get_analysis` and :meth:`counterfactual` take its analysis_id)."""
        for event in self.analyze_stream(**kwargs):
            if isinstance(event, dc.AttributionResult):
                return event
            if on_progress is not None:
                on_progress(event)
        raise RpcFailure(grpc.StatusCode.INTERNAL, "the analysis ended without its result")

    def counterfactual(
        self,
        analysis_id: str,
        *,
        multipliers: Mapping[str, float] | None = None,
        spend: Mapping[str, float] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        future_days: int = 0,
        alpha: float = 0.05,
        org_id: str | None = None,
    ) -> dc.CounterfactualResponse:
        """The outcome under a changed spend plan, from a stored attribution analysis:
        ``multipliers`` (channel → × the spend as run; 0 = without the channel) and/or
        ``spend`` (channel → absolute spend) over the reference period (``start``/``end``,
        default the analysed one) or the next ``future_days`` days."""
        changes = [causal_pb.SpendChange(channel=c, multiplier=m)
                   for c, m in (multipliers or {}).items()]  # fmt: skip
        changes += [causal_pb.SpendChange(channel=c, spend=v) for c, v in (spend or {}).items()]
        request = causal_pb.CounterfactualRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, changes=changes, alpha=alpha,
            future_days=future_days,
        )  # fmt: skip
        if start is not None or end is not None:
            if start is not None:
                request.reference_period.start_date.CopyFrom(
                    common_pb.Date(year=start.year, month=start.month, day=start.day))  # fmt: skip
            if end is not None:
                request.reference_period.end_date.CopyFrom(
                    common_pb.Date(year=end.year, month=end.month, day=end.day))  # fmt: skip
        reply = _call(lambda: self._causal.Counterfactual(request))
        return dc.CounterfactualResponse.parse(reply.SerializeToString())

    # -- surfacing: budgets, forecasts, experiments, recommendations ---------------------------
    def optimize_budget(
        self,
        analysis_id: str,
        *,
        budget: float | None = None,
        days: int = 0,
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        spend_bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        profit_margin: float | None = None,
        target_marginal_roas: float | None = None,
        max_change: float | None = None,
        alpha: float = 0.0,
        currency: str = "",
        org_id: str | None = None,
    ) -> dc.OptimizeBudgetResponse:
        """The spend per channel that maximises the outcome of a stored attribution analysis:
        ``budget`` over the analysis window (``days=0``) or the next ``days`` days; ``bounds``
        channel → (min, max) as multiples of current spend, ``spend_bounds`` as amounts (None:
        open); ``profit_margin`` maximises margin × outcome − spend instead;
        ``target_marginal_roas`` finds the largest budget whose marginal return meets it;
        ``max_change`` bounds channels without bounds to ±that share of their current spend
        scaled to the budget (server default 0.3; 0: unbounded)."""
        limits: dict[str, dict[str, float]] = {}
        for name, (lo, hi) in (bounds or {}).items():
            limits.setdefault(name, {}).update(
                {k: v for k, v in (("min_ratio", lo), ("max_ratio", hi)) if v is not None})  # fmt: skip
        for name, (lo, hi) in (spend_bounds or {}).items():
            limits.setdefault(name, {}).update(
                {k: v for k, v in (("min_spend", lo), ("max_spend", hi)) if v is not None})  # fmt: skip
        request = surfacing_pb.OptimizeBudgetRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, horizon_days=days, alpha=alpha,
            constraints=[surfacing_pb.ChannelConstraint(channel=c, **v) for c, v in limits.items()],
        )  # fmt: skip
        if budget is not None:
            request.total_budget.CopyFrom(common_pb.Money(amount=budget, currency_code=currency))
        if profit_margin is not None:
            request.profit_margin = profit_margin
        if target_marginal_roas is not None:
            request.target_marginal_roas = target_marginal_roas
        if max_change is not None:
            request.max_change = max_change
        reply = _call(lambda: self._surfacing.OptimizeBudget(request))
        return dc.OptimizeBudgetResponse.parse(reply.SerializeToString())

    def predict(
        self,
        analysis_id: str = "",
        *,
        days: int,
        daily_spend: Mapping[str, float] | None = None,
        multipliers: Mapping[str, float] | None = None,
        alpha: float = 0.0,
        country: str = "",
        org_id: str | None = None,
    ) -> dc.PredictPerformanceResponse:
        """The next ``days`` days of outcome with intervals: under a plan of ``daily_spend``
        (channel → spend per day) and/or ``multipliers`` (channel → × recent daily spend) read
        with a stored attribution analysis; without one, the outcome from its own history."""
        plan = [
            surfacing_pb.SpendPlan(channel=c, daily_spend=v) for c, v in (daily_spend or {}).items()
        ]
        plan += [
            surfacing_pb.SpendPlan(channel=c, multiplier=v) for c, v in (multipliers or {}).items()
        ]
        request = surfacing_pb.PredictPerformanceRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, horizon_days=days, alpha=alpha,
            plan=plan, country_code=country,
        )  # fmt: skip
        reply = _call(lambda: self._surfacing.PredictPerformance(request))
        return dc.PredictPerformanceResponse.parse(reply.SerializeToString())

    def design_experiment(
        self,
        channel: str,
        *,
        duration_days: Sequence[int] = (),
        lift: float = 0.0,
        power: float = 0.0,
        alpha: float = 0.0,
        heavy_up: float | None = None,
        budget: float | None = None,
        cells: Sequence[tuple[str, float]] = (),
        stratified: bool = False,
        treatment_share: float = 0.0,
        analysis_id: str = "",
        expected_roas: float | None = None,
        history: tuple[dt.date, dt.date] | None = None,
        save: bool = False,
        experiment_id: str = "",
        start: dt.date | None = None,
        seed: int = 0,
        org_id: str | None = None,
    ) -> dc.DesignExperimentResponse:
        """A geo experiment for ``channel`` powered on the org's history: a holdout (default),
        a heavy-up at ``heavy_up`` × spend (or as much as ``budget`` buys), or ``cells`` of
        ("holdout" | "decrease" | "heavy_up", multiplier); power at ``lift`` (or at the effect
        ``analysis_id`` / ``expected_roas`` implies) over ``duration_days``; ``save``
        registers it."""
        kinds = {"holdout": md_pb.TREATMENT_TYPE_HOLDOUT,
                 "decrease": md_pb.TREATMENT_TYPE_BUDGET_DECREASE,
                 "heavy_up": md_pb.TREATMENT_TYPE_BUDGET_INCREASE}  # fmt: skip
        request = surfacing_pb.DesignExperimentRequest(
            org_id=self._org(org_id), channel=channel, duration_days=list(duration_days),
            minimum_detectable_lift=lift, power=power, alpha=alpha,
            cells=[surfacing_pb.DesignCell(treatment_type=kinds[k], spend_multiplier=m)
                   for k, m in cells],
            assignment=surfacing_pb.ASSIGNMENT_METHOD_STRATIFIED if stratified
            else surfacing_pb.ASSIGNMENT_METHOD_MATCHED_MARKETS,
            treatment_share=treatment_share, analysis_id=analysis_id, save=save,
            experiment_id=experiment_id, seed=seed,
        )  # fmt: skip
        if heavy_up is not None or (budget is not None and not cells):
            request.treatment_type = md_pb.TREATMENT_TYPE_BUDGET_INCREASE
            request.spend_multiplier = heavy_up or 0.0
        if budget is not None:
            request.budget.CopyFrom(common_pb.Money(amount=budget))
        if expected_roas is not None:
            request.expected_roas = expected_roas
        if history is not None:
            request.history.start_date.CopyFrom(_date_pb(history[0]))
            request.history.end_date.CopyFrom(_date_pb(history[1]))
        if start is not None:
            request.start_date.CopyFrom(_date_pb(start))
        reply = _call(lambda: self._surfacing.DesignExperiment(request))
        return dc.DesignExperimentResponse.parse(reply.SerializeToString())

    def recommend(
        self,
        analysis_ids: Sequence[str] = (),
        *,
        max_results: int = 0,
        value_per_outcome: float = 0.0,
        days: int = 0,
        alpha: float = 0.0,
        design_tests: bool = True,
        org_id: str | None = None,
    ) -> dc.RecommendResponse:
        """Ranked actions (scale, cut, hold, reallocate, test) from an attribution analysis
        (default: the org's latest), each with its impact, interval, confidence and facts."""
        request = surfacing_pb.RecommendRequest(
            org_id=self._org(org_id), analysis_ids=list(analysis_ids), max_results=max_results,
            value_per_outcome=value_per_outcome, horizon_days=days, alpha=alpha,
            design_tests=design_tests,
        )  # fmt: skip
        reply = _call(lambda: self._surfacing.Recommend(request))
        return dc.RecommendResponse.parse(reply.SerializeToString())

    # -- llm: grounded language over analyses -----------------------------------------------
    def build_context(
        self,
        analysis_ids: Sequence[str],
        *,
        audience: str = "analyst",
        question: str = "",
        org_id: str | None = None,
    ) -> dc.BuildContextResponse:
        """Ranked insights, the context document (every figure with its analysis and field)
        and the reasoning prompts for an LLM; ``audience``: executive, analyst, data_scientist."""
        request = llm_pb.BuildContextRequest(
            org_id=self._org(org_id), analysis_ids=list(analysis_ids), question=question,
            audience=_audience(audience),
        )  # fmt: skip
        reply = _call(lambda: self._llm.BuildContext(request))
        return dc.BuildContextResponse.parse(reply.SerializeToString())

    def explain(
        self,
        analysis_id: str,
        *,
        audience: str = "analyst",
        question: str = "",
        writer: str = "",
        llm_url: str = "",
        llm_model: str = "",
        on_delta: Callable[[str], object] | None = None,
        org_id: str | None = None,
    ) -> dc.ExplanationDone:
        """A grounded explanation of an analysis. Text deltas go to ``on_delta`` as they
        arrive; the result holds the full text, its citations and any claims the guardrail
        removed or rewrote. ``writer``: "" (the server's default), "grounded" or "llm";
        ``llm_url``/``llm_model``: an OpenAI-compatible endpoint the server may call."""
        request = llm_pb.ExplainRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, question=question,
            audience=_audience(audience),
            writer=llm_pb.ExplanationWriter.Value(f"EXPLANATION_WRITER_{writer.upper() or 'UNSPECIFIED'}"),
            llm=llm_pb.LlmEndpoint(url=llm_url, model=llm_model),
        )  # fmt: skip
        try:
            for reply in self._llm.Explain(request):
                if reply.WhichOneof("event") == "text_delta":
                    if on_delta is not None:
                        on_delta(reply.text_delta)
                else:
                    return dc.ExplanationDone.parse(reply.done.SerializeToString())
        except grpc.RpcError as exc:
            raise RpcFailure.from_rpc_error(exc) from None
        raise RpcFailure(
            grpc.StatusCode.INTERNAL, "the explanation ended without its final message"
        )

    def check_claims(
        self, text: str, analysis_ids: Sequence[str], *, org_id: str | None = None
    ) -> list[dc.ClaimCheck]:
        """Each causal claim in ``text`` with its verdict against the analyses
        (associational and hedged wording is not a claim and is not listed)."""
        request = llm_pb.CheckClaimsRequest(
            org_id=self._org(org_id), text=text, analysis_ids=list(analysis_ids)
        )
        reply = _call(lambda: self._llm.CheckClaims(request))
        return list(dc.CheckClaimsResponse.parse(reply.SerializeToString()).claims)

    # -- ingestion (pb2: bulk rows in, acks out) --------------------------------------------
    def ingest(
        self,
        source: str,
        rows: Iterable[str | Mapping[str, Any]],
        *,
        account: Mapping[str, Any],
        org_id: str | None = None,
        pulled_at: dt.datetime | None = None,
        mapping: Mapping[str, str] | None = None,
        batch_size: int = 1000,
        progress: Callable[[IngestSummary], None] | None = None,
        retries: int = 5,
        max_in_flight: int = 32,  # ≥ the service's pipeline depth (16), so it never waits on us
    ) -> IngestSummary:
        """Stream raw platform rows through ``Ingest``: one batch of ``batch_size`` rows per
        message, one ack per batch.

        ``rows`` are the export's JSON lines (or dicts); ``account`` has ``account_id``,
        ``timezone``, ``currency`` and optionally ``country`` and ``geo_keys`` (an entry of
        the simulator's ``accounts.json`` works as is). Batch ids hash the batch's content
        and pull time, so ingesting the same export again is answered from the server's
        ledger; when the service answers UNAVAILABLE (memory down), or RESOURCE_EXHAUSTED
        with a RetryInfo (overload), the un-acked batches are re-sent with the same ids, up
        to ``retries`` times (after the delay the server asked for, on overload). At most ``max_in_flight``
        batches are sent ahead of their acks. ``progress`` is called after every ack with
        the running summary.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        pulled_at = pulled_at or dt.datetime.now(dt.UTC)
        template = ingestion_pb.IngestRequest(
            org_id=self._org(org_id),
            source=common_pb.DataSource.Value("DATA_SOURCE_" + source.upper()),
            account=_account_info(account),
            mapping=ingestion_pb.ColumnMapping(**dict(mapping or {})),
        )
        template.pulled_at.FromDatetime(pulled_at.astimezone(dt.UTC).replace(tzinfo=None))
        summary = IngestSummary()
        pending: collections.deque[ingestion_pb.IngestRequest] = collections.deque()
        batches = _batches(template, rows, batch_size)
        # Sent but not acked: at most `window` batches, so a long export is read as it is
        # sent instead of piling up in memory; the sender thread of a failed call stops.
        window = max(1, max_in_flight)
        cond = threading.Condition()
        call = [0]

        def requests(
            resend: list[ingestion_pb.IngestRequest], mine: int
        ) -> Iterator[ingestion_pb.IngestRequest]:
            yield from resend
            while True:
                with cond:
                    while len(pending) >= window and call[0] == mine:
                        cond.wait(0.5)
                    if call[0] != mine:
                        return
                    request = next(batches, None)
                    if request is None:
                        return
                    pending.append(request)
                yield request

        attempt = 0
        while True:
            try:
                for reply in self._ingestion.Ingest(requests(list(pending), call[0])):
                    with cond:
                        sent = pending.popleft()
                        cond.notify_all()
                    summary.add(reply, sent.row_offset)
                    if progress is not None:
                        progress(summary)
                return summary
            except grpc.RpcError as exc:
                with cond:
                    call[0] += 1
                    cond.notify_all()
                failure = RpcFailure.from_rpc_error(exc)
                overload = retry_delay(exc)
                if (
                    failure.code != grpc.StatusCode.UNAVAILABLE and overload is None
                ) or attempt >= retries:
                    raise failure from None
                attempt += 1
                summary.retries += 1
                time.sleep(overload if overload is not None else min(0.5 * 2 ** (attempt - 1), 8.0))

    def register_external_factor(
        self,
        name: str,
        kind: str,
        values: Mapping[dt.date, float],
        *,
        source: str = "",
        unit: str = "",
        geo: str = "",
        org_id: str | None = None,
    ) -> int:
        """Register (or replace) a daily external series; ``kind`` is macro, competitor,
        promotion, demand, weather or other. Returns the number of values stored."""
        request = ingestion_pb.RegisterExternalFactorRequest(
            org_id=self._org(org_id),
            series=ingestion_pb.ExternalFactorSeries(
                name=name,
                type=md_pb.ExternalFactorType.Value("EXTERNAL_FACTOR_TYPE_" + kind.upper()),
                source=source,
                unit=unit,
                geo=geo,
                values=[
                    ingestion_pb.DatedValue(
                        date=common_pb.Date(year=d.year, month=d.month, day=d.day), value=v
                    )
                    for d, v in values.items()
                ],
            ),
        )
        return _call(lambda: self._ingestion.RegisterExternalFactor(request)).value_count

    def list_external_factors(
        self, *, include_values: bool = False, org_id: str | None = None
    ) -> list[ingestion_pb.ExternalFactorSeries]:
        """Every series of the org, by name then geo, following page tokens."""
        out: list[ingestion_pb.ExternalFactorSeries] = []
        request = ingestion_pb.ListExternalFactorsRequest(
            org_id=self._org(org_id), include_values=include_values
        )
        while True:
            reply = _call(lambda: self._ingestion.ListExternalFactors(request))
            out.extend(reply.series)
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token


__all__ = ["LiftOS", "Records", "RpcFailure", "dc"]


# -- ingestion helpers -----------------------------------------------------------------------


def _audience(name: str) -> llm_pb.Audience.ValueType:
    return llm_pb.Audience.Value(f"AUDIENCE_{name.upper() or 'UNSPECIFIED'}")


def _account_info(account: Mapping[str, Any]) -> ingestion_pb.AccountInfo:
    return ingestion_pb.AccountInfo(
        account_id=str(account.get("account_id", "")),
        timezone=str(account.get("timezone", "")),
        currency_code=str(account.get("currency_code", account.get("currency", ""))),
        country_code=str(account.get("country_code", account.get("country", ""))),
        geo_keys={str(k): str(v) for k, v in dict(account.get("geo_keys") or {}).items()},
    )


def _batches(
    template: ingestion_pb.IngestRequest, rows: Iterable[str | Mapping[str, Any]], size: int
) -> Iterator[ingestion_pb.IngestRequest]:
    """Requests of ``size`` rows; the batch id hashes the template and the rows."""
    base = hashlib.sha256(template.SerializeToString(deterministic=True))
    chunk: list[str] = []
    offset = 0

    def request() -> ingestion_pb.IngestRequest:
        digest = base.copy()
        for line in chunk:
            digest.update(line.encode())
            digest.update(b"\n")
        out = ingestion_pb.IngestRequest()
        out.CopyFrom(template)
        out.batch_id = f"b-{digest.hexdigest()[:32]}"
        out.row_offset = offset
        out.json_rows.extend(chunk)
        return out

    for row in rows:
        chunk.append(row if isinstance(row, str) else json.dumps(row, separators=(",", ":")))
        if len(chunk) == size:
            yield request()
            offset += len(chunk)
            chunk = []
    if chunk:
        yield request()


@dataclass
class IngestSummary:
    """Running totals of an ingest: rows by outcome, rejections by reason, confounders."""

    batches: int = 0
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    restated: int = 0
    superseded: int = 0
    out_of_order: int = 0
    late: int = 0
    replayed_batches: int = 0
    retries: int = 0
    rejected_by_reason: collections.Counter[str] = field(default_factory=collections.Counter)
    confounders: collections.Counter[str] = field(default_factory=collections.Counter)
    # (line in the input, field, reason, message) of the first rejections
    rejections: list[tuple[int, str, str, str]] = field(default_factory=list)
    _quality_sum: float = 0.0
    _written: int = 0

    @property
    def written(self) -> int:
        """Rows stored by this ingest (accepted minus duplicates and superseded)."""
        return self._written

    @property
    def mean_quality(self) -> float:
        return self._quality_sum / self._written if self._written else 0.0

    def add(self, reply: ingestion_pb.IngestResponse, row_offset: int) -> None:
        self.batches += 1
        self.rows += reply.accepted_count + reply.rejected_count
        self.accepted += reply.accepted_count
        self.rejected += reply.rejected_count
        self.duplicates += reply.duplicate_count
        self.restated += reply.restated_count
        self.superseded += reply.superseded_count
        self.out_of_order += reply.out_of_order_count
        self.late += reply.late_count
        self.replayed_batches += int(reply.replayed)
        written = reply.accepted_count - reply.duplicate_count - reply.superseded_count
        self._written += written
        self._quality_sum += reply.mean_quality_score * written
        for r in reply.rejections:
            reason = ingestion_pb.RejectionReason.Name(r.reason).removeprefix("REJECTION_REASON_")
            self.rejected_by_reason[reason.lower()] += 1
            if len(self.rejections) < 1000:
                self.rejections.append(
                    (row_offset + r.row_index, r.field, reason.lower(), r.message)
                )
        for c in reply.confounders:
            self.confounders[c.name] += c.row_count

    def merge(self, other: IngestSummary) -> None:
        """Add another ingest's totals to these."""
        for name in (
            "batches", "rows", "accepted", "rejected", "duplicates", "restated", "superseded",
            "out_of_order", "late", "replayed_batches", "retries", "_quality_sum", "_written",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.confounders.update(other.confounders)
        self.rejections.extend(other.rejections[: max(0, 1000 - len(self.rejections))])
