"""CausalService servicer: thin — convert (every field checked), run the domain in the compute
pool's worker processes, convert back.

Cancellation flows from grpc.aio: when the client cancels or its deadline passes, the handler's
task is cancelled, and the CancelledError reaching :meth:`ComputePool.run` stops the worker.
Peer calls (memory Scan, registry lookups) get the caller's remaining time as their timeout.

AnalyzeAttribution and Counterfactual answer UNIMPLEMENTED until their issue lands.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc import convert
from causal_svc.analyses import AnalysisStore, StoredAnalysis, new_analysis_id
from causal_svc.compute import ComputePool
from causal_svc.jobs import RecordsData, run_estimate, run_graph_analysis
from causal_svc.peers import MemoryReader, RegistryReader


def _remaining(context: grpc.aio.ServicerContext) -> float | None:
    """Seconds left before the caller's deadline (None: no deadline): peer calls get no more."""
    return context.time_remaining()


class CausalService(causal_grpc.CausalServiceServicer):
    def __init__(
        self,
        analyses: AnalysisStore,
        memory: MemoryReader,
        registry: RegistryReader,
        compute: ComputePool,
    ) -> None:
        self._analyses = analyses
        self._memory = memory
        self._registry = registry
        self._compute = compute

    async def _records(
        self, org: str, query: convert.RecordQuery, context: grpc.aio.ServicerContext
    ) -> RecordsData:
        """Memory records and the registry's design (read here; aggregated in a worker)."""
        records = await self._memory.scan_frame(
            org, start=query.start, end=query.end, sources=query.sources,
            campaign_ids=query.campaign_ids, channels=query.channels,
            timeout=_remaining(context),
        )  # fmt: skip
        design = (
            await self._registry.design(org, query.experiment_id, timeout=_remaining(context))
            if query.experiment_id
            else None
        )
        return RecordsData(records, query.aggregation, query.experiment_id, design)

    async def EstimateEffect(
        self, request: causal_pb.EstimateEffectRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.EstimateEffectResponse:
        question = convert.estimate_question(request)
        data = question.table
        if question.records is not None:
            data = await self._records(question.org_id, question.records, context)
        assert data is not None
        result = await self._compute.run(run_estimate, question.job, data)
        spec = result.spec  # a sharp RDD named no treatment: the one it was given
        estimate = convert.estimate_to_proto(
            result.estimate,
            outcome=spec.outcome,
            treatment=spec.treatment,
            summary=result.summary,
            naive=result.naive,
        )
        estimate.strategy.CopyFrom(convert.strategy_to_proto(result.strategy))
        analysis_id = new_analysis_id()
        now = dt.datetime.now(dt.UTC)
        stored_request = causal_pb.EstimateEffectRequest()
        stored_request.CopyFrom(request)
        if request.WhichOneof("data") == "table":
            stored_request.ClearField("table")  # the data stays with the caller; keep the question
        analysis = causal_pb.Analysis(
            analysis_id=analysis_id,
            org_id=question.org_id,
            kind=causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE,
            estimate=estimate,
            request=stored_request,
        )
        analysis.create_time.FromDatetime(now)
        await asyncio.to_thread(
            self._analyses.put,
            StoredAnalysis(
                question.org_id, analysis_id, "effect_estimate", now, analysis.SerializeToString()
            ),
        )
        return causal_pb.EstimateEffectResponse(estimate=estimate, analysis_id=analysis_id)

    async def BuildGraph(
        self, request: causal_pb.BuildGraphRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.BuildGraphResponse:
        graph, treatment, outcome = convert.build_graph_from_request(request)
        analysis = await self._compute.run(run_graph_analysis, graph, treatment, outcome)
        return convert.build_graph_response(graph, analysis)

    async def AnalyzeAttribution(  # type: ignore[override]
        self, request: causal_pb.AnalyzeAttributionRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Lands with the attribution issue; the interceptor answers UNIMPLEMENTED."""
        raise NotImplementedError

    async def Counterfactual(  # type: ignore[override]
        self, request: causal_pb.CounterfactualRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.CounterfactualResponse:
        """Lands with the attribution issue; the interceptor answers UNIMPLEMENTED."""
        raise NotImplementedError

    async def ListAnalyses(
        self, request: causal_pb.ListAnalysesRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.ListAnalysesResponse:
        question = convert.list_analyses_question(request)
        page, token = await asyncio.to_thread(
            self._analyses.page,
            question.org_id,
            kind=question.kind,
            size=question.page_size,
            token=question.page_token,
        )
        return causal_pb.ListAnalysesResponse(
            analyses=[convert.analysis_summary(stored.payload) for stored in page],
            next_page_token=token,
        )

    async def GetAnalysis(
        self, request: causal_pb.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.GetAnalysisResponse:
        org, analysis_id = convert.analysis_id_from_proto(request)
        stored = await asyncio.to_thread(self._analyses.get, org, analysis_id)
        return causal_pb.GetAnalysisResponse(analysis=causal_pb.Analysis.FromString(stored.payload))
