"""The protobuf wire format, column-wise: a field for n rows at once as numpy/pyarrow arrays.

A field is ``tag = field_number << 3 | wire_type`` as a varint, then a varint (type 0), 8
little-endian bytes (type 1) or a varint length and that many bytes (type 2: strings,
sub-messages) — https://protobuf.dev/programming-guides/encoding/. :class:`Message`
gathers one message type's fields for every row into one binary array; ``wire.py`` maps
record frames onto it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

U8 = np.uint8
BINARY = pa.binary()
EMPTY = pa.scalar(b"", type=BINARY)


def binary_array(data: np.ndarray, lengths: np.ndarray) -> pa.BinaryArray:
    """A binary array whose row i is the next lengths[i] bytes of ``data``."""
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data, U8))]
    return pa.BinaryArray.from_buffers(BINARY, len(lengths), buffers)


def value_lengths(arr: pa.BinaryArray) -> np.ndarray:
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    return np.diff(offsets).astype(np.int64)


def join_rows(arrays: list[pa.Array], n: int) -> pa.BinaryArray:
    """Row-wise concatenation (an empty array list: n empty rows)."""
    if not arrays:
        return binary_array(np.zeros(0, U8), np.zeros(n, np.int64))
    if len(arrays) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*arrays, b"")


VARINT_LIMITS = [np.uint64(1) << np.uint64(7 * j) for j in range(1, 10)]


def varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes (m, w), length (m,)) of each value's varint (int64 as two's complement); w is
    the longest length in ``values``, so small numbers cost one byte column."""
    v = np.asarray(values, dtype=np.int64).view(np.uint64)
    length = np.ones(len(v), np.int64)
    for limit in VARINT_LIMITS:
        over = v >= limit
        if not over.any():
            break
        length += over
    width = int(length.max()) if len(v) else 1
    out = np.empty((len(v), width), U8)
    for j in range(width):
        out[:, j] = ((v >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(U8) | np.where(
            j < length - 1, 0x80, 0
        ).astype(U8)
    return out, length


def varint_bytes(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag_bytes(number: int, wire_type: int) -> np.ndarray:
    return np.frombuffer(varint_bytes(number << 3 | wire_type), dtype=U8)


def length_header(number: int, lengths: np.ndarray, present: np.ndarray) -> pa.BinaryArray:
    """Tag + varint length on the rows where ``present``, empty elsewhere."""
    tag = tag_bytes(number, 2)
    body, blen = varints(lengths)
    matrix = np.concatenate([np.broadcast_to(tag, (len(lengths), len(tag))), body], axis=1)
    ln = np.where(present, len(tag) + blen, 0)
    keep = np.arange(matrix.shape[1])[None, :] < ln[:, None]
    return binary_array(matrix[keep], ln)


class Message:
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
            self._parts.append(length_header(number, value_lengths(body), present))
            self._parts.append(body)

    def raw(self, pieces: pa.BinaryArray) -> None:
        """Already encoded fields (e.g. a repeated field's items), as they are."""
        self._parts.append(pieces)

    def build(self) -> pa.BinaryArray:
        groups: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for wire, number, values, present in self._scalars:
            tag = tag_bytes(number, wire)
            groups.setdefault((wire, len(tag)), []).append((tag, values, present))
        parts = [self._scalar_block(wire, items) for (wire, _), items in groups.items()]
        if self._texts:
            parts.extend(self._text_parts())
        return join_rows(parts + self._parts, self.n)

    def _scalar_block(
        self, wire: int, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> pa.BinaryArray:
        n, k = self.n, len(items)
        tags = np.stack([t for t, _, _ in items])  # (k, t): one tag length per group
        present = np.stack([p for _, _, p in items], axis=1)  # (n, k)
        if wire == 0:
            values = np.stack([np.asarray(v, np.int64) for _, v, _ in items], axis=1)
            body, blen = varints(np.where(present, values, 0).ravel())
            body = body.reshape(n, k, -1)
            blen = blen.reshape(n, k)
        else:
            values = np.stack([np.asarray(v, np.float64) for _, v, _ in items], axis=1)
            body = np.ascontiguousarray(values, dtype="<f8").view(U8).reshape(n, k, 8)
            blen = np.full((n, k), 8)
        matrix = np.concatenate([np.broadcast_to(tags, (n, *tags.shape)), body], axis=2)
        lengths = np.where(present, tags.shape[1] + blen, 0)
        keep = np.arange(matrix.shape[2])[None, None, :] < lengths[:, :, None]
        return binary_array(matrix[keep], lengths.sum(axis=1))

    def _text_parts(self) -> list[pa.Array]:
        n = self.n
        texts = utf8_cells([v for _, v in self._texts], n)  # k × n cells, field by field
        lengths = value_lengths(texts)
        numbers = np.repeat([number for number, _ in self._texts], n)
        tags, tlen = varints(numbers << 3 | 2)
        size, slen = varints(lengths)
        ln = np.where(lengths > 0, tlen + slen, 0)  # "" is left out
        matrix = np.zeros((len(ln), tags.shape[1] + size.shape[1]), U8)
        matrix[:, : tags.shape[1]] = tags
        cols = (tlen[:, None] + np.arange(size.shape[1])[None, :]).ravel()
        matrix[np.repeat(np.arange(len(ln)), size.shape[1]), cols] = size.ravel()
        keep = np.arange(matrix.shape[1])[None, :] < ln[:, None]
        headers = binary_array(matrix[keep], ln)
        parts: list[pa.Array] = []
        for i in range(len(self._texts)):
            parts.append(headers.slice(i * n, n))
            parts.append(texts.slice(i * n, n))
        return parts


def utf8_cells(columns: list[Any], n: int) -> pa.BinaryArray:
    """UTF-8 bytes of every cell of the columns (n cells each), column after column; None /
    NaN / NA → empty."""
    arrays = []
    plain = [c for c in columns if not is_arrow_text(c)]
    if len(plain) == len(columns):  # one conversion for all of them
        cells = np.concatenate([np.asarray(c, dtype=object) for c in columns])
        arrays.append(to_arrow(cells))
    else:
        for c in columns:
            arrays.append(
                pa.array(c.array, from_pandas=True)
                if is_arrow_text(c)
                else to_arrow(np.asarray(c, dtype=object))
            )
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
    arrays = [a if a.type == pa.string() else a.cast(pa.string()) for a in arrays]
    arr = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
    return arr.fill_null("").cast(BINARY)


def is_arrow_text(values: Any) -> bool:
    return isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype)


def to_arrow(cells: np.ndarray) -> pa.Array:
    try:
        return pa.array(cells, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # a cell that is not a str
        raise Unsupported("string cell") from exc


class Unsupported(Exception):
    """A frame this encoder leaves to frame_to_records."""
