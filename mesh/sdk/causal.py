"""The SDK's causal calls: estimates, analyses, attribution, counterfactuals."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import liftos_dc.liftos.v1 as dc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.protoconv import set_date_range
from mesh.sdk._base import (
    ClientBase,
    _date_pb,
    as_date,
    as_whole,
    backoff,
    choice,
    numbers_by_name,
)
from mesh.sdk.failures import InvalidArgument, RpcFailure

if TYPE_CHECKING:  # pandas costs ~0.5 CPU-s to import; only the calls that build frames load it
    import pandas as pd


@dataclass(frozen=True)
class Records:
    """A query over an org's records in memory, aggregated into an analysis table.

    Columns of the table: date, day, geo (or campaign_id / channel), spend, impressions,
    clicks, conversions, revenue (first-party when the org ingests it), platform_conversions,
    platform_revenue (missing, NaN, where the platform reported no conversions for any of a
    row's records: CausalMarketingData.conversions_unreported), spend__<channel>,
    treatment_intensity, data_quality_score, external__<factor>, and with an experiment:
    treated, post, treated_post.
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
            sources=[
                choice(common_pb.DataSource, "DATA_SOURCE_", s, "sources", optional=False)  # type: ignore[misc]
                for s in self.sources
            ],
            campaign_ids=list(self.campaign_ids),
            channels=list(self.channels),
            aggregation=choice(  # type: ignore[arg-type]
                causal_pb.AggregationLevel, "AGGREGATION_LEVEL_", self.aggregation,
                "aggregation", optional=False,
            ),
        )  # fmt: skip
        for value, target in (
            (as_date(self.start, "start"), query.date_range.start_date),
            (as_date(self.end, "end"), query.date_range.end_date),
        ):
            if value is not None:
                target.year, target.month, target.day = value.year, value.month, value.day
        return query


