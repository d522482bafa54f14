"""A wire message as plain data (dicts, lists, numbers, text): what the CLI's ``--json``
documents (mesh.cli.json_out) and the SDK's DataFrames (mesh.sdk.frames) are made of.

proto3 JSON leaves out a field equal to its default, so a channel planned to 0 had no
``optimalSpend`` (s19 R41-F2) and a frame of ``to_dict()`` rows held NaN for every 0 (R45-F1):
zero-valued fields are kept here. A number that is not finite is None (proto JSON writes the
*string* "NaN", which made a numeric column text on one row: R41-F3). Keys are as proto3 JSON
names them (camelCase), or the fields' own names with ``snake=True``. With ``python=True`` an
int64 is an int, not proto3 JSON's string, and a ``liftos.v1.Date`` a ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Mapping
from typing import Any

import betterproto2
from betterproto2.casing import snake_case
from google.protobuf import json_format
from google.protobuf.message import Message as PbMessage


def plain(value: Any, *, snake: bool = False, python: bool = False) -> Any:
    """``value`` (a betterproto2 or protobuf message, or plain data holding them) as dicts,
    lists, strings, finite numbers, booleans and None (dates with ``python``)."""
    if isinstance(value, betterproto2.Message):
        casing = betterproto2.Casing.SNAKE if snake else betterproto2.Casing.CAMEL
        data = value.to_dict(casing=casing, include_default_values=True)
        return _typed(data, value, python)
    if isinstance(value, PbMessage):
        data = json_format.MessageToDict(
            value, always_print_fields_with_no_presence=True, preserving_proto_field_name=snake
        )
        return _typed(data, value, python)
    if isinstance(value, Mapping):
        return {str(k): plain(v, snake=snake, python=python) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, snake=snake, python=python) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _typed(doc: Any, source: Any, python: bool) -> Any:
    """``doc`` (proto JSON of ``source``) with each non-finite float of ``source`` as None:
    proto JSON spells them as strings, which only the field's type in ``source`` tells from a
    string field holding the text "NaN". With ``python``, int64 text back to its int and a
    Date to a date, by the same reading of ``source``."""
    if isinstance(source, float):
        return source if math.isfinite(source) else None
    if python:
        if (
            isinstance(doc, str)
            and isinstance(source, int)
            and not isinstance(source, bool | enum.Enum)
        ):
            return source
        if isinstance(doc, dict) and _is_date(source):
            return dt.date(source.year, source.month, source.day) if source.year else None
    if isinstance(doc, dict):
        return {k: _typed(v, _child(source, k), python) for k, v in doc.items()}
    if isinstance(doc, list):
        items = list(source) if isinstance(source, list | tuple) or _repeated(source) else []
        if len(items) != len(doc):
            items = [None] * len(doc)
        return [_typed(d, s, python) for d, s in zip(doc, items, strict=True)]
    return doc


def _is_date(source: Any) -> bool:
    """A liftos.v1.Date (betterproto2 or protobuf); year 0 is the unset date."""
    name = type(source).__name__
    return name == "Date" and all(hasattr(source, f) for f in ("year", "month", "day"))


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
        fields = source.DESCRIPTOR
        field = fields.fields_by_camelcase_name.get(key) or fields.fields_by_name.get(key)
        return getattr(source, field.name) if field is not None else None
    return None
