"""Shopify catalogue prices in a tax-inclusive shop (R15-F6's leftover): the products endpoint
does not say its prices hold tax, the account does (``taxes_included``, ``tax_rate``); they are
stored net of it, as the orders' net sales are, and never at an assumed rate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ingestion_svc.connectors.shopify_products import normalise
from ingestion_svc.raw_batch import Account

SHOP = Account(account_id="myshop", timezone="Europe/London", currency="GBP", country="GB")
INCLUSIVE = replace(SHOP, taxes_included=True, tax_rate=0.2)


def product(*variants: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": 1, "title": "Jacket", "product_type": "apparel",
        "updated_at": "2024-03-01T10:00:00+00:00", "variants": list(variants),
    }  # fmt: skip


def variant(vid: int, price: str, **kw: Any) -> dict[str, Any]:
    return {"id": vid, "sku": f"S{vid}", "price": price, **kw}


def prices(account: Account, *variants: dict[str, Any]) -> dict[str, float]:
    out = normalise([product(*variants)], account)
    assert out.rejections == []
    return dict(zip(out.frame["variant_id"], out.frame["price"].round(6), strict=True))


def test_a_tax_inclusive_shops_prices_are_stored_net_of_its_rate() -> None:
    # 120.00 incl. 20% VAT is 100.00; 59.99 is 49.991667 (not rounded: neither are the
    # orders' net unit prices); a variant not taxable has no VAT in its price
    got = prices(
        INCLUSIVE,
        variant(11, "120.00", taxable=True),
        variant(12, "59.99"),
        variant(13, "50.00", taxable=False),
        variant(14, "0.00"),
    )
    assert got == {"11": 100.0, "12": 49.991667, "13": 50.0, "14": 0.0}


@pytest.mark.parametrize(
    "account",
    [SHOP, replace(SHOP, taxes_included=False), replace(SHOP, taxes_included=False, tax_rate=0.2)],
)
def test_a_tax_exclusive_shops_or_one_not_said_prices_are_as_given(account: Account) -> None:
    assert prices(account, variant(11, "120.00"), variant(12, "50.00", taxable=False)) == {
        "11": 120.0,
        "12": 50.0,
    }


def test_a_zero_rate_keeps_the_price() -> None:
    assert prices(replace(SHOP, taxes_included=True, tax_rate=0.0), variant(11, "120.00")) == {
        "11": 120.0
    }


def test_without_a_rate_a_taxable_variant_is_rejected_naming_the_field() -> None:
    """The servicer refuses such a request first (account.tax_rate); called directly, the
    connector rejects the variants whose price holds tax and keeps the one that holds none."""
    out = normalise(
        [product(variant(11, "120.00"), variant(12, "50.00", taxable=False))],
        replace(SHOP, taxes_included=True),
    )
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (0, "variants[0].price", "missing_field")
    ]
    assert "send account.tax_rate" in out.rejections[0].message
    assert out.frame["variant_id"].tolist() == ["12"]
    assert out.frame["price"].tolist() == [50.0]


def test_a_taxable_that_is_not_a_boolean_is_rejected() -> None:
    out = normalise([product(variant(11, "120.00", taxable="yes"))], INCLUSIVE)
    assert [(r.field, r.reason) for r in out.rejections] == [("variants[0].taxable", "malformed")]
    assert out.frame.empty


def test_taxable_is_read_only_where_the_prices_hold_tax() -> None:
    """A tax-exclusive shop's variant is not rejected for a field its price does not need."""
    assert prices(SHOP, variant(11, "120.00", taxable="yes")) == {"11": 120.0}
