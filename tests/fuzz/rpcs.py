"""Every RPC of the mesh, called generically from its descriptor, and valid seed requests
for each (the starting points the request fuzzer mutates)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pandas as pd
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from liftos.v1 import (
    causal_pb2,
    common_pb2,
    ingestion_pb2,
    llm_pb2,
    marketing_data_pb2,
    memory_pb2,
    surfacing_pb2,
)

from mesh.runtime.synthetic_records import synthetic_records
from mesh.runtime.tables import frame_to_table

ORG = "acme"
DELETE_ORG = "fuzz-delete"
EXPERIMENT = "fuzz-exp"
SERVICES = {
    "ingestion": ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"],
    "memory": memory_pb2.DESCRIPTOR.services_by_name["MemoryService"],
    "causal": causal_pb2.DESCRIPTOR.services_by_name["CausalService"],
    "llm": llm_pb2.DESCRIPTOR.services_by_name["LlmService"],
    "surfacing": surfacing_pb2.DESCRIPTOR.services_by_name["SurfacingService"],
}


@dataclass(frozen=True, slots=True)
class Rpc:
    service: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def name(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"

    @property
    def client_streaming(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)


def all_rpcs() -> list[Rpc]:
    return [Rpc(s, m) for s, d in SERVICES.items() for m in d.methods]


# Ids a seed names that the server keeps once a request with them succeeds: a second request
# with the same id is refused before its content is read (a batch id acked for other rows,
# an experiment id taken), so each call gets its own.
def _fresh_batch(m: Any, n: int) -> None:
    if m.batch_id == "fuzz-b":
        m.batch_id = f"fuzz-b-{n}"


def _fresh_experiment(m: Any, n: int) -> None:
    if m.experiment.experiment_id == "fuzz-new":
        m.experiment.experiment_id = f"fuzz-new-{n}"


def _kept_org(m: Any, n: int) -> None:
    """A drawn deletion of the fuzzed org (its org_id drawn as "acme") only counts: the RPCs
    fuzzed after it read the org's records."""
    if m.org_id == ORG:
        m.dry_run = True


_FRESH = {
    "IngestionService.Ingest": _fresh_batch,
    "IngestionService.CreateExperiment": _fresh_experiment,
    "MemoryService.DeleteRecords": _kept_org,
    "IngestionService.DeleteExperiments": _kept_org,
    "IngestionService.DeleteExternalFactors": _kept_org,
    "CausalService.DeleteAnalyses": _kept_org,
}
_calls = itertools.count()


def fresh_ids(rpc: Rpc, messages: list[Message]) -> list[Message]:
    """``messages`` with a seed's one-time ids replaced by new ones (copies; the rest kept)."""
    fresh = _FRESH.get(rpc.name)
    if fresh is None:
        return messages
    out = []
    for m in messages:
        copy = type(m)()
        copy.CopyFrom(m)
        fresh(copy, next(_calls))
        out.append(copy)
    return out


def call(
    channel: grpc.Channel, rpc: Rpc, requests: list[Message], timeout: float
) -> grpc.StatusCode:
    """Send ``requests`` (one, or each message of a client stream), read every answer, and
    return the status code the call ended with."""
    error = call_error(channel, rpc, requests, timeout)
    return grpc.StatusCode.OK if error is None else error.code()  # type: ignore[no-any-return]


def call_error(
    channel: grpc.Channel, rpc: Rpc, requests: list[Message], timeout: float
) -> grpc.RpcError | None:
    """As :func:`call`, but the error the call ended with (None when it answered OK), so a
    caller can read its rich status (the fields a refusal names)."""
    requests = fresh_ids(rpc, requests)
    out_type = rpc.method.output_type._concrete_class
    kw = {
        "request_serializer": lambda m: m.SerializeToString(),
        "response_deserializer": out_type.FromString,
    }
    try:
        if rpc.client_streaming and rpc.server_streaming:
            for _ in channel.stream_stream(rpc.path, **kw)(iter(requests), timeout=timeout):
                pass
        elif rpc.client_streaming:
            channel.stream_unary(rpc.path, **kw)(iter(requests), timeout=timeout)
        elif rpc.server_streaming:
            for _ in channel.unary_stream(rpc.path, **kw)(requests[0], timeout=timeout):
                pass
        else:
            channel.unary_unary(rpc.path, **kw)(requests[0], timeout=timeout)
    except grpc.RpcError as err:
        return err
    return None


