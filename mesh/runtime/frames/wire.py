"""Record frames → CausalMarketingData wire bytes, column by column, without messages.

:func:`frame_to_wire` gives, for a frame of :data:`mesh.runtime.frames.FRAME_SCHEMA` columns, the
bytes of the records :func:`mesh.runtime.frames.frame_to_records` would build — parsed, each is equal
to that record — but never builds a message: every field is encoded for all rows at once
with numpy (tags, varints, fixed64 doubles, length-prefixed strings and sub-messages), and
the rows' pieces are gathered into one buffer (pyarrow's row-wise binary join). On
ingestion's 1,000-row batches it costs about half of building the messages and
serialising them (``bench/wire_encoding.py``).

Encoding follows the protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
a field is ``tag = field_number << 3 | wire_type`` as a varint, then a varint (type 0), 8
little-endian bytes (type 1) or a varint length and that many bytes (type 2: strings,
sub-messages). Proto3 leaves out a field holding its default (0, 0.0 — but not -0.0 — "",
false) unless the field has explicit presence (``optional``, sub-messages). Fields are
written in the order frame_to_records sets them, which parsers accept in any order.

Frames this module does not encode (the ``payload`` / ``embedding`` columns, memory
enrichment columns, values out of an int32 field's range, cells of unexpected types) go
through frame_to_records and are serialised as usual, so the result never differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.frames.encode import frame_to_records
from mesh.runtime.frames.enums import ENUMS, enum_numbers
from mesh.runtime.frames.schema import (
    BOOL_FIELDS,
    ENUM_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    LAG_OPTIONAL,
    NAT_US,
    QUALITY_SCORES,
    STRING_FIELDS,
    families,
)
from mesh.runtime.frames.wire_format import (
    BINARY,
    EMPTY,
    Message,
    Unsupported,
    join_rows,
    length_header,
    value_lengths,
    varint_bytes,
)

__all__ = ["frame_to_wire", "write_request_wire"]


def _floats(frame: pd.DataFrame, name: str, n: int) -> np.ndarray:
    """As frame_to_records reads a double: NaN / NA / a missing column → 0.0."""
    if name not in frame.columns:
        return np.zeros(n)
    col = frame[name]
    if col.dtype.kind not in "fiub":
        raise Unsupported(name)
    x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(x), 0.0, x)


def _ints(frame: pd.DataFrame, name: str, n: int, bits: int = 64) -> np.ndarray:
    """As frame_to_records reads an integer: NaN / NA → 0, floats truncated."""
    if name not in frame.columns:
        return np.zeros(n, np.int64)
    col = frame[name]
    if col.dtype.kind in "ib":
        x = col.fillna(0).to_numpy(dtype=np.int64)
    elif col.dtype.kind == "f":
        f = col.to_numpy(dtype=np.float64, na_value=0.0)
        if not np.isfinite(f).all() or (np.abs(f) >= 2.0**63).any():
            raise Unsupported(name)
        x = np.trunc(f).astype(np.int64)
    else:
        raise Unsupported(name)
    if bits == 32 and ((x < -(2**31)) | (x >= 2**31)).any():
        raise Unsupported(name)  # frame_to_records raises its out-of-range error
    return x


def _bools(frame: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in frame.columns:
        return np.zeros(n, bool)
    col = frame[name]
    if col.dtype.kind != "b":
        raise Unsupported(name)
    return col.fillna(False).to_numpy(dtype=bool)


def _enum(frame: pd.DataFrame, column: str, enum: str, n: int) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(n, np.int64)
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    names = list(uniques)
    table = ENUMS[enum][1]
    if any(not isinstance(u, str) or (u and u not in table) for u in names):
        # frame_to_records' reading: non-names are 0; an unknown name raises, naming its cell
        original = frame.frame if isinstance(frame, _Columns) else frame
        return np.asarray(enum_numbers(original, column, enum, n), dtype=np.int64)
    return np.array([table.get(u, 0) for u in names] + [0], dtype=np.int64)[codes]


def _put_varint(m: Message, number: int, x: np.ndarray) -> None:
    m.varint(number, x, x != 0)


def _put_double(m: Message, number: int, x: np.ndarray) -> None:
    m.double(number, x, x.view(np.int64) != 0)  # -0.0 is not the default: its bits are set


def _put_bool(m: Message, number: int, x: np.ndarray) -> None:
    m.varint(number, x.astype(np.int64), x)


def _put_text(m: Message, number: int, frame: pd.DataFrame, name: str) -> None:
    if name in frame.columns:
        m.text(number, frame[name])


_US_PER = {"s": 1_000_000, "ms": 1_000, "us": 1}


def _epoch_us(col: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """µs since the epoch and presence of a datetime column held in s / ms / µs (naive
    read as UTC), straight from its int64s; None for anything else."""
    arr = col.array
    unit = getattr(arr, "unit", None)
    if col.dtype.kind != "M" or unit not in _US_PER:
        return None
    raw = np.asarray(arr.asi8)
    present = raw != NAT_US
    return np.where(present, raw * _US_PER[unit], 0), present


def _timestamps(frame: pd.DataFrame, name: str) -> tuple[pa.BinaryArray, np.ndarray]:
    """Each row's google.protobuf.Timestamp (empty where NaT), and where it is set."""
    fast = _epoch_us(frame[name])
    if fast is None:
        col = pd.to_datetime(frame[name], utc=True)
        present = ~col.isna().to_numpy()
        us = col.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view(np.int64)
    else:
        us, present = fast
    seconds, micros = np.divmod(np.where(present, us, 0), 1_000_000)
    t = Message(len(frame))
    _put_varint(t, 1, seconds)
    _put_varint(t, 2, micros * 1000)
    return t.build(), present


