"""The ingestion service's peers: the memory service (grpc.aio, generated stubs), as the
:class:`ingestion_svc.stream.MemoryPort` an Ingest stream writes and reads through.

Memory being unreachable (``mesh.runtime.peers.unreachable``: connection refused, the server
gone mid-call, a deadline passed) is ``MemoryUnavailable`` (UNAVAILABLE to our caller, with a
retry delay): the batch was not acked and may be retried with the same batch id. Memory
refusing this service's key (``mesh.runtime.peers.refused``) is FAILED_PRECONDITION
PEER_REFUSED naming the call. Memory overloaded (RESOURCE_EXHAUSTED with a RetryInfo) is
UNAVAILABLE as unreachable is, quoting memory's reason and words (its server full, or the
org's share of it held by the org's other calls). Memory refusing a call for any other reason (its own status, e.g.
INVALID_ARGUMENT) is FAILED_PRECONDITION MEMORY_REFUSED with memory's code and words: not
retryable as is, and not this server's crash (R14-F4); memory's full or read-only disk is its
own RESOURCE_EXHAUSTED STORAGE_FULL / STORAGE_READ_ONLY / FILE_SIZE_LIMIT, passed on with its words. What is left — memory ending a
write stream without its answers, naming a record it was not sent — is a bug on one side of
the contract and surfaces as INTERNAL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Collection, Sequence
from typing import Any

import grpc
import pandas as pd
from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc import convert
from ingestion_svc.convert.products import (
    PRODUCT_SOURCE_ENUM,
    product_write_request,
    stored_units,
)
from ingestion_svc.errors import MemoryUnavailable
from ingestion_svc.pipeline import SentRecords
from ingestion_svc.raw_batch import RawBatch
from mesh.runtime.exceptions import FailedPrecondition, shown
from mesh.runtime.frames.wire import write_request_wire
from mesh.runtime.peers import Peer, refused, unavailable, unreachable
from mesh.runtime.protoconv import MAX_DATE, MIN_DATE
from mesh.runtime.status import decode_status
from mesh.runtime.storage import StorageFailure

__all__ = ["MemoryClient", "WriteCounts"]

_LOGGER = logging.getLogger(__name__)
_STORAGE_REASONS = frozenset({"STORAGE_FULL", "STORAGE_READ_ONLY", "FILE_SIZE_LIMIT"})
SCAN_BATCH = 5000
_FIRST_US = int(dt.datetime.combine(MIN_DATE, dt.time(), dt.UTC).timestamp()) * 1_000_000
_LAST_US = (
    int(dt.datetime.combine(MAX_DATE + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()) - 1
) * 1_000_000
_MEMORY = memory_pb.DESCRIPTOR.services_by_name["MemoryService"]
_WRITE_STREAM_METHOD = f"/{_MEMORY.full_name}/{_MEMORY.methods_by_name['WriteStream'].name}"


class WriteCounts:
    """Memory's answer to one Write message: its counts, and the records it refused
    (``refused``: (index in the message, field path, reason), one per refused record —
    each index is in ``refused_record_indexes``; one memory did not list one by one reads
    the reason its summary gives)."""

    __slots__ = ("inserted", "refused", "replaced", "stale", "unchanged")

    def __init__(self, reply: memory_pb.WriteStreamResponse) -> None:
        self.inserted = reply.inserted_count
        self.replaced = reply.replaced_count
        self.unchanged = reply.unchanged_count
        self.stale = reply.stale_count
        self.refused: list[tuple[int, str, str]] = (
            _refused(reply) if reply.refused_record_indexes else []
        )


def _refused(reply: memory_pb.WriteStreamResponse) -> list[tuple[int, str, str]]:
    listed = {r.record_index: (r.field, r.reason) for r in reply.rejections}
    summaries = sorted(
        reply.rejection_summaries, key=lambda s: (s.first.record_index, s.last_record_index)
    )

    def unlisted(index: int) -> tuple[str, str]:
        # memory counted it with others rather than list it: the summary whose range holds
        # it says which field and why (a guess where ranges overlap, named as one)
        for s in summaries:
            if s.first.record_index <= index <= s.last_record_index:
                return s.field, f"{s.first.reason} (or as {s.record_count:,} others)"
        return "$", "refused (not listed by memory)"

    return [(i, *(listed.get(i) or unlisted(i))) for i in reply.refused_record_indexes]


class MemoryWriter:
    """One ``MemoryService.WriteStream``: batches go out as soon as they are ready
    (:meth:`send`) and their answers are read in the same order (:meth:`ack`), so memory
    receives batch k+1 while it commits batch k.

    A batch is a serialised WriteStreamRequest (ingestion encodes it column by column with
    ``mesh.runtime.frames.wire``; no serializer runs). Memory unreachable, or an answer not
    back within the client's timeout, is ``MemoryUnavailable``; memory refusing the stream
    is FAILED_PRECONDITION (see the module's docstring).
    """

    def __init__(self, client: MemoryClient, call: Any) -> None:
        self._client = client
        self._call = call
        self._unacked = 0

    def _failure(self, code: grpc.StatusCode, details: str | None, error: Any = None) -> Exception:
        return self._client.failure(code, details, error, "WriteStream")

    async def send(self, request: bytes) -> None:
        try:
            await self._call.write(request)
            self._unacked += 1
        except grpc.aio.AioRpcError as error:
            raise self._failure(error.code(), error.details(), error) from None
        except asyncio.InvalidStateError:  # the call ended before this batch went out
            code = await self._call.code()
            raise self._failure(code, await self._call.details()) from None

    async def ack(self) -> WriteCounts:
        """The answer to the oldest batch sent and not yet acked: it is durable."""
        try:
            reply = await asyncio.wait_for(self._call.read(), self._client.timeout)
        except grpc.aio.AioRpcError as error:
            raise self._failure(error.code(), error.details(), error) from None
        except TimeoutError:
            self._call.cancel()
            raise MemoryUnavailable(
                f"memory service at {self._client.target} did not answer a write within "
                f"{self._client.timeout:.0f} s; the batch was not acked — retry it with the "
                "same batch_id",
                dependency="memory",
                retry_after_s=1.0,
            ) from None
        if reply is grpc.aio.EOF:
            raise RuntimeError("memory ended a WriteStream before answering every batch")
        self._unacked -= 1
        return WriteCounts(reply)

    async def close(self, *, failed: bool) -> None:
        """End the stream: half-close and let memory finish; cancel it after a failure or
        with batches still unanswered (the Ingest stream was cancelled: they were not
        acked, and a retry re-sends them)."""
        if failed or self._unacked:
            self._call.cancel()
            return
        try:
            await self._call.done_writing()
            await asyncio.wait_for(self._call.code(), self._client.timeout)
        except (grpc.aio.AioRpcError, TimeoutError, asyncio.InvalidStateError):
            self._call.cancel()


# Reconnect quickly after memory restarts, so retries find it.
_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


class MemoryClient(Peer[Any]):  # Any: the aio stub (the generated .pyi types the sync one)
    """The memory service, reached on a channel opened on the server's event loop."""

    def __init__(self, target: str, *, timeout: float = 120.0) -> None:
        super().__init__(target, memory_grpc.MemoryServiceStub, timeout=timeout, options=_RECONNECT)
        self._write_stream: Any = None  # WriteStream taking serialised requests

    def _opened(self, channel: grpc.aio.Channel) -> None:
        self._write_stream = channel.stream_stream(
            _WRITE_STREAM_METHOD,
            request_serializer=None,  # already bytes (see MemoryWriter)
            response_deserializer=memory_pb.WriteStreamResponse.FromString,
        )

    def _unavailable(self, code: grpc.StatusCode, what: str) -> MemoryUnavailable:
        return unavailable(
            MemoryUnavailable, "memory service", self.target, code, what, dependency="memory",
            then="; the batch was not acked — retry it with the same batch_id",
        )  # fmt: skip

    def _refused(self, code: grpc.StatusCode, details: str | None, what: str) -> Exception | None:
        return refused(code, details, caller="ingestion", peer="memory service", call=what,
                       dependency="memory")  # fmt: skip

    def writer(self) -> MemoryWriter:
        """A WriteStream to send batches on (one per Ingest stream)."""
        self.stub()
        return MemoryWriter(self, self._write_stream(timeout=None))

    @staticmethod
    def encode(org_id: str, records: pd.DataFrame) -> bytes:
        """A serialised WriteStreamRequest, encoded column by column (``mesh.runtime.frames.wire``) without
        building the messages: the cheap way to the same bytes."""
        return write_request_wire(org_id, records)

    async def scan_series(
        self,
        org_id: str,
        source: str,
        start_us: int,
        end_us: int,
        campaign_ids: Sequence[str],
        geos: Sequence[str],
        *,
        timeout: float | None,
    ) -> list[md_pb.CausalMarketingData]:
        """:meth:`scan` of a source named as the domain names it (``"meta"``)."""
        source_enum = convert.SOURCE_ENUM[source]
        return await self.scan(
            org_id, source_enum, start_us, end_us, campaign_ids, geos, timeout=timeout
        )

    async def stored_versions(
        self, org_id: str, sent: SentRecords, *, timeout: float | None
    ) -> dict[str, int]:
        """The version memory holds of each record of ``sent`` it holds (id → version)."""
        stored = await self.scan_series(
            org_id, sent.source, sent.start_us, sent.end_us, sent.campaign_ids, sent.geos,
            timeout=timeout,
        )  # fmt: skip
        wanted = set(sent.ids)
        return {r.id: r.version for r in stored if r.id in wanted}

    @staticmethod
    def encode_products(batch: RawBatch, records: pd.DataFrame, now: dt.datetime) -> bytes:
        """Product records as one WriteStreamRequest (built message by message: they carry
        the product dimension, which the column encoder does not)."""
        return product_write_request(batch, records, now)

    async def scan_products(
        self,
        org_id: str,
        source: str,
        start_us: int | None,
        end_us: int | None,
        *,
        timeout: float | None,
    ) -> list[tuple[str, int, str, tuple[str, str, str, str], int, str]]:
        """(natural key, version, raw sha, line identity, UTC day start µs, geo) of a product
        source's stored records in [start, end) (None: open)."""
        stored = await self.scan(
            org_id,
            PRODUCT_SOURCE_ENUM[source],
            _FIRST_US if start_us is None else start_us,
            _LAST_US if end_us is None else end_us,
            timeout=timeout,
        )
        return stored_units(stored)

    @staticmethod
    def history_rows(
        stored: Sequence[md_pb.CausalMarketingData], account_key: str, first_day: int, last_day: int
    ) -> pd.DataFrame:
        return convert.history_rows(stored, account_key, first_day, last_day)

    async def scan(
        self,
        org_id: str,
        source: int,
        start_us: int,
        end_us: int,
        campaign_ids: Sequence[str] = (),
        geos: Sequence[str] = (),
        *,
        timeout: float | None = None,
    ) -> list[md_pb.CausalMarketingData]:
        """An org's records of one source (and campaigns, and geos) with timestamps in
        [start, end), within ``timeout`` seconds when given (else the client's own).

        Campaigns and geos memory has never stored (new ones) have no history: the scan
        asks memory to let them match nothing (``allow_unknown_values``) rather than refuse
        the filter.
        """
        # Memory answers for instants in the supported range only; a history window of a
        # day near its ends (1900-01-01 needs the 28 days before it) is cut to it.
        start_us, end_us = max(start_us, _FIRST_US), min(end_us, _LAST_US)
        if start_us >= end_us:
            return []
        request = memory_pb.ScanRequest(
            org_id=org_id,
            sources=[common_pb.DataSource.ValueType(source)],
            campaign_ids=campaign_ids,
            geos=geos,
            batch_size=SCAN_BATCH,
            time_range=common_pb.TimeRange(
                start_time=_timestamp(start_us), end_time=_timestamp(end_us)
            ),
            allow_unknown_values=True,
        )
        try:
            out: list[md_pb.CausalMarketingData] = []
            async for reply in self.stub().Scan(request, timeout=self.within(timeout)):
                out.extend(reply.records)
            return out
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return []  # the org has no records yet
            raise self.failure(error.code(), error.details(), error, "Scan") from None

    async def held(
        self, org_id: str, record_ids: Collection[str], *, timeout: float | None = None
    ) -> set[str]:
        """Which of ``record_ids`` memory holds a current record of: the org's whole Scan,
        read message by message (only the matching ids are kept), as memory can look a
        record up by its id nowhere else."""
        if not record_ids:
            return set()
        request = memory_pb.ScanRequest(org_id=org_id, batch_size=SCAN_BATCH)
        found: set[str] = set()
        try:
            async for reply in self.stub().Scan(request, timeout=self.within(timeout)):
                found.update(r.id for r in reply.records if r.id in record_ids)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code == grpc.StatusCode.NOT_FOUND:
                return set()  # the org has no records left
            then = (
                "; the org's batches were forgotten, but the versions logged of its deleted "
                "records were not: call ForgetBatches again (liftos memory delete … --yes)"
            )
            if unreachable(code, error) or code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise unavailable(
                    MemoryUnavailable, "memory service", self.target, code, "Scan",
                    dependency="memory", then=then,
                ) from None  # fmt: skip
            raise self._refused(code, error.details(), "Scan") or FailedPrecondition(
                f"the memory service refused ingestion's Scan ({code.name}: "
                f"{shown(error.details() or '', 300)}){then}",
                subject="memory",
                reason="MEMORY_REFUSED",
            ) from None
        return found

    def failure(
        self, code: grpc.StatusCode, details: str | None, error: Any, call: str
    ) -> Exception:
        """A failed call to memory, for our caller: unreachable or overloaded
        (RESOURCE_EXHAUSTED with a RetryInfo), retryable UNAVAILABLE; this service's key refused,
        PEER_REFUSED; anything else memory's refusal, FAILED_PRECONDITION MEMORY_REFUSED
        naming memory, its code and (clipped) words. The batch was not acked."""
        status = (
            decode_status(error)
            if error is not None and code == grpc.StatusCode.RESOURCE_EXHAUSTED
            else None
        )
        overloaded = status is not None and status.retry_after_s is not None
        if unreachable(code, error):
            return self._unavailable(code, call)
        if overloaded:
            assert status is not None and status.retry_after_s is not None
            # memory's words say whose load it was: the org's own share of memory (its other
            # streams and calls, R46-F2) is not the same wait as a full server
            return MemoryUnavailable(
                f"the memory service at {self.target} is busy and refused ingestion's {call} "
                f"({status.reason}: {shown(details or '', 300)}); the batch was not acked — "
                "retry it with the same batch_id",
                dependency="memory",
                retry_after_s=max(1.0, status.retry_after_s),
            )
        if denied := self._refused(code, details, call):
            return denied
        full = status.reason if status is not None else ""
        if full in _STORAGE_REASONS:
            # memory's disk: nothing was stored, the same batch can be sent again once memory
            # has room; the caller sees memory's own code and reason, not a refusal of the rows
            return StorageFailure(
                f"{shown(details or '', 300)} (ingestion's {call}); the batch was not acked — "
                "send it again with the same batch_id",
                reason=full,
            )
        _LOGGER.warning("memory refused a %s: %s %s", call, code.name, details)
        return FailedPrecondition(
            f"the memory service refused ingestion's {call} ({code.name}: "
            f"{shown(details or '', 300)}); the batch was not acked",
            subject="memory",
            reason="MEMORY_REFUSED",
        )


def _timestamp(us: int) -> timestamp_pb2.Timestamp:
    seconds, rest = divmod(us, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=rest * 1000)
