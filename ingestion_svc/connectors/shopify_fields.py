"""The Shopify Admin API's fields as the orders and products connectors read them: ids (JSON
numbers, digit strings or GraphQL global ids), money (decimal strings in the shop currency),
unit counts, times (ISO 8601 with offset, dated in the account's zone) and text; :class:`Bad`,
what a bad one raises, names its path in the row, and :func:`unreadable` words the rejection
of a row whose reading raised anything else. :func:`zone_note` says when a batch's times
carry offsets that the account's zone does not have (a wrong ``--timezone``).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np

from ingestion_svc.parse import ROW
from ingestion_svc.raw_batch import Account, Note, Rejection
from ingestion_svc.rejection_list import quoted

__all__ = [
    "DECIMAL", "ID", "ZONE_NOTE", "Bad", "account_zone", "count", "ident", "money", "stamp",
    "text", "unreadable", "zone_note",
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


# A time written in UTC ("Z", "+00:00") is how the GraphQL Admin API and ETL tools write any
# shop's times, so it says nothing of the shop's zone; REST writes the shop's own offset.
ZONE_NOTE = "timezone_mismatch"  # the note's kind: on the batch, its row only an example
_ZONE_SAMPLE = 64  # times a candidate zone is checked against (spread over the batch)
_ETC = re.compile(r"Etc/GMT([+-])(\d{1,2})", re.ASCII)


def zone_note(times: Sequence[tuple[int, str, str]], account: Account) -> Note | None:
    """A note on the batch when most of its times written with an offset other than UTC
    (``times``: row, field, the time as written, each one :func:`stamp` read) carry one that
    the account's zone does not have at that instant (R34-F7: a Berlin shop ingested with
    ``--timezone America/New_York``, or ``Etc/GMT+1``, which is UTC-01:00, had its night
    orders dated on the previous day without a word); None when they agree, or no zone."""
    zone = account_zone(account.timezone)
    if zone is None:
        return None
    written = [
        (row, path, t)
        for row, path, v in times
        if (t := dt.datetime.fromisoformat(v.replace("Z", "+00:00"))).utcoffset()
    ]
    off = [
        (row, path, t)
        for row, path, t in written
        if t.astimezone(zone).utcoffset() != t.utcoffset()
    ]
    if not off or 2 * len(off) <= len(written):
        return None
    moved = sum(t.astimezone(zone).date() != t.date() for *_, t in off)
    offsets = "/".join(sorted({t.isoformat()[-6:] for *_, t in off}))  # "+01:00"
    fits = _fitting_zone([t for *_, t in written], account.country)
    told = account.timezone
    etc = _ETC.fullmatch(told)
    if etc:  # POSIX signs: Etc/GMT+1 is one hour behind UTC
        sign = "-" if etc[1] == "+" else "+"
        told += f" (UTC{sign}{int(etc[2]):02d}:00: Etc/GMT signs are inverted)"
    which = f"which {fits} has and " if fits else "which "
    fix = (
        f"If the shop is in {fits}, ingest again with --timezone {fits}"
        if fits
        else "Check --timezone: it is the shop's zone"
    )
    return Note(
        off[0][0],
        off[0][1],
        ZONE_NOTE,
        f"{len(off)} of {len(written)} orders carry offsets {offsets}, {which}--timezone "
        f"{told} has not: {moved} are dated on another day than the time written. {fix}",
    )


def _fitting_zone(times: list[dt.datetime], country: str) -> str:
    """A zone whose offset at each of ``times`` is the one written (one of the account's
    country's first, per the system's zone.tab); "" when none fits them all."""
    step = max(1, len(times) // _ZONE_SAMPLE)
    sample = sorted(times)[::step][:_ZONE_SAMPLE]
    for name in (*_country_zones(country), *_area_zones()):
        zone = account_zone(name)
        if zone is not None and all(
            t.astimezone(zone).utcoffset() == t.utcoffset() for t in sample
        ):
            return name
    return ""


@functools.cache
def _area_zones() -> tuple[str, ...]:
    """Every "Area/City" zone the system knows (no Etc/ or legacy names), sorted."""
    legacy = ("Etc/", "posix", "right", "SystemV", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(legacy)))


@functools.cache
def _country_zones(country: str) -> tuple[str, ...]:
    """The zones the system's zone.tab lists for an ISO 3166 country, in its order (the most
    populous first); () where it has none or there is no zone.tab."""
    for root in TZPATH:
        path = Path(root) / "zone.tab"
        if path.is_file():
            rows = (line.split("\t") for line in path.read_text().splitlines())
            return tuple(r[2] for r in rows if len(r) >= 3 and r[0] == country)
    return ()
