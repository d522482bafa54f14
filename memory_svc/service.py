"""MemoryService servicer: thin — convert, call the engine off the event loop, convert.

One exception: an unfiltered vector Search whose cost the engine can bound (``search_now``:
no I/O, no waiting on a writer, at most ≈ 1 ms of FAISS) runs on the loop, because the hop
to a worker thread and back costs ≈ 0.15–0.2 ms, a fifth of the search itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import convert
from memory_svc.engine import MemoryEngine, WriteOutcome
from memory_svc.store import ScanRow
from memory_svc.write_group import WriteGroup
from mesh.errors import InvalidInput

# WriteStream messages decoded ahead of the one being committed: as deep as ingestion's
# pipeline, so a writer's batches wait here, decoded, while the engine is paused.
WRITE_STREAM_AHEAD = 16
# Group commit (memory_svc.write_group): a writer that keeps messages in flight (one was
# already waiting when its last group was answered) gets up to LINGER_S for GROUP_TARGET
# messages to gather; a lock-step writer never waits.
GROUP_TARGET = 4
LINGER_S = 0.05


_Decoded = asyncio.Queue[convert.WriteBatch | BaseException | None]


async def _gather(
    group: WriteGroup[convert.WriteBatch],
    decoded: _Decoded,
    carried: list[convert.WriteBatch | BaseException | None],
    linger: float,
) -> None:
    """Add the messages waiting in ``decoded`` to ``group`` while they fit, and for up to
    ``linger`` seconds those still arriving, until it has GROUP_TARGET; the first that does
    not fit (or the stream's end or error) goes to ``carried``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger
    while True:
        if decoded.empty():
            left = deadline - loop.time()
            if len(group) >= GROUP_TARGET or left <= 0:
                return
            try:
                waiting = await asyncio.wait_for(decoded.get(), left)
            except TimeoutError:
                return
        else:
            waiting = decoded.get_nowait()
        if not isinstance(waiting, convert.WriteBatch) or not group.admits(waiting):
            carried.append(waiting)
            return
        group.add(waiting)


class MemoryService(memory_grpc.MemoryServiceServicer):
    """Record store, similarity search, knowledge graph and conceptual spaces."""

    def __init__(self, engine: MemoryEngine) -> None:
        self._engine = engine

    async def Write(
        self,
        request_iterator: AsyncIterator[memory_pb.WriteRequest],
        context: grpc.aio.ServicerContext,
    ) -> memory_pb.WriteResponse:
        total = WriteOutcome()
        org: str | None = None
        async for request in request_iterator:
            batch = convert.write_batch(request, org)
            org = batch.org_id
            if batch.records:
                total.add(await self._store(batch))
        return convert.write_response(total)

    async def _store(self, batch: convert.WriteBatch) -> WriteOutcome:
        """One message's transaction, on a worker thread."""
        return await asyncio.to_thread(
            self._engine.write,
            batch.org_id,
            batch.frame,
            batch.given_vectors,
            convert.serialiser(batch.records),
        )

    async def WriteStream(
        self,
        request_iterator: AsyncIterator[memory_pb.WriteStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[memory_pb.WriteStreamResponse]:
        """One answer per message, in order, once it is durable. Messages are received and
        decoded on the event loop while the engine commits on a worker thread (its SQLite
        and FAISS work releases the GIL); those that queued up meanwhile are committed
        together (``memory_svc.write_group``)."""
        decoded: _Decoded = asyncio.Queue(maxsize=WRITE_STREAM_AHEAD)

        async def receive() -> None:
            org: str | None = None
            try:
                async for request in request_iterator:
                    batch = convert.write_batch(request, org)
                    org = batch.org_id
                    await decoded.put(batch)
            except Exception as exc:  # answered after the messages before it
                await decoded.put(exc)
                return
            await decoded.put(None)

        receiver = asyncio.create_task(receive())
        try:
            # a message taken from the queue that did not join the last group
            carried: list[convert.WriteBatch | BaseException | None] = []
            pipelined = False
            while True:
                item = carried.pop() if carried else await decoded.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, convert.WriteBatch)
                group = WriteGroup(item)
                await _gather(group, decoded, carried, LINGER_S if pipelined else 0.0)
                async for outcome in self._store_group(group):
                    yield convert.write_stream_response(outcome)
                pipelined = not decoded.empty()
        finally:
            receiver.cancel()

    async def _store_group(
        self, group: WriteGroup[convert.WriteBatch]
    ) -> AsyncIterator[WriteOutcome]:
        """Each message's outcome, in order. A group that fails on bad input is stored a
        message at a time instead, so the messages before the bad one still land."""
        if len(group) == 1:
            batch = group.batches[0]
            if batch.records:
                yield await self._store(batch)
            else:  # nothing to store: the org's count as it stands
                state = self._engine.store.org_state(batch.org_id)
                yield WriteOutcome(org_record_count=state.record_count if state else 0)
            return
        try:
            outcomes = await asyncio.to_thread(
                self._engine.write_group,
                group.org_id,
                group.frame(),
                group.given_vectors(),
                convert.serialiser(group.records()),
                group.parts(),
            )
        except InvalidInput:  # nothing was committed; find the bad message
            for batch in group.batches:
                yield await self._store(batch)
            return
        for outcome in outcomes:
            yield outcome

    async def Scan(
        self, request: memory_pb.ScanRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[memory_pb.ScanResponse]:
        q = convert.scan_request(request)
        after = None
        while True:
            # the filter is checked in the first page's thread hop: a small scan (a late
            # row's series history) then costs one hop, not two
            rows = await asyncio.to_thread(self._page, q, after, after is None)
            if rows:
                yield convert.scan_response(rows)
            if len(rows) < q.batch_size:
                return
            after = (rows[-1].timestamp_us, rows[-1].id)

    def _page(
        self, q: convert.ScanQuery, after: tuple[int, str] | None, check: bool
    ) -> list[ScanRow]:
        if check:
            self._engine.check_filter(q.org_id, q.filter, "", allow_unknown=q.allow_unknown)
        return self._engine.scan_page(q.org_id, q.filter, after, q.batch_size, q.with_embeddings)

    async def Search(
        self, request: memory_pb.SearchRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.SearchResponse:
        q = convert.search_request(request)
        if q.vector is not None and not q.include_records and q.filter.is_empty():
            # Bounded and I/O-free (see MemoryEngine.search_now): run it here rather than pay
            # a thread hop worth a fifth of it; anything else goes to a worker thread.
            now = self._engine.search_now(q.org_id, q.vector, q.k)
            if now is not None:
                return convert.search_response(now)
        result = await asyncio.to_thread(self._search, q)
        return convert.search_response(result)

    def _search(self, q: convert.SearchQuery):  # type: ignore[no-untyped-def]
        if not q.filter.is_empty():
            self._engine.check_filter(q.org_id, q.filter, "filter.")
        vector = self._engine.query_vector(q.org_id, q.text, q.vector)
        return self._engine.search(
            q.org_id, vector, q.filter, q.k, include_payloads=q.include_records
        )

    async def QueryGraph(
        self, request: memory_pb.QueryGraphRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.QueryGraphResponse:
        org, node, depth, edges, max_nodes = convert.query_graph_request(request)
        result = await asyncio.to_thread(
            self._engine.query_graph, org, node, depth, edges, max_nodes
        )
        return convert.query_graph_response(result)

    async def ListConceptualSpaces(
        self, request: memory_pb.ListConceptualSpacesRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb.ListConceptualSpacesResponse:
        org = convert.require_org(request.org_id)
        summaries = await asyncio.to_thread(self._engine.spaces, org)
        return convert.spaces_response(summaries)
