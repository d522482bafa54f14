"""The external-factor registry (SQLite) and the join of an org's factors onto rows.

An org registers daily series of things outside its marketing that move its outcomes —
a macro index, competitor activity, its own promotions, category demand, weather. The
registry keeps each series with its mean and standard deviation (so a day can be read as
"how unusual"), and a per-org generation number that changes on every registration, so an
Ingest stream can hold the series it loaded until they change.
"""

from __future__ import annotations

import builtins
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ingestion_svc.errors import InvalidExternalFactor
from mesh.runtime.cadence import weekly_series
from mesh.runtime.exceptions import FieldViolation, InvalidInput
from mesh.runtime.money import FX_KIND
from mesh.runtime.page_tokens import PageTokens
from mesh.runtime.page_tokens import page_size as _page_size
from mesh.runtime.sqlite_db import LockedSQLite

__all__ = ["FACTOR_TYPES", "FactorRegistry", "FactorSeries", "FactorTable", "join_factors"]

FACTOR_TYPES = (
    "macro", "competitor", "promotion", "demand", "weather", "other", "season", "fx_rate",
)  # fmt: skip
# Exchange rates convert an analysis's money; they describe no row's demand.
NOT_JOINED = frozenset({FX_KIND})
_NAME = re.compile(r"^[a-z0-9_]{1,63}$")
MAX_VALUES = 20_000
# ListExternalFactors pages. With values a series carries up to MAX_VALUES dated values
# (~400 kB on the wire), so such a page holds fewer series: 50 stay far below a 64 MiB message.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE_SIZE_WITH_VALUES = 50
# ...and a page with values also ends before this many bytes on the wire, as memory's Scan
# replies do (memory_svc.scan_replies), so a client with gRPC's default 4 MiB receive limit
# reads every page: 50 full series are ~20 MB (audit R32).
MAX_PAGE_BYTES = 3_500_000
# A DatedValue on the wire: its tag and length (2), the Date (tag, length, year, month, day:
# at most 9) and the double (9); 20 with room to spare.
_VALUE_WIRE_BYTES = 21
_SERIES_WIRE_BYTES = 64  # a series' tags, lengths and enum, beside its strings
# An index, a rate, a price or a count: far inside ±1e12. Beyond it a series' variance
# (standardising it for the join) overflows a double.
MAX_ABS_VALUE = 1e12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS factor_series (
    org_id TEXT NOT NULL, name TEXT NOT NULL, geo TEXT NOT NULL,
    type TEXT NOT NULL, source TEXT NOT NULL, unit TEXT NOT NULL,
    mean REAL NOT NULL, std REAL NOT NULL,
    PRIMARY KEY (org_id, name, geo)
);
CREATE TABLE IF NOT EXISTS factor_values (
    org_id TEXT NOT NULL, name TEXT NOT NULL, geo TEXT NOT NULL,
    day INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (org_id, name, geo, day)
);
CREATE TABLE IF NOT EXISTS factor_generation (
    org_id TEXT PRIMARY KEY, generation INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class FactorSeries:
    """One registered series; ``geo`` empty means every geo."""

    name: str
    type: str
    source: str = ""
    unit: str = ""
    geo: str = ""
    values: Sequence[tuple[dt.date, float]] = field(default_factory=tuple)


def validate(series: FactorSeries) -> None:
    """InvalidExternalFactor naming every bad field (``series.name``, ``series.values[3]``)."""
    bad: list[FieldViolation] = []
    if not _NAME.match(series.name):
        bad.append(FieldViolation("series.name", "name must be 1-63 of a-z, 0-9 and '_'"))
    if series.type not in FACTOR_TYPES:
        bad.append(FieldViolation("series.type", "type is required"))
    if not series.values:
        bad.append(FieldViolation("series.values", "at least one dated value is required"))
    if len(series.values) > MAX_VALUES:
        bad.append(FieldViolation("series.values", f"at most {MAX_VALUES} values per series"))
    seen: set[dt.date] = set()
    for i, (day, value) in enumerate(series.values):
        if not math.isfinite(value):
            bad.append(FieldViolation(f"series.values[{i}].value", "value must be finite"))
        elif abs(value) > MAX_ABS_VALUE:
            bad.append(
                FieldViolation(f"series.values[{i}].value", f"value {value:g} is beyond ±1e12")
            )
        if day in seen:
            bad.append(FieldViolation(f"series.values[{i}].date", f"{day} appears twice"))
        seen.add(day)
        if len(bad) >= 20:
            break
    if bad:
        raise InvalidExternalFactor(bad[0].description, violations=bad)


class FactorRegistry(LockedSQLite):
    """SQLite-backed; safe to call from worker threads. Page tokens are sealed with the
    deployment's secret (``tokens``; default: mesh.runtime.page_tokens beside the db)."""

    def __init__(self, path: Path, tokens: PageTokens | None = None) -> None:
        super().__init__(path, _SCHEMA)
        self._tokens = tokens or PageTokens.for_data_dir(path.parent, "ListExternalFactors")

    def register(self, org_id: str, series: FactorSeries) -> int:
        """Store (or replace) a series; returns the number of values stored."""
        validate(series)
        values = np.array([v for _, v in series.values], dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        key = (org_id, series.name, series.geo)
        with self._transaction() as db:
            db.execute("DELETE FROM factor_values WHERE org_id = ? AND name = ? AND geo = ?", key)
            db.execute(
                "INSERT OR REPLACE INTO factor_series VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, series.type, series.source, series.unit, float(values.mean()), std),
            )
            db.executemany(
                "INSERT INTO factor_values VALUES (?, ?, ?, ?, ?)",
                [(*key, d.toordinal() - _EPOCH, float(v)) for d, v in series.values],
            )
            db.execute(
                "INSERT INTO factor_generation VALUES (?, 1) ON CONFLICT(org_id) "
                "DO UPDATE SET generation = generation + 1",
                (org_id,),
            )
        return len(series.values)

    def delete(
        self, org_id: str, names: Sequence[str] | None, *, dry_run: bool = False
    ) -> tuple[builtins.list[str], int, builtins.list[str]]:
        """Delete these series of the org, every geo of each name (None: every series);
        returns (names deleted, series deleted, requested names the org has not registered).
        With ``dry_run`` nothing is deleted: what would be. The org's generation moves (and
        is never reset: a stream holding a table of an earlier generation must reload), so
        no open Ingest stream of any replica joins a deleted series onto a later row. The
        deleted values leave the database file and its write-ahead log
        (:meth:`LockedSQLite._erased`)."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT name, COUNT(*) FROM factor_series WHERE org_id = ? GROUP BY name "
                "ORDER BY name",
                (org_id,),
            ).fetchall()
            held = {str(name): int(n) for name, n in rows}
            found = list(held) if names is None else [n for n in names if n in held]
            if found and not dry_run:
                for table in ("factor_values", "factor_series"):
                    db.executemany(
                        f"DELETE FROM {table} WHERE org_id = ? AND name = ?",
                        [(org_id, n) for n in found],
                    )
                db.execute(
                    "UPDATE factor_generation SET generation = generation + 1 WHERE org_id = ?",
                    (org_id,),
                )
        if found and not dry_run:
            self._erased()  # a deleted series leaves the files (V1 F3), not only the answers
        missing = [n for n in names or () if n not in held]
        return found, sum(held[n] for n in found), missing

    def generation(self, org_id: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT generation FROM factor_generation WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def list(self, org_id: str, *, include_values: bool = False) -> list[FactorSeries]:
        """Every series of the org, by name then geo."""
        return self._series(org_id, include_values, None, None)[0]

    def page(
        self, org_id: str, *, include_values: bool = False, page_size: int = 0, page_token: str = ""
    ) -> tuple[builtins.list[FactorSeries], str]:
        """A page of the org's series by name then geo, and the next page's token ("" after
        the last). A token opens only for the org and the include_values it was issued for."""
        cap = MAX_PAGE_SIZE_WITH_VALUES if include_values else MAX_PAGE_SIZE
        size = _page_size(page_size, default=min(DEFAULT_PAGE_SIZE, cap), maximum=cap)
        after = None
        if page_token:
            key = self._tokens.open_key(org_id, page_token)
            kinds = (bool, str, str)
            if len(key) != 3 or not all(map(isinstance, key, kinds)):
                raise InvalidInput(
                    "page_token is not a token this server issued", field="page_token"
                )
            if key[0] != include_values:
                raise InvalidInput(
                    f"page_token was issued for include_values={str(key[0]).lower()}: "
                    "ask for the next page with the same request",
                    field="page_token",
                )
            after = (str(key[1]), str(key[2]))
        series, more = self._series(org_id, include_values, after, size)
        if not more:
            return series, ""
        last = series[-1]
        return series, self._tokens.seal_key(org_id, (include_values, last.name, last.geo))

    def _series(
        self, org_id: str, include_values: bool, after: tuple[str, str] | None, limit: int | None
    ) -> tuple[builtins.list[FactorSeries], bool]:
        """Series after ``after`` (name, geo) in (name, geo) order, at most ``limit``, and
        whether more follow."""
        where, args = "org_id = ?", [org_id]
        if after is not None:
            where += " AND (name, geo) > (?, ?)"
            args += list(after)
        with self._lock:
            rows = self._db.execute(
                f"SELECT name, geo, type, source, unit FROM factor_series WHERE {where} "
                "ORDER BY name, geo" + ("" if limit is None else f" LIMIT {int(limit) + 1}"),
                args,
            ).fetchall()
            more = limit is not None and len(rows) > limit
            rows = rows[:limit]
            values: dict[tuple[str, str], builtins.list[tuple[dt.date, float]]] = {}
            if include_values and rows:
                # the values of the listed series only: the same range of the (name, geo) key
                last = rows[-1][:2]
                for name, geo, day, value in self._db.execute(
                    f"SELECT name, geo, day, value FROM factor_values WHERE {where} "
                    "AND (name, geo) <= (?, ?) ORDER BY name, geo, day",
                    [*args, *last],
                ):
                    values.setdefault((name, geo), []).append(
                        (dt.date.fromordinal(day + _EPOCH), value)
                    )
        series = [
            FactorSeries(name, kind, source, unit, geo, tuple(values.get((name, geo), ())))
            for name, geo, kind, source, unit in rows
        ]
        if include_values and limit is not None:
            kept = _within_page_bytes(series)
            more = more or kept < len(series)
            series = series[:kept]
        return series, more

    def table(self, org_id: str, first_day: int, last_day: int) -> FactorTable:
        """The org's factor values for day numbers in [first_day, last_day]. A weekly series
        (every date one weekday, a week apart: :func:`mesh.runtime.cadence.weekly_series`,
        judged on the whole series) holds each value over its date and the six days after it,
        as the attribution panel reads it, not on its dates alone."""
        with self._lock:
            generation = self._db.execute(
                "SELECT generation FROM factor_generation WHERE org_id = ?", (org_id,)
            ).fetchone()
            frame = pd.read_sql_query(
                "SELECT v.name, v.geo, v.day, v.value, s.type, s.source, s.unit, s.mean, s.std "
                "FROM factor_values v JOIN factor_series s USING (org_id, name, geo) "
                "WHERE v.org_id = ? AND v.day BETWEEN ? AND ?",
                self._db,
                params=(org_id, first_day - 6, last_day),
            )
            days = pd.read_sql_query(
                "SELECT name, geo, day FROM factor_values WHERE org_id = ?",
                self._db,
                params=(org_id,),
            )
        weekly = {k for k, g in days.groupby(["name", "geo"]) if weekly_series(g["day"].to_numpy())}
        frame = _carried_over_week(frame, weekly)
        frame = frame.loc[frame["day"].between(first_day, last_day)].reset_index(drop=True)
        return FactorTable(frame, first_day, last_day, int(generation[0]) if generation else 0)


def _carried_over_week(frame: pd.DataFrame, weekly: set[tuple[str, str]]) -> pd.DataFrame:
    """The weekly series' values repeated on the six days after each date (a day that has its
    own value keeps it)."""
    if not weekly or frame.empty:
        return frame
    mine = pd.Series(list(zip(frame["name"], frame["geo"], strict=True)), index=frame.index)
    rows = frame.loc[mine.isin(weekly)]
    later = [rows.assign(day=rows["day"] + k) for k in range(1, 7)]
    both = pd.concat([frame, *later], ignore_index=True)
    return both.drop_duplicates(["name", "geo", "day"], keep="first")


_EPOCH = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class FactorTable:
    """Loaded factor values: columns name, geo, day, value, type, source, unit, mean, std."""

    frame: pd.DataFrame
    first_day: int
    last_day: int
    generation: int

    def covers(self, first_day: int, last_day: int) -> bool:
        return self.first_day <= first_day and last_day <= self.last_day

    @classmethod
    def empty(cls) -> FactorTable:
        columns = ["name", "geo", "day", "value", "type", "source", "unit", "mean", "std"]
        return cls(pd.DataFrame(columns=columns), 0, -1, 0)


@dataclass(frozen=True, slots=True)
class JoinedFactor:
    """One factor's values on the rows (NaN where the factor has no value that day)."""

    name: str
    type: str
    source: str
    unit: str
    value: np.ndarray
    zscore: np.ndarray


def join_factors(
    table: FactorTable, days: np.ndarray, geos: pd.Series, geo_keys: pd.Series
) -> list[JoinedFactor]:
    """Each factor's value on each row's day and geo.

    A series for the row's geo (as the record carries it, "US-CA", or as the account's geo
    code, "CA") wins over the all-geo series of the same name.
    """
    out: list[JoinedFactor] = []
    frame = table.frame
    if frame.empty or days.size == 0:
        return out
    for name, group in frame.groupby("name", sort=True):
        first = group.iloc[0]
        if str(first["type"]) in NOT_JOINED:
            continue
        value = np.full(days.size, np.nan)
        mean = np.full(days.size, np.nan)
        std = np.full(days.size, np.nan)
        # Least specific first, so a geo series overwrites the all-geo one.
        for geo_of_row in (None, geo_keys, geos):
            if geo_of_row is None:
                sub = group[group["geo"] == ""]
                key = pd.Series(days).astype(str)
                sub_key = sub["day"].astype(str)
            else:
                sub = group[group["geo"] != ""]
                key = geo_of_row.astype(str).str.cat(pd.Series(days).astype(str), sep="|")
                sub_key = sub["geo"].astype(str).str.cat(sub["day"].astype(str), sep="|")
            if sub.empty:
                continue
            at = pd.Index(sub_key).get_indexer(key)
            hit = at >= 0
            value[hit] = sub["value"].to_numpy(np.float64)[at[hit]]
            mean[hit] = sub["mean"].to_numpy(np.float64)[at[hit]]
            std[hit] = sub["std"].to_numpy(np.float64)[at[hit]]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.where(std > 0, (value - mean) / std, 0.0)
        out.append(
            JoinedFactor(
                str(name), str(first["type"]), str(first["source"]), str(first["unit"]), value, z
            )
        )
    return out


def _within_page_bytes(series: Sequence[FactorSeries]) -> int:
    """How many of ``series``, from the first, fit MAX_PAGE_BYTES on the wire (at least one:
    a series holds at most MAX_VALUES values, ~0.4 MB)."""
    total = 0
    for i, one in enumerate(series):
        strings = len(one.name) + len(one.source) + len(one.unit) + len(one.geo)
        total += _SERIES_WIRE_BYTES + 4 * strings + _VALUE_WIRE_BYTES * len(one.values)
        if total > MAX_PAGE_BYTES and i:
            return i
    return len(series)
