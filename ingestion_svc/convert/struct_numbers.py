"""Numbers in ``IngestRequest.rows`` (google.protobuf.Struct): every one arrives as a double;
and ids written as JSON float literals in ``json_rows``.

A client that holds a campaign id as an integer (Go's ``structpb.NewStruct``, any JS number,
grpcurl's JSON) sends it as a double, so without care 27965069839 became the text
"27965069839.0" (another campaign than the same id sent through ``json_rows``) and an id past
2^53 (every TikTok and Meta id read as a number) lost its last digits, so two campaigns merged
and one's spend replaced the other's as a "restatement" (s18 R32). Here a whole double within
2^53 becomes the integer JSON would have given, and a number in a key field that no integer
can be read from (past 2^53, or with a fraction) is that row's rejection naming the field and
the fix. Amounts are left to the connectors' own checks.

``json_rows`` keep JSON's own numbers, but a client that holds ids as doubles writes them as
float literals (``JSON.stringify`` of 1.7e18, a pandas column of ids with gaps: 27965069839.0),
which Python reads as floats and the connectors stored as "1.7e+18" and "27965069839.0". The
same rule reads their key fields (:func:`json_keys`); their other numbers are as written.
"""

from __future__ import annotations

from typing import Any

from ingestion_svc.raw_batch import MAPPED_SOURCES, ColumnMap, Rejection

__all__ = ["KEY_PATHS", "MAX_EXACT", "exact_numbers", "inexact_key", "json_keys", "key_paths"]

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
        return _exact(value)
    if type(value) is dict:
        return {k: exact_numbers(v) for k, v in value.items()}
    if type(value) is list:
        return [exact_numbers(v) for v in value]
    return value


def _exact(value: float) -> int | float:
    """A whole double within 2^53 as the integer it is exactly; any other as it is."""
    return int(value) if value.is_integer() and abs(value) <= MAX_EXACT else value


def _exact_at(node: Any, parts: list[str]) -> None:
    """Every whole float within 2^53 at the path ``parts`` under ``node`` made an int, in
    place (``[]`` steps into every element of a list)."""
    key = parts[0].removesuffix("[]")
    if type(node) is not dict or key not in node:
        return
    many, rest = parts[0].endswith("[]"), parts[1:]
    if many and type(node[key]) is list:
        items = node[key]
        for j, item in enumerate(items):
            if rest:
                _exact_at(item, rest)
            elif type(item) is float:
                items[j] = _exact(item)
    elif not many:
        if rest:
            _exact_at(node[key], rest)
        elif type(node[key]) is float:
            node[key] = _exact(node[key])


def _at(row: dict[str, Any], path: str) -> list[Any]:
    values: list[Any] = [row]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        found = [v[key] for v in values if type(v) is dict and key in v]
        values = [x for v in found if type(v) is list for x in v] if many else found
    return values


# how each carrier of a row came to hold a double, and the fix
_STRUCT = (
    "a Struct row carries it as a double",
    "send ids as strings in rows, or send the rows as json_rows",
)
_JSON = (
    "a JSON number written with a fraction or an exponent is read as a double",
    'send ids as strings in json_rows ("campaign_id": "1717286153417985487")',
)


def json_keys(i: int, row: dict[str, Any], paths: tuple[str, ...]) -> Rejection | None:
    """A ``json_rows`` row's key fields read as a Struct row's are: a whole float within 2^53
    made the int it is (in ``row``, in place), and row ``i``'s rejection when one holds a
    float past 2^53 or with a fraction (:func:`inexact_key`); None when every key is exact."""
    for path in paths:
        _exact_at(row, path.split("."))
    return inexact_key(i, row, paths, _JSON)


def inexact_key(
    i: int,
    row: dict[str, Any],
    paths: tuple[str, ...],
    carrier: tuple[str, str] = _STRUCT,
) -> Rejection | None:
    """Row ``i``'s rejection when a key field at one of ``paths`` holds a number no id can
    be read from exactly (``row`` after :func:`exact_numbers`: any float left is past 2^53
    or has a fraction); None when every key field is text or an exact integer. ``carrier``:
    how the row came to hold a double, and the fix (a Struct row's by default)."""
    how, fix = carrier
    for path in paths:
        for v in _at(row, path):
            if type(v) is not float:
                continue
            if v.is_integer():
                why = (
                    f"{path} {v:.17g} is a number past 2^53 ({MAX_EXACT:,}): {how}, which "
                    f"has lost its last digits (it reads {int(v)}, and other ids read the same)"
                )
            else:
                why = f"{path} {v!r} is a number with a fraction, not an id"
            return Rejection(i, path, "malformed", f"{why}; {fix}")
    return None
