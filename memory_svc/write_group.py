"""Group commit: the write messages of a stream that are already waiting are stored in one
transaction.

Each message of a stream is still answered on its own, in order, once it is durable; what
changes is that when the engine falls behind a writer, the messages queued meanwhile share
one SQLite transaction, one fsync and one pass of the per-batch work (FAISS add, graph
delta, the index leaves a batch touches), which costs less CPU per record. A lock-step
writer (each message waits for its answer) is never grouped and never waits; one that keeps
messages in flight may wait up to ``LINGER_S`` for a group to gather.

Messages are grouped only while they share no record id or natural key: a record restated
by a later message must be replaced in order, as separate transactions would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

from memory_svc.engine import MemoryEngine
from memory_svc.refusals import Refusal
from memory_svc.writer import Serialise, WriteOutcome
from mesh.runtime.exceptions import InvalidInput

if TYPE_CHECKING:
    from mesh.runtime.pipeline import Pipeline

__all__ = [
    "GROUP_TARGET",
    "LINGER_S",
    "MAX_GROUP_RECORDS",
    "STREAM_AHEAD",
    "GroupCommit",
    "Groupable",
    "WriteGroup",
    "answered",
]

# Messages of a stream decoded ahead of the group being committed: as deep as ingestion's
# pipeline, so a writer's messages wait here, decoded, while the engine is paused.
STREAM_AHEAD = 16
# A writer that keeps messages in flight (one was already waiting when its last group was
# answered) gets up to LINGER_S for GROUP_TARGET messages to gather.
GROUP_TARGET = 4
LINGER_S = 0.05
# Bounds a group's size (8 ingest batches): after a pause (an IVF build) more may be waiting.
MAX_GROUP_RECORDS = 8_000


class Groupable(Protocol):
    """A decoded message: its records to store (opaque here), their frame and given
    embeddings; the records it refused before (``memory_svc.refusals``) and the index in
    the message of each record to store (None: the same as in ``records``)."""

    @property
    def org_id(self) -> str: ...
    @property
    def records(self) -> Sequence[Any]: ...
    @property
    def frame(self) -> pd.DataFrame: ...
    @property
    def given_vectors(self) -> Sequence[np.ndarray | None]: ...
    @property
    def refusals(self) -> Sequence[Refusal]: ...
    @property
    def indexes(self) -> np.ndarray | None: ...


B = TypeVar("B", bound=Groupable)


class WriteGroup(Generic[B]):
    """Consecutive non-empty WriteStream messages of one stream, to store together."""

    def __init__(self, first: B) -> None:
        self.batches = [first]
        self._size = len(first.records)
        self._ids: set[str] | None = None
        self._keys: set[str] | None = None
        # the identities of the batch :meth:`admits` last looked at, for :meth:`add`
        self._looked: tuple[B, set[str], set[str]] | None = None

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def org_id(self) -> str:
        return self.batches[0].org_id

    def admits(self, batch: B) -> bool:
        """Whether ``batch`` may join: both non-empty, within the size bound, and no id or
        natural key in common with the messages already in the group."""
        if not batch.records or not self._size:
            return False
        if self._size + len(batch.records) > MAX_GROUP_RECORDS:
            return False
        if self._ids is None or self._keys is None:
            self._ids, self._keys = _identities(self.batches[0].frame)
        ids, keys = _identities(batch.frame)
        self._looked = (batch, ids, keys)
        return self._ids.isdisjoint(ids) and self._keys.isdisjoint(keys)

    def add(self, batch: B) -> None:
        """Append a batch :meth:`admits` accepted."""
        if self._looked is None or self._looked[0] is not batch or self._ids is None:
            raise ValueError("add() takes the batch admits() just accepted")
        _, ids, keys = self._looked
        assert self._keys is not None
        self._ids |= ids
        self._keys |= keys
        self.batches.append(batch)
        self._size += len(batch.records)

    def frame(self) -> pd.DataFrame:
        if len(self.batches) == 1:
            return self.batches[0].frame
        return pd.concat([b.frame for b in self.batches], ignore_index=True)

    def given_vectors(self) -> list[np.ndarray | None]:
        return [v for b in self.batches for v in b.given_vectors]

    def records(self) -> list[Any]:
        return [r for b in self.batches for r in b.records]

    def parts(self) -> list[int]:
        return [len(b.records) for b in self.batches]


class GroupCommit(Generic[B]):
    """Stores decoded write messages through the engine on a worker thread: one at a time
    (:meth:`store`), or a stream's in groups (:meth:`stream`).

    ``serialiser`` makes, for the records of one or more messages, the callback that
    serialises them with the memory's enrichment (``memory_svc.convert.serialiser``).
    """

    def __init__(
        self, engine: MemoryEngine, serialiser: Callable[[Sequence[Any]], Serialise]
    ) -> None:
        self._engine = engine
        self._serialiser = serialiser

    async def store(self, batch: B) -> WriteOutcome:
        """One message's transaction (none when every record was refused)."""
        if not batch.records:
            return answered(batch, WriteOutcome(org_record_count=self._count(batch.org_id)))
        outcome = await asyncio.to_thread(
            self._engine.write,
            batch.org_id,
            batch.frame,
            batch.given_vectors,
            self._serialiser(batch.records),
        )
        return answered(batch, outcome)

    def _count(self, org_id: str) -> int:
        return self._engine.record_count(org_id)

    async def stream(self, messages: Pipeline[B]) -> AsyncIterator[WriteOutcome]:
        """Each message's outcome, in order, once it is durable; the messages that queued
        up while a group was committed are committed together next."""
        pipelined = False
        async for first in messages:
            group = WriteGroup(first)
            await self._gather(group, messages, LINGER_S if pipelined else 0.0)
            # what the group left waiting (a message that did not fit, or the end) does not
            # count as the writer keeping messages in flight
            refused = messages.ready()
            async for outcome in self._store_group(group):
                yield outcome
            pipelined = messages.waiting() > refused

    @staticmethod
    async def _gather(group: WriteGroup[B], messages: Pipeline[B], linger: float) -> None:
        """Add the messages waiting to ``group`` while they fit, and for up to ``linger``
        seconds those still arriving, until it has GROUP_TARGET; the first that does not
        fit (or the stream's end or error) is left waiting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + linger
        while True:
            if not messages.ready():
                left = deadline - loop.time()
                if len(group) >= GROUP_TARGET or left <= 0:
                    return
                if not await messages.wait(left):
                    return
            waiting = messages.peek()
            if waiting is None or not group.admits(waiting):
                return
            group.add(await anext(messages))

    async def _store_group(self, group: WriteGroup[B]) -> AsyncIterator[WriteOutcome]:
        """Each message's outcome, in order. A group that fails on bad input is stored a
        message at a time instead, so the messages before the bad one still land."""
        if len(group) == 1:
            yield await self.store(group.batches[0])
            return
        try:
            outcomes = await asyncio.to_thread(
                self._engine.write_group,
                group.org_id,
                group.frame(),
                group.given_vectors(),
                self._serialiser(group.records()),
                group.parts(),
            )
        except InvalidInput:  # nothing was committed; find the bad message
            for batch in group.batches:
                yield await self.store(batch)
            return
        for batch, outcome in zip(group.batches, outcomes, strict=True):
            yield answered(batch, outcome)


def answered(batch: Groupable, outcome: WriteOutcome) -> WriteOutcome:
    """``outcome`` of storing ``batch``'s records with every refusal of its message: those
    found before (``batch.refusals``) and the writer's, whose indexes are in the records
    stored, mapped back to the message's."""
    if not batch.refusals and not outcome.refusals:
        return outcome
    mapped = outcome.refusals
    if batch.indexes is not None and mapped:
        at = batch.indexes
        mapped = [Refusal(int(at[r.index]), r.record_id, r.field, r.reason) for r in mapped]
    outcome.refusals = sorted([*batch.refusals, *mapped], key=lambda r: r.index)
    outcome.refused = len(outcome.refusals)
    return outcome


def _identities(frame: pd.DataFrame) -> tuple[set[str], set[str]]:
    keys = set(frame["natural_key"].astype(str).tolist())
    keys.discard("")
    return set(frame["id"].astype(str).tolist()), keys
