"""The causal service's clients: memory (Scan records into DataFrames) and the experiment
registry (ingestion's GetExperiment).

Batches are converted as they arrive, so the records never sit in memory twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Generic, TypeVar

import grpc
import pandas as pd
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.errors import InsufficientData, InvalidSpec, MemoryUnavailable
from causal_svc.record_tables import ExperimentDesign
from mesh.runtime.channels import aio_channel
from mesh.runtime.exceptions import DependencyUnavailable, FieldViolation
from mesh.runtime.frames import records_to_frame

SCAN_BATCH = 5000
StubT = TypeVar("StubT")
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def _within(limit: float, remaining: float | None) -> float:
    """A peer call's timeout: this client's own limit, or the caller's remaining time if less."""
    return limit if remaining is None else max(0.0, min(limit, remaining))


class _Peer(Generic[StubT]):
    """A lazily opened aio channel to one peer service, and its stub."""

    def __init__(
        self, target: str, make_stub: Callable[[grpc.aio.Channel], StubT], timeout: float
    ) -> None:
        self.target = target
        self.timeout = timeout
        self._make_stub = make_stub
        self._channel: grpc.aio.Channel | None = None
        self._stub: StubT | None = None

    def _peer(self) -> StubT:
        if self._stub is None:
            self._channel = aio_channel(self.target)
            self._stub = self._make_stub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None


class MemoryReader(_Peer["memory_grpc.MemoryServiceAsyncStub"]):  # quoted: AsyncStub is .pyi-only
    """Scans the memory service's records into DataFrames."""

    def __init__(self, target: str, *, timeout: float = 600.0) -> None:
        super().__init__(target, memory_grpc.MemoryServiceStub, timeout)

    async def scan_frame(
        self,
        org_id: str,
        *,
        start: dt.date | None,
        end: dt.date | None,
        sources: list[int],
        campaign_ids: list[str],
        channels: list[str],
        timeout: float | None = None,
    ) -> pd.DataFrame:
        """Every matching record as one frame (core + external-factor columns).

        ``timeout`` is the caller's remaining time, when it has a deadline: the Scan gets no
        more than that (nor more than this reader's own limit).
        """
        request = memory_pb.ScanRequest(
            org_id=org_id,
            sources=sources,  # type: ignore[arg-type]  # enum values as ints
            campaign_ids=campaign_ids,
            channels=channels,
            batch_size=SCAN_BATCH,
        )
        # Timestamps are UTC days; local dates can sit a day either side, filtered exactly below.
        if start is not None:
            request.time_range.start_time.FromDatetime(
                dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            )
        if end is not None:
            request.time_range.end_time.FromDatetime(
                dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
            )
        parts: list[pd.DataFrame] = []
        try:
            async for batch in self._peer().Scan(request, timeout=_within(self.timeout, timeout)):
                if batch.records:
                    parts.append(records_to_frame(batch.records, groups=("core", "external")))
        except grpc.aio.AioRpcError as error:
            if error.code() in _UNREACHABLE:
                raise MemoryUnavailable(
                    f"memory service at {self.target} unavailable: {error.details()}",
                    dependency="memory",
                ) from None
            if error.code() is grpc.StatusCode.NOT_FOUND:
                raise InsufficientData(
                    f"org {org_id!r} has no records in memory", subject="records"
                ) from None
            if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise _refused_query(error) from None
            raise
        if not parts:
            raise InsufficientData("no records match the query", subject="records")
        frame = pd.concat(parts, ignore_index=True)
        local = pd.to_datetime(frame["local_date"])
        keep = pd.Series(True, index=frame.index)
        if start is not None:
            keep &= local >= pd.Timestamp(start)
        if end is not None:
            keep &= local <= pd.Timestamp(end)
        return frame.loc[keep].reset_index(drop=True)


def _refused_query(error: grpc.aio.AioRpcError) -> InvalidSpec:
    """Memory's refusal of the scan a RecordQuery became (a campaign or channel the org has
    no records of, …), as the caller's mistake: its fields are the query's, under
    ``records.``."""
    status = rpc_status.from_call(error)
    violations, reason = [], None
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason or None
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [
                FieldViolation(f"records.{v.field}" if v.field else "records", v.description)
                for v in bad.field_violations
            ]
    message = error.details() or "memory refused the records query"
    return InvalidSpec(
        message, violations=violations or [FieldViolation("records", message)], reason=reason
    )


class RegistryReader(_Peer["ingestion_grpc.IngestionServiceAsyncStub"]):
    """Reads an experiment's design from the ingestion service's registry."""

    def __init__(self, target: str, *, timeout: float = 30.0) -> None:
        super().__init__(target, ingestion_grpc.IngestionServiceStub, timeout)

    async def design(
        self, org_id: str, experiment_id: str, *, timeout: float | None = None
    ) -> ExperimentDesign | None:
        """The registered design, or None when the registry has no such experiment (``timeout``:
        the caller's remaining time, as for :meth:`MemoryReader.scan_frame`)."""
        request = ingestion_pb.GetExperimentRequest(org_id=org_id, experiment_id=experiment_id)
        try:
            reply = await self._peer().GetExperiment(
                request, timeout=_within(self.timeout, timeout)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() in _UNREACHABLE:
                raise DependencyUnavailable(
                    f"ingestion service (experiment registry) at {self.target} unavailable: {error.details()}",
                    dependency="ingestion",
                ) from None
            raise
        e = reply.experiment
        return ExperimentDesign(
            experiment_id=e.experiment_id,
            start=dt.date(e.start_date.year, e.start_date.month, e.start_date.day),
            end=dt.date(e.end_date.year, e.end_date.month, e.end_date.day),
            treatment_units=tuple(e.treatment_units),
            control_units=tuple(e.control_units),
        )