def _dates(frame: pd.DataFrame, name: str) -> tuple[pa.BinaryArray, np.ndarray]:
    """Each row's Date (year, month, day; empty where NaT), and where it is set."""
    col = frame[name]
    if col.dtype.kind == "M" and not isinstance(col.dtype, pd.DatetimeTZDtype):
        days = col.to_numpy().astype("datetime64[D]")  # naive: the dates as they are
    else:
        col = pd.to_datetime(col)
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_localize(None)
        days = col.to_numpy(dtype="datetime64[D]")
    present = ~np.isnat(days)
    days = np.where(present, days, np.datetime64(0, "D"))
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    d = Message(len(frame))
    _put_varint(d, 1, np.where(present, years.astype(np.int64) + 1970, 0))
    _put_varint(d, 2, np.where(present, (months - years).astype(np.int64) + 1, 0))
    _put_varint(d, 3, np.where(present, (days - months).astype(np.int64) + 1, 0))
    return d.build(), present


_F = md_pb.CausalMarketingData.DESCRIPTOR.fields_by_name
_CAL = md_pb.CalendarDimension.DESCRIPTOR.fields_by_name
_MARKET = md_pb.MarketConditions.DESCRIPTOR.fields_by_name
_LAG = md_pb.LagFeatures.DESCRIPTOR.fields_by_name
_META = md_pb.CausalMetadata.DESCRIPTOR.fields_by_name
_QUAL = md_pb.QualityComponents.DESCRIPTOR.fields_by_name
_CONF = md_pb.ConfounderVariable.DESCRIPTOR.fields_by_name
_EXT = md_pb.ExternalFactor.DESCRIPTOR.fields_by_name
_ECON = md_pb.EconomicIndicator.DESCRIPTOR.fields_by_name
_REQUEST = memory_pb.WriteRequest.DESCRIPTOR.fields_by_name
# Columns frame_to_records understands that this encoder leaves to it.
_DEFERRED = ("payload", "embedding", "conceptual_space", "knowledge_graph_nodes")
_DEFERRED_PREFIXES = ("region__", "region_distance__")


def _calendar(r: Message, frame: pd.DataFrame, n: int) -> None:
    if "cal_date" not in frame.columns:
        return
    dates, present = _dates(frame, "cal_date")
    if not present.any():
        return
    cal = Message(n)
    cal.message(_CAL["date"].number, dates, present)
    for f in ("year", "quarter", "month", "week"):
        _put_varint(cal, _CAL[f].number, _ints(frame, f"cal_{f}", n, 32))
    _put_varint(cal, _CAL["day_of_week"].number, _enum(frame, "cal_day_of_week", "day_of_week", n))
    for f in ("is_weekend", "is_holiday"):
        _put_bool(cal, _CAL[f].number, _bools(frame, f"cal_{f}", n))
    _put_text(cal, _CAL["holiday_name"].number, frame, "cal_holiday_name")
    _put_varint(cal, _CAL["season"].number, _enum(frame, "cal_season", "season", n))
    _named(cal, frame, n, _CAL["economic_indicators"].number, "econ__", _ECON, _ECON_FIELDS)
    market = Message(n)
    for f in ("demand_index", "competitor_index"):
        _put_double(market, _MARKET[f].number, _floats(frame, f"cal_{f}", n))
    _put_bool(market, _MARKET["promotion_active"].number, _bools(frame, "cal_promotion_active", n))
    _put_text(market, _MARKET["promotion_name"].number, frame, "cal_promotion_name")
    cal.message(_CAL["market_conditions"].number, market.build(), np.ones(n, bool))
    _put_text(cal, _CAL["country_code"].number, frame, "cal_country_code")
    for f in ("iso_year", "day_of_year", "days_to_next_holiday"):
        _put_varint(cal, _CAL[f].number, _ints(frame, f"cal_{f}", n, 32))
    _put_text(cal, _CAL["next_holiday_name"].number, frame, "cal_next_holiday_name")
    days = _ints(frame, "cal_days_since_last_holiday", n, 32)
    _put_varint(cal, _CAL["days_since_last_holiday"].number, days)
    for f in ("is_month_start", "is_month_end"):
        _put_bool(cal, _CAL[f].number, _bools(frame, f"cal_{f}", n))
    body = cal.build()
    if not present.all():  # the calendar is written only where its date is set
        body = pc.if_else(pa.array(present), body, EMPTY)
    r.message(_F["calendar_features"].number, body, present)


