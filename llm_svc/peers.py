"""The LLM service's peers: the causal service's GetAnalysis, analyses as domain objects (and two
attribution analyses as their comparison, for a question naming another analysis), and its
Counterfactual of the spend changes a checked claim is about; the surfacing service's
CheckAnalysisData, what changed under an analysis's window since it was made."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from llm_svc.claims import ChangeAsk, ChangeInterval, Counterfactuals
from llm_svc.convert import analysis_from_proto
from llm_svc.errors import (
    AnalysisNotFound,
    CausalRefused,
    CausalUnavailable,
    InvalidRequest,
    NotComparable,
)
from llm_svc.evidence import Analysis
from llm_svc.what_changed import Change
from mesh.runtime.analysis_compare import compare
from mesh.runtime.peers import Peer, unavailable, unreachable

_REFUSED = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}


class AnalysisReader(Peer["causal_grpc.CausalServiceAsyncStub"]):  # quoted: AsyncStub is .pyi-only
    """Reads stored analyses from the causal service."""

    def __init__(self, target: str, *, timeout: float = 10.0) -> None:
        super().__init__(target, causal_grpc.CausalServiceStub, timeout=timeout)

    async def get(
        self,
        org_id: str,
        analysis_id: str,
        *,
        field: str = "analysis_id",
        timeout: float | None = None,
    ) -> Analysis:
        """One analysis of ``org_id``. The causal service keys analyses by org, so another
        org's id is NOT_FOUND here too (AnalysisNotFound), exactly as GetAnalysis answers it."""
        return analysis_from_proto(
            await self.get_message(org_id, analysis_id, field=field, timeout=timeout)
        )

    async def get_message(
        self,
        org_id: str,
        analysis_id: str,
        *,
        field: str = "analysis_id",
        timeout: float | None = None,
    ) -> causal_pb.Analysis:
        """One stored analysis as the causal service sends it (errors as :meth:`get`)."""
        request = causal_pb.GetAnalysisRequest(org_id=org_id, analysis_id=analysis_id)
        try:
            reply = await self.stub().GetAnalysis(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is grpc.StatusCode.NOT_FOUND:
                named = "" if field == "analysis_id" else f" (named in {field})"
                raise AnalysisNotFound(
                    f"analysis {analysis_id!r}{named} not found in org {org_id!r}",
                    resource_type="liftos.v1.Analysis",
                    resource_name=f"orgs/{org_id}/analyses/{analysis_id}",
                ) from None
            if unreachable(code, error):
                raise unavailable(
                    CausalUnavailable, "causal service", self.target, code, "GetAnalysis",
                    dependency="causal",
                ) from None  # fmt: skip
            if code in _REFUSED:
                raise CausalRefused(
                    f"the causal service refused the llm service's GetAnalysis ({code.name})",
                    subject="causal",
                ) from None
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidRequest(
                    error.details() or "invalid analysis id", field=field
                ) from None
            raise
        return reply.analysis

    async def get_many(self, org_id: str, analysis_ids: Sequence[str]) -> list[Analysis]:
        """Several analyses, fetched concurrently, in the order asked."""
        return list(
            await asyncio.gather(
                *(
                    self.get(org_id, a, field=f"analysis_ids[{i}]")
                    for i, a in enumerate(analysis_ids)
                )
            )
        )

    async def compared(
        self, org_id: str, analysis_id: str, named: Sequence[str]
    ) -> tuple[Analysis, tuple[Change, ...]]:
        """``analysis_id`` and its comparison with each analysis ``named`` in the question,
        read concurrently and scoped to ``org_id`` as :meth:`get` is (a named id that is not
        this org's is NOT_FOUND naming ``question``). Both of a pair must be attributions
        (NotComparable naming the field of the one that is not)."""
        own, *others = await asyncio.gather(
            self.get_message(org_id, analysis_id),
            *(self.get_message(org_id, a, field="question") for a in named),
        )
        for message, field in ((own, "analysis_id"), *((o, "question") for o in others)):
            if message.WhichOneof("result") != "attribution":
                raise NotComparable(
                    f"analysis {message.analysis_id!r} ({field}) is not an attribution: what "
                    "changed is answered between two attribution analyses",
                    subject=field,
                )
        explained = analysis_from_proto(own)
        changes = []
        for other in others:
            # the earlier analysis first (the later when both carry no time: the named one)
            first, second = sorted((other, own), key=lambda m: m.create_time.ToNanoseconds())
            changes.append(
                Change(
                    explained if first is own else analysis_from_proto(first),
                    explained if second is own else analysis_from_proto(second),
                    compare(first, second),
                )
            )
        return explained, tuple(changes)

    async def counterfactuals(
        self, org_id: str, asks: Sequence[ChangeAsk], *, timeout: float | None = None
    ) -> Counterfactuals:
        """Each change's Counterfactual over its analysis's window at the analysis's own level,
        asked concurrently. A call that fails gives why (a note for the claim's reason) and
        never fails the caller: a claim is then judged as without it."""
        found = await asyncio.gather(*(self._counterfactual(org_id, a, timeout) for a in asks))
        return {a.key: r for a, r in zip(asks, found, strict=True)}

    async def _counterfactual(
        self, org_id: str, ask: ChangeAsk, timeout: float | None
    ) -> ChangeInterval | str:
        analysis_id, channel, multiplier = ask.key
        request = causal_pb.CounterfactualRequest(
            org_id=org_id, analysis_id=analysis_id, alpha=1.0 - ask.level / 100,
            changes=[causal_pb.SpendChange(channel=channel, multiplier=multiplier)],
        )  # fmt: skip
        try:
            reply = await self.stub().Counterfactual(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            # UNAVAILABLE, PERMISSION_DENIED (a causal service older than the llm's scope), a
            # model not stored (FAILED_PRECONDITION): the claim keeps the curve's reading
            detail = error.details() or ""
            return f"the causal service answered {error.code().name}" + (
                f": {detail}" if detail else ""
            )
        d = reply.delta
        return ChangeInterval(d.estimate, d.lower, d.upper, round(d.level * 100) or ask.level)


# The explanation's first words wait for the data check, which is advice ("not checked" is
# said when it fails): a surfacing service that accepts calls but never answers delays them by
# at most CHECK_CAP_S, or CHECK_SHARE of the caller's remaining time if less (s19 V2-F9: 10 s
# before, on every call). A healthy check answers in milliseconds (docs/performance.md).
CHECK_CAP_S = 2.0
CHECK_SHARE = 0.25


class DataCheck(Peer["surfacing_grpc.SurfacingServiceAsyncStub"]):  # quoted: .pyi-only
    """Asks the surfacing service whether the data under an analysis's window changed since
    it was made (the analysis's figures describe the data as it was)."""

    def __init__(self, target: str, *, timeout: float = CHECK_CAP_S) -> None:
        super().__init__(target, surfacing_grpc.SurfacingServiceStub, timeout=timeout)

    def within(self, remaining: float | None) -> float:
        """The check's timeout: its cap, or a share of the caller's remaining time if less."""
        cap = super().within(remaining)
        return cap if remaining is None else min(cap, CHECK_SHARE * remaining)

    async def changes(
        self, org_id: str, analysis_id: str, *, timeout: float | None = None
    ) -> tuple[tuple[str, ...], str]:
        """(what changed, a line per kind of change; why it was not checked, or ""). A call
        that fails never fails the caller: the check is advice, and its failure is said."""
        request = surfacing_pb.CheckAnalysisDataRequest(org_id=org_id, analysis_id=analysis_id)
        limit = self.within(timeout)
        try:
            reply = await self.stub().CheckAnalysisData(request, timeout=limit)
        except grpc.aio.AioRpcError as error:
            # UNAVAILABLE (no surfacing service), PERMISSION_DENIED or UNIMPLEMENTED (one older
            # than this llm service), DEADLINE_EXCEEDED: the explanation says it was not checked
            # (the code alone: a connection error's details are a paragraph of addresses)
            if error.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                return (), f"the surfacing service did not answer within {limit:.2g} s"
            return (), f"the surfacing service answered {error.code().name}"
        return tuple(reply.warnings), ""
