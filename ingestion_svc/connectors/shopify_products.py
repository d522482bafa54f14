"""Shopify Admin API products (``GET /admin/api/<version>/products.json``, one ``products[]``
element per row) → one row per variant: the catalogue a product analysis reads (category,
list price and unit cost).

Quirks handled: ids as JSON numbers, digit strings or GraphQL global ids
(``gid://shopify/Product/1``; a row in GraphQL's own shape is rejected saying so), money as
decimal strings, the category in ``product_type``, the unit cost in
``variants[].inventory_item.cost`` (absent when the merchant never entered one: the cost
stays unknown, the variant is kept). The products endpoint carries no currency: prices are
in the shop's (the account's) currency.

Prices are stored net of tax, as the orders' net sales are. The products endpoint does not say
whether its prices hold tax, nor at what rate: the account does (``taxes_included``, Shopify's
shop setting, and ``tax_rate``, the rate its prices hold). In a tax-inclusive shop a variant's
price is stated as ``price / (1 + tax_rate)`` (120.00 at 20% → 100.00), one with ``taxable:
false`` as given (no tax was ever in it); without a rate a taxable variant is rejected rather
than stored with its tax or at an assumed rate (ingest refuses such a request first, naming
``account.tax_rate``). A rate set per collection or destination country (Shopify's tax
overrides, which the endpoint does not show either) is not seen: the account's one rate is
applied to every taxable variant.

Identity: ``natural_key = shopify|<shop>|product|<product id>|<variant id>``; ``version`` is
the product's ``updated_at`` in µs when the row has one, else the batch's pull order
(``version_base`` + row), so a later pull of an unchanged product is a duplicate and an
edited one a restatement. A product whose id is unusable is rejected whole; a variant with a
bad id, price or cost is rejected alone (``variants[<j>].<field>``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ingestion_svc.connectors.shopify_fields import Bad, ident, money, stamp, text, unreadable
from ingestion_svc.raw_batch import Account, Rejection

__all__ = ["VARIANTS", "Catalogue", "normalise"]

_LOGGER = logging.getLogger(__name__)

VARIANTS: dict[str, str] = {
    "row": "int64",
    "account_id": "object",
    "product_id": "object",
    "variant_id": "object",
    "sku": "object",
    "title": "object",
    "category": "object",
    "price": "float64",
    "cost": "float64",  # NaN: unknown
    "currency": "object",
    "version": "int64",
    "natural_key": "object",
    "sha": "object",
}


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A batch's surviving variants (:data:`VARIANTS`) and its rejections."""

    frame: pd.DataFrame
    rejections: list[Rejection]


def _product(
    i: int, row: dict[str, Any], account: Account, base: int, out: list[dict[str, Any]],
    rej: list[Rejection],
) -> None:  # fmt: skip
    if "variants" not in row and ("__parentId" in row or "productType" in row):
        raise Bad("productType" if "productType" in row else "__parentId", "malformed",
            "a GraphQL Admin API product: not read; send the REST products.json shape "
            "(variants, product_type), gid ids welcome")  # fmt: skip
    pid = ident(row.get("id"), "id", "Product")
    updated = row.get("updated_at")
    version = stamp(updated, "updated_at")[1] if updated is not None else base + i
    variants = row.get("variants")
    if type(variants) is not list or not variants:
        raise Bad("variants", "missing_field", "variants is missing or empty")
    shop = account.account_id or text(row.get("shop_id"))
    first_of: dict[str, int] = {}  # variant id -> the first variant carrying it
    for j, v in enumerate(variants):
        path = f"variants[{j}]"
        try:
            if type(v) is not dict:
                raise Bad(path, "malformed", f"{path} is not an object")
            vid = ident(v.get("id"), f"{path}.id", "ProductVariant")
            # the id is the record's natural key: a second variant with it would replace
            # the first in memory, and one of them would be lost without a word
            if first_of.setdefault(vid, j) != j:
                raise Bad(
                    f"{path}.id",
                    "malformed",
                    f"variant id {vid} is also variants[{first_of[vid]}]'s: "
                    "a product's variants have distinct ids",
                )
            price = _net_price(v, path, account)
            item = v.get("inventory_item")
            raw_cost = item.get("cost") if type(item) is dict else None
            cost = (
                float("nan") if raw_cost is None else money(raw_cost, f"{path}.inventory_item.cost")
            )
        except Bad as bad:
            rej.append(Rejection(i, bad.field, bad.reason, bad.message))
            continue
        body = json.dumps([row.get("title"), row.get("product_type"), v], sort_keys=True)
        out.append(
            {
                "row": i,
                "account_id": shop,
                "product_id": pid,
                "variant_id": vid,
                "sku": text(v.get("sku")),
                "title": text(row.get("title")),
                "category": text(row.get("product_type")),
                "price": price,
                "cost": cost,
                "currency": account.currency,
                "version": version,
                "natural_key": f"shopify|{shop}|product|{pid}|{vid}",
                "sha": hashlib.sha256(body.encode()).hexdigest(),
            }
        )


def _net_price(v: dict[str, Any], path: str, account: Account) -> float:
    """A variant's price net of the tax a tax-inclusive shop's prices hold (see the module
    docstring); a tax-exclusive shop's, or one whose account does not say, as given."""
    price = money(v.get("price"), f"{path}.price")
    if not account.taxes_included:
        return price
    taxable = v.get("taxable")
    if taxable not in (None, True, False):
        raise Bad(f"{path}.taxable", "malformed", f"{path}.taxable is not true or false")
    if taxable is False:
        return price
    if account.tax_rate is None:
        raise Bad(
            f"{path}.price",
            "missing_field",
            f"{path}.price holds tax (the account's taxes_included) at a rate the account does "
            "not give: send account.tax_rate",
        )
    return price / (1.0 + account.tax_rate)


def normalise(
    rows: Sequence[dict[str, Any] | None], account: Account, *, version_base: int = 0
) -> Catalogue:
    """Parsed product rows (None where a line was malformed, already rejected) → variants."""
    out: list[dict[str, Any]] = []
    rej: list[Rejection] = []
    for i, row in enumerate(rows):
        if row is None:
            continue
        variants = len(out)
        try:
            _product(i, row, account, version_base, out, rej)
        except Bad as bad:
            del out[variants:]
            rej.append(Rejection(i, bad.field, bad.reason, bad.message))
        except Exception as exc:  # a check this module lacks: the product's rejection only
            del out[variants:]
            _LOGGER.exception("shopify product at row %d could not be read", i)
            rej.append(unreadable(i, "product", exc))
    if not out:
        frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in VARIANTS.items()})
    else:
        frame = pd.DataFrame.from_records(out, columns=list(VARIANTS)).astype(VARIANTS)
    return Catalogue(frame, rej)