class CausalCalls(ClientBase):
    """CausalService, through LiftOS."""

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
        control_group: str = "",
        record_experiment_result: bool = False,
        keep_recorded_result: bool = False,
    ) -> dc.EstimateEffectResponse:
        """One causal estimate with its checks, on a DataFrame (sent as a columnar Table) or on
        the org's records in memory (``Records(experiment_id=…, start=…, end=…)``).

        ``treatment`` may be empty for a sharp RDD; ``cluster_inference`` is ``""`` (auto),
        ``"cluster_robust"`` or ``"wild_bootstrap"``. ``control_group`` (staggered_did's
        comparison units) is ``""`` (never-treated), ``"never_treated"`` or
        ``"not_yet_treated"`` (needed when every unit is eventually treated).
        ``record_experiment_result``: a geo
        experiment's estimate (records of a registered experiment, treatment
        ``treated_post``) becomes the registry's result for it, so attribution is calibrated
        by it; the reply's ``recorded_result`` is what was stored (unset, with a warning, when
        nothing was). ``keep_recorded_result``: record only if the experiment has no result
        when the registry writes (a result recorded meanwhile is kept; a warning says so)."""
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
            method=choice(causal_pb.EstimationMethod, "ESTIMATION_METHOD_", method, "method"),  # type: ignore[arg-type]
            roles=roles,
            estimand=choice(causal_pb.Estimand, "ESTIMAND_", estimand, "estimand"),  # type: ignore[arg-type]
            alpha=alpha,
            randomized=randomized,
            record_experiment_result=record_experiment_result,
            options=causal_pb.EstimationOptions(
                refutation_simulations=refutation_simulations,
                skip_refutation=skip_refutation,
                seed=seed,
                rdd_fuzzy=rdd_fuzzy,
                cluster_inference=choice(  # type: ignore[arg-type]
                    causal_pb.ClusterInference,
                    "CLUSTER_INFERENCE_",
                    cluster_inference,
                    "cluster_inference",
                ),
                control_group=choice(  # type: ignore[arg-type]
                    causal_pb.ControlGroup, "CONTROL_GROUP_", control_group, "control_group"
                ),
            ),
        )
        if isinstance(data, Records):
            request.records.CopyFrom(data.to_proto())
        else:
            from mesh.runtime.tables import frame_to_table

            try:
                request.table.CopyFrom(frame_to_table(data))
            except InvalidInput as exc:  # a column a table cannot carry as it is
                raise InvalidArgument(exc.message, field="data") from None
        # keep: the registry records only if the experiment has no result when it writes
        request.keep_recorded_result = keep_recorded_result
        reply = self._unary(lambda: self._causal.EstimateEffect(request))
        return dc.EstimateEffectResponse.parse(reply.SerializeToString())

    def get_analysis(self, analysis_id: str, *, org_id: str | None = None) -> dc.Analysis:
        request = dc.GetAnalysisRequest(org_id=self._org(org_id), analysis_id=analysis_id)
        return self._unary(lambda: self._causal_dc.get_analysis(request)).analysis  # type: ignore[return-value]

    def list_analyses(
        self, *, kind: str = "", org_id: str | None = None, page_size: int = 0
    ) -> Iterator[dc.AnalysisSummary]:
        """The org's stored analyses, newest first, following page tokens; ``kind`` is
        ``"effect_estimate"``, ``"attribution"``, ``"products"`` or ``""`` (all). Each
        summary says which data it read: ``date_range`` (the period; an effect estimate's
        requested record window) and ``record_count`` (None for an effect estimate), so two
        runs over the same window can be told apart from two windows."""
        token = ""
        while True:
            request = dc.ListAnalysesRequest(
                org_id=self._org(org_id),
                kind=dc.AnalysisKind(
                    choice(causal_pb.AnalysisKind, "ANALYSIS_KIND_", kind, "kind")
                ),
                page_size=page_size,
                page_token=token,
            )
            reply = self._unary(lambda r=request: self._causal_dc.list_analyses(r))  # type: ignore[misc]
            yield from reply.analyses
            token = reply.next_page_token
            if not token:
                return

    def delete_analyses(
        self,
        analysis_ids: Sequence[str] = (),
        *,
        all_analyses: bool = False,
        dry_run: bool = False,
        org_id: str | None = None,
    ) -> dc.DeleteAnalysesResponse:
        """Delete stored analyses of the org with their fitted models: ``analysis_ids``, or every
        one with ``all_analyses`` (not both). An analysis keeps the campaign ids, names and
        spend it read, so erasing an account's records does not erase them. ``dry_run`` lists
        what would go. Ids the org has no analysis of come back in ``not_found`` (a retry is
        safe). More than 1,000 ids are sent 1,000 a call. Needs a key with the
        ``records.delete`` scope."""
        org = self._org(org_id)
        if all_analyses and analysis_ids:
            raise InvalidArgument(
                "pass analysis_ids or all_analyses=True, not both", field="all_analyses"
            )
        if all_analyses:
            calls = [causal_pb.DeleteAnalysesRequest(org_id=org, all=True, dry_run=dry_run)]
        else:
            ids = list(analysis_ids)
            calls = [
                causal_pb.DeleteAnalysesRequest(
                    org_id=org, analysis_ids=ids[i : i + 1000], dry_run=dry_run
                )
                for i in range(0, len(ids), 1000)
            ] or [causal_pb.DeleteAnalysesRequest(org_id=org, dry_run=dry_run)]  # refused
        out = dc.DeleteAnalysesResponse()
        for request in calls:
            reply = self._unary(lambda r=request: self._causal.DeleteAnalyses(r))  # type: ignore[misc]
            out.deleted_ids += list(reply.deleted_ids)
            out.not_found += list(reply.not_found)
        return out

    # -- attribution ---------------------------------------------------------------------------
    def analyze_stream(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        outcome: str = "revenue",
        channels: Sequence[str] = (),
        calibration: Sequence[md_pb.ExperimentResult] = (),
        holdout_days: int = 0,
        seed: int = 0,
        identification: str = "",
        max_lag_days: int = 0,
        org_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dc.AnalysisProgress | dc.AttributionResult]:
        """AnalyzeAttribution's events as they stream: one AnalysisProgress per step
        (retrieve … attribution), then the AttributionResult. ``identification``:
        ``"auto"`` (``""``: the default; GEO where the data show budgets not chasing demand
        and geos flighted independently, else NATIONAL), ``"national"`` or ``"geo"``
        (AttributionIdentification). ``max_lag_days``: the longest carry-over the model
        looks for, 1-120 days (0: the default, 28); the server refuses others (RpcFailure
        INVALID_ARGUMENT, field ``max_lag_days``). ``seed`` must stay 0: the analysis is
        deterministic (its draws use fixed seeds), and the server refuses another value by
        name rather than ignore it."""
        ident = _IDENTIFICATIONS.get(identification.lower())
        if ident is None:
            raise InvalidArgument(f"identification {identification!r} must be one of "
                                  f"{', '.join(n for n in _IDENTIFICATIONS if n)} (or '' for "
                                  "the default)", field="identification")  # fmt: skip
        request = causal_pb.AnalyzeAttributionRequest(
            org_id=self._org(org_id), channels=list(channels), calibration=list(calibration),
            holdout_days=holdout_days, seed=seed, identification=ident,  # type: ignore[arg-type]
            max_lag_days=max_lag_days,
            outcome=choice(common_pb.OutcomeMetric, "OUTCOME_METRIC_", outcome, "outcome"),  # type: ignore[arg-type]
        )  # fmt: skip
        set_date_range(request.date_range, as_date(start, "start"), as_date(end, "end"))
        yield from _events(self._causal.AnalyzeAttribution, request, dc.AttributionResult, timeout)

    def analyze(
        self,
        *,
        on_progress: Callable[[dc.AnalysisProgress], object] | None = None,
        **kwargs: Any,
    ) -> dc.AttributionResult:
        """Attribution of the org's channels and campaigns (see :meth:`analyze_stream` for the
        arguments): progress events go to ``on_progress`` as they arrive; returns the result
        (stored: :meth:`get_analysis` and :meth:`counterfactual` take its analysis_id)."""
        return _result(self.analyze_stream(**kwargs), dc.AttributionResult, on_progress)

    # -- products ------------------------------------------------------------------------------
    def analyze_products_stream(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        channels: Sequence[str] = (),
        alpha: float = 0.0,
        claim_alpha: float = 0.0,
        country: str = "",
        org_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dc.AnalysisProgress | dc.ProductAnalysisResult]:
        """AnalyzeProducts' events as they stream: one AnalysisProgress per step (retrieve,
        panel, estimation, products), then the ProductAnalysisResult (stored: get_analysis)."""
        request = causal_pb.AnalyzeProductsRequest(
            org_id=self._org(org_id), channels=list(channels), alpha=alpha,
            claim_alpha=claim_alpha, country_code=country,
        )  # fmt: skip
        set_date_range(request.date_range, as_date(start, "start"), as_date(end, "end"))
        yield from _events(self._causal.AnalyzeProducts, request, dc.ProductAnalysisResult, timeout)

    def analyze_products(
        self,
        *,
        on_progress: Callable[[dc.AnalysisProgress], object] | None = None,
        **kwargs: Any,
    ) -> dc.ProductAnalysisResult:
        """The product analysis of the org (see :meth:`analyze_products_stream`)."""
        return _result(
            self.analyze_products_stream(**kwargs), dc.ProductAnalysisResult, on_progress
        )

    def counterfactual(
        self,
        analysis_id: str,
        *,
        multipliers: Mapping[str, float] | None = None,
        spend: Mapping[str, float] | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        future_days: int = 0,
        alpha: float = 0.05,
        org_id: str | None = None,
    ) -> dc.CounterfactualResponse:
        """The outcome under a changed spend plan, from a stored attribution analysis:
        ``multipliers`` (channel → × the spend as run; 0 = without the channel) and/or
        ``spend`` (channel → absolute spend) over the reference period (``start``/``end``,
        default the analysed one) or the next ``future_days`` days."""
        changes = [causal_pb.SpendChange(channel=c, multiplier=m)
                   for c, m in numbers_by_name(multipliers, "multipliers").items()]  # fmt: skip
        changes += [causal_pb.SpendChange(channel=c, spend=v)
                    for c, v in numbers_by_name(spend, "spend").items()]  # fmt: skip
        request = causal_pb.CounterfactualRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, changes=changes, alpha=alpha,
            future_days=as_whole(future_days, "future_days"),
        )  # fmt: skip
        start, end = as_date(start, "start"), as_date(end, "end")
        if start is not None or end is not None:
            if start is not None:
                request.reference_period.start_date.CopyFrom(_date_pb(start))
            if end is not None:
                request.reference_period.end_date.CopyFrom(_date_pb(end))
        reply = self._unary(lambda: self._causal.Counterfactual(request))
        return dc.CounterfactualResponse.parse(reply.SerializeToString())


