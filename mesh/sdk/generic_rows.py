"""Rows of a generic file that share a key: one row per date × geo × campaign is what LiftOS
stores (a later row of a key restates it, as a platform's later pull does), so an order- or
transaction-level export, whose rows of a day and region are separate sales, would keep only
its last sale of each. ``liftos ingest`` and ``LiftOS.ingest`` find such input before sending
anything and refuse it; with ``--sum-rows`` (``sum_rows=True``) they add each key's rows into
one. The ingestion service refuses what this cannot see: rows of one batch whose geos are
spelled differently but map to one geo ("NY", "New York").

A key's rows that are identical are a duplicated pull, not several sales, unless the user says
the file is order-level (``--sum-rows``: two identical rows are two orders of the same size),
so only rows of a key that *differ* make a file ambiguous. The key is the day (the first ten
characters of the mapped date: a local date-time's day; a date-time written with its zone,
"2024-10-26T22:30:00Z", is dated in the account's zone as ingestion dates it: Berlin's 27th;
a column whose every such time is midnight UTC holds dates, each keyed by the date written, as
ingestion reads it: :func:`mesh.runtime.zoned_times.utc_midnights`), the geo as written and
the campaign.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mesh.runtime.zoned_times import ZONED, local_time, utc_midnights

MEASURES = ("spend", "impressions", "clicks", "conversions", "revenue")
ORG_COLUMN = "org_id"  # ingestion_svc.connectors.generic reads it unmapped
_INTEGER = ("impressions", "clicks")


@dataclass(frozen=True, slots=True)
class Conflict:
    """Rows that share a key but differ: how many, and the first pair (lines, key)."""

    rows: int
    keys: int
    first: tuple[int, int]
    key: tuple[str, str, str, str]

    def text(self, path: object, flag: str = "--sum-rows") -> str:
        """The refusal; ``flag``: how the caller asks for summing."""
        where = " ".join(x for x in self.key if x)
        return (
            f"{path}: {self.rows:,} rows share their date × geo × campaign with another row "
            f"and differ from it ({self.keys:,} keys; first lines {self.first[0]} and "
            f"{self.first[1]}: {where}). LiftOS keeps one row per key, a later one replacing "
            "the earlier, so all but one of each would be lost. An order- or "
            f"transaction-level export: pass {flag} to add each key's rows into one (two "
            "identical rows are then two orders). A daily file with restated rows: keep the "
            "last row of each key"
        )


def _get(row: Any, path: str) -> Any:
    for part in path.split("."):
        if type(row) is not dict:
            return None
        row = row.get(part)
    return row


def _key(row: Any, mapping: dict[str, str], zone: str = "") -> tuple[str, str, str, str] | None:
    """(day, geo, campaign, org): a file naming its rows' org holds one key per org; the day
    of a date-time with its zone is its day in ``zone`` (the account's IANA zone)."""
    day = _get(row, mapping.get("date", ""))
    if not isinstance(day, str) or len(day) < 10:
        return None  # no day: the row is rejected on its own, keyed by nothing
    if ZONED.fullmatch(day):  # not a real time (02-30): keyed as written, refused by ingestion
        day = local_time(day, zone) or day
    geo = _get(row, mapping["geo"]) if mapping.get("geo") else ""
    campaign = _get(row, mapping["campaign_id"]) if mapping.get("campaign_id") else ""
    org = _get(row, ORG_COLUMN)
    return (day[:10], str(geo or "").strip().upper(), str(campaign or "").strip(),
            str(org or "").strip())  # fmt: skip


def _keyed_in(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], zone: str
) -> tuple[list[tuple[int, str, Any]], str]:
    """The rows parsed, and the zone their zoned times are keyed in: UTC where the date column's
    are all midnight UTC (dates, keyed as written: V1 F2; New York keyed "2024-01-05T00:00Z"
    by the 4th, which a key-conflict message named), else the account's ``zone``."""
    parsed = list(_parsed(rows))
    date = mapping.get("date", "")
    dates = (_get(row, date) for _, _, row in parsed if row is not None) if date else iter(())
    return parsed, "UTC" if utc_midnights(dates) else zone


def day_of(text: str, mapping: dict[str, str], zone: str = "") -> str:
    """The day of a row given as JSON text ("" when it has none: it is refused alone)."""
    try:
        key = _key(json.loads(text), mapping, zone)
    except ValueError:
        return ""
    return key[0] if key else ""


def _measures(row: Any, mapping: dict[str, str]) -> tuple[str, ...]:
    return tuple(str(_get(row, mapping[m])) for m in MEASURES if mapping.get(m))


def _parsed(rows: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str, Any]]:
    for line, text in rows:
        try:
            yield line, text, json.loads(text)
        except ValueError:
            yield line, text, None


# a plain number, as the ingestion service reads one (no thousands separators, no signs of
# currency: a value it would refuse is not summed but sent alone, to be refused by name)
_PLAIN = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", re.ASCII)


