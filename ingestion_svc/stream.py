"""One Ingest stream: ledger replay, the stream's history working set and factor cache, and its
write stream to memory.

A batch is *staged* — replayed from the ledger, or its batch id reserved in the ledger, then
validated, transformed against the history it needs and sent to memory — then *committed* in
order: once memory has answered it (the records are durable) its ack goes into the ledger in
place of the reservation. Batch k+1 is staged while batch k is being written. One stream
carries one org (memory's write stream does; so do the stream's history and product book).
Nothing here outlives the stream but the ledger, which replicas of the service share; memory
is reached through :class:`MemoryPort` (``ingestion_svc.peers.MemoryClient``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from ingestion_svc import batch_parts, pipeline, product_batch
from ingestion_svc.errors import BatchIdReused, InvalidIngestRequest
from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.external_factors import FactorRegistry, FactorTable
from ingestion_svc.geo_spellings import stored_spellings
from ingestion_svc.history import StreamHistory
from ingestion_svc.ledger import LEASE_S, BatchLedger, InFlight
from ingestion_svc.parse import ROW
from ingestion_svc.raw_batch import MAX_BATCH_ROWS, Account, RawBatch, Rejection
from ingestion_svc.rejection_list import clipped
from ingestion_svc.superseded import SupersededLog
from mesh.runtime.exceptions import DependencyUnavailable, shown
from mesh.runtime.frames.gc_pause import gc_paused

__all__ = [
    "PIPELINE_DEPTH",
    "IngestStream",
    "MemoryPort",
    "RecordWriter",
    "Staged",
    "StreamDeps",
    "WriteAnswer",
    "row_rejections",
]

# Batches staged (and sent to memory) ahead of their acks: enough slack for the stream to
# keep transforming through memory's pauses (an IVF index built or saved).
PIPELINE_DEPTH = 16
_DAY_US = 86_400_000_000
_T = TypeVar("_T")
_HOUR_US = 3_600_000_000
# A record's timestamp is its local date's midnight in UTC: local day D starts between
# D 00:00 - 14h (UTC+14) and D 00:00 + 12h (UTC-12). An hour of margin each side.
_EARLIEST_OFFSET_US = 15 * _HOUR_US
_LATEST_OFFSET_US = 13 * _HOUR_US
# How far apart one instant's local days can be in two zones (UTC-12 to UTC+14: 26 h).
_ZONE_SHIFT_DAYS = 2
# Factor values are loaded for the batch's days plus this margin, then reused.
_FACTOR_MARGIN_DAYS = 60
# How far an account's history scan reaches past the batch's days (see StreamHistory.plan).
SCAN_AHEAD_DAYS = 14
# A batch of late rows needs one history scan per window, each waiting mostly on memory.
CONCURRENT_SCANS = 8
# A batch whose id another call is writing (same rows) waits for that call's answer, asking
# the ledger again after this long, doubling up to the most.
_WAIT_FIRST_S, _WAIT_MOST_S = 0.02, 0.5
# ...at most this long (the holder's lease lapses well within it if its process died), and
# ending this long before the caller's deadline, so the caller hears why.
IN_FLIGHT_WAIT_S = 2 * LEASE_S
_DEADLINE_MARGIN_S = 1.0
_LOGGER = logging.getLogger(__name__)
_STREAMS = itertools.count()


class WriteAnswer(Protocol):
    """Memory's answer to one write message: the records it refused, as (index in the
    message, field path in the record, reason)."""

    @property
    def refused(self) -> Sequence[tuple[int, str, str]]: ...
    @property
    def stale(self) -> int:
        """Records memory did not store: it holds a later version of them."""
        ...

    @property
    def replaced(self) -> int:
        """Records that replaced an earlier version of their key."""
        ...

    @property
    def unchanged(self) -> int:
        """Records memory already held as sent (same version, same numbers)."""
        ...


class RecordWriter(Protocol):
    """One write stream to memory: messages answered in the order they were sent."""

    async def send(self, message: bytes) -> None: ...
    async def ack(self) -> WriteAnswer: ...
    async def close(self, *, failed: bool) -> None: ...


class MemoryPort(Protocol):
    """What a stream needs of the memory service."""

    def writer(self) -> RecordWriter:
        """A write stream, opened on the event loop."""
        ...

    def encode(self, org_id: str, records: pd.DataFrame) -> bytes:
        """The records as one write message (called on a worker thread)."""
        ...

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
    ) -> Sequence[Any]:
        """The stored records (opaque here) of a source's campaigns and geos in [start, end)."""
        ...

    async def stored_versions(
        self, org_id: str, sent: pipeline.SentRecords, *, timeout: float | None
    ) -> dict[str, int]:
        """The version memory holds of each record of ``sent`` it holds (id → version)."""
        ...

    def history_rows(
        self, stored: Sequence[Any], account_key: str, first_day: int, last_day: int
    ) -> pd.DataFrame:
        """Stored records → history rows of one account's days (called on a worker thread)."""
        ...

    async def scan_products(
        self,
        org_id: str,
        source: str,
        start_us: int | None,
        end_us: int | None,
        *,
        timeout: float | None,
    ) -> Sequence[product_batch.StoredUnit]:
        """(natural key, version, raw sha, line identity) of a product source's stored
        records in [start, end) (None: open)."""
        ...

    def encode_products(self, batch: RawBatch, records: pd.DataFrame, now: dt.datetime) -> bytes:
        """Product records (``ingestion_svc.product_batch``) as one write message."""
        ...


