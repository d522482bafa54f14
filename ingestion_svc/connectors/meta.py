"""Meta Marketing API insights rows (``level=campaign``, ``time_increment=1``,
``breakdowns=region``, ``action_attribution_windows=["1d_click","7d_click","1d_view"]``).

Quirks handled: every number is a string; purchases and their value live in the ``actions``
and ``action_values`` lists under ``omni_purchase``, ``purchase`` or
``offsite_conversion.fb_pixel_purchase`` (the first present: they overlap), whose ``value``
is the default attribution (7-day click + 1-day view) and whose window keys break it down;
an action with no events is omitted (zero purchases), but the region breakdown returns no
off-Meta actions at all, so a batch with no purchase action anywhere has its purchases
unknown (``outcome_reported`` False, with a note), not 0; the geo is the region's *name*
("California"), mapped through the account's ``geo_keys`` or, without them, to the
country's subdivision code ("CA") so that spend meets the orders' geos;
``date_start``/``date_stop`` must be the same day (daily rows) in the account's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ingestion_svc.connectors.base import (
    Checks,
    Normalised,
    assemble,
    dates,
    filled,
    finer_than_key,
    map_geo,
    numbers,
    pluck,
    text,
)
from ingestion_svc.raw_batch import Account

PURCHASE = "offsite_conversion.fb_pixel_purchase"
# The action types that count purchases, in order of preference; a row's purchases are the
# first one it carries, never a sum: omni_purchase is every purchase Meta attributes (website,
# app, on-Meta shops), ``purchase`` the same total under its older name, and the pixel's
# website purchases are part of both.
PURCHASES = ("omni_purchase", "purchase", PURCHASE)
# Meta returns no off-Meta (pixel, Conversions API) actions with the region and dma breakdowns
# (Insights breakdowns, "Restrictions for off-Meta action metrics"): on such a row a missing
# purchase action is not a report of none.
UNREPORTED = (
    "purchases unknown: no row of this batch carries a purchase action, and Meta does not "
    "return off-Meta (pixel) purchases with the region breakdown; 0 here is not a report of none"
)
ATTRIBUTION_WINDOW = "7d_click_1d_view"
_DATE = r"\d{4}-\d{2}-\d{2}"
OBJECTIVES = {
    "OUTCOME_SALES": "sales",
    "OUTCOME_AWARENESS": "awareness",
    "OUTCOME_TRAFFIC": "traffic",
    "OUTCOME_ENGAGEMENT": "engagement",
    "OUTCOME_LEADS": "leads",
    "OUTCOME_APP_PROMOTION": "app_promotion",
    # Legacy (pre-ODAX) objectives still returned for old campaigns.
    "CONVERSIONS": "sales",
    "PRODUCT_CATALOG_SALES": "sales",
    "BRAND_AWARENESS": "awareness",
    "REACH": "awareness",
    "LINK_CLICKS": "traffic",
    "POST_ENGAGEMENT": "engagement",
    "VIDEO_VIEWS": "engagement",
    "MESSAGES": "engagement",
    "LEAD_GENERATION": "leads",
    "APP_INSTALLS": "app_promotion",
}
# Fields of Insights rows below level=campaign (ad set, ad) or cut by a breakdown besides the
# connector's own: several rows per campaign × key × day (breakdowns:
# developers.facebook.com/docs/marketing-api/insights/breakdowns).
FINER_FIELDS = (
    "adset_id",
    "ad_id",
    "age",
    "gender",
    "publisher_platform",
    "platform_position",
    "impression_device",
    "device_platform",
    "hourly_stats_aggregated_by_advertiser_time_zone",
    "hourly_stats_aggregated_by_audience_time_zone",
)
# Retargeting campaigns are named for it (dynamic product ads re-reach site visitors).
RETARGETING = re.compile(r"(?i)retarget|remarket|\bdpa\b|\brt\b")


def action(entries: Any, kind: str) -> dict[str, Any] | None:
    """The first entry of an ``actions``/``action_values`` list of type ``kind``."""
    if type(entries) is not list:
        return None
    for entry in entries:
        if type(entry) is dict and entry.get("action_type") == kind:
            return entry
    return None


def purchase_kind(actions: Any, values: Any) -> str | None:
    """The first of :data:`PURCHASES` a row's ``actions`` or ``action_values`` carries."""
    for kind in PURCHASES:
        if action(actions, kind) is not None or action(values, kind) is not None:
            return kind
    return None


def normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> Normalised:
    """Meta insights rows → the normalised frame (see :mod:`ingestion_svc.connectors.base`)."""
    checks = Checks(rows)
    n = len(rows)
    account_id = checks.account(checks.text_field(rows, "account_id"), account, "account_id")
    finer_than_key(
        checks, rows, key="campaign × region × day", fields=(*FINER_FIELDS, "product_id"),
        fix="export with level=campaign and breakdowns=region only, or sum the rows per "
        "campaign, region and day first",
    )  # fmt: skip
    campaign_id = checks.text_field(rows, "campaign_id")
    name = filled(checks.text_field(rows, "campaign_name"), "")
    start_raw = checks.text_field(rows, "date_start").tolist()
    day, missing_day, bad_day = dates(start_raw, _DATE)
    checks.fail(missing_day, "date_start", "missing_field", "date_start is missing")
    actions = pluck(rows, "actions")
    values = pluck(rows, "action_values")
    for field, column in (("actions", actions), ("action_values", values)):
        checks.fail(
            np.fromiter((v is not None and type(v) is not list for v in column), bool, n),
            field,
            "malformed",
            f"{field} is not a list",
        )
    spend = checks.metric(rows, "spend", rule="spend", required=True)
    impressions = checks.metric(
        rows, "impressions", rule="impressions", required=True, integer=True
    )
    clicks = checks.metric(rows, "clicks", rule="clicks", required=True, integer=True)
    kinds = [purchase_kind(a, v) for a, v in zip(actions, values, strict=True)]
    purchase = [action(a, k) if k else None for a, k in zip(actions, kinds, strict=True)]
    purchase_value = [action(v, k) if k else None for v, k in zip(values, kinds, strict=True)]

    def read(entries: list[Any], list_name: str, key: str, rule: str) -> np.ndarray:
        """``key`` of each row's purchase entry, checked under the field of its own type."""
        out = np.zeros(n)
        for kind in PURCHASES:
            mine = [e if k == kind else None for e, k in zip(entries, kinds, strict=True)]
            if any(e is not None for e in mine):
                out += checks.number(
                    numbers(pluck(mine, key), integer=rule == "conversions"),
                    f"{list_name}[{kind}].{key}",
                    required=False,
                    rule=rule,
                )
        return out

    # The attribution windows break conversions down: they are conversions too.
    conversions, click_7d, view_1d = (
        read(purchase, "actions", key, "conversions") for key in ("value", "7d_click", "1d_view")
    )
    revenue = read(purchase_value, "action_values", "value", "revenue")
    checks.fail(
        bad_day,
        "date_start",
        "invalid_date",
        "date_start is not a real yyyy-mm-dd date in 1900-2200",
    )
    refuse_multi_day(checks, rows, filled(text(start_raw), ""))
    # Meta's region is a name ("California"): without geo_keys it is the country's subdivision.
    geo_key, geo = map_geo(
        checks.text_field(rows, "region"), account, checks, "region", subdivision=True
    )
    currency = checks.currency(
        checks.text_field(rows, "account_currency"),
        account,
        "account_currency",
    )
    checks.clicks_vs_impressions(clicks, impressions, "clicks")
    # More 7-day-click purchases than clicks is possible: ``actions`` counts purchase events,
    # not buyers (one click, two orders), and with action_report_time=conversion or mixed a
    # purchase is booked on its own day, not its click's. Rejecting it lost the row's spend;
    # it only lowers the outcome's quality (attribution_ok) and says why.
    surplus = click_7d > clicks
    surplus_note = [
        f"{click_7d[i]:.0f} click-attributed purchases exceed {clicks[i]:.0f} clicks "
        "(several purchases per click, or booked on the purchase day): kept, flagged"
        if surplus[i]
        else ""
        for i in range(n)
    ]
    objectives = checks.text_field(rows, "objective").tolist()
    objective = [OBJECTIVES.get(o, "unspecified") for o in objectives]
    distinct = {x: RETARGETING.search(x) is not None for x in set(name.tolist())}
    retargeting = [distinct[x] for x in name.tolist()]
    has_purchase = np.fromiter((k is not None for k in kinds), bool, n)
    # Meta omits an action with no events, so a row without purchases reports zero — when the
    # export carries purchases at all. A region pull where no row has one is the breakdown's
    # restriction, not a batch of zero-purchase days: unknown, not 0 (platform ROAS 0).
    reported = has_purchase | has_purchase.any()
    return assemble(
        checks,
        {
            "account_id": account_id,
            "campaign_id": campaign_id,
            "campaign_key": name,
            "campaign_id_field": "campaign_id",
            "campaign_name": name,
            "ident": campaign_id,
            "objective": objective,
            "channel": np.where(retargeting, "meta_retargeting", "meta_prospecting"),
            "geo_key": geo_key,
            "geo": geo,
            "local_date": day,
            "timezone": account.timezone,
            "spend": spend,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": currency,
            "attribution_window": ATTRIBUTION_WINDOW,
            # The default attribution is 7-day click + 1-day view; the breakdown must add up.
            "attribution_ok": ~surplus & (~has_purchase | (conversions == click_7d + view_1d)),
            "outcome_reported": reported,
            "note": np.where(reported, surplus_note, UNREPORTED),
        },
    )


def refuse_multi_day(
    checks: Checks, rows: Sequence[dict[str, Any] | None], start_text: np.ndarray
) -> None:
    """Refuse rows whose date_stop is not their date_start: without time_increment=1 Meta sums
    a range (all_days) or a week into one row, which would land as that much on its first day."""
    stop_text = filled(checks.text_field(rows, "date_stop"), "")
    checks.fail(
        (stop_text != "") & (stop_text != start_text),
        "date_stop",
        "invalid_date",
        lambda i: (
            f"date_stop {stop_text[i]} differs from date_start {start_text[i]}: rows must be "
            "daily; pull the insights with time_increment=1"
        ),
    )
