"""Platform connectors: raw rows of one source → the normalised frame + per-row rejections.

``normalise(batch)`` dispatches on the batch's source; each module documents its platform's
quirks (numbers as strings, micros, attribution windows, time zones, geo keys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestion_svc.connectors import (
    generic,
    google_ads,
    klaviyo,
    meta,
    product_reports,
    shopify_orders,
    tiktok,
)
from ingestion_svc.connectors.base import NORMALISED, Normalised
from ingestion_svc.raw_batch import MAPPED_SOURCES, RawBatch

__all__ = ["NORMALISED", "PRODUCT_CONNECTORS", "Normalised", "normalise"]

# Product-level shapes (issue 20): each gives its own frame (shopify_orders.LINES,
# product_reports.REPORT), not the campaign x geo x day NORMALISED one; the Ingest RPC does
# not route to them yet.
PRODUCT_CONNECTORS: dict[str, Callable[..., Any]] = {
    "shopify_orders": shopify_orders.normalise,
    "google_ads_shopping": product_reports.normalise_google_shopping,
    "meta_products": product_reports.normalise_meta_products,
}

_PLATFORMS = {
    "meta": meta.normalise,
    "google_ads": google_ads.normalise,
    "klaviyo": klaviyo.normalise,
    "tiktok": tiktok.normalise,
}


def normalise(batch: RawBatch) -> Normalised:
    """The batch's rows through its source's connector (rows that failed to parse are
    already rejected and come out as rejections, not rows)."""
    if batch.source in MAPPED_SOURCES:
        out = generic.normalise(batch.rows, batch.account, batch.mapping, batch.org_id,
                                media=batch.source == "generic_media")  # fmt: skip
    else:
        out = _PLATFORMS[batch.source](batch.rows, batch.account)
    return Normalised(out.frame, [*batch.parse_rejections, *out.rejections])
