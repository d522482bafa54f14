"""Native row shapes of each platform's reporting API, one export row per campaign x geo x day.

Every renderer takes a plain ``values`` dict (see :func:`sim.raw.export.RawExport.values`) and
returns the row exactly as the platform's API returns it, field names and types included:

meta (Marketing API ``/insights``, ``level=campaign``, ``time_increment=1``,
``breakdowns=region``, ``action_attribution_windows=["1d_click","7d_click","1d_view"]``)
    All numbers are strings. Geo: ``region`` carries the state's name ("California"), as
    Meta's region breakdown does. Purchases are the ``offsite_conversion.fb_pixel_purchase``
    entry of ``actions`` (count) and ``action_values`` (value); its ``value`` is the default
    attribution (7d_click + 1d_view) and equals the panel's platform conversions/revenue.
    An entry is absent when its count is zero, as the API omits it.

google_ads (``GoogleAdsService.SearchStream`` over ``geographic_view`` with
``segments.geo_target_region``; one element of a batch's ``results[]`` per line)
    Proto3 JSON: camelCase, int64 as strings (``costMicros``, ``impressions``, ``clicks``,
    ids), doubles as numbers (``conversions`` may be fractional under data-driven attribution),
    and fields equal to their default (0) are omitted. Geo: ``segments.geoTargetRegion`` is
    the state's geo-target-constant resource name.

klaviyo (Reporting API ``POST /api/campaign-values-reports`` with a one-day custom timeframe,
one element of ``data.attributes.results[]`` per line, wrapped with the request context)
    ``{"type": "campaign-values-report", "attributes": {"timeframe": {...}, "groupings":
    {...}, "statistics": {...}}, "relationships": {"segments": {"data": [...]}}}``.
    Numbers are JSON numbers. Klaviyo reports no geo: the simulated org sends one campaign
    message per state segment, and the row carries the message's audience segment in
    ``relationships.segments``; ``accounts.json`` maps each segment id to its state.

tiktok (Reporting API ``/report/integrated/get/``, ``report_type=AUDIENCE``,
``data_level=AUCTION_CAMPAIGN``, dimensions ``campaign_id``, ``stat_time_day``, ``province_id``;
one element of ``data.list`` per line, plus the request's ``advertiser_id``)
    Metrics are strings. Geo: ``dimensions.province_id`` is a numeric location id, mapped to
    its state in ``accounts.json`` (``geo_keys``).
"""

from __future__ import annotations

from typing import Any

PURCHASE = "offsite_conversion.fb_pixel_purchase"


def _s2(x: float) -> str:
    return f"{x:.2f}"


def render_meta(v: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": v["account_id"],
        "account_name": v["account_name"],
        "account_currency": v["currency"],
        "campaign_id": v["campaign_id"],
        "campaign_name": v["campaign_name"],
        "objective": v["objective"],
        "date_start": v["date"],
        "date_stop": v["date"],
        "region": v["geo_key"],
        "spend": _s2(v["spend"]),
        "impressions": str(v["impressions"]),
        "clicks": str(v["clicks"]),
    }
    actions = []
    values = []
    if v["clicks"]:
        actions.append({"action_type": "link_click", "value": str(v["clicks"])})
    conv = int(v["conversions"])
    if conv:
        c1, c7, v1 = v["click_1d"], v["click_7d"], v["view_1d"]
        actions.append(
            {
                "action_type": PURCHASE,
                "value": str(conv),
                "1d_click": str(c1),
                "7d_click": str(c7),
                "1d_view": str(v1),
            }
        )
        rev = v["revenue"]
        r7 = round(rev * c7 / conv, 2)
        r1 = round(rev * c1 / conv, 2)
        values.append(
            {
                "action_type": PURCHASE,
                "value": _s2(rev),
                "1d_click": _s2(r1),
                "7d_click": _s2(r7),
                "1d_view": _s2(round(rev - r7, 2)),
            }
        )
    if actions:
        row["actions"] = actions
    if values:
        row["action_values"] = values
    return row


