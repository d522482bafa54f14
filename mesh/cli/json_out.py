"""The one writer of every ``--json`` document the CLI prints (README, "Machine-readable output").

A proto message is written as proto3 JSON with its zero-valued fields kept: proto3 leaves out a
0, a false and an empty string, so a channel planned to 0 had no ``optimalSpend`` and an
infeasible design no ``feasible`` key (s19 R41-F2). A number that is not finite is written as
``null``, never as proto JSON's *string* ``"NaN"``, which made a numeric column a string on one
row (R41-F3), nor as Python's bare ``NaN``, which is not JSON. Keys are as the message names
them (camelCase); the hand-built documents keep their snake_case keys (see README). A time is
RFC 3339 in UTC as proto3 JSON writes a Timestamp (:func:`rfc3339`), in both kinds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import betterproto2
from betterproto2.casing import snake_case
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message as PbMessage


def document(value: Any) -> Any:
    """``value`` (a betterproto2 or protobuf message, or plain data holding them) as JSON data:
    dicts, lists, strings, finite numbers, booleans and None."""
    if isinstance(value, betterproto2.Message):
        return _finite(value.to_dict(include_default_values=True), value)
    if isinstance(value, PbMessage):
        proto = json_format.MessageToDict(value, always_print_fields_with_no_presence=True)
        return _finite(proto, value)
    if isinstance(value, Mapping):
        return {str(k): document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [document(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """The document as strict JSON text (``allow_nan=False``: a non-finite number that got
    past ``document`` is a bug, raised here rather than printed as ``NaN``)."""
    return json.dumps(document(value), indent=indent, allow_nan=False)


def print_json(value: Any, indent: int | None = 2, file: TextIO | None = None) -> None:
    print(dumps(value, indent), file=file or sys.stdout)


def rfc3339(t: dt.datetime | timestamp_pb2.Timestamp | None) -> str:
    """``t`` as proto3 JSON writes a Timestamp: RFC 3339 in UTC with seconds, and 3, 6 or 9
    fractional digits where the time has them (``2026-12-07T16:42:31.250Z``), so one instant
    reads the same in every document (analyze's ``createTime``, analyses' ``made``);
    "" for None. A datetime without a zone is taken as UTC."""
    if t is None:
        return ""
    if isinstance(t, timestamp_pb2.Timestamp):
        return t.ToJsonString()
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t)
    return stamp.ToJsonString()


def _finite(doc: Any, source: Any) -> Any:
    """``doc`` (proto JSON of ``source``) with each non-finite float of ``source`` as None:
    proto JSON spells them as strings, which only the field's type in ``source`` tells from a
    string field holding the text "NaN"."""
    if isinstance(source, float):
        return source if math.isfinite(source) else None
    if isinstance(doc, dict):
        return {k: _finite(v, _child(source, k)) for k, v in doc.items()}
    if isinstance(doc, list):
        items = list(source) if isinstance(source, list | tuple) or _repeated(source) else []
        if len(items) != len(doc):
            items = [None] * len(doc)
        return [_finite(d, s) for d, s in zip(doc, items, strict=True)]
    return doc


def _repeated(source: Any) -> bool:
    """A protobuf repeated container (a sequence that is neither text nor a message)."""
    return hasattr(source, "__len__") and not isinstance(source, str | bytes | Mapping | PbMessage)


def _child(source: Any, key: str) -> Any:
    """The value under JSON key ``key`` in ``source`` (None where it cannot be told)."""
    if isinstance(source, Mapping):
        if key in source:
            return source[key]
        return next((v for k, v in source.items() if str(k) == key), None)
    if isinstance(source, betterproto2.Message):
        name = snake_case(key)
        for attr in (name, name + "_"):  # betterproto2 suffixes names that are Python keywords
            if hasattr(source, attr):
                return getattr(source, attr)
        return None
    if isinstance(source, PbMessage):
        field = source.DESCRIPTOR.fields_by_camelcase_name.get(key)
        return getattr(source, field.name) if field is not None else None
    return None
