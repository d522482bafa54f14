"""IngestionService servicer: thin — convert, call the domain off the event loop, convert.

``Ingest`` handles one batch at a time as it arrives (nothing buffers the stream) and acks
it only after memory has answered that batch on the stream's ``MemoryService.WriteStream``,
i.e. after memory has made the records durable. The stream's working set of stored history
and its WriteStream live in an :class:`IngestStream` that dies with the stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pandas as pd
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from ingestion_svc import convert, pipeline
from ingestion_svc.calendar import build_calendar
from ingestion_svc.client import MemoryClient, MemoryWriter
from ingestion_svc.errors import BatchIdReused
from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.external_factors import FactorRegistry, FactorTable
from ingestion_svc.history import StreamHistory
from ingestion_svc.ledger import BatchLedger
from ingestion_svc.model import RawBatch
from mesh.runtime.protoconv import require_org
from mesh.wire import write_request_wire

_LOGGER = logging.getLogger(__name__)
# Batches staged (and sent to memory) ahead of their acks. Memory pauses now and then (an
# IVF index built or retrained, an index saved: 1-4 s at 50k / 200k / 1M records); with 2
# batches of slack those pauses stopped the whole stream (12% of a 1M-row ingest), with 16
# the stream keeps transforming through them and memory catches up (1M rows: 134 → 123 s).
PIPELINE_DEPTH = 16
_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000
# A record's timestamp is its local date's midnight in UTC: local day D starts between
# D 00:00 - 14h (UTC+14) and D 00:00 + 12h (UTC-12). An hour of margin each side.
_EARLIEST_OFFSET_US = 15 * _HOUR_US
_LATEST_OFFSET_US = 13 * _HOUR_US
# Factor values are loaded for the batch's days plus this margin, then reused.
_FACTOR_MARGIN_DAYS = 60
# How far an account's history scan reaches past the batch's days (see StreamHistory.plan).
SCAN_AHEAD_DAYS = 14
# History scans of one batch in flight at once: a batch of late rows needs one per window
# (dozens at the end of a 250k-row export), each waiting mostly on memory's busy writer.
CONCURRENT_SCANS = 8


@dataclass(frozen=True, slots=True)
class Staged:
    """A transformed batch waiting for its memory write (fingerprint "" = a replay)."""

    org_id: str
    batch_id: str
    fingerprint: str
    reply: ingestion_pb.IngestResponse
    # Records sent to memory on the stream's WriteStream (their ack is still to come).
    record_count: int


class IngestStream:
    """One Ingest stream: its history working set and its cached factor table.

    ``deadline`` (``time.monotonic()`` seconds) is the caller's, when it set one: history
    scans to memory do not outlive it."""

    def __init__(self, service: IngestionService, deadline: float | None = None) -> None:
        self.service = service
        self.deadline = deadline
        self.history = StreamHistory()
        self.factors: dict[str, FactorTable] = {}
        self._writer: MemoryWriter | None = None
        self._failed = False

    def writer(self) -> MemoryWriter:
        """The stream's WriteStream to memory, opened on its first batch."""
        if self._writer is None:
            self._writer = self.service.memory.writer()
        return self._writer

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close(failed=self._failed)

    async def stage(self, request: ingestion_pb.IngestRequest) -> Staged:
        """Everything up to the memory ack: validate, transform, encode the records and
        send them on the WriteStream.

        The work runs in two worker-thread hops, before and after the history scans: each
        hop hands the GIL back and forth with the event loop, which serves both gRPC
        streams meanwhile. The stream's history takes the batch's rows at once, so the next
        batch can be staged while this one is written; if the write fails the stream ends
        and its history with it.
        """
        now = dt.datetime.now(dt.UTC)
        front = await asyncio.to_thread(self._prepare, request, now)
        if isinstance(front, Staged):
            return front
        batch, fingerprint, prepared, windows = front
        await self._load_history(batch.org_id, batch.source, windows)
        result, request_bytes = await asyncio.to_thread(self._finish, batch, prepared, windows, now)
        reply = convert.ack(batch.batch_id, result)
        if len(result.records):
            # Sent now, acked in order by commit(): memory takes it in while it commits
            # the batches before it.
            await self.writer().send(request_bytes)
        return Staged(batch.org_id, batch.batch_id, fingerprint, reply, len(result.records))

    def _prepare(
        self, request: ingestion_pb.IngestRequest, now: dt.datetime
    ) -> Staged | tuple[RawBatch, str, pipeline.Prepared, pipeline.Windows]:
        """Validate and parse the batch; a batch id the ledger holds is replayed (or
        refused, when its rows differ); otherwise the prepared rows and the history
        windows they need."""
        s = self.service
        batch = convert.ingest_batch(request, now, s.settings.max_clock_skew)
        fingerprint = convert.fingerprint(request)
        seen = s.ledger.get(batch.org_id, batch.batch_id)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                raise BatchIdReused(
                    f"batch {batch.batch_id!r} was acked for different rows; use a new batch_id",
                    resource_type="liftos.v1.IngestRequest",
                    resource_name=f"orgs/{batch.org_id}/batches/{batch.batch_id}",
                )
            return Staged(batch.org_id, batch.batch_id, "", convert.replayed(seen.ack), 0)
        prepared = pipeline.prepare(batch, s.settings)
        return batch, fingerprint, prepared, prepared.windows()

    def _finish(
        self,
        batch: RawBatch,
        prepared: pipeline.Prepared,
        windows: pipeline.Windows,
        now: dt.datetime,
    ) -> tuple[pipeline.BatchResult, bytes]:
        """Transform the batch against its loaded history and encode its records."""
        s = self.service
        lo = min((w[0] for w in windows.values()), default=0)
        hi = max((w[1] for w in windows.values()), default=0)
        experiments = s.registry.all_active(batch.org_id, _date(lo), _date(hi))
        factors = self._factors(batch.org_id, lo, hi)
        result = pipeline.finish(prepared, self.history, experiments, factors, now, s.settings)
        # Encoded column by column, never as messages: building 1,000 records field by
        # field and serialising them was a quarter of this service's CPU.
        request_bytes = write_request_wire(batch.org_id, result.records)
        self.history.add(result.history_rows)
        return result, request_bytes

    async def commit(
        self, staged: Staged, before: asyncio.Task[Any] | None
    ) -> ingestion_pb.IngestResponse:
        """Wait for memory's answer to the batch (after the batch before it), record the
        ack, return it."""
        try:
            if before is not None:
                await before  # in order; a failed predecessor fails this batch too
            if not staged.fingerprint:  # replayed from the ledger
                return staged.reply
            if staged.record_count:
                await self.writer().ack()
        except BaseException:
            self._failed = True
            raise
        s = self.service
        await asyncio.to_thread(
            s.ledger.put,
            staged.org_id,
            staged.batch_id,
            staged.fingerprint,
            staged.reply.SerializeToString(),
        )
        return staged.reply

    async def _load_history(self, org_id: str, source: str, windows: pipeline.Windows) -> None:
        """Scan memory for the days the batch's campaigns need that the stream has not seen
        (see :meth:`StreamHistory.plan`)."""
        today = (dt.datetime.now(dt.UTC).date() - dt.date(1970, 1, 1)).days
        accounts, late = self.history.plan(windows, SCAN_AHEAD_DAYS, today + 1)
        scans: list[tuple[str, int, int, list[tuple[str, str]]]] = [
            (a, lo, hi, []) for a, lo, hi in accounts
        ]
        scans += late
        if not scans:
            return
        slots = asyncio.Semaphore(CONCURRENT_SCANS)

        async def load(
            account_key: str, first: int, last: int, series: list[tuple[str, str]]
        ) -> pd.DataFrame:
            # Only the instants local midnights of these days can fall on: widening by a
            # whole day each side re-read the neighbouring days (half of all written
            # records came back through these scans).
            async with slots:
                records = await self.service.memory.scan(
                    org_id,
                    convert.SOURCE_ENUM[source],
                    first * _DAY_US - _EARLIEST_OFFSET_US,
                    last * _DAY_US + _LATEST_OFFSET_US + 1,
                    sorted({c for c, _ in series}),
                    sorted({g for _, g in series}),
                    timeout=self._time_left(),
                )
            return await asyncio.to_thread(convert.history_rows, records, account_key, first, last)

        loaded = await asyncio.gather(*(load(*scan) for scan in scans))
        for (account_key, first, last, series), rows in zip(scans, loaded, strict=True):
            self.history.add(rows)
            self.history.mark_loaded(account_key, first, last, series)

    def _time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - time.monotonic(), 0.001)

    def _factors(self, org_id: str, lo: int, hi: int) -> FactorTable:
        registry = self.service.factors
        generation = registry.generation(org_id)
        cached = self.factors.get(org_id)
        if generation == 0:
            return FactorTable.empty()
        if cached is None or cached.generation != generation or not cached.covers(lo, hi):
            cached = registry.table(org_id, lo - _FACTOR_MARGIN_DAYS, hi + _FACTOR_MARGIN_DAYS)
            self.factors[org_id] = cached
        return cached


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


