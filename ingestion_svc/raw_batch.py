"""The ingestion domain's plain types: a raw batch, its account, rejections, limits.

Sources and rejection reasons are short lower-case names (``"meta"``, ``"negative_value"``),
the same spelling ``mesh.runtime.frames`` uses for enums; ``convert.py`` maps them to the wire enums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAPPED_SOURCES",
    "MAX_BATCH_ROWS",
    "REASONS",
    "SOURCES",
    "Account",
    "ColumnMap",
    "Note",
    "RawBatch",
    "Rejection",
]

# One batch is one memory WriteRequest (memory takes at most 10,000 records per message).
MAX_BATCH_ROWS = 10_000
SOURCES = (
    "meta",
    "google_ads",
    "klaviyo",
    "tiktok",
    "generic",
    "generic_media",  # a media channel no connector knows (TV, radio, out of home), mapped
    # product sources (issue 20): ingestion_svc.product_batch, not the campaign pipeline
    "shopify_orders",
    "shopify_products",
    "google_ads_shopping",
    "meta_products",
)
# Read through a declared column mapping (the generic connector): outcome and media.
MAPPED_SOURCES = ("generic", "generic_media")
REASONS = (
    "malformed",
    "missing_field",
    "invalid_number",
    "negative_value",
    "clicks_exceed_impressions",
    "conversions_exceed_clicks",
    "unknown_currency",
    "invalid_date",
    "future_date",
    "stale_version",
    "wrong_account",
    "unknown_geo",
    "not_a_sale",
    "finer_than_key",
)


@dataclass(frozen=True, slots=True)
class Account:
    """The platform account a batch comes from (sent out of band by the client).

    ``geo_keys`` maps the platform's geo key (a region name, a geo-target constant, a segment
    id) to the org's geo code; bare codes are prefixed with ``country`` on the record.
    ``taxes_included`` (None: not said) and ``tax_rate`` are a shop's: whether its prices hold
    tax, and at what rate (Shopify's catalogue does not say; its orders do).
    """

    account_id: str = ""
    timezone: str = ""
    currency: str = ""
    country: str = ""
    geo_keys: Mapping[str, str] = field(default_factory=dict)
    taxes_included: bool | None = None
    tax_rate: float | None = None


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """A generic source's column names (empty: the source has no such column)."""

    date: str = ""
    campaign_id: str = ""
    campaign_name: str = ""
    geo: str = ""
    spend: str = ""
    impressions: str = ""
    clicks: str = ""
    conversions: str = ""
    revenue: str = ""
    currency_code: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected row: its index in the batch, the raw field at fault (a dotted path in the
    row; ``$`` when the row as a whole is: not JSON, too large or deep, a stale version) and
    why."""

    row_index: int
    field: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Note:
    """Part of an accepted row left out of what is stored (``kind``: e.g. ``gift_card_line``),
    said in the ack rather than dropped silently; ``field`` is its path in the row."""

    row_index: int
    field: str
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class RawBatch:
    """One batch as received: parsed rows (None where the line was not a JSON object).

    ``raw`` holds each row's bytes as received (for the audit hash); ``parse_rejections`` the
    rows already rejected as malformed while parsing. ``pulled_at`` is timezone-aware UTC.
    ``restore_replaced``: the batch corrects stored rows, so content a later pull replaced is
    written back when this pull is later (:meth:`ingestion_svc.superseded.Replaced.copies`).
    """

    org_id: str
    source: str
    batch_id: str
    rows: Sequence[dict[str, Any] | None]
    raw: Sequence[bytes]
    account: Account
    pulled_at: dt.datetime
    row_offset: int = 0
    mapping: ColumnMap = field(default_factory=ColumnMap)
    parse_rejections: Sequence[Rejection] = ()
    restore_replaced: bool = False

    def __len__(self) -> int:
        return len(self.rows)
