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
    ENUM_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    LAG_OPTIONAL,
    NAT_US,
    QUALITY_SCORES,
    STRING_FIELDS,
    families,
)

__all__ = ["frame_to_wire", "write_request_wire"]

_U8 = np.uint8
_BIN = pa.binary()
_EMPTY = pa.scalar(b"", type=_BIN)


def _array(data: np.ndarray, lengths: np.ndarray) -> pa.BinaryArray:
    """A binary array whose row i is the next lengths[i] bytes of ``data``."""
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data, _U8))]
    return pa.BinaryArray.from_buffers(_BIN, len(lengths), buffers)


def _lengths(arr: pa.BinaryArray) -> np.ndarray:
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    return np.diff(offsets).astype(np.int64)


def _join(arrays: list[pa.Array], n: int) -> pa.BinaryArray:
    """Row-wise concatenation (an empty array list: n empty rows)."""
    if not arrays:
        return _array(np.zeros(0, _U8), np.zeros(n, np.int64))
    if len(arrays) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*arrays, b"")


_VARINT_LIMITS = [np.uint64(1) << np.uint64(7 * j) for j in range(1, 10)]


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes (m, w), length (m,)) of each value's varint (int64 as two's complement); w is
    the longest length in ``values``, so small numbers cost one byte column."""
    v = np.asarray(values, dtype=np.int64).view(np.uint64)
    length = np.ones(len(v), np.int64)
    for limit in _VARINT_LIMITS:
        over = v >= limit
        if not over.any():
            break
        length += over
    width = int(length.max()) if len(v) else 1
    out = np.empty((len(v), width), _U8)
    for j in range(width):
        out[:, j] = ((v >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(_U8) | np.where(
            j < length - 1, 0x80, 0
        ).astype(_U8)
    return out, length


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> np.ndarray:
    return np.frombuffer(_varint_bytes(number << 3 | wire_type), dtype=_U8)


def _header(number: int, lengths: np.ndarray, present: np.ndarray) -> pa.BinaryArray:
    """Tag + varint length on the rows where ``present``, empty elsewhere."""
    tag = _tag(number, 2)
    body, blen = _varints(lengths)
    matrix = np.concatenate([np.broadcast_to(tag, (len(lengths), len(tag))), body], axis=1)
    ln = np.where(present, len(tag) + blen, 0)
    keep = np.arange(matrix.shape[1])[None, :] < ln[:, None]
    return _array(matrix[keep], ln)


class _Message:
    """The fields of one message type for n rows, as one binary array (:meth:`build`).

    Scalar fields (varints, doubles) are encoded together: a (rows × fields × bytes)
    matrix of tags and values, each cut to its length (0 where the field is left out) and
    flattened once, so a row's scalars come out back to back. Strings are converted to UTF-8
    together and prefixed with their headers; sub-messages are prefixed with theirs; arrow
    joins the pieces row by row. Fields may come out in any order (parsers take any); the
    items of one repeated field keep theirs.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._scalars: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self._texts: list[tuple[int, Any]] = []
        self._parts: list[pa.Array] = []

    def varint(self, number: int, values: np.ndarray, present: np.ndarray) -> None:
        if present.any():
            self._scalars.append((0, number, values, present))

    def double(self, number: int, values: np.ndarray, present: np.ndarray) -> None:
        if present.any():
            self._scalars.append((1, number, values, present))

    def text(self, number: int, values: Any) -> None:
        """A string field: a str (or None / NaN: left out, as "" is) per row."""
        self._texts.append((number, values))

    def message(self, number: int, body: pa.BinaryArray, present: np.ndarray) -> None:
        """A sub-message field, set where ``present`` (even when empty); ``body`` must be
        empty on the other rows."""
        if present.any():
            self._parts.append(_header(number, _lengths(body), present))
            self._parts.append(body)

    def raw(self, pieces: pa.BinaryArray) -> None:
        """Already encoded fields (e.g. a repeated field's items), as they are."""
        self._parts.append(pieces)

    def build(self) -> pa.BinaryArray:
        groups: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for wire, number, values, present in self._scalars:
            tag = _tag(number, wire)
            groups.setdefault((wire, len(tag)), []).append((tag, values, present))
        parts = [self._scalar_block(wire, items) for (wire, _), items in groups.items()]
        if self._texts:
            parts.extend(self._text_parts())
        return _join(parts + self._parts, self.n)

    def _scalar_block(
        self, wire: int, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> pa.BinaryArray:
        n, k = self.n, len(items)
        tags = np.stack([t for t, _, _ in items])  # (k, t): one tag length per group
        present = np.stack([p for _, _, p in items], axis=1)  # (n, k)
        if wire == 0:
            values = np.stack([np.asarray(v, np.int64) for _, v, _ in items], axis=1)
            body, blen = _varints(np.where(present, values, 0).ravel())
            body = body.reshape(n, k, -1)
            blen = blen.reshape(n, k)
        else:
            values = np.stack([np.asarray(v, np.float64) for _, v, _ in items], axis=1)
            body = np.ascontiguousarray(values, dtype="<f8").view(_U8).reshape(n, k, 8)
            blen = np.full((n, k), 8)
        matrix = np.concatenate([np.broadcast_to(tags, (n, *tags.shape)), body], axis=2)
        lengths = np.where(present, tags.shape[1] + blen, 0)
        keep = np.arange(matrix.shape[2])[None, None, :] < lengths[:, :, None]
        return _array(matrix[keep], lengths.sum(axis=1))

    def _text_parts(self) -> list[pa.Array]:
        n = self.n
        texts = _utf8([v for _, v in self._texts], n)  # k × n cells, field by field
        lengths = _lengths(texts)
        numbers = np.repeat([number for number, _ in self._texts], n)
        tags, tlen = _varints(numbers << 3 | 2)
        size, slen = _varints(lengths)
        ln = np.where(lengths > 0, tlen + slen, 0)  # "" is left out
        matrix = np.zeros((len(ln), tags.shape[1] + size.shape[1]), _U8)
        matrix[:, : tags.shape[1]] = tags
        cols = (tlen[:, None] + np.arange(size.shape[1])[None, :]).ravel()
        matrix[np.repeat(np.arange(len(ln)), size.shape[1]), cols] = size.ravel()
        keep = np.arange(matrix.shape[1])[None, :] < ln[:, None]
        headers = _array(matrix[keep], ln)
        parts: list[pa.Array] = []
        for i in range(len(self._texts)):
            parts.append(headers.slice(i * n, n))
            parts.append(texts.slice(i * n, n))
        return parts


def _utf8(columns: list[Any], n: int) -> pa.BinaryArray:
    """UTF-8 bytes of every cell of the columns (n cells each), column after column; None /
    NaN / NA → empty."""
    arrays = []
    plain = [c for c in columns if not _is_arrow_text(c)]
    if len(plain) == len(columns):  # one conversion for all of them
        cells = np.concatenate([np.asarray(c, dtype=object) for c in columns])
        arrays.append(_to_arrow(cells))
    else:
        for c in columns:
            arrays.append(
                pa.array(c.array, from_pandas=True)
                if _is_arrow_text(c)
                else _to_arrow(np.asarray(c, dtype=object))
            )
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
    arrays = [a if a.type == pa.string() else a.cast(pa.string()) for a in arrays]
    arr = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
    return arr.fill_null("").cast(_BIN)


def _is_arrow_text(values: Any) -> bool:
    return isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype)


