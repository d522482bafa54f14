"""An org's spend per local day × geo × campaign — the grain the records themselves hold — as
AggregateRecords answers it when asked (``campaign_geo_spend``): wide, one row per (day, geo)
with a spend column per (source, channel, campaign_id).

Why held as arrays: the sums tables stop at day × geo and day × campaign, so this reading
comes from ``measures`` (one row per current record). Grouping its 460k spend rows in SQL cost
~1.3 s of CPU per call for a year of 50 geos × 30 campaigns (a sort), and fetching them as
Python rows ~0.5 s; an analysis re-reads the same unchanged records on every call. Both
stores read an org's spend rows once per data version (the sums' version: every commit
changes it), in seq order — so both sum a cell's records in the same order and answer alike
— and pivot any window and source subset from the arrays in milliseconds. In the SQLite
store a commit to a held org hands over its records with spend and the seqs it replaced
(``HeldSpend.note``, applied at the next read): an analysis right after an ingest does not
read the org's records again (~0.9 s for that year).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memory_svc.store import CampaignGeoDays

__all__ = ["SPEND_ROWS", "HeldSpend", "SpendCells"]

# An org's records with spend, in seq order (the table's key: no sort in either store).
SPEND_ROWS = (
    "SELECT seq, day, geo, source, channel, campaign_id, spend FROM measures "
    "WHERE org_id = {mark} AND spend <> 0 ORDER BY seq"
)

# (record_count, checksum, max_seq) of the org's current records, as the sums carry it
DataVersion = tuple[int, int, int]
# A record with spend: (seq, day, geo, source, channel, campaign_id, spend)
Row = tuple[int, int, str, str, str, str, float]

# Rows commits may hand a held org before it is dropped instead (beyond its own size).
_PENDING_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class SpendCells:
    """An org's records with spend, one entry per record in seq order. ``geo`` and ``key`` are
    codes into ``geos`` and ``keys`` (sorted: code order is the stores' byte order)."""

    seq: np.ndarray  # (n,) int64
    day: np.ndarray  # (n,) int64, days since 1970-01-01
    geo: np.ndarray  # (n,) int32
    geos: tuple[str, ...]
    key: np.ndarray  # (n,) int32
    keys: tuple[tuple[str, str, str], ...]  # (source, channel, campaign_id)
    spend: np.ndarray  # (n,) float64

    @property
    def n_rows(self) -> int:
        return int(self.seq.size)

    @property
    def nbytes(self) -> int:
        """About what the cells hold: arrays, and ~60 bytes a geo and ~180 a key."""
        arrays = (self.seq, self.day, self.geo, self.key, self.spend)
        return sum(a.nbytes for a in arrays) + 60 * len(self.geos) + 180 * len(self.keys)

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> SpendCells:
        if not rows:
            z = np.zeros(0, dtype=np.int32)
            return cls(z.astype(np.int64), z.astype(np.int64), z, (), z, (), np.zeros(0))
        m = np.array(rows, dtype=object)
        geo, geos = pd.factorize(m[:, 2], sort=True)
        # one key per (source, channel, campaign): factorize the three, then their used triples
        codes, names = zip(*(pd.factorize(m[:, j], sort=True) for j in (3, 4, 5)), strict=True)
        sizes = [len(n) for n in names]
        flat = (codes[0] * sizes[1] + codes[1]) * sizes[2] + codes[2]
        used, key = np.unique(flat, return_inverse=True)
        keys = tuple(
            (str(names[0][u // (sizes[1] * sizes[2])]), str(names[1][u // sizes[2] % sizes[1]]),
             str(names[2][u % sizes[2]]))
            for u in used.tolist()
        )  # fmt: skip
        return cls(
            seq=m[:, 0].astype(np.int64),
            day=m[:, 1].astype(np.int64),
            geo=geo.astype(np.int32),
            geos=tuple(str(g) for g in geos),
            key=key.astype(np.int32).reshape(-1),
            keys=keys,
            spend=m[:, 6].astype(np.float64),
        )

    def updated(self, removed: np.ndarray, rows: Sequence[Row]) -> SpendCells:
        """These cells after commits: the records of seqs ``removed`` gone, ``rows`` (new
        records with spend) added — still in seq order."""
        if not removed.size and not rows:
            return self
        new = SpendCells.from_rows(rows)
        if removed.size:  # a record added by one commit may be replaced by the next
            new = new._without(removed)
        stay = ~np.isin(self.seq, removed) if removed.size else np.ones(self.n_rows, dtype=bool)
        geos = tuple(sorted(set(self.geos) | set(new.geos)))
        keys = tuple(sorted(set(self.keys) | set(new.keys)))

        def codes(names: Sequence[object], into: Sequence[object]) -> np.ndarray:
            at = {n: i for i, n in enumerate(into)}
            return np.array([at[n] for n in names], dtype=np.int32)

        seq = np.concatenate([self.seq[stay], new.seq])
        # commits hand over rising seqs, after every held one: no sort then
        rising = not self.n_rows or not new.n_rows or int(new.seq[0]) > int(self.seq[-1])
        order = slice(None) if rising and _sorted(new.seq) else np.argsort(seq, kind="stable")
        geo = np.concatenate([codes(self.geos, geos)[self.geo[stay]] if self.geos else self.geo,
                              codes(new.geos, geos)[new.geo] if new.geos else new.geo])  # fmt: skip
        key = np.concatenate([codes(self.keys, keys)[self.key[stay]] if self.keys else self.key,
                              codes(new.keys, keys)[new.key] if new.keys else new.key])  # fmt: skip
        day = np.concatenate([self.day[stay], new.day])
        spend = np.concatenate([self.spend[stay], new.spend])
        return SpendCells(seq[order], day[order], geo[order], geos, key[order], keys,
                          spend[order])  # fmt: skip

    def _without(self, removed: np.ndarray) -> SpendCells:
        """These cells less the records of seqs ``removed`` (codes kept as they are)."""
        stay = ~np.isin(self.seq, removed)
        return SpendCells(self.seq[stay], self.day[stay], self.geo[stay], self.geos,
                          self.key[stay], self.keys, self.spend[stay])  # fmt: skip

    def wide(
        self, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> CampaignGeoDays:
        """The spend of an inclusive day range and sources (empty: all) per (day, geo) row and
        (source, channel, campaign_id) column; rows and columns with no spend are left out."""
        keep = np.ones(self.day.size, dtype=bool)
        if start_day is not None:
            keep &= self.day >= start_day
        if end_day is not None:
            keep &= self.day <= end_day
        if sources:
            wanted = set(sources)
            keep &= np.array([s in wanted for s, _, _ in self.keys], dtype=bool)[self.key]
        rows = np.flatnonzero(keep)
        n_geos = max(len(self.geos), 1)
        cell, at = np.unique(self.day[rows] * n_geos + self.geo[rows], return_inverse=True)
        used, col = np.unique(self.key[rows], return_inverse=True)
        # bincount sums a cell's records in seq order: the same in both stores
        flat = at.reshape(-1) * used.size + col.reshape(-1)
        spend = np.bincount(flat, weights=self.spend[rows], minlength=cell.size * used.size)
        spend = spend.reshape(cell.size, used.size)
        nonzero = spend != 0
        live_rows, live_cols = nonzero.any(axis=1), nonzero.any(axis=0)
        spend = np.ascontiguousarray(spend[np.ix_(live_rows, live_cols)])
        cell = cell[live_rows]
        geos = self.geos
        return CampaignGeoDays(
            day=cell // n_geos,
            geo=[geos[g] for g in (cell % n_geos).tolist()],
            columns=[self.keys[k] for k in used[live_cols].tolist()],
            spend=spend,
        )


def _sorted(a: np.ndarray) -> bool:
    return bool(np.all(a[1:] >= a[:-1]))


@dataclass(slots=True)
class _Held:
    """An org's cells at ``version`` and what commits changed since (applied at next read)."""

    version: DataVersion
    cells: SpendCells
    removed: list[np.ndarray]
    rows: list[Row]
    # the last answer and its (start, end, sources): an analysis asks the same window again
    last: tuple[tuple[object, ...], CampaignGeoDays] | None = None


class HeldSpend:
    """Orgs' ``SpendCells`` at their data version, least recently read evicted past
    ``budget`` bytes (the last org read is always kept). Thread-safe."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id: str, version: DataVersion | None) -> SpendCells | None:
        """The org's cells at ``version`` (with the commits handed over applied), if held."""
        with self._lock:
            held = self._held.get(org_id)
            if held is None or version is None or held.version != version:
                return None
            self._held.move_to_end(org_id)
            if held.rows or held.removed:
                # applied under the lock: a commit may hand over more meanwhile
                removed = np.concatenate(held.removed) if held.removed else np.zeros(0, np.int64)
                held.cells = held.cells.updated(removed, held.rows)
                held.removed, held.rows, held.last = [], [], None
            return held.cells

    def wide(
        self,
        org_id: str,
        version: DataVersion | None,
        start_day: int | None,
        end_day: int | None,
        sources: Sequence[str],
    ) -> CampaignGeoDays | None:
        """``SpendCells.wide`` of the org's held cells at ``version`` (None: not held); the
        last answer again when the window and sources are the same (~0.06 s a year)."""
        cells = self.get(org_id, version)
        if cells is None:
            return None
        ask = (start_day, end_day, tuple(sources))
        with self._lock:
            held = self._held.get(org_id)
            if held is not None and held.cells is cells and held.last and held.last[0] == ask:
                return held.last[1]
        answer = cells.wide(start_day, end_day, sources)
        with self._lock:
            held = self._held.get(org_id)
            if held is not None and held.cells is cells:
                held.last = (ask, answer)
        return answer

    def put(self, org_id: str, version: DataVersion, cells: SpendCells) -> None:
        with self._lock:
            now = self._held.get(org_id)
            if now is not None and now.version[2] > version[2]:
                return  # a commit or a reader of a later version got here first
            self._held[org_id] = _Held(version, cells, [], [])
            self._held.move_to_end(org_id)
            total = sum(h.cells.nbytes for h in self._held.values())
            while total > self.budget and len(self._held) > 1:
                _, gone = self._held.popitem(last=False)
                total -= gone.cells.nbytes

    def holds(self, org_id: str) -> bool:
        with self._lock:
            return org_id in self._held

    def note(
        self,
        org_id: str,
        before: DataVersion | None,
        after: DataVersion,
        removed: np.ndarray,
        rows: Sequence[Row],
    ) -> None:
        """After a commit: the org's held cells follow it (its records with spend and the
        seqs it replaced, applied at the next read) if they were at the version it started
        from; else they go."""
        with self._lock:
            held = self._held.get(org_id)
            if held is None:
                return
            if held.version != before:
                del self._held[org_id]
                return
            held.version = after
            held.removed.append(np.asarray(removed, dtype=np.int64))
            held.rows.extend(rows)
            if len(held.rows) > held.cells.n_rows + _PENDING_ROWS:
                del self._held[org_id]  # reading again costs less than applying them

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def held(self) -> dict[str, int]:
        """Bytes held per org."""
        with self._lock:
            return {org: h.cells.nbytes for org, h in self._held.items()}
