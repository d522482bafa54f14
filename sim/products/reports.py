"""The platforms' product-level reports, one row per campaign x product x day with spend.

google_ads (``GoogleAdsService.SearchStream`` over ``shopping_performance_view``, one element
of ``results[]`` per line)
    Proto3 JSON as in the geographic export: ``customer``, ``campaign`` (channel type
    ``SHOPPING``), ``segments{date, productItemId, productTitle, productTypeL1}`` and
    ``metrics{costMicros, impressions, clicks, conversions, conversionsValue}``; int64 as
    strings, zero fields omitted. ``productItemId`` is the Merchant Center id, lower-cased
    by the API (``shopify_us_<product_id>_<variant_id>``). The view has no geo segment.
meta (Marketing API ``/insights``, ``level=campaign``, ``time_increment=1``,
``breakdowns=product_id``)
    As the region export but with ``product_id`` (the catalogue item's retailer id,
    ``shopify_US_<product_id>_<variant_id>``) instead of ``region``; numbers as strings;
    purchases in ``actions`` / ``action_values`` (omitted when zero).

Platform-claimed purchases over-claim: each claims ``recall`` of the true direct lift of the
products it spent on plus a share of their baseline sales, split over campaigns by spend.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np

from .catalogue import Catalogue
from .plan import PRODUCT_CHANNELS, Plan
from .response import Response

RECALL = {"meta_catalogue": 0.8, "google_shopping": 0.9}
OVERCLAIM = {"meta_catalogue": 0.10, "google_shopping": 0.06}
CPM = {"meta_catalogue": 9.0, "google_shopping": 6.0}
CTR = {"meta_catalogue": 0.012, "google_shopping": 0.02}


def deliver(
    rng: np.random.Generator,
    plan: Plan,
    response: Response,
    discount: np.ndarray,
    price: np.ndarray,
) -> dict[str, np.ndarray]:
    """Impressions, clicks and claimed purchases / value per campaign x product x day."""
    spend = plan.spend
    chan = np.array([PRODUCT_CHANNELS.index(c.channel) for c in plan.campaigns], dtype=np.int64)
    by_channel = np.stack([spend[chan == c].sum(axis=0) for c in range(len(PRODUCT_CHANNELS))])
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(by_channel[chan] > 0, spend / by_channel[chan], 0.0)
    recall = np.array([RECALL[c] for c in PRODUCT_CHANNELS])[chan]
    over = np.array([OVERCLAIM[c] for c in PRODUCT_CHANNELS])[chan]
    value = share * (
        recall[:, None, None] * response.direct[chan] + over[:, None, None] * response.base[None]
    )
    value = np.round(value * np.exp(rng.normal(0.0, 0.1, value.shape)), 2)
    unit = price[:, None] * (1.0 - discount)
    conv = np.round(value / unit[None] / 1.15, 2)
    cpm = np.array([CPM[c] for c in PRODUCT_CHANNELS])[chan]
    ctr = np.array([CTR[c] for c in PRODUCT_CHANNELS])[chan]
    impressions = rng.poisson(spend / cpm[:, None, None] * 1000.0)
    clicks = rng.binomial(impressions, ctr[:, None, None])
    return {"value": value, "conversions": conv, "impressions": impressions, "clicks": clicks}


def report_rows(
    source: str,
    stores: list[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Rows of ``source`` (meta | google_ads) over every store, by day, campaign, product."""
    for st in stores:
        plan: Plan = st["plan"]
        cat: Catalogue = st["catalogue"]
        dl = st["delivery"]
        dates: list[date] = st["dates"]
        idx = [k for k, c in enumerate(plan.campaigns) if c.source == source]
        if not idx:
            continue
        sel = np.array(idx)
        k_i, p_i, t_i = np.nonzero(plan.spend[sel] > 0)
        order = np.lexsort((p_i, k_i, t_i))
        for k, p, t in zip(sel[k_i[order]], p_i[order], t_i[order], strict=True):
            c = plan.campaigns[int(k)]
            prod = cat.products[int(p)]
            v = {
                "spend": float(plan.spend[k, p, t]),
                "impressions": int(dl["impressions"][k, p, t]),
                "clicks": int(dl["clicks"][k, p, t]),
                "conversions": float(dl["conversions"][k, p, t]),
                "value": float(dl["value"][k, p, t]),
            }
            d = dates[int(t)].isoformat()
            if source == "google_ads":
                yield _google(st, c, prod, d, v)
            else:
                yield _meta(st, c, prod, d, v)


def _google(st: dict[str, Any], c: Any, prod: Any, day: str, v: dict[str, Any]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    micros = round(v["spend"] * 100) * 10_000
    if micros:
        metrics["costMicros"] = str(micros)
    if v["impressions"]:
        metrics["impressions"] = str(v["impressions"])
    if v["clicks"]:
        metrics["clicks"] = str(v["clicks"])
    if v["conversions"]:
        metrics["conversions"] = v["conversions"]
    if v["value"]:
        metrics["conversionsValue"] = v["value"]
    return {
        "customer": {
            "resourceName": f"customers/{c.account_id}",
            "id": c.account_id,
            "currencyCode": st["currency"],
            "timeZone": "America/New_York",
        },
        "campaign": {
            "resourceName": f"customers/{c.account_id}/campaigns/{c.campaign_id}",
            "id": c.campaign_id,
            "name": c.name,
            "advertisingChannelType": "SHOPPING",
        },
        "metrics": metrics,
        "segments": {
            "date": day,
            "productItemId": prod.item_id.lower(),
            "productTitle": prod.title,
            "productTypeL1": prod.category.lower(),
        },
    }


def _meta(st: dict[str, Any], c: Any, prod: Any, day: str, v: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": c.account_id,
        "account_name": st["account_names"]["meta"],
        "account_currency": st["currency"],
        "campaign_id": c.campaign_id,
        "campaign_name": c.name,
        "objective": "OUTCOME_SALES",
        "date_start": day,
        "date_stop": day,
        "product_id": prod.item_id,
        "spend": f"{v['spend']:.2f}",
        "impressions": str(v["impressions"]),
        "clicks": str(v["clicks"]),
    }
    conv = round(v["conversions"])
    if v["clicks"]:
        row["actions"] = [{"action_type": "link_click", "value": str(v["clicks"])}]
    if conv:
        row.setdefault("actions", []).append(
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": str(conv)}
        )
        row["action_values"] = [
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": f"{v['value']:.2f}"}
        ]
    return row
