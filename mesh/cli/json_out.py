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
import sys
from typing import Any, TextIO

from google.protobuf import timestamp_pb2

from mesh.runtime.message_data import plain


def document(value: Any) -> Any:
    """``value`` (a betterproto2 or protobuf message, or plain data holding them) as JSON data:
    dicts, lists, strings, finite numbers, booleans and None (zeros kept: see
    mesh.runtime.message_data, which the SDK's frames share)."""
    return plain(value)


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
