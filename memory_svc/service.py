"""MemoryService servicer: thin — convert, call the engine off the event loop, convert.

One exception: an unfiltered vector Search whose cost the engine can bound (``search_now``:
no I/O, no waiting on a writer, a bounded FAISS scan) runs on the loop, because the hop to a
worker thread and back is a large share of such a search.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

import grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import convert
from memory_svc.accounts import audit_text
from memory_svc.convert import accounts as account_convert
from memory_svc.convert.reply_size import aggregate_reply, products_reply
from memory_svc.engine import MemoryEngine
from memory_svc.refusals import RefusalList
from memory_svc.scan_replies import ScanPager, scan_chunks
from memory_svc.scan_snapshots import ScanSnapshot
from memory_svc.store import ScanRow
from memory_svc.write_group import STREAM_AHEAD, GroupCommit
from memory_svc.writer import WriteOutcome
from mesh.runtime.channels import REQUEST_ID
from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES
from mesh.runtime.interceptor import CALLER
from mesh.runtime.pipeline import Pipeline

_T = TypeVar("_T")

# Audit lines (an erasure): a logger of their own, so that a deployment can keep them apart.
_AUDIT = logging.getLogger("liftos.audit")


async def aenumerate(items: AsyncIterator[_T]) -> AsyncIterator[tuple[int, _T]]:
    n = 0
    async for item in items:
        yield n, item
        n += 1


class MemoryService(memory_grpc.MemoryServiceServicer):
    """Record store, similarity search, knowledge graph and conceptual spaces."""

    def __init__(
        self, engine: MemoryEngine, *, reply_limit: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        """``reply_limit``: the server's message limit (ServerConfig.max_message_bytes), which
        an AggregateRecords or AggregateProducts reply stays under."""
        self._engine = engine
        self._reply_limit = reply_limit
        self._writes: GroupCommit[convert.WriteBatch] = GroupCommit(engine, convert.serialiser)

    async def Write(
        self,
        request_iterator: AsyncIterator[memory_pb.WriteRequest],
        context: grpc.aio.ServicerContext,
    ) -> memory_pb.WriteResponse:
        total = WriteOutcome()
        refused = RefusalList()  # every message's, bounded
        org: str | None = None
        message = 0
        async for request in request_iterator:
            # Decoding 10,000 records takes ~0.5 s: off the loop, so other calls go on (R16-F1).
            batch = await asyncio.to_thread(convert.write_batch, request, org)
            org = batch.org_id
            if batch.records or batch.refusals:
                outcome = await self._writes.store(batch)
                total.add(outcome)
                refused.add(message, outcome.refusals)
            message += 1
        return convert.write_response(total, refused)

    async def WriteStream(
        self,
        request_iterator: AsyncIterator[memory_pb.WriteStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[memory_pb.WriteStreamResponse]:
        """One answer per message, in order, once it is durable. Messages are received on
        the event loop and decoded on a worker thread (a full message takes ~0.5 s, which on
        the loop stalled every other call: R16-F1) while the engine commits on another (its
        SQLite and FAISS work releases the GIL); those that queued up meanwhile are committed
        together (``memory_svc.write_group``)."""
        org: str | None = None

        async def decode(request: memory_pb.WriteStreamRequest) -> convert.WriteBatch:
            nonlocal org
            batch = await asyncio.to_thread(convert.write_batch, request, org)
            org = batch.org_id
            return batch

        async with Pipeline(request_iterator, decode, depth=STREAM_AHEAD) as messages:
            # one outcome per message, in order: the n-th answers message n
            async for n, outcome in aenumerate(self._writes.stream(messages)):
                yield convert.write_stream_response(outcome, n)

    async def Scan(
        self, request: memory_pb.ScanRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[memory_pb.ScanResponse]:
        """Every page from one snapshot of the org taken at the start (R24-F3), so a write
        committed while the Scan is read is in none of it."""
        q = convert.scan_request(request)
        pager = ScanPager(q.batch_size, self._engine.settings.scan_page_bytes)
        # the filter is checked and the snapshot taken in the first page's thread hop: a
        # small scan (a late row's series history) then costs one hop, not two
        hop = asyncio.ensure_future(asyncio.to_thread(self._first_page, q, pager))
        try:
            snapshot, rows, q = await asyncio.shield(hop)  # q: its filter as checked
        except asyncio.CancelledError:
            # the call ended while the thread opened the snapshot: closed once it has, not
            # left to hold the store until it expires
            hop.add_done_callback(_close_opened)
            raise
        try:
            while True:
                # a page is cut by bytes, a reply too (any client can receive it); each
                # reply's rows are let go before it is sent, so a client that stops reading
                # pins the reply in flight, not the page as well
                chunks = scan_chunks(rows)
                del rows
                while chunks:
                    yield convert.scan_response(chunks.pop(0))
                if pager.done:
                    break
                rows = await asyncio.to_thread(self._page, snapshot, q, pager)
        finally:
            snapshot.close()

    def _first_page(
        self, q: convert.ScanQuery, pager: ScanPager
    ) -> tuple[ScanSnapshot, list[ScanRow], convert.ScanQuery]:
        flt = self._engine.check_filter(q.org_id, q.filter, "", allow_unknown=q.allow_unknown)
        q = dataclasses.replace(q, filter=flt)  # a geo spelt otherwise read as stored
        snapshot = self._engine.open_scan(q.org_id)
        try:
            rows = self._page(snapshot, q, pager)
        except BaseException:
            snapshot.close()
            raise
        if pager.done:  # a one-page scan holds nothing while its reply is sent
            snapshot.close()
        return snapshot, rows, q

    def _page(
        self, snapshot: ScanSnapshot, q: convert.ScanQuery, pager: ScanPager
    ) -> list[ScanRow]:
        limit = pager.limit()
        rows = self._engine.snapshot_page(snapshot, q.filter, pager.after, limit, q.with_embeddings)
        pager.advance(rows, limit)
        return rows

    async def Search(
        self, request: memory_pb.SearchRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.SearchResponse:
        q = convert.search_request(request)
        if q.vector is not None and not q.include_records and q.filter.is_empty():
            # bounded and I/O-free (see MemoryEngine.search_now): cheaper here than a thread hop
            now = self._engine.search_now(q.org_id, q.vector, q.k)
            if now is not None:
                return convert.search_response(now)
        result = await asyncio.to_thread(self._search, q)
        return convert.search_response(result)

    def _search(self, q: convert.SearchQuery):  # type: ignore[no-untyped-def]
        flt = q.filter
        if not flt.is_empty():  # a geo spelt otherwise ("CA") read as stored ("US-CA")
            flt = self._engine.check_filter(q.org_id, flt, "filter.")
        vector = self._engine.query_vector(q.org_id, q.text, q.vector)
        return self._engine.search(q.org_id, vector, flt, q.k, include_payloads=q.include_records)

    async def QueryGraph(
        self, request: memory_pb.QueryGraphRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.QueryGraphResponse:
        org, node, depth, edges, max_nodes = convert.query_graph_request(request)
        result = await asyncio.to_thread(
            self._engine.query_graph, org, node, depth, edges, max_nodes
        )
        return convert.query_graph_response(result)

    async def AggregateRecords(
        self, request: memory_pb.AggregateRecordsRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.AggregateRecordsResponse:
        q = convert.aggregate_request(request)
        return await asyncio.to_thread(self._aggregate, q)

    def _aggregate(self, q: convert.AggregateQuery) -> memory_pb.AggregateRecordsResponse:
        # encoded off the event loop too: a year of geo-days is ~0.5M values
        agg = self._engine.aggregate(q.org_id, q.start_day, q.end_day, q.sources)
        spend = functools.partial(
            self._engine.campaign_geo_spend, q.org_id, q.start_day, q.end_day, q.sources
        )
        # never past the message limit: the dense campaign_geo_days is read only if it fits
        return aggregate_reply(agg, q.measures, campaign_geo=spend if q.campaign_geo else None,
                               limit=self._reply_limit, org_id=q.org_id)  # fmt: skip

    async def AggregateProducts(
        self, request: memory_pb.AggregateProductsRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.AggregateProductsResponse:
        org, start, end, spend_only = convert.aggregate_products_request(request)
        return await asyncio.to_thread(self._aggregate_products, org, start, end, spend_only)

    def _aggregate_products(
        self, org: str, start: int | None, end: int | None, spend_only: bool
    ) -> memory_pb.AggregateProductsResponse:
        agg = self._engine.aggregate_products(org, start, end, spend_only=spend_only)
        # never past the message limit: sized from the rows before it is encoded
        return products_reply(agg, limit=self._reply_limit, org_id=org, spend_only=spend_only)

    async def ListAccounts(
        self, request: memory_pb.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.ListAccountsResponse:
        org = convert.require_org(request.org_id)
        page, total, token = await asyncio.to_thread(
            self._engine.accounts_page,
            org,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return account_convert.list_accounts_response(page, total, token)

    async def DeleteRecords(
        self, request: memory_pb.DeleteRecordsRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.DeleteRecordsResponse:
        q = account_convert.delete_request(request)
        done = await asyncio.to_thread(
            self._engine.delete_records,
            q.org_id,
            q.filter,
            dry_run=q.dry_run,
        )
        # The erasure's record (R40 F6): what it covered, what it removed, and whose key ran
        # it; the call's own line (liftos.rpc) has the peer under the same request id.
        _AUDIT.info(
            "DeleteRecords %s; caller=%s rid=%s",
            audit_text(q.org_id, q.filter, done), CALLER.get(), REQUEST_ID.get() or "",
        )  # fmt: skip
        return account_convert.delete_response(done)

    async def ListConceptualSpaces(
        self, request: memory_pb.ListConceptualSpacesRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.ListConceptualSpacesResponse:
        org = convert.require_org(request.org_id)
        summaries, token = await asyncio.to_thread(
            self._engine.spaces_page,
            org,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return convert.spaces_response(summaries, token)


def _close_opened(
    hop: asyncio.Future[tuple[ScanSnapshot, list[ScanRow], convert.ScanQuery]],
) -> None:
    if not hop.cancelled() and hop.exception() is None:
        hop.result()[0].close()