def _lags(r: Message, frame: pd.DataFrame, n: int) -> None:
    present = [c for c in LAG_OPTIONAL if c in frame.columns]
    always = [c for c in ("adstock_spend", "adstock_decay") if c in frame.columns]
    if not present and not always and "lag_history_days" not in frame.columns:
        return
    lag = Message(n)
    for c in present:
        if frame[c].dtype.kind not in "fiub":
            raise Unsupported(c)
        x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        lag.double(_LAG[c].number, x, ~np.isnan(x))  # optional: set even when 0.0
    for c in always:
        x = _floats(frame, c, n)
        lag.double(_LAG[c].number, x, x != 0)  # frame_to_records sets these where truthy
    _put_varint(lag, _LAG["history_days"].number, _ints(frame, "lag_history_days", n, 32))
    body = lag.build()
    r.message(_F["lag_features"].number, body, value_lengths(body) > 0)  # unset when empty


def _metadata(r: Message, frame: pd.DataFrame, n: int) -> None:
    if not any(c.startswith(("meta_", "quality_")) for c in frame.columns):
        return
    meta = Message(n)
    for f in ("ingested_at", "pulled_at"):
        if f"meta_{f}" in frame.columns:
            meta.message(_META[f].number, *_timestamps(frame, f"meta_{f}"))
    for f in ("batch_id", "account_timezone"):
        _put_text(meta, _META[f].number, frame, f"meta_{f}")
    _put_bool(meta, _META["out_of_order"].number, _bools(frame, "meta_out_of_order", n))
    _put_varint(meta, _META["late_days"].number, _ints(frame, "meta_late_days", n, 32))
    _put_bool(meta, _META["is_restatement"].number, _bools(frame, "meta_is_restatement", n))
    replaced = _ints(frame, "meta_replaced_version", n)
    _put_varint(meta, _META["replaced_version"].number, replaced)
    quality = Message(n)
    for q in QUALITY_SCORES:
        x = _floats(frame, f"quality_{q}", n)
        quality.double(_QUAL[q].number, x, x != 0)  # set where truthy
    body = quality.build()
    meta.message(_META["quality"].number, body, value_lengths(body) > 0)
    if "meta_notes" in frame.columns:
        meta.raw(_notes(frame["meta_notes"].tolist(), n))
    for f in ("attribution_window", "raw_row_sha256"):
        _put_text(meta, _META[f].number, frame, f"meta_{f}")
    body = meta.build()
    r.message(_F["causal_metadata"].number, body, value_lengths(body) > 0)


def _notes(cells: Sequence[Any], n: int) -> pa.BinaryArray:
    """The repeated ``notes`` field of each row, from tuples / lists (None: none)."""
    if any(isinstance(c, str | bytes) for c in cells):  # arrow would split it into letters
        raise Unsupported("meta_notes")
    try:
        lists = pa.array(cells, type=pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # NaN, numbers, …
        raise Unsupported("meta_notes") from exc
    texts = lists.flatten()
    if len(texts) == 0:
        return join_rows([], n)
    item = Message(len(texts))
    item.text(_META["notes"].number, texts.to_numpy(zero_copy_only=False))
    # a note is written even when "" (a repeated item is never left out)
    items = item.build()
    empty = value_lengths(items) == 0
    if empty.any():
        fixed = length_header(_META["notes"].number, np.zeros(len(texts), np.int64), empty)
        items = join_rows([items, fixed], len(texts))
    offsets = np.asarray(lists.offsets, dtype=np.int32)  # a null row: no items
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets - offsets[0]), items), b"")


# Item fields of the named repeated messages: field → (kind, column prefix); "name" is the
# family name, "value" the family's value column (NaN: no item).
_CONF_FIELDS = {
    "name": ("name", ""),
    "type": ("confounder_type", "confounder_type__"),
    "value": ("value", ""),
    "strength": ("double", "confounder_strength__"),
    "detector": ("text", "confounder_detector__"),
    "description": ("text", "confounder_description__"),
}
_EXT_FIELDS = {
    "name": ("name", ""),
    "type": ("external_factor_type", "external_type__"),
    "value": ("value", ""),
    "source": ("text", "external_source__"),
}
_ECON_FIELDS = {
    "name": ("name", ""),
    "value": ("value", ""),
    "unit": ("text", "econ_unit__"),
    "source": ("text", "econ_source__"),
}


