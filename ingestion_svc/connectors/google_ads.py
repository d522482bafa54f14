"""Google Ads ``GoogleAdsService.SearchStream`` rows over ``geographic_view`` (one element of
a response's ``results[]`` per row).

Quirks handled: proto3 JSON — camelCase names (a row in the client libraries' snake_case
is read the same, its rejections named as it spells its fields), int64 as strings (``costMicros``,
``impressions``, ``clicks``, ids), doubles as numbers, and fields equal to zero omitted (an
absent metric is 0); money in micros; ``conversions`` fractional under data-driven
attribution (modelled, not counted); the customer's own ``timeZone`` and ``currencyCode`` on
every row; the geo as a geo-target-constant resource name, which names a region only
through the account's ``geo_keys`` (without them such a row is rejected ``unknown_geo``; a
value that already is a subdivision code or name is kept); a missing ``campaign.id`` is
still in ``campaign.resourceName`` (``customers/{cid}/campaigns/{id}``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
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
    pluck,
)
from ingestion_svc.raw_batch import Account, Rejection

_DATE = r"\d{4}-\d{2}-\d{2}"
CHANNELS = {
    "SEARCH": "google_search",
    "PERFORMANCE_MAX": "google_pmax",
    "DISPLAY": "google_display",
    "VIDEO": "google_video",
    "SHOPPING": "google_shopping",
    "DEMAND_GEN": "google_demand_gen",
    "MULTI_CHANNEL": "google_app",
    "LOCAL": "google_local",
}
OBJECTIVES = {
    "SEARCH": "sales",
    "PERFORMANCE_MAX": "sales",
    "SHOPPING": "sales",
    "DISPLAY": "awareness",
    "VIDEO": "awareness",
    "DEMAND_GEN": "awareness",
    "MULTI_CHANNEL": "app_promotion",
    "LOCAL": "traffic",
}
# A geo target constant names a region only through Google's table (or the account's geo_keys).
GEO_TARGET = re.compile(r"geoTargetConstants/\d+", re.ASCII)
# A row that names an ad group, ad or keyword is below the campaign; one cut by location type
# (geographic_view is per country × location type: AREA_OF_INTEREST and LOCATION_OF_PRESENCE)
# or by a targeting flag comes twice per campaign × region × day.
FINER_FIELDS = (
    "adGroup",
    "adGroupAd",
    "adGroupCriterion",
    "keywordView",
    "geographicView.locationType",
    "userLocationView.targetingLocation",
)
# Segments that are the date or follow from it; any other (device, network, hour, conversion
# action, a finer geo) splits the row.
DATE_SEGMENTS = frozenset({"date", "week", "month", "quarter", "year", "dayOfWeek"})
GEO_SEGMENTS = DATE_SEGMENTS | {"geoTargetRegion", "geoTargetCountry"}
_RESOURCE_ID = re.compile(r"customers/\d+/campaigns/(\d+)", re.ASCII)


_SNAKE_PART = re.compile(r"_([a-z0-9])")
_CAMEL_PART = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _camel(value: Any) -> Any:
    if type(value) is dict:
        return {
            _SNAKE_PART.sub(lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()
        }
    if type(value) is list:
        return [_camel(v) for v in value]
    return value


def _snake_row(row: dict[str, Any] | None) -> bool:
    if row is None:
        return False
    return any("_" in k for k in row) or any(
        "_" in k for v in row.values() if type(v) is dict for k in v
    )


def camel_rows(
    rows: Sequence[dict[str, Any] | None],
) -> tuple[list[dict[str, Any] | None], np.ndarray]:
    """Rows with the client libraries' snake_case field names (``segments.geo_target_region``,
    ``metrics.cost_micros``: the protos' own names, as ``MessageToDict(...,
    preserving_proto_field_name=True)`` and GAQL write them) renamed to proto3 JSON's
    camelCase, which REST returns and the connector reads; and which rows were renamed.
    Proto3 JSON names never hold ``_``, so a row with one is in snake_case."""
    snake = np.fromiter((_snake_row(r) for r in rows), bool, len(rows))
    if not snake.any():
        return list(rows), snake
    return [_camel(r) if s else r for r, s in zip(rows, snake.tolist(), strict=True)], snake


def snake_rejections(rejections: list[Rejection], snake: np.ndarray) -> list[Rejection]:
    """``rejections`` with the fields of snake_case rows named as those rows spell them."""
    if not snake.any():
        return rejections
    out = []
    for r in rejections:
        if r.row_index < len(snake) and snake[r.row_index]:
            field = _CAMEL_PART.sub(lambda m: "_" + m.group(1).lower(), r.field)
            r = replace(r, field=field, message=r.message.replace(r.field, field))
        out.append(r)
    return out


def _resource_id(name: Any) -> str | None:
    found = _RESOURCE_ID.fullmatch(name) if type(name) is str else None
    return found.group(1) if found else None


def metrics(
    checks: Checks, rows: Sequence[dict[str, Any] | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A Google Ads report row's ``metrics``: cost (micros), impressions, clicks,
    conversions, conversion value. Proto3 JSON omits zero-valued fields: an absent metric is
    zero, not missing."""
    micros = checks.metric(
        rows, "metrics.costMicros", rule="spend", required=False, integer=True, scale=1e-6
    )
    impressions = checks.metric(
        rows, "metrics.impressions", rule="impressions", required=False, integer=True
    )
    clicks = checks.metric(rows, "metrics.clicks", rule="clicks", required=False, integer=True)
    conversions = checks.metric(rows, "metrics.conversions", rule="conversions", required=False)
    revenue = checks.metric(rows, "metrics.conversionsValue", rule="revenue", required=False)
    return micros, impressions, clicks, conversions, revenue


def normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> Normalised:
    """SearchStream rows → the normalised frame (see :mod:`ingestion_svc.connectors.base`)."""
    rows, snake = camel_rows(rows)
    out = _normalise(rows, account)
    return Normalised(out.frame, snake_rejections(out.rejections, snake))


def _normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> Normalised:
    checks = Checks(rows)
    n = len(rows)
    account_id = checks.account(checks.text_field(rows, "customer.id"), account, "customer.id")
    finer_than_key(
        checks, rows, key="campaign × region × day", fields=FINER_FIELDS,
        only={"segments": GEO_SEGMENTS},
        fix="select campaign, segments.date and segments.geo_target_region only (filter "
        "geographic_view to one location type), or sum the rows per campaign, region and day "
        "first",
    )  # fmt: skip
    campaign_id = checks.text_field(rows, "campaign.id")
    gone = (campaign_id == None) & ~checks.bad  # noqa: E711 - elementwise
    recovered = np.zeros(n, dtype=bool)
    if gone.any():
        resources = pluck(rows, "campaign.resourceName")
        for i in np.flatnonzero(gone).tolist():
            campaign_id[i] = _resource_id(resources[i])
            recovered[i] = campaign_id[i] is not None
    name = filled(checks.text_field(rows, "campaign.name"), "")
    day, missing_day, bad_day = dates(checks.text_field(rows, "segments.date").tolist(), _DATE)
    checks.fail(missing_day, "segments.date", "missing_field", "segments.date is missing")
    micros, impressions, clicks, conversions, revenue = metrics(checks, rows)
    checks.fail(
        bad_day, "segments.date", "invalid_date", "segments.date is not a real date in 1900-2200"
    )
    region = checks.text_field(rows, "segments.geoTargetRegion")
    geo_key, geo = map_geo(
        region, account, checks, "segments.geoTargetRegion", subdivision=True,
        table_ids=(GEO_TARGET, "a Google Ads geo target constant"),
    )  # fmt: skip
    currency = checks.currency(
        checks.text_field(rows, "customer.currencyCode"),
        account,
        "customer.currencyCode",
    )
    checks.clicks_vs_impressions(clicks, impressions, "metrics.clicks")
    # Conversions may exceed clicks: Google counts every conversion, view-through included.
    channel_type = filled(
        checks.text_field(rows, "campaign.advertisingChannelType"),
        "UNKNOWN",
    )
    channel = [CHANNELS.get(t) or "google_" + t.lower() for t in channel_type]
    timezone = filled(checks.text_field(rows, "customer.timeZone"), account.timezone)
    return assemble(
        checks,
        {
            "account_id": account_id,
            "campaign_id": campaign_id,
            "campaign_key": name,
            "campaign_id_field": "campaign.id",
            "campaign_name": name,
            "ident": campaign_id,
            "objective": [OBJECTIVES.get(t, "unspecified") for t in channel_type],
            "channel": channel,
            "geo_key": geo_key,
            "geo": geo,
            "local_date": day,
            "timezone": timezone,
            "spend": micros / 1e6,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": revenue,
            "currency": currency,
            "attribution_window": "google_ads_conversion_window",
            "modelled": conversions != np.round(conversions),
            "attribution_ok": np.ones(n, dtype=bool),
            "outcome_reported": np.ones(n, dtype=bool),
            "note": np.where(recovered, "campaign.id recovered from campaign.resourceName", ""),
        },
    )
