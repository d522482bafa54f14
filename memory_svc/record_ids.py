"""seq → record id for one org's current records, held in memory beside its FAISS index.

A search turns FAISS's seqs into record ids; asking SQLite for them costs a query per search
(mostly cache misses after FAISS has streamed its lists), and a lookup here does no I/O, so
the unfiltered search never touches the store.

Layout: a sorted int64 array of seqs, a parallel numpy ``StringDType`` array of ids (16
bytes a row plus the UTF-8 bytes of ids longer than 15: a fraction of a ``dict[int, str]``)
and a mask of live rows. Writes land in a small dict and are merged into the arrays once
they reach an eighth of them, so a write costs amortised O(1) and a merge O(n). A seq's id
never changes (a new version gets a new seq), so a row is only ever added or withdrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["RecordIds"]

_STR = np.dtypes.StringDType()


class RecordIds:
    """Maps an org's current seqs to record ids; not thread-safe (the index lock guards it)."""

    def __init__(
        self,
        seqs: np.ndarray | None = None,
        ids: Sequence[str] | np.ndarray = (),
        *,
        min_merge: int = 1024,
    ) -> None:
        seqs = np.zeros(0, np.int64) if seqs is None else np.asarray(seqs, dtype=np.int64)
        if len(seqs) != len(ids):
            raise ValueError(f"{len(seqs)} seqs but {len(ids)} ids")
        self._seqs = seqs
        self._ids = np.asarray(ids, dtype=_STR)
        if np.any(seqs[1:] < seqs[:-1]):
            order = np.argsort(seqs, kind="stable")
            self._seqs, self._ids = seqs[order], self._ids[order]
        self._live = np.ones(len(seqs), dtype=bool)
        self._dead = 0
        self._recent: dict[int, str] = {}
        self._min_merge = min_merge

    @classmethod
    def from_pages(
        cls,
        pages: Iterable[tuple[np.ndarray, Sequence[str]]],
        *,
        size: int = 0,
        min_merge: int = 1024,
    ) -> RecordIds:
        """Build from (seqs, ids) pages, holding one page of Python strings at a time.

        ``size``: about how many rows the pages hold (the org's record count). The pages fill
        arrays of that size in place: gathering them and concatenating held the map twice
        over at its peak (2.6× its size measured at 3M ids), which is what bounds a large
        org's load. Rows past ``size`` (written meanwhile) are appended at the end.
        """
        seq_buf = np.empty(size, np.int64)
        id_buf: np.ndarray = np.empty(size, _STR)
        at = 0
        extra_seqs: list[np.ndarray] = []
        extra_ids: list[np.ndarray] = []
        for page_seqs, page_ids in pages:
            fit = max(0, min(len(page_seqs), size - at))
            seq_buf[at : at + fit] = page_seqs[:fit]
            id_buf[at : at + fit] = page_ids[:fit]
            at += fit
            if fit < len(page_seqs):
                extra_seqs.append(np.asarray(page_seqs[fit:], dtype=np.int64))
                extra_ids.append(np.asarray(page_ids[fit:], dtype=_STR))
        seqs, ids = seq_buf[:at], id_buf[:at]
        if extra_seqs:
            seqs = np.concatenate([seqs, *extra_seqs])
            ids = np.concatenate([ids, *extra_ids])
        elif at < size:  # fewer than announced: keep only what was filled
            seqs, ids = seqs.copy(), ids.copy()
        return cls(seqs, ids, min_merge=min_merge)

    def __len__(self) -> int:
        return len(self._seqs) - self._dead + len(self._recent)

    def add(self, seqs: Iterable[int], ids: Iterable[str]) -> None:
        """Record (seq, id) pairs; a seq already held takes the new id."""
        seq_list = [int(s) for s in seqs]
        self.remove(seq_list)
        self._recent.update(zip(seq_list, ids, strict=True))
        if len(self._recent) > max(self._min_merge, len(self._seqs) // 8):
            self._merge()

    def remove(self, seqs: Iterable[int]) -> None:
        """Withdraw seqs (ones not held are ignored)."""
        wanted = np.fromiter(seqs, dtype=np.int64)
        if self._recent:
            for s in wanted.tolist():
                self._recent.pop(s, None)
        if len(self._seqs) and len(wanted):
            pos = np.minimum(np.searchsorted(self._seqs, wanted), len(self._seqs) - 1)
            held = np.unique(pos[(self._seqs[pos] == wanted) & self._live[pos]])
            self._live[held] = False
            self._dead += len(held)
        if self._dead > max(self._min_merge, len(self._seqs) // 4):
            self._merge()

    def get(self, seqs: np.ndarray) -> list[str | None]:
        """The id of each seq, None where the seq is not held."""
        seqs = np.asarray(seqs, dtype=np.int64)
        out: list[str | None] = [None] * len(seqs)
        if len(self._seqs) and len(seqs):
            pos = np.minimum(np.searchsorted(self._seqs, seqs), len(self._seqs) - 1)
            found = (self._seqs[pos] == seqs) & self._live[pos]
            for i, rid in zip(
                np.flatnonzero(found).tolist(), self._ids[pos[found]].tolist(), strict=True
            ):
                out[i] = rid
        if self._recent:
            for i, s in enumerate(seqs.tolist()):
                if out[i] is None:
                    out[i] = self._recent.get(s)
        return out

    def _merge(self) -> None:
        new_seqs = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
        seqs = np.concatenate([self._seqs[self._live], new_seqs])
        ids = np.concatenate([self._ids[self._live], np.array(list(self._recent.values()), _STR)])
        # New seqs are store-wide increasing, so this is nearly always already sorted.
        if np.any(seqs[1:] < seqs[:-1]):
            order = np.argsort(seqs, kind="stable")
            seqs, ids = seqs[order], ids[order]
        self._seqs, self._ids = seqs, ids
        self._live = np.ones(len(seqs), dtype=bool)
        self._dead = 0
        self._recent = {}
