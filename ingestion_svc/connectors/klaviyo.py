"""Klaviyo Reporting API ``campaign-values-report`` results (one result per row, with the
request's one-day ``timeframe`` and the message's audience segment).

The API's response as returned (``data.attributes.results[]``, no timeframe per result) is
rejected naming the row shape to send, since its results carry neither the day nor the
audience segment. Quirks handled: numbers are JSON numbers; the day is a timeframe with the account's UTC
offset (``2024-09-17T00:00:00-04:00``); rows carry no account, geo or currency — the account
comes with the batch and the geo is the message's audience segment, mapped through the
account's ``geo_keys``; a row is one campaign *message* (``campaign_message_id`` keys it);
email has no spend, SMS reports ``text_message_spend``; "impressions" are recipients.
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
from ingestion_svc.raw_batch import Account
from mesh.runtime.exceptions import shown

REPORT_TYPE = "campaign-values-report"
_START = re.compile(r"(\d{4}-\d{2}-\d{2})T00:00:00(?:Z|[+-]\d{2}:\d{2})", re.ASCII)
_STAT = "attributes.statistics."


def _segment(relationships: Any) -> Any:
    data = relationships.get("data") if type(relationships) is dict else None
    if type(data) is list and data and type(data[0]) is dict:
        return data[0].get("id")
    return None


def _day(start: str | None) -> np.datetime64:
    found = _START.fullmatch(start) if start is not None else None
    if found is None:
        return np.datetime64("NaT", "s")
    try:
        return np.datetime64(found.group(1), "s")
    except ValueError:
        return np.datetime64("NaT", "s")


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
    day = supported(np.array([_day(s) for s in start], dtype="datetime64[s]"))
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
        "timeframe.start is not a local midnight in 1900-2200 with an offset (yyyy-mm-ddT00:00:00±hh:mm)",
    )
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
            "tz_mismatch": _offset_mismatch(start, day, account.timezone),
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


def _offset_mismatch(start: np.ndarray, day: np.ndarray, timezone: str) -> np.ndarray:
    """True where the timeframe's own instant is not local midnight in the account zone."""
    out = np.zeros(len(start), dtype=bool)
    ok = ~np.isnat(day)
    if not timezone or not ok.any():
        return out
    stated = pd.to_datetime(pd.Series(start[ok]), format="ISO8601", utc=True, errors="coerce")
    local = pd.DatetimeIndex(day[ok]).tz_localize(
        timezone, ambiguous="NaT", nonexistent="shift_forward"
    )
    want = local.tz_convert(dt.UTC).tz_localize(None).to_numpy("datetime64[s]")
    got = pd.DatetimeIndex(stated).tz_localize(None).to_numpy("datetime64[s]")
    out[ok] = got != want
    return out
