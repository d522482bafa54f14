"""TikTok for Business ``/report/integrated/get/`` rows (``report_type=AUDIENCE``,
``data_level=AUCTION_CAMPAIGN``, dimensions ``campaign_id``, ``stat_time_day``,
``province_id``), each with the request's ``advertiser_id``.

Quirks handled: metrics are strings; the day is ``"YYYY-MM-DD 00:00:00"`` in the
advertiser's time zone — but some exports give the UTC instant of that local midnight
(``"2024-03-01 06:00:00"`` for America/Chicago), which is converted back to the local day
when it is exactly a local midnight; purchases are ``complete_payment`` and their value
``total_complete_payment_rate`` (sic) — never ``conversion``, the optimisation event's count:
a row without ``complete_payment`` has its purchases unknown (``outcome_reported`` False); the geo is a numeric province id, which names a
region only through the account's ``geo_keys`` (without them such a row is rejected
``unknown_geo``).
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

OBJECTIVES = {
    "PRODUCT_SALES": "sales",
    "CONVERSIONS": "sales",
    "WEB_CONVERSIONS": "sales",
    "SHOP_PURCHASES": "sales",
    "REACH": "awareness",
    "TRAFFIC": "traffic",
    "VIDEO_VIEWS": "engagement",
    "ENGAGEMENT": "engagement",
    "COMMUNITY_INTERACTION": "engagement",
    "LEAD_GENERATION": "leads",
    "APP_PROMOTION": "app_promotion",
    "APP_INSTALL": "app_promotion",
}
# TikTok's province ids are numbers that name a region only through TikTok's location table.
PROVINCE_ID = re.compile(r"\d+", re.ASCII)
NO_PURCHASES = (
    "purchases unknown: the row has no complete_payment (TikTok's conversion counts the "
    "campaign's optimisation event, not purchases); request complete_payment and "
    "total_complete_payment_rate"
)
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_M = "metrics."


def _stamp(value: str | None) -> np.datetime64:
    if value is None or _STAMP.fullmatch(value) is None:
        return np.datetime64("NaT", "s")
    try:
        return np.datetime64(value, "s")
    except ValueError:
        return np.datetime64("NaT", "s")


def local_days(stamps: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``stat_time_day`` → (local day, repaired, invalid).

    A local midnight is the day itself. Any other time is read as the UTC instant of the
    advertiser's local day's start (its midnight, or its first instant on a day that has no
    midnight) and converted; if it is neither, the stamp is invalid.
    """
    ts = near_range(np.array([_stamp(v) for v in stamps], dtype="datetime64[s]"))
    day = ts.astype("datetime64[D]").astype("datetime64[s]")
    shifted = ~np.isnat(ts) & (ts != day)
    out = day.copy()
    repaired = np.zeros(len(stamps), dtype=bool)
    if shifted.any() and timezone:
        local = pd.DatetimeIndex(ts[shifted]).tz_localize(dt.UTC).tz_convert(timezone)
        # The wall clock's date and time, not DatetimeIndex.normalize(): that re-localises
        # midnight, which raised on a day whose midnight does not exist.
        wall = local.tz_localize(None).to_numpy("datetime64[s]")
        days = wall.astype("datetime64[D]").astype("datetime64[s]")
        start = day_starts(days, timezone)
        ok = (wall == days) | np.asarray(local == start)
        rows = np.flatnonzero(shifted)
        out[rows[ok]] = days[ok]
        repaired[rows[ok]] = True
        out[rows[~ok]] = np.datetime64("NaT")
    elif shifted.any():
        out[shifted] = np.datetime64("NaT")
    out = supported(out)
    invalid = ~missing(stamps) & np.isnat(out)
    return out, repaired, invalid


def normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> Normalised:
    """Integrated-report rows → the normalised frame."""
    checks = Checks(rows)
    n = len(rows)
    account_id = checks.account(checks.text_field(rows, "advertiser_id"), account, "advertiser_id")
    campaign_id = checks.text_field(rows, "dimensions.campaign_id")
    name = filled(checks.text_field(rows, _M + "campaign_name"), "")
    stamps = checks.text_field(rows, "dimensions.stat_time_day")
    checks.required(stamps, "dimensions.stat_time_day")
    day, repaired, bad_day = local_days(stamps, account.timezone)
    spend = checks.metric(rows, _M + "spend", rule="spend", required=True)
    impressions = checks.metric(
        rows, _M + "impressions", rule="impressions", required=True, integer=True
    )
    clicks = checks.metric(rows, _M + "clicks", rule="clicks", required=True, integer=True)
    # Not "conversion": it counts the campaign's optimisation event (a landing-page view, an
    # add-to-cart), purchases only where that event is one.
    purchases = pluck(rows, _M + "complete_payment")
    conversions = checks.number(
        numbers(purchases, integer=True),
        _M + "complete_payment",
        required=False,
        rule="conversions",
    )
    revenue = checks.metric(
        rows, _M + "total_complete_payment_rate", rule="revenue", required=False
    )
    checks.fail(
        bad_day,
        "dimensions.stat_time_day",
        "invalid_date",
        "stat_time_day is neither a local midnight nor the UTC instant of one",
    )
    province = checks.text_field(rows, "dimensions.province_id")
    geo_key, geo = map_geo(
        province, account, checks, "dimensions.province_id", subdivision=True,
        table_ids=(PROVINCE_ID, "a TikTok location id"),
    )  # fmt: skip
    currency = checks.currency(checks.text_field(rows, _M + "currency"), account, _M + "currency")
    checks.clicks_vs_impressions(clicks, impressions, _M + "clicks")
    objectives = checks.text_field(rows, _M + "objective_type")
    objective = [OBJECTIVES.get(o, "unspecified") for o in objectives.tolist()]
    reported = np.array([p is not None for p in purchases], dtype=bool)
    return assemble(
        checks,
        {
            "account_id": account_id,
            "campaign_id": campaign_id,
            "campaign_key": name,
            "campaign_id_field": "dimensions.campaign_id",
            "campaign_name": name,
            "ident": campaign_id,
            "objective": objective,
            "channel": "tiktok",
            "geo_key": geo_key,
            "geo": geo,
            "local_date": day,
            "timezone": account.timezone,
            "tz_repaired": repaired,
            "spend": spend,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": currency,
            "attribution_window": "7d_click_1d_view",
            "attribution_ok": np.ones(n, dtype=bool),
            "outcome_reported": reported,
            "note": [
                "; ".join(filter(None, x))
                for x in zip(
                    np.where(
                        repaired,
                        "stat_time_day was the UTC instant of the local day; converted",
                        "",
                    ),
                    np.where(reported, "", NO_PURCHASES),
                    strict=True,
                )
            ],
        },
    )
