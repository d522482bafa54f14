"""Klaviyo Reporting API ``campaign-values-report`` results (one result per row, with the
request's one-day ``timeframe`` and the message's audience segment).

The API's response as returned (``data.attributes.results[]``, no timeframe per result) is
rejected naming the row shape to send, since its results carry neither the day nor the
audience segment. Quirks handled: numbers are JSON numbers; the day is a timeframe with the
account's UTC offset (``2024-09-17T00:00:00-04:00``), or the first instant of a day whose
clocks jump at midnight (``2024-09-08T01:00:00-03:00`` in America/Santiago); rows carry no
account, geo or currency — the account comes with the batch and the geo is the message's
audience segment, mapped through the account's ``geo_keys``; a row is one campaign
*message* (``campaign_message_id`` keys it); email has no spend, SMS reports
``text_message_spend``; "impressions" are recipients. A row whose ``timeframe.end`` lies
past the next local midnight sums several days and is refused (rows must be daily).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ingestion_svc.connectors.base import (
    Checks,
    Normalised,
    assemble,
    filled,
    map_geo,
    missing,
    numbers,
    pluck,
    supported,
)
from ingestion_svc.connectors.local_days import day_starts, near_range
from ingestion_svc.raw_batch import Account
from mesh.runtime.exceptions import shown

REPORT_TYPE = "campaign-values-report"
# A timeframe bound: wall-clock date and time with its UTC offset.
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:Z|([+-])(\d{2}):(\d{2}))", re.ASCII)
_STAT = "attributes.statistics."


def _segment(relationships: Any) -> Any:
    data = relationships.get("data") if type(relationships) is dict else None
    if type(data) is list and data and type(data[0]) is dict:
        return data[0].get("id")
    return None


def _stamps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(wall clock, UTC instant) of each timeframe bound, naive ``datetime64[s]``; NaT where
    it is not ``yyyy-mm-ddThh:mm:ss`` with ``Z`` or an offset."""
    wall = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    offset = np.zeros(len(values), dtype="timedelta64[s]")
    for i, value in enumerate(values.tolist()):
        found = _STAMP.fullmatch(value) if value is not None else None
        if found is None:
            continue
        day, time, sign, hours, minutes = found.groups()
        try:
            wall[i] = np.datetime64(f"{day}T{time}", "s")
        except ValueError:
            continue
        if sign:
            seconds = int(hours) * 3600 + int(minutes) * 60
            offset[i] = np.timedelta64(-seconds if sign == "-" else seconds, "s")
    return wall, wall - offset


def _days(wall: np.ndarray, instant: np.ndarray, timezone: str) -> np.ndarray:
    """The local day each ``timeframe.start`` opens: its own date where it reads midnight;
    else, in the account zone, the date whose first instant it is (a day whose clocks jump
    at midnight begins at 01:00); else NaT."""
    wall = near_range(wall)
    date = wall.astype("datetime64[D]").astype("datetime64[s]")
    midnight = wall == date
    out = np.where(midnight, date, np.datetime64("NaT", "s"))
    other = ~midnight & ~np.isnat(wall)
    if timezone and other.any():
        local = pd.DatetimeIndex(instant[other]).tz_localize(dt.UTC).tz_convert(timezone)
        there = local.tz_localize(None).to_numpy("datetime64[D]").astype("datetime64[s]")
        opens = instant[other] == _utc(day_starts(there, timezone))
        out[np.flatnonzero(other)[opens]] = there[opens]
    return supported(out)


_END = "attributes.timeframe.end"
# The longest local day (a fall-back day); a timeframe longer than that is not one day,
# whatever offsets its bounds are written with.
_LONGEST_DAY = np.timedelta64(25, "h")


def _one_day(
    checks: Checks,
    rows: Sequence[dict[str, Any] | None],
    start: np.ndarray,
    start_at: np.ndarray,
    day: np.ndarray,
    timezone: str,
) -> None:
    """Reject a row whose ``timeframe.end`` is not within the day ``timeframe.start`` opens
    (the next local midnight at the latest). A values report over a longer timeframe sums
    every day of it (a month's sends), which stored on its first day would be a spike there
    and nothing after. An absent end says nothing and is let be."""
    end = checks.text_field(rows, _END)
    end_wall, end_at = _stamps(end)
    checks.fail(
        ~missing(end) & np.isnat(end_wall),
        _END,
        "invalid_date",
        "timeframe.end is not a date and time with an offset (yyyy-mm-ddThh:mm:ss±hh:mm)",
    )
    known = ~np.isnat(day) & ~np.isnat(end_at)
    checks.fail(
        known & (end_at <= start_at),
        _END,
        "invalid_date",
        lambda i: f"timeframe.end {end[i]} is not after timeframe.start {start[i]}",
    )
    # The next local midnight as the bounds are written (a 23- or 25-hour day still ends at
    # its wall clock's next 00:00), or in the account zone where its next day has no midnight.
    next_wall = day + np.timedelta64(1, "D")
    within = (end_wall <= next_wall) & (end_at - start_at <= _LONGEST_DAY)
    if timezone and known.any():
        next_start = np.full(len(day), np.datetime64("NaT"), dtype="datetime64[s]")
        next_start[known] = _utc(day_starts(next_wall[known], timezone))
        within |= end_at <= next_start
    checks.fail(
        known & ~within,
        _END,
        "invalid_date",
        lambda i: (
            f"timeframe {start[i]} to {end[i]} is longer than the day it starts "
            f"({str(day[i])[:10]}): rows must be daily; request a one-day timeframe per day, "
            "from a local midnight to the next"
        ),
    )


