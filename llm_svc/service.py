"""LlmService servicer: convert the request, read the analyses, call the domain, convert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

import grpc
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from llm_svc import convert
from llm_svc.chat import ChatBackend
from llm_svc.claims import ChangeAsk, Counterfactuals, read_claims
from llm_svc.context import build_context, build_prompts
from llm_svc.convert import questions
from llm_svc.evidence import Analysis
from llm_svc.explain import Delta, explain_grounded, explain_with_llm
from llm_svc.insights import rank_insights
from llm_svc.openai_chat import OpenAIChat
from llm_svc.peers import AnalysisReader, DataCheck
from llm_svc.settings import Endpoint, LlmSettings
from llm_svc.what_changed import Change, named_analyses

BackendFactory = Callable[[Endpoint, LlmSettings], ChatBackend]


def openai_backend(endpoint: Endpoint, settings: LlmSettings) -> ChatBackend:
    return OpenAIChat(
        endpoint,
        timeout_s=settings.timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        retries=settings.retries,
    )


class LlmService(llm_grpc.LlmServiceServicer):
    """BuildContext, Explain and CheckClaims over analyses read from the causal service (and,
    for Explain, what changed under the analysis's window since, from the surfacing service).

    The domain work (ranking, writing, judging claims) is pure Python taking well under a
    millisecond per sentence, so it runs on the event loop; only the peer calls await.
    """

    def __init__(
        self,
        analyses: AnalysisReader,
        settings: LlmSettings,
        backend_for: BackendFactory = openai_backend,
        data: DataCheck | None = None,
    ) -> None:
        self._analyses = analyses
        self._data = data
        self._settings = settings
        self._backend_for = backend_for

    async def BuildContext(
        self, request: llm_pb.BuildContextRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb.BuildContextResponse:
        q = questions.context_question(request)
        analyses = await self._analyses.get_many(q.org_id, q.analysis_ids)
        insights = rank_insights(analyses)
        document = build_context(analyses, insights)
        return convert.context_response(
            insights, document, build_prompts(document, q.audience, q.question)
        )

    async def Explain(  # type: ignore[override]
        self, request: llm_pb.ExplainRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[llm_pb.ExplainResponse]:
        q = questions.explain_question(request)
        use_llm = q.writer == "llm" or (
            q.writer == "default" and (q.llm_url or self._settings.configured)
        )
        endpoint = self._settings.endpoint(q.llm_url, q.llm_model) if use_llm else None
        # "what changed since an-…": the other analyses the question names, compared with this
        named = named_analyses(q.question, q.analysis_id)
        analysis, changes = await self._read_checked(
            q.org_id, q.analysis_id, named, context.time_remaining()
        )
        if endpoint is None:
            events = explain_grounded([analysis], q.audience, q.question, changes)
        else:
            backend = self._backend_for(endpoint, self._settings)

            async def ask(asks: Sequence[ChangeAsk]) -> Counterfactuals:
                # a sized spend change the LLM writes is judged as CheckClaims judges it
                return await self._analyses.counterfactuals(
                    q.org_id, asks, timeout=context.time_remaining()
                )

            events = explain_with_llm([analysis], q.audience, q.question, backend, changes, ask)
        async for event in events:
            if isinstance(event, Delta):
                yield convert.delta_response(event.text)
            else:
                yield convert.done_response(event)

    async def _read_checked(
        self, org_id: str, analysis_id: str, named: Sequence[str], remaining: float | None
    ) -> tuple[Analysis, tuple[Change, ...]]:
        """The analysis (and its comparisons with ``named``) with what changed under its window
        since it was made, both read at once; the check never fails the read."""
        check = (
            asyncio.ensure_future(self._data.changes(org_id, analysis_id, timeout=remaining))
            if self._data is not None
            else None
        )
        try:
            if named:
                analysis, changes = await self._analyses.compared(org_id, analysis_id, named)
            else:
                analysis, changes = await self._analyses.get(org_id, analysis_id), ()
        except BaseException:
            if check is not None:
                check.cancel()
            raise
        if check is None:
            return analysis, changes
        warnings, unchecked = await check
        return replace(analysis, data_changes=warnings, data_unchecked=unchecked), changes

    async def CheckClaims(
        self, request: llm_pb.CheckClaimsRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb.CheckClaimsResponse:
        q = questions.claims_question(request)
        analyses = await self._analyses.get_many(q.org_id, q.analysis_ids)
        # a spend change by part is judged on its analysis's own Counterfactual (R10-F2)
        read = read_claims(q.text, analyses)  # the claims read once, asked and judged
        asks = read.asks()
        found = (
            await self._analyses.counterfactuals(q.org_id, asks, timeout=context.time_remaining())
            if asks
            else None
        )
        return convert.claims_response(read.judged(found))