@dataclass(frozen=True, slots=True)
class StreamDeps:
    """What every Ingest stream of a server shares."""

    registry: ExperimentRegistry
    factors: FactorRegistry
    ledger: BatchLedger
    memory: MemoryPort
    settings: pipeline.Settings
    # versions the org's records had replaced (None: remembered per stream only)
    superseded: SupersededLog | None = None


@dataclass(frozen=True, slots=True)
class Staged:
    """A batch sent to memory and waiting for its answer, or one the ledger replays."""

    org_id: str
    batch_id: str
    fingerprint: str  # "" for a replay
    result: pipeline.BatchResult | None  # None for a replay
    replayed_ack: bytes  # the ack sent before, for a replay
    record_count: int  # records sent to memory on the stream's writer
    messages: int = 1  # write messages they went in (each answered once), when any
    # the batch row of each record sent, in order, and how many records each message held
    record_rows: np.ndarray | None = None
    part_sizes: tuple[int, ...] = ()
    # a media batch's records, to name the rows memory answered stale (overtaken meanwhile)
    sent: pipeline.SentRecords | None = None
    # the org's ledger generation the batch began in (BatchLedger.put; None: not checked)
    generation: int | None = None

    @property
    def replayed(self) -> bool:
        return not self.fingerprint


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A decoded batch whose id another call is writing with the same rows."""

    batch: RawBatch
    fingerprint: str
    held: InFlight

    def decoded(self) -> tuple[RawBatch, str]:
        return self.batch, self.fingerprint


class IngestStream:
    """One Ingest stream: its history working set, its cached factor table, its writer.

    ``deadline`` (``time.monotonic()`` seconds) is the caller's, when it set one: history
    scans to memory do not outlive it."""

    def __init__(self, deps: StreamDeps, deadline: float | None = None) -> None:
        self.deps = deps
        self.deadline = deadline
        self.history = StreamHistory(superseded=deps.superseded)
        self.products = product_batch.ProductBook()
        self.factors: dict[str, FactorTable] = {}
        self._writer: RecordWriter | None = None
        self._failed = False
        self._last: asyncio.Task[bytes | None] | None = None
        self._commits: set[asyncio.Task[bytes | None]] = set()
        self._org: str | None = None  # the org of the stream's first batch
        # the org's ledger generation the stream's history and product book were loaded in
        self._generation: int | None = None
        self._name = f"stream-{next(_STREAMS)}"
        # (org, batch id) reserved and not acked; added on worker threads, hence the lock
        self._reserved: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._closed = False

    @functools.cached_property
    def _owner(self) -> str:
        """Who holds the stream's batch ids in the ledger (see ``BatchLedger.reserve``)."""
        return self.deps.ledger.owner(self._name)

    def writer(self) -> RecordWriter:
        """The stream's write stream to memory, opened on its first batch with records."""
        if self._writer is None:
            self._writer = self.deps.memory.writer()
        return self._writer

    async def close(self) -> None:
        """Cancel the commits still waiting (their batches were not acked), release their
        batch ids, and end the write stream."""
        for task in list(self._commits):
            task.cancel()
        # Released here, not on a worker thread: this runs in a cancelled handler too, and
        # a retry of these batches waits until their ids are free. (A commit cancelled inside
        # its ledger write may still record its ack: that batch is durable, released or not.)
        with self._guard:
            self._closed = True
            reserved = sorted(self._reserved)
            self._reserved.clear()
        for org_id, batch_id in reserved:
            self._release(org_id, batch_id)
        if self._writer is not None:
            await self._writer.close(failed=self._failed)

    def _release(self, org_id: str, batch_id: str) -> None:
        """Release a reservation; when the ledger cannot be written (a full disk), say so and
        abandon it instead (``BatchLedger.abandon``), so its retry is not kept waiting."""
        try:
            self.deps.ledger.release(org_id, batch_id, self._owner)
        except Exception as error:  # every batch id of the stream is released, whatever fails
            _LOGGER.error(
                "could not release batch %r of org %r in ingestion's ledger (%s): a retry on "
                "this server takes it over; the release is retried until the ledger can be "
                "written",
                batch_id, org_id, error,
            )  # fmt: skip
            self.deps.ledger.abandon(org_id, batch_id, self._owner)

    async def stage(self, decode: Callable[[], tuple[RawBatch, str]], now: dt.datetime) -> Staged:
        """Everything up to memory's answer: replay, or transform the batch and send its
        records on the write stream.

        ``decode`` gives the batch and its fingerprint (the servicer's conversion of the
        request). The work runs in two worker-thread hops, before and after the history
        scans — decoding is in the first — so the event loop serves both gRPC streams
        meanwhile. The history takes the batch's rows at once, so the next batch can be
        staged while this one is written; if the write fails the stream ends and its
        history with it.
        """
        front = await asyncio.to_thread(_paused, self._prepare, decode)
        wait = _WAIT_FIRST_S
        until = time.monotonic() + IN_FLIGHT_WAIT_S
        if self.deadline is not None:  # answered before the caller gives up, not cancelled
            until = min(until, self.deadline - _DEADLINE_MARGIN_S)
        while isinstance(front, _Waiting):
            # another call is writing this batch id with the same rows: its ack will be
            # replayed, or it fails and releases the id to this call, or its owner is found
            # gone (``BatchLedger``); past ``until`` the caller is told who holds it
            if time.monotonic() >= until:
                raise _still_held(front)
            await asyncio.sleep(min(wait, max(until - time.monotonic(), 0.0)))
            wait = min(2 * wait, _WAIT_MOST_S)
            front = await asyncio.to_thread(_paused, self._prepare, front.decoded)
        if isinstance(front, Staged):
            return front
        batch, fingerprint, prepared, windows = front
        generation = self._generation  # read by this batch's _prepare (batches stage in turn)
        if isinstance(prepared, product_batch.ProductPrepared):
            return await self._stage_products(fingerprint, prepared, now, generation)
        assert windows is not None
        await self._load_history(batch.org_id, batch.source, batch.account, windows)
        result, message = await asyncio.to_thread(
            _paused, self._finish, batch, prepared, windows, now
        )
        if len(result.records):
            # sent now, answered in order in commit(): memory takes it in while it commits
            # the batches before it
            await self.writer().send(message)
        count = len(result.records)
        return Staged(
            batch.org_id, batch.batch_id, fingerprint, result, b"", count, 1,
            result.record_rows, (count,), pipeline.sent_records(batch, result), generation,
        )  # fmt: skip

    async def _stage_products(
        self,
        fingerprint: str,
        prepared: product_batch.ProductPrepared,
        now: dt.datetime,
        generation: int | None,
    ) -> Staged:
        """A product source's batch (``ingestion_svc.product_batch``): the stored records of
        its days not loaded yet come from memory, then dedupe, then the write."""
        batch = prepared.batch
        memory = self.deps.memory
        span = prepared.days()
        if span is not None:
            whole = batch.source == "shopify_products"  # the catalogue is not dated: all of it
            # an order's day is its account's zone's: a re-send under a corrected zone puts it
            # up to two days from where it is stored, which must be loaded to be found (R31 F4)
            reach = _ZONE_SHIFT_DAYS if batch.source == "shopify_orders" else 0
            days = (
                np.arange(span[0] - reach, span[1] + reach + 1)
                if not whole
                else np.array([span[0]])
            )
            missing = self.products.missing_days(batch.source, days)
            if missing is not None:
                first, last = (None, None) if whole else missing
                stored = await memory.scan_products(
                    batch.org_id,
                    batch.source,
                    None if first is None else first * _DAY_US - _EARLIEST_OFFSET_US,
                    None if last is None else last * _DAY_US + _LATEST_OFFSET_US + 1,
                    timeout=self._time_left(),
                )
                self.products.add_stored(batch.source, stored)
        if batch.source in product_batch.REPORT_SOURCES and self.products.catalogue_days():
            # report rows name items by variant id or SKU too: matched to the catalogue's
            # products (R9-F1), loaded once per stream
            stored = await memory.scan_products(
                batch.org_id, "shopify_products", None, None, timeout=self._time_left()
            )
            self.products.add_stored("shopify_products", stored)
        result = await asyncio.to_thread(product_batch.finish_products, prepared, self.products)
        count = len(result.records)
        # a batch of orders holds a record per line item, which may be more than memory takes
        # in one message: written in several, each holding whole rows (an order is never
        # stored in part, which the dedupe of a retry would take for the whole order)
        parts = product_batch.message_parts(result.records, MAX_BATCH_ROWS)
        for part in parts:
            message = await asyncio.to_thread(memory.encode_products, batch, part, now)
            await self.writer().send(message)
        rows = np.concatenate([p["row"].to_numpy(np.int64) for p in parts]) if parts else None
        return Staged(
            batch.org_id, batch.batch_id, fingerprint, result, b"", count, len(parts),
            rows, tuple(len(p) for p in parts), generation=generation,
        )  # fmt: skip

    def commit(
        self,
        staged: Staged,
        ack: bytes,
        amend: Callable[[list[Rejection], int | None, int], bytes] | None = None,
    ) -> asyncio.Task[bytes | None]:
        """Wait for memory's answer to the batch, after every batch staged before it, then
        record ``ack`` (the serialised reply) in the ledger. A batch fails when one before
        it did. Records memory refused become their rows' rejections: the ack recorded is
        then ``amend(rejections)``, which the task returns (None: ``ack`` as it was)."""
        # the commit needs the batch's identity, not its records: those are freed now
        slim = dataclasses.replace(staged, result=None)
        task = asyncio.create_task(self._commit(slim, ack, amend, self._last))
        self._last = task
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)
        return task

    async def _commit(
        self,
        staged: Staged,
        ack: bytes,
        amend: Callable[[list[Rejection], int | None, int], bytes] | None,
        before: asyncio.Task[bytes | None] | None,
    ) -> bytes | None:
        refused: list[Rejection] = []
        replaced = unchanged = 0
        try:
            if before is not None:
                await before
            if staged.replayed:
                return None
            if staged.record_count:
                start = stale = 0
                for k in range(staged.messages):
                    answer = await self.writer().ack()
                    stale += answer.stale
                    replaced += answer.replaced
                    unchanged += answer.unchanged
                    if answer.refused:
                        refused += row_rejections(staged, start, answer.refused)
                    start += staged.part_sizes[k] if k < len(staged.part_sizes) else 0
                if stale and staged.sent is not None and staged.record_rows is not None:
                    # ingestion sends no record it knows to be stale: another ingest stored a
                    # later pull of these keys since this batch read the history (R24-F2)
                    stored = await self.deps.memory.stored_versions(
                        staged.org_id, staged.sent, timeout=self._time_left()
                    )
                    refused += pipeline.overtaken(staged.sent, stored, staged.record_rows)
        except BaseException:
            self._failed = True
            raise
        # memory's answer, not the history the batch read, says how many rows it restated
        sent = staged.sent
        recount = replaced if sent is not None and replaced != sent.restated else None
        # a campaign batch sends one record per written row: a record memory already held
        # as sent is a duplicate row (a product row's records are its lines: not counted)
        same = unchanged if sent is not None else 0
        changed = refused or recount is not None or same
        amended = amend(refused, recount, same) if changed and amend is not None else None
        ledger = self.deps.ledger
        kept = await asyncio.to_thread(
            ledger.put, staged.org_id, staged.batch_id, staged.fingerprint, amended or ack,
            staged.generation,
        )  # fmt: skip
        if not kept:
            _LOGGER.warning(
                "batch %r of org %r was staged before the org's batches were forgotten (records "
                "deleted meanwhile): its ack is not kept, so a re-send of it is written again",
                staged.batch_id, staged.org_id,
            )  # fmt: skip
        with self._guard:
            self._reserved.discard((staged.org_id, staged.batch_id))
        return amended

    def _one_org(self, org_id: str) -> None:
        """Refuse a batch for another org than the stream's first: memory's write stream
        carries one org, and the stream's history and product book are one org's series."""
        if self._org is None:
            self._org = org_id
        elif org_id != self._org:
            raise InvalidIngestRequest(
                f"org_id {shown(org_id, 130)} differs from this Ingest stream's org "
                f"{self._org!r}: one Ingest stream carries one org; send each org's batches "
                "on a stream of its own",
                field="org_id",
            )

    def _follow_forgets(self, org_id: str) -> None:
        """Drop the history and product book loaded of the org when its batches were
        forgotten since (``BatchLedger.forget``, after memory deleted records of it): they
        may hold deleted records, which the batch's rows would be taken for duplicates of.
        The batch loads what memory holds now. Read before the batch id is reserved, so a
        forget after this read leaves the batch's ack unkept (``BatchLedger.put``)."""
        generation = self.deps.ledger.generation(org_id)
        if self._generation is not None and generation != self._generation:
            self.history = StreamHistory(superseded=self.deps.superseded)
            self.products = product_batch.ProductBook()
        self._generation = generation

    def _prepare(
        self, decode: Callable[[], tuple[RawBatch, str]]
    ) -> (
        Staged
        | _Waiting
        | tuple[RawBatch, str, pipeline.Prepared, pipeline.Windows]
        | tuple[RawBatch, str, product_batch.ProductPrepared, None]
    ):
        """A batch id the ledger holds is replayed (or refused, when its rows differ); one
        another call is writing is refused when its rows differ, else waited for (ask
        again); otherwise the id is reserved for this stream, and this returns the
        batch, its fingerprint, its prepared rows and the history windows they need."""
        batch, fingerprint = decode()
        self._one_org(batch.org_id)
        self._follow_forgets(batch.org_id)
        seen = self.deps.ledger.reserve(batch.org_id, batch.batch_id, fingerprint, self._owner)
        if seen is not None and not batch_parts.same(seen.fingerprint, fingerprint):
            done = "was acked" if not isinstance(seen, InFlight) else "is being written"
            raise BatchIdReused(
                batch_parts.reuse_message(batch.batch_id, done, seen.fingerprint, fingerprint),
                resource_type="liftos.v1.IngestRequest",
                resource_name=f"orgs/{batch.org_id}/batches/{batch.batch_id}",
            )
        if isinstance(seen, InFlight):
            return _Waiting(batch, fingerprint, seen)
        if seen is not None:
            return Staged(batch.org_id, batch.batch_id, "", None, seen.ack, 0)
        with self._guard:
            closed = self._closed  # the stream ended while this ran on its thread
            if not closed:
                self._reserved.add((batch.org_id, batch.batch_id))
        if closed:  # nobody else releases it, and nobody reads this stage
            self._release(batch.org_id, batch.batch_id)
            raise RuntimeError("the Ingest stream ended while its batch was staged")
        if batch.source in product_batch.SOURCES:
            return (
                batch,
                fingerprint,
                product_batch.prepare_products(batch, self.deps.settings),
                None,
            )
        prepared = pipeline.prepare(batch, self.deps.settings)
        return batch, fingerprint, prepared, prepared.windows()

    def _finish(
        self,
        batch: RawBatch,
        prepared: pipeline.Prepared,
        windows: pipeline.Windows,
        now: dt.datetime,
    ) -> tuple[pipeline.BatchResult, bytes]:
        """Transform the batch against its loaded history and encode its records."""
        deps = self.deps
        lo = min((w[0] for w in windows.values()), default=0)
        hi = max((w[1] for w in windows.values()), default=0)
        experiments = deps.registry.all_active(batch.org_id, _date(lo), _date(hi))
        factors = self._factors(batch.org_id, lo, hi)
        result = pipeline.finish(prepared, self.history, experiments, factors, now, deps.settings)
        message = deps.memory.encode(batch.org_id, result.records)
        self.history.add(result.history_rows)
        return result, message

    async def _load_history(
        self, org_id: str, source: str, account: Account, windows: pipeline.Windows
    ) -> None:
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
        memory = self.deps.memory
        slots = asyncio.Semaphore(CONCURRENT_SCANS)

        async def load(
            account_key: str, first: int, last: int, series: list[tuple[str, str]]
        ) -> pd.DataFrame:
            # only the instants local midnights of these days can fall on: a whole day's
            # margin each side would re-read the neighbouring days
            async with slots:
                stored = await memory.scan_series(
                    org_id,
                    source,
                    first * _DAY_US - _EARLIEST_OFFSET_US,
                    last * _DAY_US + _LATEST_OFFSET_US + 1,
                    sorted({c for c, _ in series}),
                    # each geo in every spelling a record of its place may be stored under
                    # ("US-CA", "CA", "California", "BR-BAHIA"), which a corrected re-send must
                    # find to restate (R31 F4; V1 review F2); not every geo of the campaigns,
                    # ~13x the memory time per late scan at 51 geos (s18 R35 F1)
                    stored_spellings({g for _, g in series}, account, self.history.geo_spellings())
                    or [],
                    timeout=self._time_left(),
                )
            return await asyncio.to_thread(memory.history_rows, stored, account_key, first, last)

        loaded = await asyncio.gather(*(load(*scan) for scan in scans))
        for (account_key, first, last, series), rows in zip(scans, loaded, strict=True):
            self.history.add(rows)
            self.history.mark_loaded(account_key, first, last, series)

    def _time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - time.monotonic(), 0.001)

    def _factors(self, org_id: str, lo: int, hi: int) -> FactorTable:
        registry = self.deps.factors
        generation = registry.generation(org_id)
        cached = self.factors.get(org_id)
        if generation == 0:
            return FactorTable.empty()
        if cached is None or cached.generation != generation or not cached.covers(lo, hi):
            cached = registry.table(org_id, lo - _FACTOR_MARGIN_DAYS, hi + _FACTOR_MARGIN_DAYS)
            self.factors[org_id] = cached
        return cached


