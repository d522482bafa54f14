"""CausalService servicer: thin — convert, run the domain off the event loop, convert back.

AnalyzeAttribution and Counterfactual answer UNIMPLEMENTED until their issue lands.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc import convert
from causal_svc.analyses import AnalysisStore, StoredAnalysis, new_analysis_id
from causal_svc.client import MemoryReader, RegistryReader
from causal_svc.errors import InvalidSpec
from causal_svc.graph import analyze_graph
from causal_svc.pipeline import estimate_effect
from causal_svc.record_tables import analysis_table
from mesh.runtime.protoconv import require_org


class CausalService(causal_grpc.CausalServiceServicer):
    def __init__(
        self, analyses: AnalysisStore, memory: MemoryReader, registry: RegistryReader
    ) -> None:
        self._analyses = analyses
        self._memory = memory
        self._registry = registry

    async def _data(
        self, org: str, request: causal_pb.EstimateEffectRequest
    ) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """The analysis table: inline, or memory records aggregated as the query asks."""
        if request.WhichOneof("data") != "records":
            return convert.frame_from_request(request), ()
        query = convert.record_query_from_proto(request.records)
        records = await self._memory.scan_frame(
            org, start=query.start, end=query.end, sources=query.sources,
            campaign_ids=query.campaign_ids, channels=query.channels,
        )  # fmt: skip
        design = (
            await self._registry.design(org, query.experiment_id) if query.experiment_id else None
        )
        return await asyncio.to_thread(
            analysis_table,
            records,
            query.aggregation,
            experiment_id=query.experiment_id,
            design=design,
        )

    async def EstimateEffect(
        self, request: causal_pb.EstimateEffectRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.EstimateEffectResponse:
        org = require_org(request.org_id)
        method = convert.method_from_proto(request.method)
        spec = convert.spec_from_proto(request.roles, request.estimand)
        alpha = convert.alpha_from_proto(request.alpha)
        options = convert.options_from_proto(request, alpha)
        graph = convert.graph_from_proto(request.graph)
        frame, data_warnings = await self._data(org, request)
        result = await asyncio.to_thread(
            estimate_effect,
            frame,
            spec,
            method,
            options=options,
            graph=graph,
            randomised=request.randomized,
            refutation_simulations=request.options.refutation_simulations,
            skip_refutation=request.options.skip_refutation,
            data_warnings=data_warnings,
        )
        estimate = convert.estimate_to_proto(
            result.estimate, outcome=spec.outcome, treatment=spec.treatment, summary=result.summary
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
            org_id=org,
            kind=causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE,
            estimate=estimate,
            request=stored_request,
        )
        analysis.create_time.FromDatetime(now)
        await asyncio.to_thread(
            self._analyses.put,
            StoredAnalysis(org, analysis_id, "effect_estimate", now, analysis.SerializeToString()),
        )
        return causal_pb.EstimateEffectResponse(estimate=estimate, analysis_id=analysis_id)

    async def BuildGraph(
        self, request: causal_pb.BuildGraphRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.BuildGraphResponse:
        require_org(request.org_id)
        if not request.treatment:
            raise InvalidSpec("treatment node is required", field="treatment")
        if not request.outcome:
            raise InvalidSpec("outcome node is required", field="outcome")
        graph = convert.build_graph_from_request(request)
        treatment = graph.resolve(request.treatment, "treatment")
        outcome = graph.resolve(request.outcome, "outcome")
        analysis = await asyncio.to_thread(analyze_graph, graph, treatment, outcome)
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

    async def GetAnalysis(
        self, request: causal_pb.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.GetAnalysisResponse:
        org = require_org(request.org_id)
        if not request.analysis_id:
            raise InvalidSpec("analysis_id is required", field="analysis_id")
        stored = await asyncio.to_thread(self._analyses.get, org, request.analysis_id)
        return causal_pb.GetAnalysisResponse(analysis=causal_pb.Analysis.FromString(stored.payload))
