"""An org's spend per local day × geo × campaign — the grain the records themselves hold — as
AggregateRecords answers it when asked (``campaign_geo_spend``): wide, one row per (day, geo)
with a spend column per (source, channel, campaign_id).

Why held as arrays: the sums tables stop at day × geo and day × campaign, so this reading
comes from ``measures`` (one row per current record). Grouping its 460k spend rows in SQL cost
~1.3 s of CPU per call for a year of 50 geos × 30 campaigns (a sort), and fetching them as
Python rows ~0.5 s; an analysis re-reads the same unchanged records on every call. Both
stores read an org's spend rows once per data version (the sums' version: every commit
changes it), in seq order — so both sum a cell's records in the same order and answer alike
— and pivot any window and source subset from the arrays in milliseconds.
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
    "SELECT day, geo, source, channel, campaign_id, spend FROM measures "
    "WHERE org_id = {mark} AND spend <> 0 ORDER BY seq"
)

# (record_count, checksum, max_seq) of the org's current records, as the sums carry it
DataVersion = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class SpendCells:
    """An org's records with spend, one entry per record in seq order. ``geo`` and ``key`` are
    codes into ``geos`` and ``keys`` (sorted: code order is the stores' byte order)."""

    day: np.ndarray  # (n,) int64, days since 1970-01-01
    geo: np.ndarray  # (n,) int32
    geos: tuple[str, ...]
    key: np.ndarray  # (n,) int32
    keys: tuple[tuple[str, str, str], ...]  # (source, channel, campaign_id)
    spend: np.ndarray  # (n,) float64

    @property
    def nbytes(self) -> int:
        """About what the cells hold: arrays, and ~60 bytes a geo and ~180 a key."""
        arrays = (self.day, self.geo, self.key, self.spend)
        return sum(a.nbytes for a in arrays) + 60 * len(self.geos) + 180 * len(self.keys)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, str, str, str, str, float]]) -> SpendCells:
        if not rows:
            z = np.zeros(0, dtype=np.int32)
            return cls(z.astype(np.int64), z, (), z, (), np.zeros(0))
        m = np.array(rows, dtype=object)
        geo, geos = pd.factorize(m[:, 1], sort=True)
        # one key per (source, channel, campaign): factorize the three, then their used triples
        codes, names = zip(*(pd.factorize(m[:, j], sort=True) for j in (2, 3, 4)), strict=True)
        sizes = [len(n) for n in names]
        flat = (codes[0] * sizes[1] + codes[1]) * sizes[2] + codes[2]
        used, key = np.unique(flat, return_inverse=True)
        keys = tuple(
            (str(names[0][u // (sizes[1] * sizes[2])]), str(names[1][u // sizes[2] % sizes[1]]),
             str(names[2][u % sizes[2]]))
            for u in used.tolist()
        )  # fmt: skip
        return cls(
            day=m[:, 0].astype(np.int64),
            geo=geo.astype(np.int32),
            geos=tuple(str(g) for g in geos),
            key=key.astype(np.int32).reshape(-1),
            keys=keys,
            spend=m[:, 5].astype(np.float64),
        )

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


class HeldSpend:
    """Orgs' ``SpendCells`` at their data version, least recently read evicted past
    ``budget`` bytes (the last org read is always kept). Thread-safe."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._held: OrderedDict[str, tuple[DataVersion, SpendCells]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id: str, version: DataVersion | None) -> SpendCells | None:
        with self._lock:
            hit = self._held.get(org_id)
            if hit is None or version is None or hit[0] != version:
                return None
            self._held.move_to_end(org_id)
            return hit[1]

    def put(self, org_id: str, version: DataVersion, cells: SpendCells) -> None:
        with self._lock:
            now = self._held.get(org_id)
            if now is not None and now[0][2] > version[2]:
                return  # a reader of a later version got here first
            self._held[org_id] = (version, cells)
            self._held.move_to_end(org_id)
            total = sum(c.nbytes for _, c in self._held.values())
            while total > self.budget and len(self._held) > 1:
                _, (_, gone) = self._held.popitem(last=False)
                total -= gone.nbytes

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def held(self) -> dict[str, int]:
        """Bytes held per org."""
        with self._lock:
            return {org: c.nbytes for org, (_, c) in self._held.items()}
