"""The surfacing service's peers: the causal service (stored analyses), memory (an org's
history, as its sums per day × geo) and ingestion's experiment registry (saving a design;
reading the tests that ran, whose windows are not business as usual).

Each failed call is read once, here: the peer could not answer → UNAVAILABLE with a retry
hint (:func:`mesh.runtime.peers.unavailable`); the peer refused *this service's* credentials
→ FAILED_PRECONDITION (not the caller's fault, not retryable as is); anything that is the
caller's doing (an analysis id of another org, an experiment id taken) → the caller's error,
naming the caller's field; the peer shed the call for load → RESOURCE_EXHAUSTED PEER_BUSY with
the peer's RetryInfo delay (:func:`_raise_peer_failure`), never INTERNAL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.exceptions import DependencyUnavailable, FieldViolation
from mesh.runtime.frames import records_to_frame
from mesh.runtime.money import FxSeries, fx_series, in_one_currency, mixed_pairs
from mesh.runtime.peers import Peer, exhausted, external_factor_series, unavailable, unreachable
from mesh.runtime.protoconv import campaign_sources, set_date_range
from mesh.runtime.scan_days import scan_local_days, within_local_days
from mesh.runtime.status import decode_status
from mesh.runtime.tables import table_to_frame
from mesh.runtime.usual_days import ExperimentsOverlap, registered_tests
from surfacing_svc.errors import (
    AnalysisNotFound,
    CausalUnavailable,
    ExperimentExists,
    InsufficientData,
    InvalidRequest,
    MemoryUnavailable,
    NotAnAttribution,
    PeerRefused,
    RegistryUnavailable,
)
from surfacing_svc.history import frame_from_sums
from surfacing_svc.usual_spend import RegisteredTests

__all__ = ["AnalysisReader", "HistoryReader", "OrgCalendar", "RegistryWriter"]

# Failed effect estimates Recommend reads at most (newest first).
MAX_EVIDENCE = 20
_REFUSED = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})


def _refused(peer: str, call: str, code: grpc.StatusCode) -> PeerRefused:
    return PeerRefused(
        f"the {peer} refused the surfacing service's {call} ({code.name}): check the service's "
        "credentials for its peers",
        subject=peer,
    )


class AnalysisReader(Peer["causal_grpc.CausalServiceAsyncStub"]):  # AsyncStub is .pyi-only
    """Reads stored analyses from the causal service."""

    def __init__(self, target: str, *, timeout: float = 30.0) -> None:
        super().__init__(target, causal_grpc.CausalServiceStub, timeout=timeout)

    async def get(
        self, org_id: str, analysis_id: str, *, field: str = "analysis_id",
        timeout: float | None = None,
    ) -> causal_pb.Analysis:  # fmt: skip
        """One analysis of ``org_id``; NOT_FOUND (another org's id too) → AnalysisNotFound."""
        request = causal_pb.GetAnalysisRequest(org_id=org_id, analysis_id=analysis_id)
        try:
            reply = await self.stub().GetAnalysis(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is grpc.StatusCode.NOT_FOUND:
                raise AnalysisNotFound(
                    f"analysis {analysis_id!r} not found in org {org_id!r}",
                    resource_type="liftos.v1.Analysis",
                    resource_name=f"orgs/{org_id}/analyses/{analysis_id}",
                ) from None
            self._raise_peer_failure(error, "GetAnalysis")
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidRequest(
                    decode_status(error).message or "invalid analysis id", field=field
                ) from None
            raise
        return reply.analysis

    async def counterfactual(
        self, org_id: str, analysis_id: str, spends: Sequence[tuple[str, float]], *,
        level: float, timeout: float | None = None,
    ) -> causal_pb.CounterfactualResponse:  # fmt: skip
        """The analysis's Counterfactual of ``spends`` (channel, spend over the analysis
        window) at interval ``level``; a failure is raised as the causal service gave it."""
        request = causal_pb.CounterfactualRequest(
            org_id=org_id, analysis_id=analysis_id, alpha=1.0 - level,
            changes=[causal_pb.SpendChange(channel=c, spend=v) for c, v in spends],
        )  # fmt: skip
        return await self.stub().Counterfactual(request, timeout=self.within(timeout))

    def _raise_peer_failure(self, error: grpc.aio.AioRpcError, call: str) -> None:
        """The causal service could not answer (UNAVAILABLE with a retry hint), refused this
        service's credentials, or shed the call (:func:`_raise_peer_failure`): raised as such; any
        other failure is left to the caller."""
        _raise_peer_failure(error, call, CausalUnavailable, "causal service", self.target,
                            dependency="causal")  # fmt: skip

    async def _list(
        self, org_id: str, kind: causal_pb.AnalysisKind.ValueType, page_size: int,
        timeout: float | None,
    ) -> causal_pb.ListAnalysesResponse:  # fmt: skip
        request = causal_pb.ListAnalysesRequest(org_id=org_id, kind=kind, page_size=page_size)
        try:
            return await self.stub().ListAnalyses(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            self._raise_peer_failure(error, "ListAnalyses")
            raise

    async def failed_effects(
        self, org_id: str, *, timeout: float | None = None
    ) -> list[causal_pb.Analysis]:
        """The org's effect estimates that failed their checks (newest first, at most
        :data:`MAX_EVIDENCE`), read whole and side by side: their request says which channel
        they were about."""
        reply = await self._list(org_id, causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE, 100, timeout)
        failed = [a.analysis_id for a in reply.analyses if not a.supported][:MAX_EVIDENCE]
        return list(await asyncio.gather(*(self.get(org_id, a, timeout=timeout) for a in failed)))

    async def latest_products(
        self, org_id: str, *, timeout: float | None = None
    ) -> causal_pb.Analysis | None:
        """The org's newest product analysis (AnalyzeProducts), or None."""
        reply = await self._list(org_id, causal_pb.ANALYSIS_KIND_PRODUCTS, 1, timeout)
        if not reply.analyses:
            return None
        return await self.get(org_id, reply.analyses[0].analysis_id, timeout=timeout)

    async def attributions(
        self, org_id: str, *, pages: int = 3, timeout: float | None = None
    ) -> list[causal_pb.AnalysisSummary]:
        """The org's attribution analyses, newest first: up to ``pages`` pages of 100 (what
        Recommend reads to find the analysis before the one it plans on)."""
        out: list[causal_pb.AnalysisSummary] = []
        token = ""
        for _ in range(pages):
            request = causal_pb.ListAnalysesRequest(
                org_id=org_id, kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, page_size=100,
                page_token=token,
            )  # fmt: skip
            try:
                reply = await self.stub().ListAnalyses(request, timeout=self.within(timeout))
            except grpc.aio.AioRpcError as error:
                self._raise_peer_failure(error, "ListAnalyses")
                raise
            out += reply.analyses
            token = reply.next_page_token
            if not token:
                break
        return out

    async def latest_attribution(self, org_id: str, *, timeout: float | None = None) -> str:
        """The id of the org's newest attribution analysis."""
        reply = await self._list(org_id, causal_pb.ANALYSIS_KIND_ATTRIBUTION, 1, timeout)
        if not reply.analyses:
            raise NotAnAttribution(
                f"org {org_id!r} has no attribution analysis: run AnalyzeAttribution first, or "
                "name one in analysis_ids",
                subject="analysis",
                reason="NO_ATTRIBUTION_ANALYSIS",
            )
        return reply.analyses[0].analysis_id


class HistoryReader(Peer["memory_grpc.MemoryServiceAsyncStub"]):
    """Reads an org's history as memory's sums per day × geo × source × channel
    (AggregateRecords): a year of campaign × geo × day records is a few thousand rows there."""

    def __init__(self, target: str, *, timeout: float = 120.0) -> None:
        super().__init__(target, memory_grpc.MemoryServiceStub, timeout=timeout)

    async def sums_frame(
        self, org_id: str, *, start: dt.date | None, end: dt.date | None,
        fx: Sequence[FxSeries] = (), timeout: float | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """The org's sums for local dates in [start, end] (open ends: all), one row per
        day × geo × source × channel (:func:`surfacing_svc.history.frame_from_sums`), every
        amount in the orders' currency: a channel in another one converted with the org's
        registered rates ``fx``, as attribution converts it (:mod:`mesh.runtime.money`;
        MixedCurrencies when it cannot be)."""
        request = memory_pb.AggregateRecordsRequest(org_id=org_id, sources=campaign_sources())
        set_date_range(request.date_range, start, end)
        try:
            reply = await self.stub().AggregateRecords(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            self._raise_peer_failure(error, "AggregateRecords")
            if error.code() is grpc.StatusCode.NOT_FOUND:
                raise InsufficientData(
                    f"org {org_id!r} has no records in memory", subject="history"
                ) from None
            raise
        currencies = table_to_frame(reply.currencies)
        mixed = mixed_pairs(currencies)
        # A channel whose accounts bill in two currencies: its records, converted one by one,
        # as attribution converts them (R31-F2).
        records = (await self._records(org_id, start, end, sorted({c for _, c in mixed}),
                                       timeout) if mixed else None)  # fmt: skip
        money = in_one_currency(table_to_frame(reply.geo_days), pd.DataFrame(), None,
                                currencies, fx, records=records)  # fmt: skip
        frame = frame_from_sums(money.geo_days)
        if frame.empty:
            raise InsufficientData(
                f"org {org_id!r} has no records in the history window", subject="history"
            )
        return frame

    def _raise_peer_failure(self, error: grpc.aio.AioRpcError, call: str) -> None:
        """The memory service could not answer, refused this service's credentials, or shed
        the call: raised as such (:func:`_raise_peer_failure`); any other failure is left to
        the caller."""
        _raise_peer_failure(error, call, MemoryUnavailable, "memory service", self.target,
                            dependency="memory")  # fmt: skip

    async def _records(
        self, org_id: str, start: dt.date | None, end: dt.date | None, channels: list[str],
        timeout: float | None,
    ) -> pd.DataFrame | None:  # fmt: skip
        """The channels' records with local dates in [start, end] (the Scan's UTC range is a
        day wider on each side), as a frame; None when there are none."""
        request = memory_pb.ScanRequest(org_id=org_id, sources=campaign_sources(),
                                        channels=channels, batch_size=5000)  # fmt: skip
        scan_local_days(request, start, end)
        parts = []
        try:
            async for batch in self.stub().Scan(request, timeout=self.within(timeout)):
                if batch.records:
                    parts.append(await asyncio.to_thread(records_to_frame, batch.records,
                                                         groups=("core",)))  # fmt: skip
        except grpc.aio.AioRpcError as error:
            self._raise_peer_failure(error, "Scan")
            raise
        if not parts:
            return None
        return await asyncio.to_thread(within_local_days, parts, start, end)


@dataclass(slots=True)
class OrgCalendar:
    """What an org registered about its calendar (ingestion's external factors)."""

    promotions: dict[dt.date, float] = field(default_factory=dict)  # day -> magnitude
    seasons: dict[str, dict[dt.date, float]] = field(default_factory=dict)  # name -> day -> value
    fx: list[FxSeries] = field(default_factory=list)  # exchange rates (type FX_RATE)
    # Registered experiments that ran or run (their windows are not business as usual).
    tests: RegisteredTests = field(default_factory=RegisteredTests)


# A registry violation of the experiment's window is the design's start_date (the window is
# start_date + the duration), not the experiment_id the caller passes as ``field`` (R7-F3).
_REGISTRY_FIELDS = {
    "experiment.start_date": "start_date",
    "experiment.end_date": "start_date",
}


class RegistryWriter(Peer["ingestion_grpc.IngestionServiceAsyncStub"]):
    """Ingestion: registers designed experiments in its experiment registry, and reads the
    org's registered calendar — promotions and seasons (PredictPerformance)."""

    def __init__(self, target: str, *, timeout: float = 30.0) -> None:
        super().__init__(target, ingestion_grpc.IngestionServiceStub, timeout=timeout)

    async def create(
        self, experiment: md_pb.CausalExperiment, *, field: str, timeout: float | None = None
    ) -> md_pb.CausalExperiment:
        """The stored experiment; ALREADY_EXISTS → ExperimentExists naming ``field``."""
        request = ingestion_pb.CreateExperimentRequest(experiment=experiment)
        try:
            reply = await self.stub().CreateExperiment(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is grpc.StatusCode.ALREADY_EXISTS:
                raise ExperimentExists(
                    f"the registry already holds experiment {experiment.experiment_id!r} in "
                    f"org {experiment.org_id!r}: choose another experiment_id",
                    resource_type="liftos.v1.CausalExperiment",
                    resource_name=f"orgs/{experiment.org_id}/experiments/{experiment.experiment_id}",
                ) from None
            _raise_peer_failure(error, "CreateExperiment", RegistryUnavailable,
                                "ingestion service", self.target, dependency="ingestion",
                                what="experiment registry")  # fmt: skip
            if (
                code is grpc.StatusCode.FAILED_PRECONDITION
                and decode_status(error).reason == ExperimentsOverlap.default_reason
            ):
                # R26-F3: the registry refuses a test of the channel on the days and geos of
                # another; its words name both, the geos, the days and the fix.
                raise ExperimentsOverlap(
                    f"the registry refused saving the design: {error.details()}",
                    subject=f"experiments/{experiment.experiment_id}",
                ) from None
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                status = decode_status(error)
                violations = [
                    FieldViolation(
                        _REGISTRY_FIELDS.get(f, field),
                        f"the registry refused {f or 'the experiment'}: {d}",
                    )
                    for f, d in status.field_violations
                ]
                raise InvalidRequest(
                    status.message or "the registry refused the experiment",
                    violations=violations or [FieldViolation(field, status.message)],
                ) from None
            raise
        return reply.experiment

    async def calendar(self, org_id: str, *, timeout: float | None = None) -> OrgCalendar:
        """The org's registered calendar, read in one pass over its external factors: its
        promotions (type PROMOTION: per day, the largest magnitude over its series, any geo)
        and its seasons (type SEASON: per series name, per day, the value of largest
        magnitude over its geos), and its exchange rates (type FX_RATE), which convert the
        history's money; and its registered tests (:meth:`tests`). Empty when it registered
        none."""
        out = OrgCalendar(tests=await self.tests(org_id, timeout=timeout))
        try:
            async for series in external_factor_series(self, org_id, timeout=timeout):
                promotion = series.type == md_pb.EXTERNAL_FACTOR_TYPE_PROMOTION
                if series.type == md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE:
                    out.fx.extend(fx_series([(
                        series.name, series.geo,
                        [dt.date(v.date.year, v.date.month, v.date.day) for v in series.values],
                        [v.value for v in series.values],
                    )]))  # fmt: skip
                    continue
                if promotion:
                    days = out.promotions
                elif series.type == md_pb.EXTERNAL_FACTOR_TYPE_SEASON:
                    days = out.seasons.setdefault(series.name, {})
                else:
                    continue
                for v in series.values:
                    day = dt.date(v.date.year, v.date.month, v.date.day)
                    if day not in days or abs(v.value) > abs(days[day]):
                        days[day] = abs(v.value) if promotion else v.value
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is grpc.StatusCode.NOT_FOUND:
                return out
            _raise_peer_failure(error, "ListExternalFactors", RegistryUnavailable,
                                "ingestion service", self.target, dependency="ingestion",
                                what="external factors")  # fmt: skip
            raise
        return out

    async def tests(self, org_id: str, *, timeout: float | None = None) -> RegisteredTests:
        """The org's experiments that ran or run — RUNNING, COMPLETED, or any with a recorded
        result — with the channel they treat and their treatment window (ListExperiments):
        a plan keeps those windows out of the channel's business-as-usual spend. A registry
        that cannot be read is said in the answer's ``unread``, not raised: a plan stands
        without it, and says so."""
        return await registered_tests(self, org_id, timeout=timeout)


def _raise_peer_failure(
    error: grpc.aio.AioRpcError, call: str, unavailable_as: type[DependencyUnavailable], peer: str,
    target: str, *, dependency: str, what: str = "",
) -> None:  # fmt: skip
    """A peer's failure every call reads alike: it could not answer (``unavailable_as``,
    UNAVAILABLE with a retry hint; ``what`` the peer serves, in its words), it refused this
    service's credentials (:func:`_refused`), or it shed the call for load (RESOURCE_EXHAUSTED
    PEER_BUSY with its RetryInfo delay, :func:`mesh.runtime.peers.exhausted`): raised as
    such; any other failure is left to the caller."""
    code = error.code()
    if unreachable(code, error):
        raise unavailable(
            unavailable_as, f"{peer} ({what})" if what else peer, target, code, call,
            dependency=dependency, then=f": {error.details()}",
        ) from None  # fmt: skip
    if code in _REFUSED:
        raise _refused(peer, call, code) from None
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        raise exhausted(error, caller="surfacing", peer=peer, target=target, call=call) from None
