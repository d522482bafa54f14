"""The platforms' product-level reports → one row per campaign x product x day.

google_ads (``GoogleAdsService.SearchStream`` over ``shopping_performance_view``)
    As the geographic view (proto3 JSON: int64 as strings, money in micros, zero fields
    omitted) with ``segments.productItemId`` instead of a geo: the Merchant Center offer id,
    which the API lower-cases (``shopify_us_<product_id>_<variant_id>`` for a Shopify feed).
    A row by ``segments.week``/``month``/``quarter``/``year`` without ``segments.date`` sums
    several days and is refused. The view holds Shopping and Performance Max campaigns: a
    row's channel follows ``campaign.advertisingChannelType`` as the campaign export's does
    (``google_shopping``, ``google_pmax``), Shopping when the field is absent.
meta (Marketing API ``/insights`` with ``breakdowns=product_id``, ``time_increment=1``)
    As the region breakdown (numbers as strings, purchases in ``actions`` /
    ``action_values``) with ``product_id``: the catalogue item's retailer id. A row whose
    ``date_stop`` is not its ``date_start`` (Meta's default ``all_days``, or a week) is
    refused, as the campaign connector refuses it.

The rows carry no geo (neither breakdown can be cut by region). A catalogue id in Shopify's
feed format is split into the merchant's product and variant ids, so spend meets the orders'
line items; any other id is kept as the product id. Identity is
``<source>|<account>|<campaign>|<item id>|<date>``; :func:`latest` keeps the last pull of
each key (a restated day replaces the earlier one, a repeated pull changes nothing), so a row
below that key (per ad group, ad set, device, offer channel) is rejected, never kept as a
"restatement" of its sibling (``base.finer_than_key``). Bad rows
are rejected one by one with the checks every connector shares
(:mod:`ingestion_svc.connectors.base`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ingestion_svc.connectors.base import (
    Checks,
    dates,
    filled,
    finer_than_key,
    missing,
    numbers,
    pluck,
)
from ingestion_svc.connectors.google_ads import CHANNELS as GOOGLE_CHANNELS
from ingestion_svc.connectors.google_ads import DATE_SEGMENTS, camel_rows, snake_rejections
from ingestion_svc.connectors.google_ads import FINER_FIELDS as GOOGLE_FINER
from ingestion_svc.connectors.google_ads import metrics as google_metrics
from ingestion_svc.connectors.meta import FINER_FIELDS as META_FINER
from ingestion_svc.connectors.meta import action, purchase_kind, refuse_multi_day
from ingestion_svc.raw_batch import Account, Rejection

__all__ = [
    "REPORT",
    "ProductReport",
    "latest",
    "normalise_google_shopping",
    "normalise_meta_products",
]

REPORT: dict[str, str] = {
    "row": "int64",
    "account_id": "object",
    "campaign_id": "object",
    "campaign_name": "object",
    "channel": "object",
    "item_id": "object",
    "product_id": "object",
    "variant_id": "object",
    "category": "object",
    "local_date": "datetime64[s]",
    "spend": "float64",
    "impressions": "int64",
    "clicks": "int64",
    "conversions": "float64",
    "revenue": "float64",
    "currency": "object",
    "version": "int64",  # arrival order: batch base + row
    "natural_key": "object",
}
_DATE = r"\d{4}-\d{2}-\d{2}"
# Google/Meta's Shopify item id: shopify_<country>_<product>_<variant>, or without the variant
# (a feed keyed by item_group_id / product); any other id is kept as the product id as is.
_SHOPIFY_ITEM = re.compile(r"shopify_[a-z]{2}_(\d+)(?:_(\d+))?", re.ASCII | re.IGNORECASE)


# A shopping_performance_view row's segments that describe its item (each follows from the
# offer id) or its date; any other (device, network, ad group, the offer's channel, country
# or language: one offer id may sell in several) splits campaign × item × day.
ITEM_SEGMENTS = DATE_SEGMENTS | {
    "productItemId", "productTitle", "productBrand", "productCondition", "productMerchantId",
    *(f"productTypeL{k}" for k in range(1, 6)),
    *(f"productCategoryLevel{k}" for k in range(1, 6)),
    *(f"productCustomAttribute{k}" for k in range(5)),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProductReport:
    frame: pd.DataFrame
    rejections: list[Rejection]


def _split_items(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pid = np.empty(len(items), dtype=object)
    vid = np.empty(len(items), dtype=object)
    for i, item in enumerate(items.tolist()):
        found = _SHOPIFY_ITEM.fullmatch(item) if item else None
        pid[i], vid[i] = (found.group(1), found.group(2) or "") if found else (item or "", "")
    return pid, vid


def _assemble(
    checks: Checks, source: str, cols: dict[str, Any], version_base: int
) -> ProductReport:
    keep = ~checks.bad
    n = int(keep.sum())
    data: dict[str, Any] = {"row": np.flatnonzero(keep).astype(np.int64)}
    for name, dtype in REPORT.items():
        if name in ("row", "version", "natural_key"):
            continue
        col = cols[name]
        if isinstance(col, str):
            data[name] = np.full(n, col, dtype=object)
        else:
            data[name] = np.asarray(col)[keep].astype(dtype)
    data["version"] = version_base + data["row"]
    frame = pd.DataFrame(data)
    frame["natural_key"] = (
        f"{source}|"
        + frame["account_id"]
        + "|"
        + frame["campaign_id"]
        + "|"
        + frame["item_id"]
        + "|"
        + frame["local_date"].dt.strftime("%Y-%m-%d")
    )
    return ProductReport(frame.astype(REPORT), checks.rejections)


def normalise_google_shopping(
    rows: Sequence[dict[str, Any] | None], account: Account, *, version_base: int = 0
) -> ProductReport:
    """``shopping_performance_view`` rows (proto3 JSON, or the client libraries' snake_case)
    → the product report frame."""
    rows, snake = camel_rows(rows)
    out = _google_shopping(rows, account, version_base)
    return ProductReport(out.frame, snake_rejections(out.rejections, snake))


def _google_shopping(
    rows: Sequence[dict[str, Any] | None], account: Account, version_base: int
) -> ProductReport:
    checks = Checks(rows)
    account_id = checks.account(checks.text_field(rows, "customer.id"), account, "customer.id")
    finer_than_key(
        checks, rows, key="campaign × item × day", fields=GOOGLE_FINER,
        only={"segments": ITEM_SEGMENTS},
        fix="select campaign, segments.date and segments.product_item_id (without ad groups or "
        "other segments), or sum the rows per campaign, item and day first",
    )  # fmt: skip
    campaign_id = checks.text_field(rows, "campaign.id")
    checks.required(campaign_id, "campaign.id")
    item = checks.text_field(rows, "segments.productItemId")
    checks.required(item, "segments.productItemId")
    day, gone, bad = dates(checks.text_field(rows, "segments.date").tolist(), _DATE)
    _multi_day(checks, rows, gone)
    checks.fail(gone, "segments.date", "missing_field", "segments.date is missing")
    checks.fail(bad, "segments.date", "invalid_date", "segments.date is not a real date")
    micros, impressions, clicks, conversions, revenue = google_metrics(checks, rows)
    currency = checks.currency(
        checks.text_field(rows, "customer.currencyCode"), account, "customer.currencyCode"
    )
    checks.clicks_vs_impressions(clicks, impressions, "metrics.clicks")
    pid, vid = _split_items(filled(item, ""))
    # The view reports Shopping and Performance Max campaigns alike; a row takes the channel
    # the campaign export gives its campaign (google_ads.CHANNELS), so one budget has one name
    # on both sides. A row without the type is a Shopping campaign's (the view's own kind).
    kind = filled(checks.text_field(rows, "campaign.advertisingChannelType"), "SHOPPING")
    channel = [GOOGLE_CHANNELS.get(t) or "google_" + t.lower() for t in kind]
    return _assemble(
        checks,
        "google_ads",
        {
            "account_id": account_id,
            "campaign_id": filled(campaign_id, ""),
            "campaign_name": filled(checks.text_field(rows, "campaign.name"), ""),
            "channel": channel,
            "item_id": filled(item, ""),
            "product_id": pid,
            "variant_id": vid,
            "category": filled(checks.text_field(rows, "segments.productTypeL1"), ""),
            "local_date": day,
            "spend": micros / 1e6,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": currency,
        },
        version_base,
    )


# Segments that, without segments.date, make a row a total over several days.
_PERIODS = ("week", "month", "quarter", "year")


def _multi_day(checks: Checks, rows: Sequence[dict[str, Any] | None], undated: np.ndarray) -> None:
    """Reject a row dated by a week, month, quarter or year instead of ``segments.date``: a
    total over several days, which one day's row must not carry."""
    for period in _PERIODS:
        path = f"segments.{period}"
        value = checks.text_field(rows, path)
        checks.fail(undated & ~missing(value), path, "invalid_date", _undated(path, value))


def _undated(path: str, value: np.ndarray) -> Callable[[int], str]:
    return lambda i: (
        f"{path} {value[i]} without segments.date: the row sums several days; rows must be "
        "daily: select segments.date"
    )


def _purchases(rows: Sequence[dict[str, Any] | None], key: str) -> list[Any]:
    """Each row's purchase ``value`` in its ``key`` list (``actions``/``action_values``): of
    the first purchase action type the row carries (``meta.PURCHASES``; never a sum)."""
    kinds = [purchase_kind(a, v) for a, v in zip(pluck(rows, "actions"), pluck(rows, "action_values"), strict=True)]  # fmt: skip
    return [
        (action(entries, k) or {}).get("value") if k else None
        for entries, k in zip(pluck(rows, key), kinds, strict=True)
    ]


def normalise_meta_products(
    rows: Sequence[dict[str, Any] | None], account: Account, *, version_base: int = 0
) -> ProductReport:
    """Insights rows broken down by ``product_id`` → the product report frame."""
    checks = Checks(rows)
    account_id = checks.account(checks.text_field(rows, "account_id"), account, "account_id")
    finer_than_key(
        checks, rows, key="campaign × product × day", fields=(*META_FINER, "region"),
        fix="export with level=campaign and breakdowns=product_id only, or sum the rows per "
        "campaign, product and day first",
    )  # fmt: skip
    campaign_id = checks.text_field(rows, "campaign_id")
    checks.required(campaign_id, "campaign_id")
    item = checks.text_field(rows, "product_id")
    checks.required(item, "product_id")
    start = checks.text_field(rows, "date_start")
    day, gone, bad = dates(start.tolist(), _DATE)
    checks.fail(gone, "date_start", "missing_field", "date_start is missing")
    checks.fail(bad, "date_start", "invalid_date", "date_start is not a real date")
    refuse_multi_day(checks, rows, filled(start, ""))  # as the campaign connector refuses it
    spend = checks.metric(rows, "spend", rule="spend", required=True)
    impressions = checks.metric(
        rows, "impressions", rule="impressions", required=False, integer=True
    )
    clicks = checks.metric(rows, "clicks", rule="clicks", required=False, integer=True)
    conversions = checks.number(
        numbers(_purchases(rows, "actions")), "actions", required=False, rule="conversions"
    )
    revenue = checks.number(
        numbers(_purchases(rows, "action_values")), "action_values", required=False, rule="revenue"
    )
    currency = checks.currency(
        checks.text_field(rows, "account_currency"), account, "account_currency"
    )
    checks.clicks_vs_impressions(clicks, impressions, "clicks")
    pid, vid = _split_items(filled(item, ""))
    return _assemble(
        checks,
        "meta",
        {
            "account_id": account_id,
            "campaign_id": filled(campaign_id, ""),
            "campaign_name": filled(checks.text_field(rows, "campaign_name"), ""),
            "channel": "meta_catalogue",
            "item_id": filled(item, ""),
            "product_id": pid,
            "variant_id": vid,
            "category": "",
            "local_date": day,
            "spend": spend,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": currency,
        },
        version_base,
    )


def latest(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per natural key, the last pulled (highest version) winning."""
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in REPORT.items()})
    both = pd.concat(frames, ignore_index=True)
    both = both.sort_values("version", kind="stable")
    return both.drop_duplicates("natural_key", keep="last").reset_index(drop=True)
