"""The Shopify Admin API's fields as the orders and products connectors read them: ids (JSON
numbers, digit strings or GraphQL global ids), money (decimal strings in the shop currency),
unit counts, times (ISO 8601 with offset, dated in the account's zone) and text; :class:`Bad`,
what a bad one raises, names its path in the row, and :func:`unreadable` words the rejection
of a row whose reading raised anything else.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ingestion_svc.parse import ROW
from ingestion_svc.raw_batch import Rejection
from ingestion_svc.rejection_list import quoted

__all__ = [
    "DECIMAL", "ID", "Bad", "account_zone", "count", "ident", "money", "stamp", "text",
    "unreadable",
]  # fmt: skip

DECIMAL = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
# An id as REST gives it (digits), or the GraphQL Admin API's global id of the same thing
ID = re.compile(r"(?:gid://shopify/([A-Za-z]+)/)?(\d{1,20})", re.ASCII)
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


class Bad(Exception):
    """A field at ``field`` that cannot be read: its rejection's reason and message."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field, self.reason, self.message = field, reason, message


def ident(v: Any, path: str, of: str) -> str:
    """A Shopify id of an ``of`` (Order, LineItem, Product, ProductVariant): a JSON number, its
    digits, or its GraphQL global id (``gid://shopify/Order/123`` → ``123``: the REST and the
    GraphQL export of one order meet on one natural key)."""
    if type(v) is int and v >= 0:
        return str(v)
    found = ID.fullmatch(v) if type(v) is str else None
    if found and found[1] in (None, of):
        return found[2]
    if v is None or v == "":
        raise Bad(path, "missing_field", f"{path} is missing")
    shapes = f"a number, or gid://shopify/{of}/<number>"
    raise Bad(path, "malformed", f"{path} {quoted(v)} is not a Shopify {of} id ({shapes})")


def money(v: Any, path: str, *, required: bool = True) -> float:
    if v is None:
        if required:
            raise Bad(path, "missing_field", f"{path} is missing")
        return 0.0
    if not (type(v) in (int, float) or (type(v) is str and DECIMAL.fullmatch(v))):
        raise Bad(path, "invalid_number", f"{path} is not a decimal amount")
    try:  # an int past float's range overflows; a 400-digit decimal string reads as inf
        x = float(v)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise Bad(path, "invalid_number", f"{path} is out of range")
    if x < 0:
        raise Bad(path, "negative_value", f"{path} {x:g} is negative")
    if x > 1e9:
        raise Bad(path, "invalid_number", f"{path} {x:g} is out of range")
    return x


def count(v: Any, path: str) -> int:
    if type(v) is int and 0 <= v <= 1_000_000:
        return v
    if v is None:
        raise Bad(path, "missing_field", f"{path} is missing")
    raise Bad(path, "invalid_number", f"{path} is not a count of units")


@functools.cache
def account_zone(name: str) -> ZoneInfo | None:
    """The account's time zone; None when it has none or an unknown one (ingest rejects the
    batch's rows for an unknown zone; here the string's own offset dates them)."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def stamp(v: Any, path: str, zone: ZoneInfo | None = None) -> tuple[np.datetime64, int]:
    """(local day, µs since the epoch) of an ISO 8601 time with offset: the day in ``zone``
    (the account's), else in the string's own offset."""
    if v is None:
        raise Bad(path, "missing_field", f"{path} is missing")
    if type(v) is not str or not _STAMP.fullmatch(v):
        raise Bad(path, "invalid_date", f"{path} is not an ISO 8601 time with offset")
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise Bad(path, "invalid_date", f"{path} is not a real time") from None
    if not 1900 <= t.year <= 2200:
        raise Bad(path, "invalid_date", f"{path} is outside 1900-2200")
    us = int(t.timestamp() * 1_000_000)
    # Shopify's times are its servers' clock; one before 1970 is a corrupted export, and as
    # the record's version (µs since the epoch, which memory keeps non-negative) it could
    # never be restated.
    if us < 0:
        raise Bad(path, "invalid_date", f"{path} {v} is before 1970: not a Shopify time")
    return np.datetime64(t.astimezone(zone).date() if zone else t.date(), "s"), us


def text(v: Any) -> str:
    return v if type(v) is str else str(v) if type(v) in (int, float) else ""


def unreadable(i: int, what: str, exc: Exception) -> Rejection:
    """Row ``i``'s rejection when reading it raised what no check anticipated (a bug, logged):
    the row is refused alone, with the error's kind as its reason."""
    return Rejection(
        i, ROW, "malformed", f"{what} could not be read ({type(exc).__name__}: {str(exc)[:200]})"
    )