def _utc(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert(dt.UTC).tz_localize(None).to_numpy("datetime64[s]")


# The API's own response is not a row: its results carry no day (the timeframe is the
# request's) and no audience segment (the geo). Said so rather than "type is missing".
ROW_SHAPE = (
    "one line per data.attributes.results[] element, wrapped as {type: "
    f"{REPORT_TYPE!r}, attributes: {{timeframe: the request's one-day {{start, end}}, groupings, "
    "statistics}, relationships: {segments: {data: [the message's audience segment]}}}"
)


def _other_shapes(checks: Checks, rows: Sequence[dict[str, Any] | None]) -> None:
    """Reject a whole campaign-values-report response, or one bare results[] element."""
    n = len(rows)
    for path in ("data.attributes.results", "attributes.results"):
        whole = np.fromiter((type(v) is list for v in pluck(rows, path)), bool, n)
        checks.fail(
            whole,
            path,
            "malformed",
            f"a whole campaign-values-report response, whose results have no day or geo: send {ROW_SHAPE}",
        )
    bare = np.fromiter(
        (type(r) is dict and "attributes" not in r and "groupings" in r for r in rows), bool, n
    )
    checks.fail(
        bare,
        "groupings",
        "malformed",
        f"a bare results[] element, without the request's timeframe or segment: send {ROW_SHAPE}",
    )


def normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> Normalised:
    """Campaign-values-report rows → the normalised frame."""
    checks = Checks(rows)
    n = len(rows)
    _other_shapes(checks, rows)
    kind = filled(checks.text_field(rows, "type"), "")
    checks.fail(
        kind != REPORT_TYPE,
        "type",
        "malformed",
        lambda i: f"type {shown(kind[i])} is not {REPORT_TYPE}",
    )
    message_field = "attributes.groupings.campaign_message_id"
    message_id = checks.text_field(rows, message_field)
    checks.required(message_id, message_field)
    campaign_id = checks.text_field(rows, "attributes.groupings.campaign_id")
    start = checks.text_field(rows, "attributes.timeframe.start")
    checks.required(start, "attributes.timeframe.start")
    start_wall, start_at = _stamps(start)
    day = _days(start_wall, start_at, account.timezone)
    recipients = checks.metric(
        rows, _STAT + "recipients", rule="impressions", required=True, integer=True
    )
    clicks = checks.metric(
        rows, _STAT + "clicks_unique", rule="clicks", required=True, integer=True
    )
    conversions_raw = pluck(rows, _STAT + "conversions")
    conversions = checks.number(
        numbers(conversions_raw), _STAT + "conversions", required=False, rule="conversions"
    )
    revenue = checks.metric(rows, _STAT + "conversion_value", rule="revenue", required=False)
    spend = checks.metric(rows, _STAT + "text_message_spend", rule="spend", required=False)
    checks.fail(
        ~missing(start) & np.isnat(day),
        "attributes.timeframe.start",
        "invalid_date",
        "timeframe.start is neither a local midnight in 1900-2200 with an offset "
        "(yyyy-mm-ddT00:00:00±hh:mm) nor the first instant of a day in the account's zone",
    )
    _one_day(checks, rows, start, start_at, day, account.timezone)
    segment_field = "relationships.segments.data[0].id"
    segments = checks.text(
        [_segment(r) for r in pluck(rows, "relationships.segments")], segment_field
    )
    geo_key, geo = map_geo(segments, account, checks, segment_field)
    checks.clicks_vs_impressions(clicks, recipients, _STAT + "clicks_unique")
    channel = filled(
        checks.text_field(rows, "attributes.groupings.send_channel"),
        "email",
    )
    return assemble(
        checks,
        {
            "account_id": account.account_id,
            "campaign_id": campaign_id,
            "campaign_key": message_id,
            "campaign_id_field": "attributes.groupings.campaign_id",
            "ident": message_id,
            "objective": "retention",
            "channel": ["klaviyo_" + c.lower() for c in channel],
            "geo_key": geo_key,
            "geo": geo,
            "local_date": day,
            "timezone": account.timezone,
            "tz_mismatch": _offset_mismatch(start_at, day, account.timezone),
            "spend": spend,
            "impressions": recipients,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": account.currency,
            "attribution_window": "klaviyo_conversion_window",
            "attribution_ok": np.ones(n, dtype=bool),
            "outcome_reported": np.array([v is not None for v in conversions_raw], dtype=bool),
        },
    )


def _offset_mismatch(instant: np.ndarray, day: np.ndarray, timezone: str) -> np.ndarray:
    """True where the timeframe's own instant does not open its local day in the account
    zone: neither the day's first instant nor a midnight of it (a fall-back at 01:00 gives
    the day two midnights)."""
    out = np.zeros(len(instant), dtype=bool)
    ok = ~np.isnat(day)
    if not timezone or not ok.any():
        return out
    first = _utc(day_starts(day[ok], timezone))
    local = pd.DatetimeIndex(instant[ok]).tz_localize(dt.UTC).tz_convert(timezone)
    wall = local.tz_localize(None).to_numpy("datetime64[s]")
    out[ok] = (instant[ok] != first) & (wall != day[ok])
    return out
