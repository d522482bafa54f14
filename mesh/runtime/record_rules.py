"""What the values of a stored CausalMarketingData record must be: one set of rules for every
service that handles records.

Memory refuses, record by record, those of a Write that break them (:func:`refused_rows`,
``memory_svc.convert``) and stores the rest; ingestion checks the same bounds on a raw row's
numbers as it reads them (``ingestion_svc.connectors.base``) and once more on the records it
built (``ingestion_svc.pipeline``), so a row memory would refuse is that row's rejection
before it is sent. Pure: numpy and pandas, nothing of gRPC.

The bounds are far outside real marketing data and well inside what the numbers' types hold:

* money (spend, revenue) at most 1e12 in the account's currency for one campaign × geo × day —
  a hundred times the largest advertiser's yearly budget, and far below where a double stops
  counting cents (2^53 ≈ 9e15 cents);
* counts (impressions, clicks, conversions) at most 1e15 — a thousand times every ad
  impression served worldwide in a day, and below 2^53, so a count parsed through a double
  (JSON numbers, Struct values) is still exact and converts to int64 without overflow;
* money and conversions either 0 or at least 1e-6 — a millionth is the finest unit any
  platform reports (Google's micros); a smaller positive number is a corrupted export, and
  a ratio over it (ROAS, CPA) overflows a double;
* ``data_quality_score`` in [0, 1]; ``treatment_intensity`` a finite dose of at most 1e6;
* instants within the supported date range 1900-2200 (``mesh.runtime.protoconv``), widened
  by a day each side: a record's timestamp is its local day's midnight in UTC. Every
  Timestamp of a record (``timestamp``, ``causal_metadata.ingested_at`` / ``pulled_at``) is
  checked on its own seconds and nanos (:func:`record_violations`), before any conversion
  to µs could wrap.

Every other field is checked as ``marketing_data.proto`` documents it (audit R7-F2;
:func:`record_violations`): each double finite, those the proto gives a range in it
(quality components and confounder strength in [0, 1], spend/revenue/conversion lags,
adstock, market indexes and product money not negative, adstock decay in [0, 1]); each enum
a number the enum defines; each Date a real calendar date in 1900-2200; calendar parts in
their documented ranges (quarter 1..4, month 1..12, week 1..53, day of year 1..366, 0
meaning unset); day counts -1 (none) or more. Where the proto gives no limit, the limit is
one no real export reaches:

* text at most ``MAX_TEXT_CHARS`` = 1,024 characters — the bound ingestion puts on a
  platform's text (``ingestion_svc.connectors.base.MAX_TEXT_CHARS``), so every record
  ingestion builds meets it; ``natural_key`` (source|account|campaign|geo|date) at most
  ``MAX_KEY_CHARS`` = 8,192. Without it one 5 MB campaign_name made every full Scan of the
  org exceed a default client's 4 MiB message limit;
* no control characters (U+0000-U+001F, U+007F) in an identifier or code; free text
  (``_FREE_TEXT``: names, descriptions, notes) may hold tab, newline and carriage return;
* at most ``MAX_ITEMS`` = 1,000 items in a record's repeated field (confounders, external
  factors, indicators, notes, graph nodes, assignments);
* other doubles (a factor's or indicator's value, a confounder's value) at most
  ``MAX_VALUE`` = 1e15 in size — past any index, rate or price and below 2^53;
* day counts (late_days, history_days, days to/since a holiday) at most ``MAX_DAYS`` =
  110,000, the span of 1900-2200 (109,938 days);
* a whole record at most ``MAX_RECORD_BYTES`` = 256 KiB serialised (a real one is a few KB,
  its embedding included): the field bounds alone would still let 1,000 confounders of
  1,024-character descriptions make a 3 MB record, and one record over 4 MiB cannot be sent
  to a client on gRPC's default message limit however Scan splits its replies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np
import pandas as pd

from mesh.runtime.frames.schema import QUALITY_SCORES, STRING_FIELDS

__all__ = [
    "BOUNDS",
    "MAX_COUNT",
    "MAX_DATE",
    "MAX_DAYS",
    "MAX_ITEMS",
    "MAX_KEY_CHARS",
    "MAX_MONEY",
    "MAX_RECORD_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_VALUE",
    "MIN_DATE",
    "SMALLEST",
    "breaches",
    "record_violations",
    "refused_rows",
    "text_breaches",
    "value_violations",
    "violations",
]

MAX_MONEY = 1e12
MAX_COUNT = 1e15
SMALLEST = 1e-6
MAX_INTENSITY = 1e6
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 1_024
MAX_KEY_CHARS = 8_192
MAX_ITEMS = 1_000
MAX_VALUE = 1e15
MAX_DAYS = 110_000
MAX_RECORD_BYTES = 262_144
# The supported range of dates (the same as mesh.runtime.protoconv's; a test keeps them equal).
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
_EARLIEST = np.datetime64(MIN_DATE - dt.timedelta(days=1), "us")
_LATEST = np.datetime64(MAX_DATE + dt.timedelta(days=2), "us")
# The same window in a Timestamp's seconds, compared before anything multiplies them.
_FIRST_SECOND = int(_EARLIEST.astype("datetime64[s]").astype(np.int64))
_END_SECOND = int(_LATEST.astype("datetime64[s]").astype(np.int64))
_MAX_NANOS = 999_999_999

# Numeric record fields → (upper bound, how it reads in a message, smallest positive value).
# Each must also be finite and not negative.
BOUNDS: dict[str, tuple[float, str, float]] = {
    "spend": (MAX_MONEY, "at most 1e12", SMALLEST),
    "revenue": (MAX_MONEY, "at most 1e12", SMALLEST),
    "conversions": (MAX_COUNT, "at most 1e15", SMALLEST),
    "impressions": (MAX_COUNT, "at most 1e15", 0.0),
    "clicks": (MAX_COUNT, "at most 1e15", 0.0),
    "treatment_intensity": (MAX_INTENSITY, "at most 1e6", 0.0),
    "data_quality_score": (1.0, "in [0, 1]", 0.0),
    "version": (float(2**63 - 1), "an int64", 0.0),
}


# String columns of a record frame value_violations() checks, where the frame has them (memory's
# write frame and ingestion's record frame both do): a record ingestion built from a row with
# a control character or a 5 MB name is that row's rejection, not a refused Write. The frame's
# string fields less the two the writer sets itself (id, org_id).
FRAME_TEXT = tuple(f for f in STRING_FIELDS if f not in ("id", "org_id"))


def breaches(name: str, values: np.ndarray) -> Iterator[tuple[np.ndarray, str]]:
    """(mask, why) for each way ``values`` of the numeric record field ``name`` break its
    rule — not finite, negative, too large, too small — in that order (a row's first breach
    is its reason)."""
    high, phrase, smallest = BOUNDS[name]
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    yield ~finite, f"{name} must be a finite number"
    yield finite & (x < 0), f"{name} must not be negative"
    yield finite & (x > high), f"{name} must be {phrase}"
    yield finite & (x > 0) & (x < smallest), f"{name} must be 0 or at least {smallest:g}"


def violations(
    frame: pd.DataFrame, org_id: str, limit: int, records: Sequence[Any] = ()
) -> list[tuple[int, str, str]]:
    """(row, field, why) of every broken rule of the records in ``frame`` (the columns of
    ``mesh.runtime.frames``) and, given the ``records`` themselves (CausalMarketingData, in
    the frame's order), of their fields no column holds (:func:`record_violations`); sorted
    by row, one per field, at most ``limit`` of them."""
    return _sorted_unique(frame, org_id, limit, records)[:limit]


def refused_rows(
    frame: pd.DataFrame, org_id: str, records: Sequence[Any] = ()
) -> list[tuple[int, str, str]]:
    """(row, field, why) of every record that breaks a rule — all of them, however many —
    with the first of its broken rules by field path, a field before the record as a whole
    ("", its size: a 5 MB name is named as the name): what memory refuses record by record.
    Each rule flags a row at most once, so a rule's ``limit`` of one per row misses none."""
    if not len(frame):
        return []
    first: dict[int, tuple[str, str]] = {}
    for row, field, why in _sorted_unique(frame, org_id, len(frame), records):
        if row not in first or not first[row][0]:
            first.setdefault(row, (field, why))
            if not first[row][0] and field:
                first[row] = (field, why)
    return [(row, field, why) for row, (field, why) in first.items()]


def _sorted_unique(
    frame: pd.DataFrame, org_id: str, limit: int, records: Sequence[Any]
) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = list(record_violations(records, limit)) if records else []

    def flag(mask: np.ndarray, field: str, why: str) -> None:
        for i in np.flatnonzero(mask)[:limit].tolist():
            found.append((i, field, why))

    ids = frame["id"].astype(str)
    flag((ids == "").to_numpy(), "id", "id is required")
    flag((ids.str.len() > MAX_ID_CHARS).to_numpy(), "id", "id is longer than 256 characters")
    orgs = frame["org_id"].astype(str).to_numpy()
    flag(orgs == "", "org_id", "org_id is required")
    flag((orgs != "") & (orgs != org_id), "org_id", f"org_id differs from the request's {org_id!r}")
    flag(frame["timestamp"].isna().to_numpy(), "timestamp", "timestamp is required")
    source = frame["data_source"].astype(str).to_numpy()
    flag(np.isin(source, ["unspecified", "unknown"]), "data_source", "data_source is required")
    found += value_violations(frame, limit)
    found.sort()
    seen: set[tuple[int, str]] = set()
    unique = []
    for row, field, why in found:
        if (row, field) not in seen:
            seen.add((row, field))
            unique.append((row, field, why))
    return unique


def record_violations(records: Sequence[Any], limit: int) -> list[tuple[int, str, str]]:
    """(row, field path, why) of the rules :func:`violations` reads from the records
    themselves, at most ``limit`` per rule: every Timestamp's seconds within 1900-2200 and
    nanos in 0..999,999,999, and every field no frame column holds (the module's rules),
    each path with its items' indexes (``external_factors[1].value``)."""
    found: list[tuple[int, str, str]] = []
    recs = list(records)
    if recs:
        sizes = np.fromiter(map(methodcaller("ByteSize"), recs), np.int64, len(recs))
        for i in np.flatnonzero(sizes > MAX_RECORD_BYTES)[:limit].tolist():
            found.append((i, "", f"the record is {sizes[i]:,} bytes; at most {MAX_RECORD_BYTES:,}"))
        _walk(recs, np.arange(len(recs)), "", _root, found, limit)
    return found


def value_violations(frame: pd.DataFrame, limit: int) -> list[tuple[int, str, str]]:
    """(row, field, why) of the records' numbers and instants that break their rules (the
    part of :func:`violations` a producer of records can get wrong), at most ``limit`` per
    rule."""
    found: list[tuple[int, str, str]] = []

    def flag(mask: np.ndarray, field: str, why: str) -> None:
        for i in np.flatnonzero(mask)[:limit].tolist():
            found.append((i, field, why))

    stamps = pd.Series(frame["timestamp"])
    naive = stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    instants = naive.to_numpy("datetime64[us]")
    flag(
        ~np.isnat(instants) & ((instants < _EARLIEST) | (instants >= _LATEST)),
        "timestamp",
        f"timestamp must be within {MIN_DATE.year}-{MAX_DATE.year}",
    )
    for name in BOUNDS:
        for mask, why in breaches(name, frame[name].to_numpy()):
            flag(mask, name, why)
    for name in FRAME_TEXT:
        if name in frame.columns:
            for mask, why in text_breaches(name, frame[name]):
                flag(mask, name, why)
    return found


def text_breaches(name: str, column: pd.Series) -> Iterator[tuple[np.ndarray, str]]:
    """(mask, why) of the values of the string record field ``name`` (one of ``FRAME_TEXT``)
    that break its rule: longer than its bound, or holding control characters (in free text
    such as campaign_name, tab, newline and carriage return are allowed). Ingestion's
    connectors can reject a raw row's text with it, as they do numbers with :func:`breaches`."""
    text = column if column.dtype != object else column.fillna("").astype(str)
    longest = MAX_KEY_CHARS if name == "natural_key" else MAX_TEXT_CHARS
    yield text.str.len().to_numpy() > longest, f"{name} is longer than {longest:,} characters"
    control = (
        "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]" if name in _FREE_TEXT else "[\\x00-\\x1f\\x7f]"
    )
    held = text.str.contains(control, regex=True, na=False).to_numpy(dtype=bool)
    yield held, f"{name} holds control characters"


# ------------------------------------------------------------------ every field of a record
# Checked column by column (one pass over a field's values for all records), so a 10,000
# record Write pays per field, not per record × field in Python.

# Top-level fields a frame column carries, checked by violations() / value_violations().
_IN_FRAME = frozenset({"id", "org_id", "embedding_vector", *BOUNDS, *FRAME_TEXT})
# Free text: a platform's names and the pipeline's prose may hold tab / newline / CR.
_FREE_TEXT = frozenset(
    {
        "campaign_name",
        "calendar_features.holiday_name",
        "calendar_features.next_holiday_name",
        "calendar_features.market_conditions.promotion_name",
        "confounders.description",
        "causal_metadata.notes",
        "product.title",
        "product.category",
    }
)
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNIT = (0.0, 1.0, "in [0, 1]")
_NOT_NEGATIVE = (0.0, MAX_VALUE, f"in [0, {MAX_VALUE:g}]")
# Doubles whose range the proto narrows: path → (low, high, phrase); others within ±MAX_VALUE.
_DOUBLE_RANGES: dict[str, tuple[float, float, str]] = {
    "confounders.strength": _UNIT,
    **{f"causal_metadata.quality.{q}": _UNIT for q in QUALITY_SCORES},
    "calendar_features.market_conditions.demand_index": _NOT_NEGATIVE,
    "calendar_features.market_conditions.competitor_index": _NOT_NEGATIVE,
    **{
        f"lag_features.{m}_lag_{d}": _NOT_NEGATIVE
        for m in ("spend", "conversions", "revenue")
        for d in (1, 7, 14, 28)
    },
    "lag_features.spend_rolling_mean_7": _NOT_NEGATIVE,
    "lag_features.adstock_spend": _NOT_NEGATIVE,
    "lag_features.adstock_decay": _UNIT,
    "conceptual_assignments.distance": _NOT_NEGATIVE,
    **{
        f"product.{m}": (0.0, MAX_MONEY, f"in [0, {MAX_MONEY:g}]")
        for m in ("list_price", "discount_amount", "refund_amount", "unit_cost")
    },
}
# Integers: path → (low, high, whether 0 means unset and is allowed).
_INT_RANGES: dict[str, tuple[int, int, bool]] = {
    "calendar_features.year": (MIN_DATE.year, MAX_DATE.year, True),
    "calendar_features.quarter": (1, 4, True),
    "calendar_features.month": (1, 12, True),
    "calendar_features.week": (1, 53, True),
    "calendar_features.iso_year": (MIN_DATE.year - 1, MAX_DATE.year + 1, True),
    "calendar_features.day_of_year": (1, 366, True),
    "calendar_features.days_to_next_holiday": (-1, MAX_DAYS, False),
    "calendar_features.days_since_last_holiday": (-1, MAX_DAYS, False),
    "causal_metadata.late_days": (0, MAX_DAYS, False),
    "causal_metadata.replaced_version": (0, 2**63 - 1, False),
    "lag_features.history_days": (0, MAX_DAYS, False),
    "product.quantity": (0, int(MAX_COUNT), False),
    "product.refunded_quantity": (0, int(MAX_COUNT), False),
}
_TIMESTAMP = "google.protobuf.Timestamp"
_DATE = "liftos.v1.Date"

Found = list[tuple[int, str, str]]
Where = Callable[[int], str]


def _root(_: int) -> str:
    return ""


def _item(parent: Where, owner: np.ndarray, index: np.ndarray, name: str) -> Where:
    """Path of item j of repeated field ``name`` (with its index)."""
    return lambda j: f"{parent(int(owner[j]))}{name}[{int(index[j])}]"


def _member(parent: Where, name: str) -> Where:
    return lambda k: f"{parent(k)}{name}"


def _picked(where: Where, sel: np.ndarray) -> Where:
    """Path of the j-th of the messages ``sel`` picked."""
    return lambda j: where(int(sel[j]))


def _dotted_name(where: Where, name: str) -> Where:
    return lambda k: f"{where(k)}.{name}"


def _dotted(where: Where) -> Where:
    return lambda k: f"{where(k)}."


def _walk(
    msgs: list[Any], rows: np.ndarray, key: str, where: Where, found: Found, limit: int
) -> None:
    """Check every field of ``msgs`` (same type; ``rows`` their records, ``key`` their path
    without indexes, ``where(k)`` msgs[k]'s path prefix with them)."""
    for f in msgs[0].DESCRIPTOR.fields:
        name = f.name
        path = f"{key}{name}"
        if (not key and name in _IN_FRAME) or f.type == f.TYPE_BOOL:
            continue  # every bool is valid
        if f.is_repeated:
            containers = list(map(attrgetter(name), msgs))
            counts = np.fromiter(map(len, containers), np.int64, len(containers))
            _flag(
                found,
                limit,
                rows,
                counts > MAX_ITEMS,
                _member(where, name),
                f"{path} has more than {MAX_ITEMS:,} items",
            )
            if not counts.any():
                continue
            items = [x for c in containers for x in c]
            owner = np.repeat(np.arange(len(msgs)), counts)
            index = np.arange(len(items)) - np.repeat(np.cumsum(counts) - counts, counts)
            at = _item(where, owner, index, name)
            if f.type == f.TYPE_MESSAGE:
                _walk(items, rows[owner], f"{path}.", _dotted(at), found, limit)
            else:
                _scalars(items, f, path, rows[owner], at, found, limit)
        elif f.type == f.TYPE_MESSAGE:
            kind = f.message_type.full_name
            has = np.fromiter(map(methodcaller("HasField", name), msgs), bool, len(msgs))
            if not has.any():
                continue
            sel = np.flatnonzero(has)
            subs = list(map(attrgetter(name), msgs if has.all() else [msgs[k] for k in sel]))
            at_sub = _picked(_member(where, name), sel)
            if kind == _TIMESTAMP:
                _instants(subs, path, rows[sel], at_sub, found, limit)
            elif kind == _DATE:
                _dates(subs, path, rows[sel], at_sub, found, limit)
            else:
                _walk(subs, rows[sel], f"{path}.", _dotted(at_sub), found, limit)
        else:
            values = list(map(attrgetter(name), msgs))
            _scalars(values, f, path, rows, _member(where, name), found, limit)


def _flag(
    found: Found, limit: int, rows: np.ndarray, mask: np.ndarray, where: Where, why: str
) -> None:
    for k in _per_row(np.flatnonzero(mask), rows)[:limit].tolist():
        found.append((int(rows[k]), where(k), why))


def _per_row(picked: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The first of ``picked`` (item positions, ascending) of each record: one rule flags a
    record once however many of its items break it, so ``limit`` rows' worth of flags never
    leaves a later record unflagged (:func:`refused_rows`)."""
    if len(picked) < 2:
        return picked
    owners = rows[picked]
    if (np.diff(owners) > 0).all():
        return picked
    _, first = np.unique(owners, return_index=True)
    return picked[np.sort(first)]


def _scalars(
    values: list[Any], f: Any, path: str, rows: np.ndarray, where: Where, found: Found, limit: int
) -> None:
    """The rule of one scalar field on its values (one per message, or per item)."""
    if f.type == f.TYPE_STRING:
        longest = MAX_KEY_CHARS if path == "natural_key" else MAX_TEXT_CHARS
        if max(map(len, values), default=0) > longest:
            mask = np.fromiter((len(v) > longest for v in values), bool, len(values))
            _flag(found, limit, rows, mask, where, f"{path} is longer than {longest:,} characters")
        control = _TEXT_CONTROL if path in _FREE_TEXT else _CONTROL
        if control.search("".join(values)):
            mask = np.fromiter((control.search(v) is not None for v in values), bool, len(values))
            _flag(found, limit, rows, mask, where, f"{path} holds control characters")
    elif f.type in (f.TYPE_DOUBLE, f.TYPE_FLOAT):
        x = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(x)
        _flag(found, limit, rows, ~finite, where, f"{path} must be a finite number")
        low, high, phrase = _DOUBLE_RANGES.get(
            path, (-MAX_VALUE, MAX_VALUE, f"at most {MAX_VALUE:g} in size")
        )
        _flag(
            found, limit, rows, finite & ((x < low) | (x > high)), where, f"{path} must be {phrase}"
        )
    elif f.type == f.TYPE_ENUM:
        defined = np.fromiter(f.enum_type.values_by_number, np.int64)
        x = np.asarray(values, dtype=np.int64)
        bad = ~np.isin(x, defined)
        enum = f.enum_type.name
        for k in _per_row(np.flatnonzero(bad), rows)[:limit].tolist():
            found.append((int(rows[k]), where(k), f"{path} {int(x[k])} is not a {enum} value"))
    else:  # integers
        low, high, zero_unset = _INT_RANGES.get(path, (0, 2**63 - 1, False))
        x = np.asarray(values, dtype=np.int64)
        bad = (x < low) | (x > high)
        if zero_unset:
            bad &= x != 0
        _flag(found, limit, rows, bad, where, f"{path} must be in {low:,}..{high:,}")


def _instants(
    stamps: list[Any], path: str, rows: np.ndarray, where: Where, found: Found, limit: int
) -> None:
    """A Timestamp's seconds within 1900-2200 (compared as given: scaled to µs first, 2^62
    seconds wrapped to 1970) and its nanos in 0..999,999,999."""
    seconds = np.fromiter(map(attrgetter("seconds"), stamps), np.int64, len(stamps))
    nanos = np.fromiter(map(attrgetter("nanos"), stamps), np.int64, len(stamps))
    outside = (seconds < _FIRST_SECOND) | (seconds >= _END_SECOND)
    _flag(
        found, limit, rows, outside, where, f"{path} must be within {MIN_DATE.year}-{MAX_DATE.year}"
    )
    bad = (nanos < 0) | (nanos > _MAX_NANOS)
    _flag(
        found,
        limit,
        rows,
        bad,
        _dotted_name(where, "nanos"),
        f"{path}.nanos must be in 0..{_MAX_NANOS:,}",
    )


def _dates(
    dates: list[Any], path: str, rows: np.ndarray, where: Where, found: Found, limit: int
) -> None:
    """A Date is unset (all zero) or a real calendar day within 1900-2200."""
    y = np.fromiter(map(attrgetter("year"), dates), np.int64, len(dates))
    m = np.fromiter(map(attrgetter("month"), dates), np.int64, len(dates))
    d = np.fromiter(map(attrgetter("day"), dates), np.int64, len(dates))
    unset = (y == 0) & (m == 0) & (d == 0)
    in_years = (y >= MIN_DATE.year) & (y <= MAX_DATE.year) & (m >= 1) & (m <= 12)
    month = (np.where(in_years, y, 2000) - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        np.where(in_years, m, 1) - 1
    ).astype("timedelta64[M]")
    days_in = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    real = in_years & (d >= 1) & (d <= days_in)
    for k in _per_row(np.flatnonzero(~unset & ~real), rows)[:limit].tolist():
        why = (
            f"{path} must be within {MIN_DATE.year}-{MAX_DATE.year}"
            if (m[k] >= 1) & (m[k] <= 12) & (d[k] >= 1) & (d[k] <= 31) & ~in_years[k]
            else f"{path} {y[k]}-{m[k]:02d}-{d[k]:02d} is not a calendar date"
        )
        found.append((int(rows[k]), where(k), why))