def conflict(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], zone: str = ""
) -> Conflict | None:
    """The rows (line, JSON text) that share a key with an earlier row and differ from it;
    None when every key's rows are one row or identical copies. ``zone``: the account's."""
    seen: dict[tuple[str, str, str, str], tuple[int, tuple[str, ...]]] = {}
    clashing: set[tuple[str, str, str, str]] = set()
    n, first = 0, None
    parsed, zone = _keyed_in(rows, mapping, zone)
    for line, _, row in parsed:
        key = _key(row, mapping, zone) if row is not None else None
        if key is None:
            continue
        values = _measures(row, mapping)
        earlier = seen.setdefault(key, (line, values))
        if earlier[1] != values:
            n += 1
            clashing.add(key)
            first = first or (earlier[0], line, key)
    if first is None:
        return None
    return Conflict(n, len(clashing), (first[0], first[1]), first[2])


@dataclass(frozen=True, slots=True)
class TotalGeo:
    """A geo whose values are the sum of the other geos' on (nearly) every day it has."""

    geo: str
    days: int  # days on which it equals the others' sum
    of: int  # days on which it appears beside two or more other geos
    line: int  # its first row

    def text(self, path: object) -> str:
        return (
            f"{path}: geo {self.geo!r} (first on line {self.line}) equals the sum of the other "
            f"geos on {self.days:,} of its {self.of:,} days: it is a total row, which would be "
            "stored as one more geo and double every figure (spend, incremental outcome, "
            "baseline). Leave the total rows out of the file"
        )


# A total shows on at least this many days, and on this share of the days it is there with
# two or more other geos: a region equal to the others' sum now and then is chance.
TOTAL_MIN_DAYS = 7
TOTAL_SHARE = 0.9


def total_geo(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], zone: str = ""
) -> TotalGeo | None:
    """The first geo (as written) that is the sum of the others, measure by measure (each
    key's rows added first), on most of its days; None when none is. The ingestion service
    refuses total labels ("Total", "All", …); this finds one under any name."""
    columns = [mapping[m] for m in MEASURES if mapping.get(m)]
    if not mapping.get("geo") or not columns:
        return None
    cells: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    first: dict[str, int] = {}
    written: dict[str, str] = {}  # the geo as its first row spells it
    parsed, zone = _keyed_in(rows, mapping, zone)
    for line, _, row in parsed:
        key = _key(row, mapping, zone) if type(row) is dict else None
        values = [_number(_get(row, c)) for c in columns] if key and key[1] else [None]
        if key is None or any(v is None for v in values):
            continue
        day, geo, campaign, org = key
        cell = cells.setdefault((day, campaign, org), {}).setdefault(geo, [0.0] * len(columns))
        for j, v in enumerate(values):
            cell[j] += v or 0.0
        if geo not in first:
            first[geo] = line
            written[geo] = str(_get(row, mapping["geo"])).strip()
    seen: dict[str, int] = dict.fromkeys(first, 0)
    equal: dict[str, int] = dict.fromkeys(first, 0)
    for geos in cells.values():
        if len(geos) < 3:
            continue
        sums = [math.fsum(v[j] for v in geos.values()) for j in range(len(columns))]
        for geo, own in geos.items():
            seen[geo] += 1
            rest = [total - x for total, x in zip(sums, own, strict=True)]
            if any(own) and all(
                math.isclose(x, r, rel_tol=1e-4, abs_tol=0.01)
                for x, r in zip(own, rest, strict=True)
            ):
                equal[geo] += 1
    for geo, line in first.items():
        if equal[geo] >= TOTAL_MIN_DAYS and equal[geo] >= TOTAL_SHARE * seen[geo]:
            return TotalGeo(written[geo], equal[geo], seen[geo], line)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    return float(value) if isinstance(value, str) and _PLAIN.fullmatch(value) else None


def summed(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], zone: str = ""
) -> Iterator[tuple[int, str]]:
    """Each key's rows added into one (at its first row's line, with that row's other
    columns: its date as written, which ingestion dates to the key's day in ``zone``), in
    first-seen order. A row without a key, or whose mapped measure is not a number, goes on
    alone, for ingestion to reject with its reason. Text measures are read as plain numbers:
    a caller with European ones reads them first (:mod:`mesh.sdk.generic_rows_numbers`)."""
    groups: dict[tuple[str, str, str, str], tuple[int, dict[str, Any], dict[str, float]]] = {}
    alone: list[tuple[int, str]] = []
    order: list[tuple[str, str, str, str] | int] = []
    columns = [(m, mapping[m]) for m in MEASURES if mapping.get(m)]
    if any("." in col for _, col in columns):
        raise ValueError(
            "--sum-rows adds top-level columns (a CSV's, or flat JSON rows'), "
            "not nested fields such as " + next(c for _, c in columns if "." in c)
        )
    parsed, zone = _keyed_in(rows, mapping, zone)
    for line, text, row in parsed:
        key = _key(row, mapping, zone) if type(row) is dict else None
        values = {m: _number(_get(row, col)) for m, col in columns} if key else {}
        if key is None or any(v is None for v in values.values()):
            alone.append((line, text))
            order.append(len(alone) - 1)
            continue
        if key in groups:
            sums = groups[key][2]
            for m, v in values.items():
                sums[m] += v or 0.0
        else:
            groups[key] = (line, row, {m: v or 0.0 for m, v in values.items()})
            order.append(key)
    for item in order:
        if isinstance(item, int):
            yield alone[item]
            continue
        line, row, sums = groups[item]
        out = dict(row)
        for m, col in columns:
            v = sums[m]
            out[col] = int(v) if m in _INTEGER and v.is_integer() else v
        yield line, json.dumps(out, separators=(",", ":"))