def row_rejections(
    staged: Staged, start: int, refused: Sequence[tuple[int, str, str]]
) -> list[Rejection]:
    """Memory's refusals of a message's records (its first record the batch's ``start``-th
    sent) as their rows' rejections."""
    rows = staged.record_rows
    out = []
    for index, field, why in refused:
        k = start + index
        row = int(rows[k]) if rows is not None and 0 <= k < len(rows) else -1
        if row < 0:  # memory named a record that was not sent: a bug on one side
            raise RuntimeError(f"memory refused record {k} of a batch of {staged.record_count}")
        if field == "version":
            # another write of the same pull time stored other numbers for the key first
            # (memory_svc.writer._other_numbers): what a sequential run refuses as stale
            out.append(Rejection(row, ROW, "stale_version", clipped(same_version_message(why))))
            continue
        out.append(
            Rejection(
                row,
                ROW,
                "malformed",
                clipped(f"memory refused the record built from this row: {field}: {why}"),
            )
        )
    return out


def same_version_message(why: str) -> str:
    """Why a row another ingest of the same pull time beat to memory is not stored."""
    return (
        f"{why}. Another export with the same pull time stored its row for this key while "
        "this one was written, so this row is not stored; a correction must be sent with a "
        "later pull time (liftos ingest --pulled-at, which otherwise takes the file's "
        "modification time; pulled_at in the SDK and the Ingest request)"
    )


