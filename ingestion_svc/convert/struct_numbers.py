"""Numbers in ``IngestRequest.rows`` (google.protobuf.Struct): every one arrives as a double.

A client that holds a campaign id as an integer (Go's ``structpb.NewStruct``, any JS number,
grpcurl's JSON) sends it as a double, so without care 27965069839 became the text
"27965069839.0" (another campaign than the same id sent through ``json_rows``) and an id past
2^53 (every TikTok and Meta id read as a number) lost its last digits, so two campaigns merged
and one's spend replaced the other's as a "restatement" (s18 R32). Here a whole double within
2^53 becomes the integer JSON would have given, and a number in a key field that no integer
can be read from (past 2^53, or with a fraction) is that row's rejection naming the field and
the fix. Amounts are left to the connectors' own checks.
"""

from __future__ import annotations

from typing import Any

from ingestion_svc.raw_batch import MAPPED_SOURCES, ColumnMap, Rejection

__all__ = ["KEY_PATHS", "MAX_EXACT", "exact_numbers", "inexact_key", "key_paths"]

# Number.MAX_SAFE_INTEGER: every integer up to it is a double of its own; past it two ids
# share one double (2^53 + 1 reads as 2^53).
MAX_EXACT = 2**53 - 1

# The raw fields each platform's connector keys a record on (account, campaign, geo,
# product, order, message), as the connectors read them; ``[]`` steps into every element of
# a list. The mapped sources' key fields are the columns their mapping names.
KEY_PATHS: dict[str, tuple[str, ...]] = {
    "meta": ("account_id", "campaign_id", "region"),
    "google_ads": ("customer.id", "campaign.id", "segments.geoTargetRegion"),
    "tiktok": ("advertiser_id", "dimensions.campaign_id", "dimensions.province_id"),
    "klaviyo": (
        "attributes.groupings.campaign_id",
        "attributes.groupings.campaign_message_id",
    ),
    "shopify_orders": (
        "id",
        "shop_id",
        "line_items[].id",
        "line_items[].product_id",
        "line_items[].variant_id",
        "refunds[].refund_line_items[].line_item_id",
    ),
    "shopify_products": ("id", "shop_id", "variants[].id"),
    "google_ads_shopping": ("customer.id", "campaign.id", "segments.productItemId"),
    "meta_products": ("account_id", "campaign_id", "product_id"),
}


def key_paths(source: str, mapping: ColumnMap | None) -> tuple[str, ...]:
    """The raw fields of ``source``'s rows that key a record (for a mapped source, the
    campaign id and geo columns its mapping names)."""
    if source in MAPPED_SOURCES:
        if mapping is None:
            return ()
        return tuple(c for c in (mapping.campaign_id, mapping.geo) if c)
    return KEY_PATHS.get(source, ())


def exact_numbers(value: Any) -> Any:
    """``value`` (a Struct as a dict) with every whole double within 2^53 as an int, so
    27965069839.0 reads "27965069839" wherever the connector takes it as text, as the same
    number through ``json_rows`` does."""
    if type(value) is float:
        return int(value) if value.is_integer() and abs(value) <= MAX_EXACT else value
    if type(value) is dict:
        return {k: exact_numbers(v) for k, v in value.items()}
    if type(value) is list:
        return [exact_numbers(v) for v in value]
    return value


def _at(row: dict[str, Any], path: str) -> list[Any]:
    values: list[Any] = [row]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        found = [v[key] for v in values if type(v) is dict and key in v]
        values = [x for v in found if type(v) is list for x in v] if many else found
    return values


def inexact_key(i: int, row: dict[str, Any], paths: tuple[str, ...]) -> Rejection | None:
    """Row ``i``'s rejection when a key field at one of ``paths`` holds a number no id can
    be read from exactly (``row`` after :func:`exact_numbers`: any float left is past 2^53
    or has a fraction); None when every key field is text or an exact integer."""
    for path in paths:
        for v in _at(row, path):
            if type(v) is not float:
                continue
            if v.is_integer():
                why = (
                    f"{path} {v:.17g} is a number past 2^53 ({MAX_EXACT:,}): a Struct row "
                    f"carries it as a double, which has lost its last digits (it reads "
                    f"{int(v)}, and other ids read the same)"
                )
            else:
                why = f"{path} {v!r} is a number with a fraction, not an id"
            fix = "send ids as strings in rows, or send the rows as json_rows"
            return Rejection(i, path, "malformed", f"{why}; {fix}")
    return None