def _to_arrow(cells: np.ndarray) -> pa.Array:
    try:
        return pa.array(cells, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # a cell that is not a str
        raise _Unsupported("string cell") from exc


class _Unsupported(Exception):
    """A frame this encoder leaves to frame_to_records."""


def _floats(frame: pd.DataFrame, name: str, n: int) -> np.ndarray:
    """As frame_to_records reads a double: NaN / NA / a missing column → 0.0."""
    if name not in frame.columns:
        return np.zeros(n)
    col = frame[name]
    if col.dtype.kind not in "fiub":
        raise _Unsupported(name)
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
            raise _Unsupported(name)
        x = np.trunc(f).astype(np.int64)
    else:
        raise _Unsupported(name)
    if bits == 32 and ((x < -(2**31)) | (x >= 2**31)).any():
        raise _Unsupported(name)  # frame_to_records raises its out-of-range error
    return x


def _bools(frame: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in frame.columns:
        return np.zeros(n, bool)
    col = frame[name]
    if col.dtype.kind != "b":
        raise _Unsupported(name)
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


def _put_varint(m: _Message, number: int, x: np.ndarray) -> None:
    m.varint(number, x, x != 0)


def _put_double(m: _Message, number: int, x: np.ndarray) -> None:
    m.double(number, x, x.view(np.int64) != 0)  # -0.0 is not the default: its bits are set


def _put_bool(m: _Message, number: int, x: np.ndarray) -> None:
    m.varint(number, x.astype(np.int64), x)


def _put_text(m: _Message, number: int, frame: pd.DataFrame, name: str) -> None:
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
    t = _Message(len(frame))
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
    d = _Message(len(frame))
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


def _calendar(r: _Message, frame: pd.DataFrame, n: int) -> None:
    if "cal_date" not in frame.columns:
        return
    dates, present = _dates(frame, "cal_date")
    if not present.any():
        return
    cal = _Message(n)
    cal.message(_CAL["date"].number, dates, present)
    for f in ("year", "quarter", "month", "week"):
        _put_varint(cal, _CAL[f].number, _ints(frame, f"cal_{f}", n, 32))
    _put_varint(cal, _CAL["day_of_week"].number, _enum(frame, "cal_day_of_week", "day_of_week", n))
    for f in ("is_weekend", "is_holiday"):
        _put_bool(cal, _CAL[f].number, _bools(frame, f"cal_{f}", n))
    _put_text(cal, _CAL["holiday_name"].number, frame, "cal_holiday_name")
    _put_varint(cal, _CAL["season"].number, _enum(frame, "cal_season", "season", n))
    _named(cal, frame, n, _CAL["economic_indicators"].number, "econ__", _ECON, _ECON_FIELDS)
    market = _Message(n)
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
        body = pc.if_else(pa.array(present), body, _EMPTY)
    r.message(_F["calendar_features"].number, body, present)


def _lags(r: _Message, frame: pd.DataFrame, n: int) -> None:
    present = [c for c in LAG_OPTIONAL if c in frame.columns]
    always = [c for c in ("adstock_spend", "adstock_decay") if c in frame.columns]
    if not present and not always and "lag_history_days" not in frame.columns:
        return
    lag = _Message(n)
    for c in present:
        if frame[c].dtype.kind not in "fiub":
            raise _Unsupported(c)
        x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        lag.double(_LAG[c].number, x, ~np.isnan(x))  # optional: set even when 0.0
    for c in always:
        x = _floats(frame, c, n)
        lag.double(_LAG[c].number, x, x != 0)  # frame_to_records sets these where truthy
    _put_varint(lag, _LAG["history_days"].number, _ints(frame, "lag_history_days", n, 32))
    body = lag.build()
    r.message(_F["lag_features"].number, body, _lengths(body) > 0)  # unset when empty


def _metadata(r: _Message, frame: pd.DataFrame, n: int) -> None:
    if not any(c.startswith(("meta_", "quality_")) for c in frame.columns):
        return
    meta = _Message(n)
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
    quality = _Message(n)
    for q in QUALITY_SCORES:
        x = _floats(frame, f"quality_{q}", n)
        quality.double(_QUAL[q].number, x, x != 0)  # set where truthy
    body = quality.build()
    meta.message(_META["quality"].number, body, _lengths(body) > 0)
    if "meta_notes" in frame.columns:
        meta.raw(_notes(frame["meta_notes"].tolist(), n))
    for f in ("attribution_window", "raw_row_sha256"):
        _put_text(meta, _META[f].number, frame, f"meta_{f}")
    body = meta.build()
    r.message(_F["causal_metadata"].number, body, _lengths(body) > 0)


def _notes(cells: Sequence[Any], n: int) -> pa.BinaryArray:
    """The repeated ``notes`` field of each row, from tuples / lists (None: none)."""
    if any(isinstance(c, str | bytes) for c in cells):  # arrow would split it into letters
        raise _Unsupported("meta_notes")
    try:
        lists = pa.array(cells, type=pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # NaN, numbers, …
        raise _Unsupported("meta_notes") from exc
    texts = lists.flatten()
    if len(texts) == 0:
        return _join([], n)
    item = _Message(len(texts))
    item.text(_META["notes"].number, texts.to_numpy(zero_copy_only=False))
    # a note is written even when "" (a repeated item is never left out)
    items = item.build()
    empty = _lengths(items) == 0
    if empty.any():
        fixed = _header(_META["notes"].number, np.zeros(len(texts), np.int64), empty)
        items = _join([items, fixed], len(texts))
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
    parent: _Message,
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
        item = _Message(n)
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
    r = _Message(n)
    for name in STRING_FIELDS:
        _put_text(r, _F[name].number, frame, name)
    for name in FLOAT_FIELDS:
        if name in frame.columns:
            _put_double(r, _F[name].number, _floats(frame, name, n))
    for name in INT_FIELDS:
        if name in frame.columns:
            _put_varint(r, _F[name].number, _ints(frame, name, n))
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
        except _Unsupported:
            pass
    return pa.array([r.SerializeToString() for r in frame_to_records(frame)], type=_BIN)


def frame_to_wire(frame: pd.DataFrame) -> list[bytes]:
    """The serialised records of :func:`mesh.runtime.frames.frame_to_records` (one per row)."""
    return _wire(frame).to_pylist()


def write_request_wire(org_id: str, frame: pd.DataFrame) -> bytes:
    """The bytes of ``WriteRequest(org_id=org_id, records=frame_to_records(frame))``."""
    n = len(frame)
    request = _Message(n)
    request.message(_REQUEST["records"].number, _wire(frame), np.ones(n, bool))
    records = request.build()
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int32)
    start, end = offsets[records.offset], offsets[records.offset + n]
    head = b""
    if org_id:
        org = org_id.encode()
        head = _varint_bytes(_REQUEST["org_id"].number << 3 | 2) + _varint_bytes(len(org)) + org
    return head + records.buffers()[2].to_pybytes()[start:end]