def _paused(work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)`` with the cyclic collector paused: a batch's parsed rows, frames and
    their columns are thousands of GC-tracked objects alive at once, which collections would
    rescan again and again (about 6% of the work); reference counting frees them after."""
    with gc_paused():
        return work(*args)


class BatchStillWritten(DependencyUnavailable):
    """A batch id another call holds past this call's wait: retry later, same batch id."""

    default_reason = "BATCH_IN_FLIGHT"


def _still_held(waiting: _Waiting) -> BatchStillWritten:
    held, batch = waiting.held, waiting.batch
    since = dt.datetime.fromtimestamp(held.reserved_at_us / 1e6, dt.UTC)
    _LOGGER.warning(
        "batch %r of org %r is still reserved by %s (since %s UTC); a retry of it gave up waiting",
        batch.batch_id, batch.org_id, held.owner, f"{since:%Y-%m-%d %H:%M:%S}",
    )  # fmt: skip
    return BatchStillWritten(
        f"batch {batch.batch_id!r} of org {batch.org_id!r} is being written by another call "
        f"(ledger owner {held.owner}, since {since:%Y-%m-%d %H:%M:%S} UTC) and was not "
        "answered while this call waited: the batch was not acked — retry it with the same "
        f"batch_id. A holder whose process is gone is taken over once its lease ({LEASE_S:.0f} s) "
        "lapses",
        dependency="ingestion ledger",
        retry_after_s=5.0,
    )


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)
