"""An ordered, bounded-depth pipeline for streaming handlers.

A background task turns each item of a request stream into a result while the handler takes
the results made before it, in order: ingestion's ``Ingest`` stages batch k+1 while batch k
is written, memory's ``WriteStream`` decodes messages while the engine commits. Pure asyncio;
it knows nothing of gRPC.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TypeVar, cast

__all__ = ["Pipeline"]

S = TypeVar("S")
T = TypeVar("T")


class _End:
    """Stands in the queue for the end of the source."""


_END = _End()


class Pipeline(AsyncIterator[T]):
    """The results of ``step`` over ``source``, made by a background task, taken in order.

    At most ``depth`` results wait to be taken; the background task reads no more of the
    source until one is. An exception raised by the source or by ``step`` ends the pipeline
    and is raised to the consumer in its place, after every result made before it. Leaving
    the ``async with`` block — at the end, on an error, or cancelled — cancels the task::

        async with Pipeline(requests, decode, depth=16) as results:
            async for result in results:
                ...

    Besides iterating, a consumer may look at what is already waiting (:meth:`ready`,
    :meth:`waiting`, :meth:`peek`) or wait a bounded time for it (:meth:`wait`), e.g. to
    batch the results that queued up while it was busy.
    """

    def __init__(
        self, source: AsyncIterable[S], step: Callable[[S], Awaitable[T]], *, depth: int
    ) -> None:
        self._source: AsyncIterable[object] = source
        self._step = cast(Callable[[object], Awaitable[T]], step)
        self._queue: asyncio.Queue[T | BaseException | _End] = asyncio.Queue(maxsize=depth)
        # the next result when it was taken from the queue by peek() or wait() (a list of
        # at most one, since None may be a result)
        self._head: list[T | BaseException | _End] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Pipeline[T]:
        self._task = asyncio.create_task(self._produce())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _produce(self) -> None:
        try:
            async for item in self._source:
                await self._queue.put(await self._step(item))
        except Exception as exc:  # delivered after the results made before it
            await self._queue.put(exc)
            return
        await self._queue.put(_END)

    def __aiter__(self) -> Pipeline[T]:
        return self

    async def __anext__(self) -> T:
        item = self._head.pop() if self._head else await self._queue.get()
        if isinstance(item, _End):
            self._head.append(item)  # the end stays the end
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._head.append(_END)
            raise item
        return item

    def ready(self) -> bool:
        """Whether the next result — or the end, or the error — is waiting."""
        return bool(self._head) or not self._queue.empty()

    def waiting(self) -> int:
        """How many results are waiting to be taken (the end or the error counts as one)."""
        return len(self._head) + self._queue.qsize()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the next result; whether it came."""
        if not self.ready():
            try:
                self._head.append(await asyncio.wait_for(self._queue.get(), timeout))
            except TimeoutError:
                return False
        return True

    def peek(self) -> T | None:
        """The next result if it is waiting, without taking it; None when nothing is, or
        when the next is the end or the error (which iterating delivers)."""
        if not self._head:
            if self._queue.empty():
                return None
            self._head.append(self._queue.get_nowait())
        head = self._head[0]
        return None if isinstance(head, BaseException | _End) else head
