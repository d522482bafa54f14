"""Platform connectors: raw rows of one source → the normalised frame + per-row rejections.

``normalise(batch)`` dispatches on the batch's source; each module documents its platform's
quirks (numbers as strings, micros, attribution windows, time zones, geo keys).
"""

from __future__ import annotations

from ingestion_svc.connectors import generic, google_ads, klaviyo, meta, tiktok
from ingestion_svc.connectors.base import NORMALISED, Normalised
from ingestion_svc.raw_batch import RawBatch

__all__ = ["NORMALISED", "Normalised", "normalise"]

_PLATFORMS = {
    "meta": meta.normalise,
    "google_ads": google_ads.normalise,
    "klaviyo": klaviyo.normalise,
    "tiktok": tiktok.normalise,
}


def normalise(batch: RawBatch) -> Normalised:
    """The batch's rows through its source's connector (rows that failed to parse are
    already rejected and come out as rejections, not rows)."""
    if batch.source == "generic":
        out = generic.normalise(batch.rows, batch.account, batch.mapping)
    else:
        out = _PLATFORMS[batch.source](batch.rows, batch.account)
    return Normalised(out.frame, [*batch.parse_rejections, *out.rejections])