# The short names analyze takes ("" the default, AUTO).
_IDENTIFICATIONS = {
    "": causal_pb.ATTRIBUTION_IDENTIFICATION_UNSPECIFIED,
    "national": causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL,
    "geo": causal_pb.ATTRIBUTION_IDENTIFICATION_GEO,
    "auto": causal_pb.ATTRIBUTION_IDENTIFICATION_AUTO,
}
_Result = TypeVar("_Result", dc.AttributionResult, dc.ProductAnalysisResult)


# An analysis stream's deadline when the caller names none: an attribution of years of
# data takes seconds to minutes; a peer that hangs is caught sooner by keepalive (~30 s).
DEFAULT_ANALYSIS_TIMEOUT_S = 900.0


def analysis_timeout(timeout: float | None) -> float | None:
    """``timeout``, else ``LIFTOS_ANALYSIS_TIMEOUT``, else :data:`DEFAULT_ANALYSIS_TIMEOUT_S`
    (seconds; 0 in either: no deadline)."""
    if timeout is not None:
        return timeout if timeout > 0 else None
    raw = os.environ.get("LIFTOS_ANALYSIS_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_ANALYSIS_TIMEOUT_S
    except ValueError:
        raise InvalidArgument(f"LIFTOS_ANALYSIS_TIMEOUT must be seconds, not {raw!r}") from None
    return value if value > 0 else None


def _events(
    call: Any, request: Any, result: type[_Result], timeout: float | None
) -> Iterator[dc.AnalysisProgress | _Result]:
    """An analysis RPC's stream: its progress events, then its result. A stream refused for
    overload before its first event (the service holds room for a whole analysis up front, so
    that is when it refuses) is tried again like a unary call; once events flowed it is not.
    ``timeout`` None: :func:`analysis_timeout`'s default; when it passes, the failure says so."""
    timeout = analysis_timeout(timeout)
    attempt = 0
    while True:
        started = False
        try:
            for reply in call(request, timeout=timeout):
                started = True
                if reply.WhichOneof("event") == "progress":
                    yield dc.AnalysisProgress.parse(reply.progress.SerializeToString())
                else:
                    yield result.parse(reply.result.SerializeToString())
            return
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _deadline_failure(exc, timeout) from None
            if started:  # events flowed: the analysis ran, and is not tried again
                raise RpcFailure.from_rpc_error(exc) from None
            backoff(exc, attempt)
            attempt += 1


def _deadline_failure(exc: grpc.RpcError, timeout: float | None) -> RpcFailure:
    """DEADLINE_EXCEEDED saying which deadline passed and how to give the call more time."""
    failure = RpcFailure.from_rpc_error(exc)
    if timeout is None:  # the server's own deadline, not this call's
        return failure
    failure.message = (
        f"{failure.message} (the analysis did not finish within its {timeout:g} s deadline; "
        "to allow longer, pass timeout= (the CLI's --timeout SECONDS) or set "
        "LIFTOS_ANALYSIS_TIMEOUT; 0 for none)"
    )
    return failure


def _result(
    events: Iterator[dc.AnalysisProgress | _Result],
    result: type[_Result],
    on_progress: Callable[[dc.AnalysisProgress], object] | None,
) -> _Result:
    """The stream's result, its progress events handed to ``on_progress`` on the way."""
    for event in events:
        if isinstance(event, result):
            return event
        if on_progress is not None and isinstance(event, dc.AnalysisProgress):
            on_progress(event)
    raise RpcFailure(grpc.StatusCode.INTERNAL, "the analysis ended without its result")
