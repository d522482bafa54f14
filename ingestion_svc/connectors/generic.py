"""A generic CSV/JSON source read through a declared column mapping: the business's own
outcome (``generic``: first-party orders and revenue, what attribution explains), or a media
channel no connector knows (``generic_media``: TV, radio, out of home, print, an unsupported
network; its spend and delivery per day, labelled with the mapping's channel, are media the
model attributes to like any platform's). The source decides which: a channel's spend in a
``generic`` file would be read as the business's own rows.

Every mapped column is required on every row; unmapped metrics are zero. The geo column holds
the merchant's own region codes: for a US or Canadian account each must be one of the
country's states / provinces (code or name; see ``base.map_geo``). With any country or none, a
geo that reads as a total ("Total", "All", "National") or a placeholder ("(not set)") is
refused, since a total stored as one more geo doubles every sum over geos. One row per date ×
geo × campaign is stored: rows of a batch sharing one (after the geo is mapped: "NY" and "New
York" are one) that differ are all refused ``finer_than_key``. Values may be
strings (CSV) or JSON numbers; an empty string is a missing value. The date is ISO
``yyyy-mm-dd`` in the account's time zone, or a local date-time without a zone as spreadsheets
and pandas write it (``yyyy-mm-dd hh:mm:ss``, ``T`` or a space between): its day is the
date; a date-time with its zone or offset ("…Z", "…+01:00") is dated in the account's zone,
as Shopify's order times are. Without a campaign column every row belongs to one campaign
named after the channel (``first_party`` by default). ``revenue`` is stored net of tax: an account with ``taxes_included`` has it divided
by 1 + ``tax_rate`` (a rate is never assumed).

A row with an ``org_id`` column (a file that holds several orgs' rows, as ``liftos simulate
--orgs N`` writes ``orders.csv``) belongs to that org: a row naming another org than the
batch's is rejected (``wrong_account``, field ``org_id``) while the batch's own rows land; a
row without one (or with it empty) is the batch's. The column needs no mapping: it is read
whenever present, so another org's rows can never land in this one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ingestion_svc.connectors.base import (
    FINER_REASON,
    Checks,
    Normalised,
    assemble,
    dates,
    filled,
    map_geo,
    missing,
    pluck,
    text,
)
from ingestion_svc.raw_batch import Account, ColumnMap
from ingestion_svc.rejection_list import quoted
from mesh.runtime.grouped_numbers import THREE_DECIMAL_CURRENCIES, dot_grouped, is_grouped
from mesh.runtime.zoned_times import ZONED, local_time, utc_midnights

DEFAULT_CHANNEL = "first_party"
ORG_COLUMN = "org_id"
# yyyy-mm-dd, or a local date-time as spreadsheets write it (no zone: the day is the date)
_LOCAL_DAY = r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?)?"


def normalise(
    rows: Sequence[dict[str, Any] | None],
    account: Account,
    mapping: ColumnMap,
    org_id: str = "",
    *,
    media: bool = False,
) -> Normalised:
    """Rows of a mapped source (a batch for ``org_id``) → the normalised frame; ``media``:
    ``generic_media``'s rows (the request's check requires their channel and spend)."""
    checks = Checks(rows)
    n = len(rows)
    if org_id:
        orgs = checks.text_field(rows, ORG_COLUMN)
        checks.fail(
            ~missing(orgs) & (orgs != org_id),
            ORG_COLUMN,
            "wrong_account",  # the wire's WRONG_ACCOUNT: "a different account/org than the batch"
            lambda i: f"row of org {quoted(orgs[i])} in a batch for org {quoted(org_id)}",
        )
    channel = mapping.channel or DEFAULT_CHANNEL
    written_day = checks.text_field(rows, mapping.date)
    day, missing_day, bad_day = dates(_local(written_day, account.timezone), _LOCAL_DAY)
    checks.fail(missing_day, mapping.date, "missing_field", f"{mapping.date} is missing")
    campaign_id: np.ndarray | str = channel
    if mapping.campaign_id:
        campaign_id = one_line(checks.text_field(rows, mapping.campaign_id))
        checks.required(campaign_id, mapping.campaign_id)
    name = (
        filled(one_line(checks.text_field(rows, mapping.campaign_name)), "")
        if mapping.campaign_name
        else campaign_id
    )
    _refuse_grouped(checks, rows, mapping, account)
    metrics: dict[str, np.ndarray] = {}
    for metric, integer in (
        ("spend", False),
        ("impressions", True),
        ("clicks", True),
        ("conversions", False),
        ("revenue", False),
    ):
        column = getattr(mapping, metric)
        if column:
            metrics[metric] = checks.metric(
                rows,
                column,
                rule=metric,
                required=True,
                integer=integer,
                negative_fix=_NET_OUTCOME.get(metric, ""),
            )
        else:
            metrics[metric] = np.zeros(n)
    if mapping.revenue and not media:
        metrics["revenue"] = _net_of_tax(checks, metrics["revenue"], account, mapping.revenue)
    checks.fail(
        bad_day,
        mapping.date,
        "invalid_date",
        lambda i: (
            f"{mapping.date} {quoted(written_day[i])} is not a real yyyy-mm-dd date in "
            "1900-2200 (nor a date-time: yyyy-mm-dd hh:mm:ss, local or with its zone, "
            "e.g. 2024-10-25T22:00:00Z or +01:00)"
        ),
    )
    geo_key: np.ndarray | str = account.country
    geo: np.ndarray | str = account.country
    if mapping.geo:
        written = checks.text_field(rows, mapping.geo)
        _refuse_non_regions(checks, written, account, mapping.geo)
        geo_key, geo = map_geo(written, account, checks, mapping.geo, subdivision=True)
    currency = checks.currency(
        checks.text_field(rows, mapping.currency_code)
        if mapping.currency_code
        else text([None] * n),
        account,
        mapping.currency_code or "currency",
    )
    if mapping.clicks and mapping.impressions:
        checks.clicks_vs_impressions(metrics["clicks"], metrics["impressions"], mapping.clicks)
    geo_written = checks.text_field(rows, mapping.geo) if mapping.geo else None
    _refuse_differing_rows(checks, mapping, day, geo, geo_written, campaign_id, metrics)
    return assemble(
        checks,
        {
            "account_id": account.account_id,
            "campaign_id": campaign_id,
            "campaign_key": name,
            "campaign_id_field": mapping.campaign_id or "campaign_id",
            "campaign_name": name,
            "ident": campaign_id,
            "objective": "unspecified",
            "channel": channel,
            "geo_key": geo_key,
            "geo": geo,
            "local_date": day,
            "timezone": account.timezone,
            **metrics,
            "currency": currency,
            "attribution_window": "first_party" if channel == DEFAULT_CHANNEL and not media else "",
            "attribution_ok": np.ones(n, dtype=bool),
            "outcome_reported": np.full(n, bool(mapping.conversions or mapping.revenue)),
        },
    )


def _local(written: np.ndarray, zone: str) -> list[str | None]:
    """The date column with each date-time written with its zone ("…Z", "…+01:00") as the
    local date-time of the account's zone, whose day is the row's (as Shopify's order times
    are dated); other values as written. Such times were refused, the whole file (R34 F5).
    A batch whose every zoned time is midnight UTC holds dates (JavaScript's and pandas'
    "2024-01-05T00:00:00.000Z"): each keeps the date written (V1 F2; two or more of them:
    mesh.runtime.zoned_times.utc_midnights)."""
    values: list[str | None] = written.tolist()
    if not any(v is not None and ZONED.fullmatch(v) for v in values):
        return values
    if utc_midnights(values):
        return [v[:10] if v is not None and ZONED.fullmatch(v) else v for v in values]
    return [(local_time(v, zone) or v) if v is not None else None for v in values]


def _refuse_grouped(
    checks: Checks, rows: Sequence[dict[str, Any] | None], mapping: ColumnMap, account: Account
) -> None:
    """Reject the values of a fractional measure (spend, conversions, revenue) whose '.' the
    batch proves to be a thousands separator ("2.906" beside "1.234.567" or "1.234,56": 2,906,
    not 2.906; see :mod:`mesh.runtime.grouped_numbers`), naming the column and the fix. Read
    as decimals they were a thousandth of themselves without a word (R34 F1). A column that
    only looks grouped ("412.500", "1.333" beside "3": a US file to three places) is read as
    decimals, as it was before (V1 F4): ``liftos ingest`` warns of it per file. Counts are
    integers, so "2.906" impressions is refused as not whole already; a currency with three
    minor digits writes three decimals."""
    for metric in ("spend", "conversions", "revenue"):
        column = getattr(mapping, metric)
        if not column or (metric != "conversions" and account.currency in THREE_DECIMAL_CURRENCIES):
            continue
        values = pluck(rows, column)
        grouped = dot_grouped(values)
        if grouped is not None and grouped.certain:
            mask = np.fromiter(map(is_grouped, values), bool, len(values))
            checks.fail(mask, column, "invalid_number", grouped.why(column))


# Geo labels that are no region. A total (a pivot's or BI export's subtotal row) stored as one
# more geo doubles every figure the geos add up to: spend, incremental outcome, baseline; a
# placeholder holds sales no region can be given. Compared upper case, spaces squeezed, with
# brackets and a trailing colon dropped ("(All)", "Total:").
_TOTALS = frozenset({
    "TOTAL", "TOTALS", "GRAND TOTAL", "SUBTOTAL", "SUB TOTAL", "SUB-TOTAL", "SUM", "ALL",
    "ALL GEOS", "ALL REGIONS", "ALL STATES", "ALL MARKETS", "ALL LOCATIONS", "OVERALL",
    "NATIONAL", "NATIONWIDE", "COUNTRY TOTAL", "TOTAL COUNTRY",
})  # fmt: skip
_PLACEHOLDERS = frozenset({
    "NOT SET", "BLANK", "EMPTY", "N/A", "NONE", "NULL", "NAN", "UNKNOWN", "-", "--",
})  # fmt: skip


def _label(value: str) -> str:
    return " ".join(value.strip().strip("()[]").removesuffix(":").split()).upper()


def _refuse_non_regions(checks: Checks, written: np.ndarray, account: Account, field: str) -> None:
    """Reject rows whose geo is blank, a total over geos or a placeholder, whatever the
    country: without one (DMAs, Meridian's geo codes) any label is kept as a geo, so a
    'Total' row per day was stored as one more geo and doubled every absolute figure. A
    label the account's geo_keys map is the user's own and is kept."""
    keys = account.geo_keys or {}
    values = written.tolist()
    # a batch has few distinct geos: judge each once
    kinds = {v: _label(v) for v in set(values) if v is not None and v not in keys}
    blank = {v for v, lb in kinds.items() if lb == ""}
    totals = {v for v, lb in kinds.items() if lb in _TOTALS}
    placeholders = {v for v, lb in kinds.items() if lb in _PLACEHOLDERS}
    for found, reason, message in (
        (blank, "missing_field", lambda i: f"{field} is missing (blank)"),
        (
            totals,
            "unknown_geo",
            lambda i: (
                f"geo {quoted(written[i])} reads as a total over geos, not a region: the geos "
                "are added up, so a total row would count each of them twice. Leave total "
                "rows out of the file (a file of national rows only: map no geo column)"
            ),
        ),
        (
            placeholders,
            "unknown_geo",
            lambda i: (
                f"geo {quoted(written[i])} is a placeholder, not a region: its rows cannot be "
                "put in a geo. Give them their region, or leave them out"
            ),
        ),
    ):
        if found:
            mask = np.fromiter((v in found for v in values), bool, len(values))
            checks.fail(mask, field, reason, message)


def _refuse_differing_rows(
    checks: Checks,
    mapping: ColumnMap,
    day: np.ndarray,
    geo: np.ndarray | str,
    geo_written: np.ndarray | None,
    campaign_id: np.ndarray | str,
    metrics: dict[str, np.ndarray],
) -> None:
    """Reject every row of a date × geo × campaign whose rows in this batch differ in a
    mapped measure: one row per key is stored, so the later would replace the others as a
    restatement and their values would be lost while all were counted accepted (an order-level
    export; one region spelled two ways, "NY" and "New York", which are one geo here). Which
    row is right cannot be told, so none is kept; identical rows stay duplicates of one pull.
    The key is the mapped geo, so spellings the CLI's check (the geo as written) cannot see
    are caught here."""
    live = ~checks.bad
    if live.sum() < 2:
        return
    n = checks.n
    measures = [m for m in metrics if getattr(mapping, m)]
    frame = pd.DataFrame(
        {
            "day": day,
            "geo": np.broadcast_to(np.asarray(geo, dtype=object), n),
            "campaign": np.broadcast_to(np.asarray(campaign_id, dtype=object), n),
            **{m: metrics[m] for m in measures},
        }
    )[live]
    if not measures:
        return
    frame = frame[frame.duplicated(["day", "geo", "campaign"], keep=False)]
    if frame.empty:  # the usual batch: one row per key
        return
    groups = frame.groupby(["day", "geo", "campaign"], sort=False, dropna=False)
    differs = groups[measures].transform("nunique").gt(1).any(axis=1)
    if not differs.any():
        return
    clash = np.zeros(n, dtype=bool)
    clash[frame.index[differs.to_numpy()]] = True
    index = frame.index.to_numpy()
    # batch row → the batch rows of its key
    rows_of = {int(index[p]): index[g] for g in groups.indices.values() if len(g) > 1 for p in g}
    field = mapping.geo or mapping.date

    def message(i: int) -> str:
        members = rows_of[i]
        key = frame.loc[i]
        spelled = ""
        if geo_written is not None:
            written = list(dict.fromkeys(str(geo_written[j]) for j in members))
            if len(written) > 1:
                spelled = f" (written {', '.join(quoted(w) for w in written[:4])})"
        values = "; ".join(
            f"{getattr(mapping, m)} " + ", ".join(f"{metrics[m][j]:g}" for j in members[:4])
            for m in measures
            if len(set(metrics[m][members].tolist())) > 1
        )
        return (
            f"{len(members)} rows of this batch share date {str(key['day'])[:10]} × geo "
            f"{key['geo'] or '(none)'}{spelled} × campaign {key['campaign']} and differ "
            f"({values}): one row per key is stored, so all but one would be lost. Sum them "
            "per date, geo and campaign first (liftos ingest --sum-rows, the SDK's "
            "sum_rows=True), write one spelling per geo, or keep only the row that is right"
        )

    checks.fail(clash, field, FINER_REASON, message)


# A negative outcome is a net figure: a day whose refunds (returns) exceed its sales. It is not
# taken (R30 F2): the attribution reads the outcome on a log scale, where a loss has no value
# (filled or floored, the day becomes an invented sale or a near-zero outlier), and memory keeps
# revenue and conversions at 0 or more. The fix is the export's gross column, not a re-export.
_NET_OUTCOME = {
    m: f" (a day whose refunds exceed its sales?): {m} must be 0 or more, because the "
    "attribution reads the outcome on a log scale, where a net loss has no value; map "
    f"{m} to the export's gross figure before refunds and returns (a refund is not a sale the "
    "media lost that day), not a net one"
    for m in ("revenue", "conversions")
}


def _net_of_tax(checks: Checks, revenue: np.ndarray, account: Account, field: str) -> np.ndarray:
    """The business's revenue net of tax, as Shopify's net sales are: with the account's
    ``taxes_included`` (an EU shop's gross "Umsatz brutto" export) each value is divided by
    1 + ``tax_rate`` (119.00 at 19% -> 100.00). Those flags were accepted and ignored, so a
    tax-inclusive file's returns were 19% high (R34 F2). Without a rate every row is
    refused: none is assumed."""
    if not account.taxes_included:
        return revenue
    if account.tax_rate is None:
        checks.fail(
            np.ones(len(revenue), dtype=bool),
            field,
            "missing_field",
            f"{field} holds tax (the account's taxes_included) at a rate the account does not "
            "give: pass --tax-rate, e.g. 0.19 for 19% VAT (SDK account tax_rate), and it is "
            "stored net of it",
        )
        return revenue
    return revenue / (1.0 + account.tax_rate)


# A quoted CSV cell may hold line breaks (Excel's Alt+Enter) and tabs; a user's campaign column
# is display text, and memory refuses them in an id (R30 F8: the row's spend was lost).
_BREAKS = re.compile(r"\s*[\t\r\n]+\s*")


def one_line(values: np.ndarray) -> np.ndarray:
    """Text with each run of tabs and line breaks (and the spaces around it) as one space:
    'Spring\\nsale' is 'Spring sale' (only breaks: missing). Text without them is unchanged."""
    return np.array(
        [
            (_BREAKS.sub(" ", v).strip() or None) if type(v) is str and _BREAKS.search(v) else v
            for v in values.tolist()
        ],
        dtype=object,
    )
