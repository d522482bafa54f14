"""An org's sums tables (per day × geo, × campaign and × currency) held as arrays at one
data version, and the ``Aggregate`` that AggregateRecords answers, computed from them with
numpy.

Why: summing in SQL cost ~0.8 s of CPU per call for a year of 50 geos × 8 (source, channel)
pairs — one pass over 125k ``geo_day_sums`` rows to find the non-zero columns, a second
evaluating a ``CASE`` per output column per row to pivot them — and an analysis re-reads the
same unchanged sums on every call. The store now reads an org's rows once (one ordered range
scan per table, ~0.3 s for that year), keeps them here keyed by the org's data version, and
answers any window, source subset and column set from the arrays in milliseconds. The output
is what the SQL pivot gave, row for row and value for value (the contract test compares the
SQLite and PostgreSQL stores).

The data version is (record_count, checksum, max_seq) of the org's current records: the
checksum is the XOR of a 64-bit hash of every current record's seq and seqs are never reused,
so every commit that adds or replaces a record changes it. The store reads it in the same
snapshot as the rows, so cached arrays are never newer or older than the version they carry.
A commit to a held org hands over the sums rows it changed, as stored (``SumsTable.updated``
applies them at the next read): an analysis right after an ingest does not read the tables
again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd

from memory_svc.store import Aggregate
from mesh.runtime.aggregates import RECORDS

__all__ = [
    "SUMS",
    "ColumnRows",
    "SumsTable",
    "aggregate_from",
    "currency_rows",
    "with_campaign_names",
]

SUMS = ("spend", "impressions", "conversions", "revenue")

# A sums table's rows as read: (day, key, source, channel, spend, impressions, conversions,
# revenue, records) — key is the geo or the campaign id.
Row = tuple[int, str, str, str, float, float, float, float, int]


class ColumnRows(Sequence[tuple[Any, ...]]):
    """Rows held as columns (arrays, or lists of str), read as a sequence of tuples of Python
    values — equal to the list of tuples the SQL gave. Tuples are only built for a caller that
    reads rows; AggregateRecords' encoder takes the columns as they are (``columns``): a year
    of wide rows is 565k values, ~0.1 s to pack into tuples and unpack again."""

    __slots__ = ("_n", "columns")

    def __init__(self, columns: Sequence[np.ndarray | list[str]], n: int) -> None:
        self.columns = tuple(columns)
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if not self.columns:
            return iter([()] * self._n)
        return zip(*(_list(c) for c in self.columns), strict=True)

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, i: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(i, slice):
            return list(ColumnRows([c[i] for c in self.columns], len(range(self._n)[i])))
        return tuple(_list(c[i : i + 1 or None])[0] for c in self.columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != self._n:
            return False
        return all(a == tuple(b) for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ColumnRows({self._n} rows × {len(self.columns)} columns)"


def _list(column: np.ndarray | list[str]) -> list[Any]:
    return column.tolist() if isinstance(column, np.ndarray) else list(column)


@dataclass(frozen=True, slots=True)
class SumsTable:
    """One sums table's rows (those with ``records > 0``) in key order, as arrays.

    ``key`` and ``pair`` are codes into ``keys`` and ``pairs``, which are sorted, so code order
    is the text order SQLite's BINARY collation gives (code point order = UTF-8 byte order).
    """

    day: np.ndarray  # (n,) int64, days since 1970-01-01
    key: np.ndarray  # (n,) int64
    keys: tuple[str, ...]
    pair: np.ndarray  # (n,) int64
    pairs: tuple[tuple[str, str], ...]  # (source, channel)
    values: np.ndarray  # (n, 4) float64, SUMS order
    records: np.ndarray  # (n,) int64

    @property
    def n_rows(self) -> int:
        return int(self.day.size)

    @property
    def nbytes(self) -> int:
        """About what the table holds: its arrays, and ~60 bytes a key or pair string."""
        arrays = (self.day, self.key, self.pair, self.values, self.records)
        return sum(a.nbytes for a in arrays) + 60 * (len(self.keys) + 2 * len(self.pairs))

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> SumsTable:
        n = len(rows)
        if n == 0:
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, (), z, (), np.zeros((0, 4)), z)
        # one object matrix, codes by hashing (pandas' factorize): a third of the cost of
        # unzipping the rows and looking every key up in a dict
        rows_ = np.array(rows, dtype=object)
        key, keys = pd.factorize(rows_[:, 1], sort=True)
        source, sources = pd.factorize(rows_[:, 2], sort=True)
        channel, channels = pd.factorize(rows_[:, 3], sort=True)
        used, pair = np.unique(source * len(channels) + channel, return_inverse=True)
        pairs = tuple((str(sources[p // len(channels)]), str(channels[p % len(channels)]))
                      for p in used.tolist())  # fmt: skip
        return cls(
            day=rows_[:, 0].astype(np.int64),
            key=key.astype(np.int64),
            keys=tuple(str(k) for k in keys),
            pair=pair.astype(np.int64).reshape(-1),
            pairs=pairs,
            values=rows_[:, 4:8].astype(np.float64),
            records=rows_[:, 8].astype(np.int64),
        )

    def updated(self, rows: Sequence[Row]) -> SumsTable:
        """This table with rows replaced or added by ``rows`` — keys' sums as stored after
        commits, in commit order (a key's last row wins); keys left with no records go."""
        if not rows:
            return self
        new = SumsTable.from_rows(rows)
        keys = tuple(sorted(set(self.keys) | set(new.keys)))
        pairs = tuple(sorted(set(self.pairs) | set(new.pairs)))

        def cells(t: SumsTable) -> np.ndarray:
            key = np.searchsorted(keys, t.keys)[t.key] if t.keys else t.key
            pair = _pair_codes(pairs, t.pairs)[t.pair]
            return (t.day * len(keys) + key) * len(pairs) + pair

        old_cells, new_cells = cells(self), cells(new)
        _, back = np.unique(new_cells[::-1], return_index=True)
        last = new_cells.size - 1 - back  # each key's last row
        stay = ~np.isin(old_cells, new_cells)
        cell = np.concatenate([old_cells[stay], new_cells[last]])
        values = np.concatenate([self.values[stay], new.values[last]])
        records = np.concatenate([self.records[stay], new.records[last]])
        order = np.argsort(cell, kind="stable")
        order = order[records[order] > 0]
        cell = cell[order]
        n_keys, n_pairs = len(keys), len(pairs)
        return SumsTable(cell // (n_keys * n_pairs), cell // n_pairs % n_keys, keys,
                         cell % n_pairs, pairs, values[order], records[order])  # fmt: skip

    def select(
        self, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> np.ndarray:
        """Indexes of the rows in an inclusive day range and of the given sources (empty: all),
        in key order."""
        keep = np.ones(self.n_rows, dtype=bool)
        if start_day is not None:
            keep &= self.day >= start_day
        if end_day is not None:
            keep &= self.day <= end_day
        if sources:
            wanted = set(sources)
            keep &= np.array([s in wanted for s, _ in self.pairs], dtype=bool)[self.pair]
        return np.flatnonzero(keep)


def _pair_codes(
    pairs: tuple[tuple[str, str], ...], some: tuple[tuple[str, str], ...]
) -> np.ndarray:
    """Codes in ``pairs`` (sorted) of the pairs ``some``."""
    code = {p: i for i, p in enumerate(pairs)}
    return np.array([code[p] for p in some], dtype=np.int64)


def aggregate_from(
    geo: SumsTable,
    campaign: SumsTable,
    start_day: int | None,
    end_day: int | None,
    sources: Sequence[str],
    currency: SumsTable | None = None,
) -> Aggregate:
    """The ``Aggregate`` of a window and sources: one row per (day, geo) with a column per
    (source, channel, sum) that is not zero everywhere in it — and a (source, channel,
    "records") column, the records count, for a pair with a row whose four sums are all zero
    (present, not missing) — the campaign rows, and (from
    ``currency``, the per day × currency sums) the money per (source, channel, currency)."""
    rows = geo.select(start_day, end_day, sources)
    pair, values = geo.pair[rows], geo.values[rows]
    n_pairs = len(geo.pairs)
    # column (pair, sum) is kept when some row of the pair has that sum non-zero
    nonzero = np.zeros((n_pairs, len(SUMS)), dtype=bool)
    some = np.zeros(pair.size, dtype=bool)  # the row has a non-zero sum
    for j in range(len(SUMS)):
        nz = values[:, j] != 0
        nonzero[:, j] = np.bincount(pair, weights=nz, minlength=n_pairs) > 0
        some |= nz  # (not values.any(axis=1): ~20x slower over 125k rows)
    # a row whose four sums are zero is present all the same: its pair gets a records column
    # (the count), so a reader can tell a real zero from a missing row — clean data has none
    blank = np.zeros(n_pairs, dtype=bool)
    blank[pair[~some]] = True
    column = np.full((n_pairs, len(SUMS) + 1), -1, dtype=np.int64)
    columns: list[tuple[str, str, str]] = []
    for p in np.unique(pair).tolist():  # pairs with rows, in (source, channel) order
        for j, name in enumerate(SUMS):
            if nonzero[p, j]:
                column[p, j] = len(columns)
                columns.append((*geo.pairs[p], name))
        if blank[p]:
            column[p, len(SUMS)] = len(columns)
            columns.append((*geo.pairs[p], RECORDS))
    n_keys = max(len(geo.keys), 1)
    cell, at = np.unique(geo.day[rows] * n_keys + geo.key[rows], return_inverse=True)
    wide = np.zeros((cell.size, len(columns)))
    counts = geo.records[rows].astype(np.float64)
    for j in range(len(SUMS) + 1):
        c = column[pair, j]
        ok = c >= 0
        wide[at[ok], c[ok]] = values[ok, j] if j < len(SUMS) else counts[ok]
    keys = geo.keys
    geo_days = ColumnRows([cell // n_keys, [keys[k] for k in (cell % n_keys).tolist()],
                           *np.ascontiguousarray(wide.T)], cell.size)  # fmt: skip
    currencies = [] if currency is None else currency_rows(currency, start_day, end_day, sources)
    return Aggregate(columns, geo_days, _campaign_days(campaign, start_day, end_day, sources),
                     int(geo.records[rows].sum()), currencies=currencies)  # fmt: skip


def currency_rows(
    t: SumsTable, start_day: int | None, end_day: int | None, sources: Sequence[str]
) -> list[tuple[str, str, str, float, float, int]]:
    """(source, channel, currency, spend, revenue, records) per (source, channel, currency)
    with records in the window, in that order — from the per day × currency sums (``t``'s
    key is the currency)."""
    rows = t.select(start_day, end_day, sources)
    n_keys = max(len(t.keys), 1)
    cell, at = np.unique(t.pair[rows] * n_keys + t.key[rows], return_inverse=True)
    spend = np.bincount(at, weights=t.values[rows, 0], minlength=cell.size)
    revenue = np.bincount(at, weights=t.values[rows, 3], minlength=cell.size)
    records = np.bincount(at, weights=t.records[rows], minlength=cell.size)
    return [(*t.pairs[c // n_keys], t.keys[c % n_keys], s, r, int(n))
            for c, s, r, n in zip(cell.tolist(), spend.tolist(), revenue.tolist(),
                                  records.tolist(), strict=True)]  # fmt: skip


def _campaign_days(
    t: SumsTable, start_day: int | None, end_day: int | None, sources: Sequence[str]
) -> ColumnRows:
    rows = t.select(start_day, end_day, sources)
    pair = t.pair[rows].tolist()
    sources_of = [s for s, _ in t.pairs]
    channels_of = [c for _, c in t.pairs]
    return ColumnRows([t.day[rows], [t.keys[k] for k in t.key[rows].tolist()],
                       [sources_of[p] for p in pair], [channels_of[p] for p in pair],
                       *np.ascontiguousarray(t.values[rows].T), t.records[rows]],
                      rows.size)  # fmt: skip


def with_campaign_names(
    agg: Aggregate, names: Callable[[Sequence[str]], dict[str, str]]
) -> Aggregate:
    """``agg`` with the names of its campaign ids (``names``: the store's lookup). Names are
    not summed: one per campaign id, its latest record's, so a renamed or re-issued campaign
    reads as it is called now; read apart from the sums (a few index seeks)."""
    rows = agg.campaign_days
    ids = sorted(set(rows.columns[1] if isinstance(rows, ColumnRows) else (r[1] for r in rows)))
    found = names(ids) if ids else {}
    return dataclasses.replace(agg, campaign_names=[(c, found[c]) for c in ids if c in found])