class IngestionService(ingestion_grpc.IngestionServiceServicer):
    """Ingest, the experiment registry, the calendar and the external-factor registry."""

    def __init__(
        self,
        registry: ExperimentRegistry,
        factors: FactorRegistry,
        ledger: BatchLedger,
        memory: MemoryClient,
        settings: pipeline.Settings | None = None,
    ) -> None:
        self.registry = registry
        self.factors = factors
        self.ledger = ledger
        self.memory = memory
        self.settings = settings or pipeline.Settings()

    async def Ingest(
        self,
        request_iterator: AsyncIterator[ingestion_pb.IngestRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ingestion_pb.IngestResponse]:
        """Batches are staged as they arrive and written in order; batch k+1 is transformed
        while batch k is being written, and each ack leaves as soon as its write returns
        (a client that waits for each ack before sending the next batch is served too)."""
        remaining = context.time_remaining()
        stream = IngestStream(
            self, None if remaining is None else time.monotonic() + float(remaining)
        )
        queue: asyncio.Queue[asyncio.Task[Any] | BaseException | None] = asyncio.Queue()
        depth = asyncio.Semaphore(PIPELINE_DEPTH)

        async def produce() -> None:
            before: asyncio.Task[Any] | None = None
            try:
                async for request in request_iterator:
                    await depth.acquire()
                    staged = await stream.stage(request)
                    before = asyncio.create_task(stream.commit(staged, before))
                    before.add_done_callback(lambda _: depth.release())
                    await queue.put(before)
            except Exception as exc:  # delivered after the acks queued before it
                await queue.put(exc)
                return
            await queue.put(None)

        producer = asyncio.create_task(produce())
        pending: list[asyncio.Task[Any]] = []
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                pending.append(item)
                yield await item
                pending.remove(item)
        finally:
            producer.cancel()
            for task in pending:
                task.cancel()
            await stream.close()

    async def GetCalendar(
        self, request: ingestion_pb.GetCalendarRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetCalendarResponse:
        country, start, end, subdivision = convert.calendar_request(request)
        days = await asyncio.to_thread(build_calendar, country, start, end, subdivision=subdivision)
        out = [convert.calendar_day_to_proto(d) for d in days]
        if request.org_id:
            org = require_org(request.org_id)
            epoch = dt.date(1970, 1, 1)
            table = await asyncio.to_thread(
                self.factors.table, org, (start - epoch).days, (end - epoch).days
            )
            convert.add_market_conditions(out, table, country.upper(), subdivision or "")
        return ingestion_pb.GetCalendarResponse(days=out)

    async def RegisterExternalFactor(
        self, request: ingestion_pb.RegisterExternalFactorRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.RegisterExternalFactorResponse:
        org, series = convert.factor_series_from_proto(request)
        count = await asyncio.to_thread(self.factors.register, org, series)
        return ingestion_pb.RegisterExternalFactorResponse(value_count=count)

    async def ListExternalFactors(
        self, request: ingestion_pb.ListExternalFactorsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ListExternalFactorsResponse:
        org = require_org(request.org_id)
        series = await asyncio.to_thread(
            self.factors.list, org, include_values=request.include_values
        )
        return ingestion_pb.ListExternalFactorsResponse(
            series=[convert.factor_series_to_proto(s) for s in series]
        )

    async def CreateExperiment(
        self, request: ingestion_pb.CreateExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.CreateExperimentResponse:
        now = dt.datetime.now(dt.UTC)
        experiment, stored = convert.experiment_from_proto(request.experiment, now)
        await asyncio.to_thread(self.registry.create, experiment)
        return ingestion_pb.CreateExperimentResponse(experiment=stored)

    async def GetExperiment(
        self, request: ingestion_pb.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetExperimentResponse:
        org = require_org(request.org_id)
        experiment = await asyncio.to_thread(self.registry.get, org, request.experiment_id)
        return ingestion_pb.GetExperimentResponse(
            experiment=convert.experiment_to_proto(experiment)
        )

    async def ListExperiments(
        self, request: ingestion_pb.ListExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ListExperimentsResponse:
        org, page_size, page_token, active_on = convert.list_experiments_request(request)
        page, token = await asyncio.to_thread(
            self.registry.list,
            org,
            page_size=page_size,
            page_token=page_token,
            active_on=active_on,
        )
        return ingestion_pb.ListExperimentsResponse(
            experiments=[convert.experiment_to_proto(e) for e in page], next_page_token=token
        )