def render_google_ads(v: dict[str, Any]) -> dict[str, Any]:
    cid = v["account_id"]
    metrics: dict[str, Any] = {}
    micros = round(v["spend"] * 100) * 10_000
    if micros:
        metrics["costMicros"] = str(micros)
    if v["impressions"]:
        metrics["impressions"] = str(v["impressions"])
    if v["clicks"]:
        metrics["clicks"] = str(v["clicks"])
    if v["conversions"]:
        metrics["conversions"] = float(v["conversions"])
    if v["revenue"]:
        metrics["conversionsValue"] = float(v["revenue"])
    campaign: dict[str, Any] = {
        "resourceName": f"customers/{cid}/campaigns/{v['campaign_id']}",
        "id": v["campaign_id"],
        "name": v["campaign_name"],
        "advertisingChannelType": v["objective"],
    }
    return {
        "customer": {
            "resourceName": f"customers/{cid}",
            "id": cid,
            "currencyCode": v["currency"],
            "timeZone": v["timezone"],
        },
        "campaign": campaign,
        "metrics": metrics,
        "segments": {"date": v["date"], "geoTargetRegion": v["geo_key"]},
    }


def render_klaviyo(v: dict[str, Any]) -> dict[str, Any]:
    email = v["objective"] == "email"
    stats: dict[str, Any] = {"recipients": v["sends"], "delivered": v["delivered"]}
    if email:
        stats["opens_unique"] = v["opens"]
    stats["clicks_unique"] = v["clicks"]
    conv = int(v["conversions"])
    stats["conversions"] = conv
    stats["conversion_uniques"] = conv
    stats["conversion_value"] = float(v["revenue"])
    if not email:
        stats["text_message_spend"] = float(v["spend"])
    return {
        "type": "campaign-values-report",
        "attributes": {
            "timeframe": {"start": v["day_start"], "end": v["day_end"]},
            "groupings": {
                "send_channel": v["objective"],
                "campaign_id": v["campaign_id"],
                "campaign_message_id": v["message_id"],
            },
            "statistics": stats,
        },
        "relationships": {"segments": {"data": [{"type": "segment", "id": v["geo_key"]}]}},
    }


def render_tiktok(v: dict[str, Any]) -> dict[str, Any]:
    conv = str(int(v["conversions"]))
    return {
        "advertiser_id": v["account_id"],
        "dimensions": {
            "campaign_id": v["campaign_id"],
            "stat_time_day": f"{v['date']} 00:00:00",
            "province_id": v["geo_key"],
        },
        "metrics": {
            "campaign_name": v["campaign_name"],
            "objective_type": v["objective"],
            "currency": v["currency"],
            "spend": _s2(v["spend"]),
            "impressions": str(v["impressions"]),
            "clicks": str(v["clicks"]),
            "conversion": conv,
            "complete_payment": conv,
            "total_complete_payment_rate": _s2(v["revenue"]),
        },
    }


RENDERERS = {
    "meta": render_meta,
    "google_ads": render_google_ads,
    "klaviyo": render_klaviyo,
    "tiktok": render_tiktok,
}

# Where each source keeps the fields dirt touches (dotted paths into the rendered row).
PATHS: dict[str, dict[str, str]] = {
    "meta": {
        "campaign_id": "campaign_id",
        "spend": "spend",
        "clicks": "clicks",
        "impressions": "impressions",
        "currency": "account_currency",
        "date": "date_start",
    },
    "google_ads": {
        "campaign_id": "campaign.id",
        "spend": "metrics.costMicros",
        "clicks": "metrics.clicks",
        "impressions": "metrics.impressions",
        "currency": "customer.currencyCode",
        "date": "segments.date",
    },
    "klaviyo": {
        "campaign_id": "attributes.groupings.campaign_id",
        "spend": "attributes.statistics.text_message_spend",
        "impressions": "attributes.statistics.recipients",
        "date": "attributes.timeframe.start",
    },
    "tiktok": {
        "campaign_id": "dimensions.campaign_id",
        "spend": "metrics.spend",
        "clicks": "metrics.clicks",
        "impressions": "metrics.impressions",
        "currency": "metrics.currency",
        "date": "dimensions.stat_time_day",
    },
}


def get_path(row: dict[str, Any], path: str) -> Any:
    cur: Any = row
    for part in path.split("."):
        cur = cur[part]
    return cur


def set_path(row: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = row
    for part in parts[:-1]:
        cur = cur[part]
    if value is _DELETE:
        cur.pop(parts[-1], None)
    else:
        cur[parts[-1]] = value


_DELETE = object()
DELETE = _DELETE
