"""Frame → records: :func:`frame_to_records`, one CausalMarketingData per row.

Each row becomes a dict of exactly the fields the old field-by-field writer set (nested dicts
for sub-messages, lists for repeated fields), built column by column; the message is then
made in one constructor call, or, over a parsed payload, written field by field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.frames.enums import enum_numbers
from mesh.runtime.frames.gc_pause import gc_paused
from mesh.runtime.frames.schema import (
    BOOL_FIELDS,
    ENUM_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    LAG_OPTIONAL,
    QUALITY_SCORES,
    STRING_FIELDS,
    families,
)

# Repeated fields a column replaces on a parsed payload (the other repeated fields append).
_REPLACED = frozenset({"knowledge_graph_nodes", "conceptual_assignments", "embedding_vector"})


def _list(frame: pd.DataFrame, name: str, default: Any, n: int) -> list[Any]:
    if name not in frame.columns:
        return [default] * n
    values = frame[name].tolist()
    if isinstance(default, str):
        return [v if isinstance(v, str) else default for v in values]
    if isinstance(default, float) and not math.isnan(default):
        return [
            default if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values
        ]
    return values


# Numeric and boolean columns, numpy or nullable (Int64, Float64, boolean): a missing value
# (NaN, NA) becomes the field's default, as None and NaN do in object columns.


def _floats(frame: pd.DataFrame, name: str, n: int) -> list[float]:
    """``float(v)`` per row, None / NaN / NA / a missing column → 0.0."""
    if name in frame.columns and frame[name].dtype.kind in "fiub":
        x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(x), 0.0, x).tolist()
    return [float(v) for v in _list(frame, name, 0.0, n)]


def _ints(frame: pd.DataFrame, name: str, n: int) -> list[int]:
    """``int(v)`` per row, None / NaN / NA / a missing column → 0."""
    if name in frame.columns and frame[name].dtype.kind in "ib":
        return frame[name].fillna(0).to_numpy(dtype=np.int64).tolist()
    return [int(v) for v in _list(frame, name, 0.0, n)]


def _bools(frame: pd.DataFrame, name: str, n: int) -> list[bool]:
    if name in frame.columns and frame[name].dtype.kind == "b":
        return frame[name].fillna(False).to_numpy(dtype=bool).tolist()
    return [bool(v) for v in _list(frame, name, False, n)]


def _strings(frame: pd.DataFrame, name: str, n: int) -> list[str]:
    """The strings of a column, "" for anything else (NaN, None) or a missing column."""
    if name in frame.columns and isinstance(frame[name].dtype, pd.StringDtype):
        return frame[name].to_numpy(dtype=object, na_value="").tolist()
    return _list(frame, name, "", n)


def _instants(frame: pd.DataFrame, name: str, n: int) -> list[dict[str, int] | None]:
    """Timestamp field values ({seconds, nanos}) in UTC, None for NaT / a missing column."""
    if name not in frame.columns:
        return [None] * n
    col = pd.to_datetime(frame[name], utc=True)
    us = col.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view(np.int64)
    seconds, micros = np.divmod(us, 1_000_000)
    return [
        None if missing else {"seconds": s, "nanos": m * 1000}
        for missing, s, m in zip(
            col.isna().to_numpy().tolist(), seconds.tolist(), micros.tolist(), strict=True
        )
    ]


def _dates(frame: pd.DataFrame, name: str, n: int) -> list[dict[str, int] | None]:
    """Date field values ({year, month, day}), None for NaT / a missing column."""
    if name not in frame.columns:
        return [None] * n
    col = pd.to_datetime(frame[name])
    if getattr(col.dt, "tz", None) is not None:
        col = col.dt.tz_localize(None)
    missing = col.isna().to_numpy().tolist()
    y = col.dt.year.fillna(0).astype(np.int64).tolist()
    m = col.dt.month.fillna(0).astype(np.int64).tolist()
    d = col.dt.day.fillna(0).astype(np.int64).tolist()
    return [
        None if x else {"year": a, "month": b, "day": c}
        for x, a, b, c in zip(missing, y, m, d, strict=True)
    ]


def _unused(values: list[Any]) -> bool:
    """Every value is its proto3 default (0, 0.0, False, ""; -0.0 is not a default)."""
    if any(values):
        return False
    # the converters above give one Python type per column
    return not (values and isinstance(values[0], float) and np.signbit(values).any())


def _rows(n: int, columns: Mapping[str, Any], prune: bool) -> list[dict[str, Any]]:
    """One dict per row of the columns (leaving out, when ``prune``, those :func:`_unused`)."""
    keep = {k: v for k, v in columns.items() if not (prune and _unused(v))}
    if not keep:
        return [{} for _ in range(n)]
    keys = list(keep)
    return [dict(zip(keys, values, strict=True)) for values in zip(*keep.values(), strict=True)]


def _put(rows: list[dict[str, Any]], key: str, values: Sequence[Any]) -> None:
    """Set ``key`` on the rows whose value is not None."""
    for row, value in zip(rows, values, strict=True):
        if value is not None:
            row[key] = value


def _sparse(n: int, columns: Mapping[str, tuple[list[Any], np.ndarray]]) -> list[Any]:
    """Per row, a dict of the fields whose ``mask`` is true there, or None when no field is —
    for sub-messages written only where they carry something."""
    out: list[dict[str, Any] | None] = [None] * n
    for key, (values, mask) in columns.items():
        for i in np.flatnonzero(mask).tolist():
            row = out[i]
            if row is None:
                row = out[i] = {}
            row[key] = values[i]
    return out


def _truthy(values: list[Any]) -> np.ndarray:
    return np.fromiter(map(bool, values), dtype=bool, count=len(values))


def _given(values: list[Any]) -> np.ndarray:
    return np.array([v is not None for v in values], dtype=bool)


def frame_to_records(frame: pd.DataFrame) -> list[md_pb.CausalMarketingData]:
    """Build one CausalMarketingData per row from columns named as in :data:`FRAME_SCHEMA`.

    Missing columns leave their fields at the proto default; enum columns take the short
    names :func:`records_to_frame` writes (unknown names raise InvalidInput naming
    ``column[row]``). A ``payload`` column, when present, is parsed first and the other
    columns present are written over it.
    """
    with gc_paused():  # millions of small dicts, all alive until the messages are built
        return _frame_to_records(frame)


def _frame_to_records(frame: pd.DataFrame) -> list[md_pb.CausalMarketingData]:
    n = len(frame)
    scalar: dict[str, list[Any]] = {}
    for name in STRING_FIELDS:
        if name in frame.columns:
            scalar[name] = _strings(frame, name, n)
    for name in FLOAT_FIELDS:
        if name in frame.columns:
            scalar[name] = _floats(frame, name, n)
    for name in INT_FIELDS:
        if name in frame.columns:
            scalar[name] = _ints(frame, name, n)
    for name in BOOL_FIELDS:
        if name in frame.columns:
            scalar[name] = _bools(frame, name, n)
    for name, enum in ENUM_FIELDS:
        if name in frame.columns:
            scalar[name] = enum_numbers(frame, name, enum, n)
    # Over a payload every column present is written; on a fresh message a column that holds
    # only proto3 defaults writes nothing, so it is left out (each field set costs ≈ 0.1 µs).
    fresh = "payload" not in frame.columns
    rows = _rows(n, scalar, fresh)
    _put(rows, "timestamp", _instants(frame, "timestamp", n))
    _put(rows, "local_date", _dates(frame, "local_date", n))
    _put(rows, "calendar_features", _calendar_rows(frame, n, fresh))
    _put(rows, "lag_features", _lag_rows(frame, n))
    _put(rows, "causal_metadata", _metadata_rows(frame, n))
    _put(rows, "confounders", _confounder_rows(frame, n))
    _put(rows, "external_factors", _external_rows(frame, n))
    _memory_rows(frame, n, rows)
    if "embedding" in frame.columns:
        _put(
            rows,
            "embedding_vector",
            [
                np.asarray(e, dtype=np.float32).tolist() if e is not None and len(e) else None
                for e in frame["embedding"].tolist()
            ],
        )
    message = md_pb.CausalMarketingData
    if "payload" not in frame.columns:
        return [message(**row) for row in rows]
    out = []
    for payload, row in zip(frame["payload"].tolist(), rows, strict=True):
        r = message()
        if payload is not None:
            r.ParseFromString(payload)
        _assign(r, row)
        out.append(r)
    return out


def _assign(msg: Any, fields: Mapping[str, Any]) -> None:
    """Write ``fields`` over a message field by field (what the constructor does on a fresh
    one): sub-messages are written into, repeated fields append unless in ``_REPLACED``."""
    for key, value in fields.items():
        if isinstance(value, dict):
            _assign(getattr(msg, key), value)
        elif isinstance(value, list):
            target = getattr(msg, key)
            if key in _REPLACED:
                del target[:]
            if value and isinstance(value[0], dict):
                for item in value:
                    target.add(**item)
            else:
                target.extend(value)
        else:
            setattr(msg, key, value)


def _calendar_rows(frame: pd.DataFrame, n: int, fresh: bool) -> list[dict[str, Any] | None]:
    if "cal_date" not in frame.columns:
        return [None] * n
    dates = _dates(frame, "cal_date", n)
    fields: dict[str, list[Any]] = {}
    for f in (
        "year",
        "quarter",
        "month",
        "week",
        "iso_year",
        "day_of_year",
        "days_to_next_holiday",
        "days_since_last_holiday",
    ):
        fields[f] = _ints(frame, f"cal_{f}", n)
    for f in ("is_weekend", "is_holiday", "is_month_start", "is_month_end"):
        fields[f] = _bools(frame, f"cal_{f}", n)
    for f in ("holiday_name", "country_code", "next_holiday_name"):
        fields[f] = _strings(frame, f"cal_{f}", n)
    fields["day_of_week"] = enum_numbers(frame, "cal_day_of_week", "day_of_week", n)
    fields["season"] = enum_numbers(frame, "cal_season", "season", n)
    market = {
        "demand_index": _floats(frame, "cal_demand_index", n),
        "competitor_index": _floats(frame, "cal_competitor_index", n),
        "promotion_active": _bools(frame, "cal_promotion_active", n),
        "promotion_name": _strings(frame, "cal_promotion_name", n),
    }
    out: list[dict[str, Any] | None] = []
    for date, row, conditions, econ in zip(
        dates, _rows(n, fields, fresh), _rows(n, market, fresh), _econ_rows(frame, n), strict=True
    ):
        if date is None:
            out.append(None)
            continue
        row["date"] = date
        row["market_conditions"] = conditions  # written even when empty, as before
        if econ:
            row["economic_indicators"] = econ
        out.append(row)
    return out


def _lag_rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any] | None]:
    present = [c for c in LAG_OPTIONAL if c in frame.columns]
    always = [c for c in ("adstock_spend", "adstock_decay") if c in frame.columns]
    if not present and not always and "lag_history_days" not in frame.columns:
        return [None] * n
    columns: dict[str, tuple[list[Any], np.ndarray]] = {}
    for c in present:
        if frame[c].dtype.kind in "fiub":
            x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            columns[c] = (x.tolist(), ~np.isnan(x))
            continue
        values = _list(frame, c, math.nan, n)
        given = np.array([v is not None and not math.isnan(v) for v in values], dtype=bool)
        columns[c] = ([float(v) if ok else 0.0 for v, ok in zip(values, given, strict=True)], given)
    for c in always:
        fixed = _floats(frame, c, n)
        columns[c] = (fixed, _truthy(fixed))
    days = _ints(frame, "lag_history_days", n)
    columns["history_days"] = (days, _truthy(days))
    return _sparse(n, columns)


def _metadata_rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any] | None]:
    if not any(c.startswith(("meta_", "quality_")) for c in frame.columns):
        return [None] * n
    columns: dict[str, tuple[list[Any], np.ndarray]] = {}
    for f in ("ingested_at", "pulled_at"):
        stamps = _instants(frame, f"meta_{f}", n)
        columns[f] = (stamps, _given(stamps))
    for f in ("batch_id", "account_timezone", "attribution_window", "raw_row_sha256"):
        strs = _strings(frame, f"meta_{f}", n)
        columns[f] = (strs, _truthy(strs))
    for f in ("out_of_order", "is_restatement"):
        flags = _bools(frame, f"meta_{f}", n)
        columns[f] = (flags, _truthy(flags))
    for f in ("late_days", "replaced_version"):
        ints = _ints(frame, f"meta_{f}", n)
        columns[f] = (ints, _truthy(ints))
    notes = [
        list(v) if v is not None and len(v) else None for v in _list(frame, "meta_notes", None, n)
    ]
    columns["notes"] = (notes, _given(notes))
    quality: dict[str, tuple[list[Any], np.ndarray]] = {}
    for q in QUALITY_SCORES:
        scores = _floats(frame, f"quality_{q}", n)
        quality[q] = (scores, _truthy(scores))
    per_row = _sparse(n, quality)
    columns["quality"] = (per_row, _given(per_row))
    return _sparse(n, columns)


def _confounder_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]] | None]:
    rows: list[list[dict[str, Any]] | None] = [None] * n
    for name in families(frame, "confounder__"):
        values = frame[f"confounder__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        strength = _floats(frame, f"confounder_strength__{name}", n)
        ctype = enum_numbers(frame, f"confounder_type__{name}", "confounder_type", n)
        detector = _strings(frame, f"confounder_detector__{name}", n)
        description = _strings(frame, f"confounder_description__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            item = {
                "name": name,
                "type": ctype[i],
                "value": float(values[i]),
                "strength": float(strength[i]),
                "detector": detector[i],
                "description": description[i],
            }
            row = rows[i]
            if row is None:
                rows[i] = [item]
            else:
                row.append(item)
    return rows


def _external_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]] | None]:
    rows: list[list[dict[str, Any]] | None] = [None] * n
    for name in families(frame, "external__"):
        values = frame[f"external__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        ftype = enum_numbers(frame, f"external_type__{name}", "external_factor_type", n)
        source = _strings(frame, f"external_source__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            item = {"name": name, "type": ftype[i], "value": float(values[i]), "source": source[i]}
            row = rows[i]
            if row is None:
                rows[i] = [item]
            else:
                row.append(item)
    return rows


def _econ_rows(frame: pd.DataFrame, n: int) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for name in families(frame, "econ__"):
        values = frame[f"econ__{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        unit = _strings(frame, f"econ_unit__{name}", n)
        source = _strings(frame, f"econ_source__{name}", n)
        for i in np.flatnonzero(~np.isnan(values)).tolist():
            rows[i].append(
                {"name": name, "value": float(values[i]), "unit": unit[i], "source": source[i]}
            )
    return rows


def _memory_rows(frame: pd.DataFrame, n: int, rows: list[dict[str, Any]]) -> None:
    if "conceptual_space" in frame.columns:
        _put(rows, "conceptual_space", [v or None for v in _strings(frame, "conceptual_space", n)])
    if "knowledge_graph_nodes" in frame.columns:
        nodes = frame["knowledge_graph_nodes"].tolist()
        _put(
            rows,
            "knowledge_graph_nodes",
            [list(v) if v is not None and len(v) else None for v in nodes],
        )
    spaces = families(frame, "region__")
    if not spaces:
        return
    for row in rows:
        row["conceptual_assignments"] = []
    for s in spaces:
        regions = _strings(frame, f"region__{s}", n)
        distances = _floats(frame, f"region_distance__{s}", n)
        for i in np.flatnonzero(_truthy(regions)).tolist():
            rows[i]["conceptual_assignments"].append(
                {"space": s, "region": regions[i], "distance": float(distances[i])}
            )
