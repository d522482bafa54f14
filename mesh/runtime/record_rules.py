"""What the values of a stored CausalMarketingData record must be: one set of rules for every
service that handles records.

Memory refuses a Write whose records break them (``memory_svc.convert``); ingestion checks the
same bounds on a raw row's numbers as it reads them (``ingestion_svc.connectors.base``) and once
more on the records it built (``ingestion_svc.pipeline``), so a row memory would refuse is that
row's rejection, never a failed stream. Pure: numpy and pandas, nothing of gRPC.

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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BOUNDS",
    "MAX_COUNT",
    "MAX_DATE",
    "MAX_MONEY",
    "MIN_DATE",
    "SMALLEST",
    "breaches",
    "record_violations",
    "value_violations",
    "violations",
]

MAX_MONEY = 1e12
MAX_COUNT = 1e15
SMALLEST = 1e-6
MAX_INTENSITY = 1e6
MAX_ID_CHARS = 256
# The supported range of dates (the same as mesh.runtime.protoconv's; a test keeps them equal).
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
_EARLIEST = np.datetime64(MIN_DATE - dt.timedelta(days=1), "us")
_LATEST = np.datetime64(MAX_DATE + dt.timedelta(days=2), "us")
# The same window in a Timestamp's seconds, compared before anything multiplies them.
_FIRST_SECOND = int(_EARLIEST.astype("datetime64[s]").astype(np.int64))
_END_SECOND = int(_LATEST.astype("datetime64[s]").astype(np.int64))
_MAX_NANOS = 999_999_999
# The record's Timestamp fields: (parent sub-message or "" for the record, field).
_INSTANTS = (
    ("", "timestamp"),
    ("causal_metadata", "ingested_at"),
    ("causal_metadata", "pulled_at"),
)

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
    return unique[:limit]


def record_violations(records: Sequence[Any], limit: int) -> list[tuple[int, str, str]]:
    """(row, field path, why) of the rules :func:`violations` reads from the records
    themselves, at most ``limit`` per rule: every Timestamp's seconds within 1900-2200 and
    nanos in 0..999,999,999."""
    found: list[tuple[int, str, str]] = []
    for parent, name in _INSTANTS:
        path = f"{parent}.{name}" if parent else name
        rows: list[int] = []
        stamps: list[Any] = []
        for i, r in enumerate(records):
            holder = getattr(r, parent) if parent else r
            if (not parent or r.HasField(parent)) and holder.HasField(name):
                rows.append(i)
                stamps.append(getattr(holder, name))
        if not rows:
            continue
        at = np.asarray(rows)
        seconds = np.array([t.seconds for t in stamps], dtype=np.int64)
        nanos = np.array([t.nanos for t in stamps], dtype=np.int64)
        early = seconds < _FIRST_SECOND
        late = seconds >= _END_SECOND
        for i in at[early | late][:limit].tolist():
            found.append((i, path, f"{path} must be within {MIN_DATE.year}-{MAX_DATE.year}"))
        bad = (nanos < 0) | (nanos > _MAX_NANOS)
        for i in at[bad][:limit].tolist():
            found.append((i, f"{path}.nanos", f"{path}.nanos must be in 0..{_MAX_NANOS:,}"))
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
    return found