def _named(
    parent: Message,
    frame: pd.DataFrame,
    n: int,
    number: int,
    prefix: str,
    descriptor: Any,
    fields: dict[str, tuple[str, str]],
) -> None:
    """A repeated message: one item per family (``prefix`` + name) where the family's value
    is not NaN, a row's items in family (sorted name) order."""
    for name in families(frame, prefix):
        v = frame[f"{prefix}{name}"].to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~np.isnan(v)
        if not present.any():
            continue
        item = Message(n)
        for field, (kind, column) in fields.items():
            f = descriptor[field].number
            if kind == "name":
                if name:
                    cells = np.full(n, None, dtype=object)
                    cells[present] = name
                    item.text(f, cells)
            elif kind == "value":
                x = np.where(present, v, 0.0)
                _put_double(item, f, x)
            elif kind == "double":
                _put_double(item, f, np.where(present, _floats(frame, f"{column}{name}", n), 0.0))
            elif kind == "text":
                if f"{column}{name}" in frame.columns:
                    cells = frame[f"{column}{name}"].to_numpy(dtype=object)
                    item.text(f, np.where(present, cells, None))
            else:  # an enum
                _put_varint(item, f, np.where(present, _enum(frame, f"{column}{name}", kind, n), 0))
        parent.message(number, item.build(), present)


class _Columns:
    """A frame's columns read once (``frame[name]`` costs ≈ 30 µs a column in pandas 3)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._cols = dict(frame.items())
        self.columns = list(self._cols)

    def __getitem__(self, name: str) -> pd.Series:
        return self._cols[name]

    def __len__(self) -> int:
        return len(self.frame)


def _encode(data: pd.DataFrame) -> pa.BinaryArray:
    n = len(data)
    frame: Any = _Columns(data)
    r = Message(n)
    for name in STRING_FIELDS:
        _put_text(r, _F[name].number, frame, name)
    for name in FLOAT_FIELDS:
        if name in frame.columns:
            _put_double(r, _F[name].number, _floats(frame, name, n))
    for name in INT_FIELDS:
        if name in frame.columns:
            _put_varint(r, _F[name].number, _ints(frame, name, n))
    for name in BOOL_FIELDS:
        if name in frame.columns:
            _put_bool(r, _F[name].number, _bools(frame, name, n))
    for name, enum in ENUM_FIELDS:
        if name in frame.columns:
            _put_varint(r, _F[name].number, _enum(frame, name, enum, n))
    if "timestamp" in frame.columns:
        r.message(_F["timestamp"].number, *_timestamps(frame, "timestamp"))
    if "local_date" in frame.columns:
        r.message(_F["local_date"].number, *_dates(frame, "local_date"))
    _calendar(r, frame, n)
    _lags(r, frame, n)
    _metadata(r, frame, n)
    _named(r, frame, n, _F["confounders"].number, "confounder__", _CONF, _CONF_FIELDS)
    _named(r, frame, n, _F["external_factors"].number, "external__", _EXT, _EXT_FIELDS)
    return r.build()


def _wire(frame: pd.DataFrame) -> pa.BinaryArray:
    deferred = any(c in frame.columns for c in _DEFERRED) or any(
        c.startswith(_DEFERRED_PREFIXES) for c in frame.columns
    )
    if not deferred and len(frame):
        try:
            return _encode(frame)
        except Unsupported:
            pass
    return pa.array([r.SerializeToString() for r in frame_to_records(frame)], type=BINARY)


def frame_to_wire(frame: pd.DataFrame) -> list[bytes]:
    """The serialised records of :func:`mesh.runtime.frames.frame_to_records` (one per row)."""
    return _wire(frame).to_pylist()


def write_request_wire(org_id: str, frame: pd.DataFrame) -> bytes:
    """The bytes of ``WriteRequest(org_id=org_id, records=frame_to_records(frame))``."""
    n = len(frame)
    request = Message(n)
    request.message(_REQUEST["records"].number, _wire(frame), np.ones(n, bool))
    records = request.build()
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int32)
    start, end = offsets[records.offset], offsets[records.offset + n]
    head = b""
    if org_id:
        org = org_id.encode()
        head = varint_bytes(_REQUEST["org_id"].number << 3 | 2) + varint_bytes(len(org)) + org
    return head + records.buffers()[2].to_pybytes()[start:end]
