"""Group commit for WriteStream: messages already waiting are stored in one transaction.

Each message of a stream is still answered on its own, in order, once it is durable; what
changes is that when the engine falls behind a writer, the messages queued meanwhile share
one SQLite transaction, one fsync and one pass of the per-batch work (FAISS add, graph
delta, the index leaves a batch touches). Measured on ingest batches: storing 4 messages
at once costs ≈ 9% less CPU per record than 4 transactions. A lock-step writer (each
message waits for its answer) is never grouped and never waits; one that keeps messages in
flight may wait up to ``memory_svc.service.LINGER_S`` for a group to gather.

Messages are grouped only while they share no record id or natural key: a record restated
by a later message must be replaced in order, as separate transactions would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

__all__ = ["MAX_GROUP_RECORDS", "Groupable", "WriteGroup"]

# Bounds a group's size (8 ingest batches): after a pause (an IVF build) more may be waiting.
MAX_GROUP_RECORDS = 8_000


class Groupable(Protocol):
    """A decoded message: its records (opaque here), their frame and given embeddings."""

    @property
    def org_id(self) -> str: ...
    @property
    def records(self) -> Sequence[Any]: ...
    @property
    def frame(self) -> pd.DataFrame: ...
    @property
    def given_vectors(self) -> Sequence[np.ndarray | None]: ...


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


def _identities(frame: pd.DataFrame) -> tuple[set[str], set[str]]:
    keys = set(frame["natural_key"].astype(str).tolist())
    keys.discard("")
    return set(frame["id"].astype(str).tolist()), keys
