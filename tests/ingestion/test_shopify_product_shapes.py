"""Shopify products with the GraphQL Admin API's global ids (R15 F11): a REST-shaped product
whose ids are ``gid://shopify/...`` is the same catalogue entry as its numeric twin; a
product in GraphQL's own shape is rejected saying which shape is read."""

from __future__ import annotations

from typing import Any

from ingestion_svc.connectors.shopify_products import normalise
from ingestion_svc.raw_batch import Account

SHOP = Account(account_id="myshop", timezone="America/New_York", currency="USD", country="US")


def product(pid: Any = 632910392, vid: Any = 808950810) -> dict[str, Any]:
    """One REST ``products[]`` element with one variant."""
    return {
        "id": pid,
        "title": "IPod Nano - 8GB",
        "product_type": "Cult Products",
        "updated_at": "2024-03-01T10:00:00-05:00",
        "variants": [
            {
                "id": vid,
                "sku": "IPOD2008PINK",
                "price": "199.00",
                "inventory_item": {"cost": "120.00"},
            }
        ],
    }


def test_graphql_global_ids_are_the_products_own() -> None:
    rows = [
        product(),
        product("gid://shopify/Product/632910392", "gid://shopify/ProductVariant/808950810"),
    ]
    out = normalise(rows, SHOP)
    assert out.rejections == []
    keys = out.frame["natural_key"].tolist()
    assert keys == ["shopify|myshop|product|632910392|808950810"] * 2


def test_a_wrong_id_or_a_graphql_shaped_product_costs_only_itself() -> None:
    node = {"id": "gid://shopify/Product/1", "title": "x", "productType": "Cult Products"}
    rows = [
        product(vid="gid://shopify/Product/808950810"),  # a product's gid as a variant's id
        node,
        product("gid://shopify/Order/5"),
        product(632910393, 808950811),
    ]
    out = normalise(rows, SHOP)
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (0, "variants[0].id", "malformed"),
        (1, "productType", "malformed"),
        (2, "id", "malformed"),
    ]
    assert "gid://shopify/ProductVariant/<number>" in out.rejections[0].message
    assert "REST products.json" in out.rejections[1].message
    assert out.frame["product_id"].tolist() == ["632910393"]
