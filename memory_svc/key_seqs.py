"""Record identity lookups held in memory: 64-bit key hash → candidate seqs, for one org.

Why not a SQL index: a batch of ids (random hashes) or natural keys lands on as many
different B-tree leaves as it has rows, so each indexed key costs a whole page written to the
WAL per record: the ``(org_id, id)`` and ``(org_id, natural_key)`` indexes were a large
share of every commit's WAL bytes, and they served nothing but the write path's identity
check. Here a lookup is a binary search over a sorted array, 16 bytes a key.

The map only ever gives *candidates*: a hash may collide, and an entry may name a seq that
has since been replaced. The store checks every candidate against the row it reads by seq
(which it needs anyway for the version), so the map can never make a record match that does
not, and a key stored is always found (entries are never lost, only outlived).

Layout: two sorted ``(hash, seq)`` arrays, a base and recent additions; a batch is inserted
into the recent array (O(recent)), which is merged into the base once it reaches an eighth of
it (amortised O(1) per key); withdrawn seqs are dropped at the next merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["KeyMap", "key_hashes"]


def key_hashes(keys: Iterable[str]) -> np.ndarray:
    """64-bit hashes of strings (Python's keyed SipHash; this process only, never stored)."""
    return np.fromiter(map(hash, keys), dtype=np.int64)


class KeyMap:
    """Maps key hashes to the seqs stored under them; not thread-safe (the store's write
    lock guards it)."""

    def __init__(self, *, min_merge: int = 65_536) -> None:
        self._base = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._recent = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._gone: list[np.ndarray] = []
        self._min_merge = min_merge

    def __len__(self) -> int:
        """Entries held, withdrawn ones included until the next merge."""
        return len(self._base[0]) + len(self._recent[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held (16 a key)."""
        arrays = (*self._base, *self._recent, *self._gone)
        return sum(a.nbytes for a in arrays)

    def add(self, hashes: np.ndarray, seqs: np.ndarray) -> None:
        """Record that ``seqs[i]`` is stored under ``hashes[i]``."""
        if len(hashes) == 0:
            return
        hashes, seqs = np.asarray(hashes, np.int64), np.asarray(seqs, np.int64)
        order = np.argsort(hashes, kind="stable")
        h, s = self._recent
        at = np.searchsorted(h, hashes[order])
        self._recent = (np.insert(h, at, hashes[order]), np.insert(s, at, seqs[order]))
        if len(self._recent[0]) >= max(self._min_merge, len(self._base[0]) // 8):
            self._merge()

    def withdraw(self, seqs: Sequence[int] | np.ndarray) -> None:
        """Seqs no longer stored (replaced); their entries go at the next merge."""
        if len(seqs):
            self._gone.append(np.asarray(seqs, np.int64))

    def candidates(self, hashes: np.ndarray) -> np.ndarray:
        """Every seq stored under any of ``hashes`` (collisions and replaced seqs included)."""
        if len(hashes) == 0:
            return np.zeros(0, np.int64)
        q = np.unique(np.asarray(hashes, np.int64))
        found = [_lookup(*self._base, q), _lookup(*self._recent, q)]
        return np.unique(np.concatenate(found))

    def _merge(self) -> None:
        hashes = np.concatenate([self._base[0], self._recent[0]])
        seqs = np.concatenate([self._base[1], self._recent[1]])
        if self._gone:
            keep = ~np.isin(seqs, np.concatenate(self._gone))
            hashes, seqs = hashes[keep], seqs[keep]
            self._gone = []
        order = np.argsort(hashes, kind="stable")
        self._base = (hashes[order], seqs[order])
        self._recent = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def _lookup(hashes: np.ndarray, seqs: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Seqs of every entry of the sorted ``hashes`` equal to one of ``q``."""
    lo = np.searchsorted(hashes, q, side="left")
    hi = np.searchsorted(hashes, q, side="right")
    hit = hi > lo
    if not hit.any():
        return np.zeros(0, np.int64)
    lo, span = lo[hit], (hi - lo)[hit]
    # positions lo[j] … lo[j] + span[j] - 1 for every j, without a Python loop
    first = np.cumsum(span) - span
    return seqs[np.repeat(lo - first, span) + np.arange(span.sum())]