def _date(d: dt.date) -> common_pb2.Date:
    return common_pb2.Date(year=d.year, month=d.month, day=d.day)


START, END = dt.date(2024, 10, 1), dt.date(2024, 12, 31)
META_LINES = [
    '{"account_id":"act_1","campaign_id":"c1","campaign_name":"Prospecting","objective":"OUTCOME_SALES",'
    '"date_start":"2024-11-02","date_stop":"2024-11-02","region":"California","spend":"120.50",'
    '"impressions":"10000","clicks":"300","actions":[{"action_type":"offsite_conversion.fb_pixel_purchase",'
    '"value":"12","7d_click":"10","1d_view":"2"}],"action_values":[{"action_type":'
    '"offsite_conversion.fb_pixel_purchase","value":"840.00","7d_click":"700.00","1d_view":"140.00"}],'
    '"account_currency":"USD","account_timezone_name":"America/Los_Angeles"}',
]


def did_table(seed: int = 0) -> pd.DataFrame:
    """8 geos × 12 days, half treated from day 6, a true effect of 5."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(8):
        for t in range(12):
            treated = int(g < 4 and t >= 6)
            rows.append({"geo": f"g{g}", "day": t, "treated": treated, "x": rng.normal(),
                         "y": 10 + g + 0.3 * t + 5 * treated + rng.normal()})  # fmt: skip
    return pd.DataFrame(rows)


def seeds(analysis_id: str, campaign_id: str, node_id: str) -> dict[str, list[Message]]:
    """Valid requests per RPC name (``Service.Method``), naming state the fixture created."""
    table = frame_to_table(did_table())
    roles = causal_pb2.EffectRoles(outcome="y", treatment="treated", unit="geo", time="day")
    quick = causal_pb2.EstimationOptions(refutation_simulations=3, seed=1, skip_refutation=True)
    date_range = common_pb2.DateRange(start_date=_date(START), end_date=_date(END))
    pulled = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    ingest = ingestion_pb2.IngestRequest(
        org_id=ORG, source=common_pb2.DATA_SOURCE_META, batch_id="fuzz-b", json_rows=META_LINES,
        account=ingestion_pb2.AccountInfo(account_id="act_1", timezone="America/Los_Angeles",
                                          currency_code="USD", country_code="US",
                                          geo_keys={"California": "CA"}),
    )  # fmt: skip
    ingest.pulled_at.FromDatetime(pulled)
    experiment = marketing_data_pb2.CausalExperiment(
        org_id=ORG, experiment_id="fuzz-new", start_date=_date(dt.date(2024, 11, 10)),
        end_date=_date(dt.date(2024, 11, 20)), randomization_unit=common_pb2.RANDOMIZATION_UNIT_GEO,
        treatment_share=0.3,
    )  # fmt: skip
    factor = ingestion_pb2.ExternalFactorSeries(
        name="macro", type=1, source="fred", unit="index", geo="US",
        values=[ingestion_pb2.DatedValue(date=_date(START + dt.timedelta(days=i)), value=100 + i)
                for i in range(10)],
    )  # fmt: skip
    records = synthetic_records(ORG, 16, campaigns=2, geos=2)
    time_range = common_pb2.TimeRange()
    time_range.start_time.FromDatetime(dt.datetime(2024, 10, 1, tzinfo=dt.UTC))
    time_range.end_time.FromDatetime(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    return {
        "IngestionService.Ingest": [ingest],
        "IngestionService.CreateExperiment": [
            ingestion_pb2.CreateExperimentRequest(experiment=experiment)
        ],
        "IngestionService.GetExperiment": [
            ingestion_pb2.GetExperimentRequest(org_id=ORG, experiment_id=EXPERIMENT)
        ],
        "IngestionService.ListExperiments": [
            ingestion_pb2.ListExperimentsRequest(org_id=ORG, page_size=2)
        ],
        "IngestionService.RecordExperimentResult": [
            ingestion_pb2.RecordExperimentResultRequest(
                org_id=ORG,
                experiment_id=EXPERIMENT,
                result=marketing_data_pb2.ExperimentResult(
                    lift_absolute=100.0,
                    lift_std_error=10.0,
                    spend_baseline=50.0,
                    spend_delta=-50.0,
                    treatment_unit_count=3,
                    control_unit_count=3,
                ),
            )
        ],
        "IngestionService.GetCalendar": [
            ingestion_pb2.GetCalendarRequest(
                country="US", start_date=_date(START), end_date=_date(END), org_id=ORG
            )
        ],
        "IngestionService.RegisterExternalFactor": [
            ingestion_pb2.RegisterExternalFactorRequest(org_id=ORG, series=factor)
        ],
        "IngestionService.ListExternalFactors": [
            ingestion_pb2.ListExternalFactorsRequest(org_id=ORG, include_values=True),
            ingestion_pb2.ListExternalFactorsRequest(org_id=ORG, page_size=1),
        ],
        "MemoryService.Write": [memory_pb2.WriteRequest(org_id=ORG, records=records)],
        "MemoryService.WriteStream": [memory_pb2.WriteStreamRequest(org_id=ORG, records=records)],
        "MemoryService.Scan": [
            memory_pb2.ScanRequest(org_id=ORG, time_range=time_range, batch_size=50),
            memory_pb2.ScanRequest(
                org_id=ORG, campaign_ids=[campaign_id], experiment_id=EXPERIMENT
            ),
        ],
        "MemoryService.Search": [
            memory_pb2.SearchRequest(org_id=ORG, text="black friday retargeting", k=5),
            memory_pb2.SearchRequest(
                org_id=ORG,
                vector=memory_pb2.Vector(values=[0.1] * 384),
                k=3,
                include_records=True,
                filter=memory_pb2.SearchFilter(time_range=time_range, campaign_ids=[campaign_id]),
            ),
        ],
        "MemoryService.QueryGraph": [
            memory_pb2.QueryGraphRequest(org_id=ORG, node_id=node_id, depth=2)
        ],
        # Deletions go to an org of their own (none of its own records: NOT_FOUND past the
        # door): mutations keep the org, and the other RPCs' fuzzing needs ORG's records.
        "MemoryService.DeleteRecords": [
            memory_pb2.DeleteRecordsRequest(org_id=DELETE_ORG, account_id="act-1", dry_run=True),
            memory_pb2.DeleteRecordsRequest(org_id=DELETE_ORG, source=1, date_range=date_range),
        ],
        "MemoryService.ListAccounts": [memory_pb2.ListAccountsRequest(org_id=ORG, page_size=1)],
        "IngestionService.ForgetBatches": [ingestion_pb2.ForgetBatchesRequest(org_id=DELETE_ORG)],
        "CausalService.DeleteAnalyses": [
            causal_pb2.DeleteAnalysesRequest(org_id=ORG, analysis_ids=[analysis_id], dry_run=True),
            causal_pb2.DeleteAnalysesRequest(org_id=DELETE_ORG, all=True),
        ],
        "IngestionService.DeleteExperiments": [
            ingestion_pb2.DeleteExperimentsRequest(org_id=DELETE_ORG, experiment_ids=["e1"]),
            ingestion_pb2.DeleteExperimentsRequest(org_id=DELETE_ORG, all=True, dry_run=True),
        ],
        "IngestionService.DeleteExternalFactors": [
            ingestion_pb2.DeleteExternalFactorsRequest(org_id=DELETE_ORG, names=["cci"]),
            ingestion_pb2.DeleteExternalFactorsRequest(org_id=DELETE_ORG, all=True),
        ],
        "MemoryService.ListConceptualSpaces": [
            memory_pb2.ListConceptualSpacesRequest(org_id=ORG),
            memory_pb2.ListConceptualSpacesRequest(org_id=ORG, page_size=2),
        ],
        "CausalService.EstimateEffect": [
            causal_pb2.EstimateEffectRequest(
                org_id=ORG,
                method=causal_pb2.ESTIMATION_METHOD_DID,
                table=table,
                roles=roles,
                options=quick,
            ),
            causal_pb2.EstimateEffectRequest(
                org_id=ORG,
                method=causal_pb2.ESTIMATION_METHOD_AUTO,
                options=quick,
                roles=causal_pb2.EffectRoles(outcome="revenue", treatment="spend"),
                records=causal_pb2.RecordQuery(
                    date_range=date_range, aggregation=causal_pb2.AGGREGATION_LEVEL_GEO_DAY
                ),
            ),
        ],
        "CausalService.BuildGraph": [
            causal_pb2.BuildGraphRequest(org_id=ORG, treatment="spend", outcome="revenue"),
        ],
        "CausalService.GetAnalysis": [
            causal_pb2.GetAnalysisRequest(org_id=ORG, analysis_id=analysis_id)
        ],
        "CausalService.AnalyzeAttribution": [
            causal_pb2.AnalyzeAttributionRequest(org_id=ORG, date_range=date_range)
        ],
        "CausalService.Counterfactual": [
            causal_pb2.CounterfactualRequest(org_id=ORG, analysis_id=analysis_id)
        ],
        # The fixture holds no first-party outcome and no attribution analysis: these reach
        # the peers and come back NOT_FOUND (an analysis id the org does not have) or
        # FAILED_PRECONDITION (an effect estimate is not an attribution; no outcome history).
        "SurfacingService.DesignExperiment": [
            surfacing_pb2.DesignExperimentRequest(
                org_id=ORG,
                channel="meta_prospecting",
                analysis_id="fuzz-missing",
                duration_days=[14],
            ),
            surfacing_pb2.DesignExperimentRequest(
                org_id=ORG, channel="meta_prospecting", minimum_detectable_lift=0.05
            ),
        ],
        "SurfacingService.PredictPerformance": [
            surfacing_pb2.PredictPerformanceRequest(
                org_id=ORG, analysis_id="fuzz-missing", horizon_days=14
            ),
            surfacing_pb2.PredictPerformanceRequest(org_id=ORG, horizon_days=7),
        ],
        "SurfacingService.OptimizeBudget": [
            surfacing_pb2.OptimizeBudgetRequest(
                org_id=ORG,
                analysis_id=analysis_id,
                total_budget=common_pb2.Money(amount=1e4, currency_code="USD"),
                constraints=[
                    surfacing_pb2.ChannelConstraint(channel="meta_prospecting", max_ratio=2.0)
                ],
            ),
            surfacing_pb2.OptimizeBudgetRequest(
                org_id=ORG, analysis_id="fuzz-missing", target_marginal_roas=1.0
            ),
        ],
        "SurfacingService.Recommend": [
            surfacing_pb2.RecommendRequest(org_id=ORG, analysis_ids=[analysis_id]),
            surfacing_pb2.RecommendRequest(org_id=ORG, analysis_ids=["fuzz-missing"]),
        ],
        # The fixture's analysis is an effect estimate: nothing to compare, OK.
        "SurfacingService.CheckAnalysisData": [
            surfacing_pb2.CheckAnalysisDataRequest(org_id=ORG, analysis_id=analysis_id),
            surfacing_pb2.CheckAnalysisDataRequest(org_id=ORG, analysis_id="fuzz-missing"),
        ],
    }


def org_only(rpc: Rpc) -> list[Message]:
    """For an RPC with no hand-written seed: its request naming the org, if it has one."""
    cls = rpc.method.input_type._concrete_class
    return [cls(org_id=ORG)] if "org_id" in rpc.method.input_type.fields_by_name else [cls()]


def stream_of(messages: list[Message]) -> Iterator[Message]:
    yield from messages
