"""Shopify orders in the shapes the Admin API really sends (R15's audit, findings F4-F7,
F10, F11): the reporting day (``processed_at``), UTC times dated in the shop's zone,
tax-inclusive shops, expired authorizations, a currency that is not the account's, and
GraphQL ids. Each sample is the documented REST ``orders[]`` element, not the simulator's
export."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import numpy as np

from ingestion_svc.connectors.shopify_orders import OrderBook, normalise
from ingestion_svc.product_batch import ProductBook, finish_products, prepare_products
from ingestion_svc.raw_batch import Account

from .conftest import raw_batch

NY = Account(account_id="myshop", timezone="America/New_York", currency="USD", country="US")
PULLED = dt.datetime(2024, 3, 10, 9, tzinfo=dt.UTC)


def order(oid: int = 5550001, /, **kw: Any) -> dict[str, Any]:
    """One REST order: a line of 1 unit at 120.00, shipped to New York, paid."""
    row: dict[str, Any] = {
        "id": oid,
        "created_at": "2024-03-01T10:00:00-05:00",
        "processed_at": "2024-03-01T10:00:00-05:00",
        "updated_at": "2024-03-01T10:00:00-05:00",
        "currency": "USD",
        "financial_status": "paid",
        "taxes_included": False,
        "test": False,
        "cancelled_at": None,
        "shipping_address": {"province_code": "NY", "country_code": "US"},
        "line_items": [
            {
                "id": oid * 10 + 1,
                "product_id": 632910392,
                "variant_id": 808950810,
                "sku": "IPOD2008PINK",
                "quantity": 1,
                "price": "120.00",
                "total_discount": "0.00",
                "discount_allocations": [],
                "tax_lines": [],
                "gift_card": False,
            }
        ],
        "refunds": [],
    }
    row.update(kw)
    return row


def at(t: str) -> dict[str, str]:
    """An order's time as both of its dating fields give it (``created_at`` and
    ``processed_at`` agree on an order not imported from another platform)."""
    return {"created_at": t, "processed_at": t}


def days(rows: list[dict[str, Any]], account: Account = NY) -> list[str]:
    out = normalise(rows, account)
    assert out.rejections == []
    return [str(np.datetime64(d, "D")) for d in out.frame["local_date"]]


def test_an_imported_order_is_dated_by_processed_at_not_the_import() -> None:
    imported = order(created_at="2024-03-05T08:00:00-05:00",
                     processed_at="2023-05-10T14:00:00-04:00")  # fmt: skip
    legacy = order(5550002)
    del legacy["processed_at"]  # an export without it: created_at dates the order
    assert days([imported, legacy]) == ["2023-05-10", "2024-03-01"]


def test_an_unusable_processed_at_names_itself() -> None:
    out = normalise([order(processed_at="yesterday"), order(5550002)], NY)
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (0, "processed_at", "invalid_date")
    ]
    assert out.frame["order_id"].tolist() == ["5550002"]


def test_a_utc_time_is_dated_in_the_shop_zone() -> None:
    # 2024-03-01 23:30 in New York: as UTC (GraphQL, ETL) and with the shop's offset (REST)
    utc = order(**at("2024-03-02T04:30:00Z"))
    local = order(5550002, **at("2024-03-01T23:30:00-05:00"))
    # a minute after midnight in New York, sent as UTC: the next local day
    after = order(5550003, **at("2024-03-02T05:01:00Z"))
    assert days([utc, local, after]) == ["2024-03-01", "2024-03-01", "2024-03-02"]
    # daylight saving: 2024-07-01 03:30Z is 23:30 on June 30 in New York (UTC-4)
    assert days([order(**at("2024-07-01T03:30:00Z"))]) == ["2024-06-30"]
    # an account with no zone dates by the string's own offset, as before
    assert days([utc, local], Account(account_id="myshop", currency="USD")) == [
        "2024-03-02",
        "2024-03-01",
    ]


def test_the_stored_record_is_on_the_shop_day_at_its_local_midnight() -> None:
    rows = [order(**at("2024-03-02T04:30:00Z")), order(5550002, **at("bad"))]
    batch = raw_batch("shopify_orders", [json.dumps(r) for r in rows], NY, pulled_at=PULLED)
    result = finish_products(prepare_products(batch), ProductBook())
    assert [(r.row_index, r.reason) for r in result.rejections] == [(1, "invalid_date")]
    rec = result.records
    assert len(rec) == 1
    assert str(np.datetime64(rec["local_date"].iloc[0], "D")) == "2024-03-01"
    # New York midnight (UTC-5 in March)
    assert rec["timestamp"].iloc[0] == np.datetime64("2024-03-01T05:00:00", "us")


def test_a_bad_row_costs_only_itself_in_a_mixed_batch() -> None:
    good = [order(5550001 + k, **at(f"2024-03-0{k + 1}T12:00:00Z")) for k in range(3)]
    bad = copy.deepcopy(good[0])
    bad["id"] = 5559999
    bad.update(at("2024-02-30T12:00:00Z"))
    out = normalise([good[0], bad, good[1], good[2]], NY)
    assert [(r.row_index, r.reason) for r in out.rejections] == [(1, "invalid_date")]
    assert out.frame["order_id"].tolist() == ["5550001", "5550002", "5550003"]


def test_an_expired_authorization_is_not_a_sale_like_a_voided_one() -> None:
    rows = [
        order(5550001),
        order(5550002, financial_status="expired"),
        order(5550003, financial_status="voided"),
        order(5550004, financial_status="EXPIRED"),  # GraphQL's displayFinancialStatus
        order(5550005, financial_status="authorized"),  # not captured yet, still a sale
        order(5550006, financial_status="refunded"),
    ]
    out = normalise(rows, NY)
    assert out.rejections == []
    got = {i: (r.field, r.reason, r.message) for i, r in out.cancelled.items()}
    assert got == {
        1: ("financial_status", "not_a_sale",
            "payment authorization expired, never captured (financial_status expired): "
            "not a sale, left out"),
        2: ("financial_status", "not_a_sale",
            "cancelled order (financial_status voided): not a sale, left out"),
        3: ("financial_status", "not_a_sale",
            "payment authorization expired, never captured (financial_status EXPIRED): "
            "not a sale, left out"),
    }  # fmt: skip
    # their lines are read and zeroed (a restatement of an order taken before to nothing)
    f = out.frame.set_index("order_id")
    assert f.loc[["5550002", "5550003", "5550004"], "revenue"].tolist() == [0.0] * 3
    assert f.loc[["5550001", "5550005", "5550006"], "revenue"].tolist() == [120.0] * 3


def test_an_expired_order_is_rejected_at_ingest_and_the_sales_beside_it_stay() -> None:
    rows = [order(5550001), order(5550002, financial_status="expired"), order(5550003)]
    batch = raw_batch("shopify_orders", [json.dumps(r) for r in rows], NY, pulled_at=PULLED)
    result = finish_products(prepare_products(batch), ProductBook())
    assert [(r.row_index, r.field, r.reason) for r in result.rejections] == [
        (1, "financial_status", "not_a_sale")
    ]
    assert sorted(result.records["order_id"]) == ["5550001", "5550003"]


def test_an_order_in_another_currency_than_the_account_is_rejected_naming_both() -> None:
    rows = [order(5550001), order(5550002, currency="EUR"), order(5550003)]
    out = normalise(rows, NY)
    assert [(r.row_index, r.field, r.reason, r.message) for r in out.rejections] == [
        (1, "currency", "unknown_currency", "currency EUR differs from the account's USD")
    ]
    assert out.frame["order_id"].tolist() == ["5550001", "5550003"]
    # an account with no currency configured takes each order in its own, as before
    free = normalise(rows, Account(account_id="myshop", timezone="America/New_York"))
    assert free.rejections == []
    assert free.frame["currency"].tolist() == ["USD", "EUR", "USD"]


def vat(
    price: str = "120.00", tax: str = "20.00", refunds: list[Any] | None = None, **line: Any
) -> dict[str, Any]:
    """A tax-inclusive order (20% VAT in the price) of one line; ``line`` updates the line."""
    row = order(taxes_included=True, refunds=refunds or [])
    row["line_items"][0].update(
        price=price, tax_lines=[{"title": "VAT", "rate": 0.2, "price": tax}], **line
    )
    return row


def refund(subtotal: str, quantity: int = 1, **kw: Any) -> list[dict[str, Any]]:
    rl = {"line_item_id": 55500011, "quantity": quantity, "subtotal": subtotal, **kw}
    return [{"id": 1, "refund_line_items": [rl]}]


def line(row: dict[str, Any], account: Account = NY) -> dict[str, Any]:
    out = normalise([row], account)
    assert out.rejections == [] and len(out.frame) == 1
    got: dict[str, Any] = out.frame.iloc[0].to_dict()
    return got


def money(got: dict[str, Any]) -> tuple[float, ...]:
    keys = ("price", "gross", "discount", "revenue", "refund_amount", "net_revenue")
    return tuple(round(float(got[k]), 2) for k in keys)


def test_vat_in_a_tax_inclusive_price_is_not_net_sales() -> None:
    # (price, gross, discount, revenue, refunds, net revenue)
    assert money(line(vat())) == (100.0, 100.0, 0.0, 100.0, 0.0, 100.0)
    # a 12.00 discount: VAT is on the 108.00 sold, 18.00; the discount is 10.00 before tax
    assert money(line(vat(tax="18.00", total_discount="12.00"))) == (
        100.0, 100.0, 10.0, 90.0, 0.0, 90.0,
    )  # fmt: skip
    # two VAT lines (a regional and a national tax) add up
    two = vat(quantity=2, price="60.00")
    two["line_items"][0]["tax_lines"] = [{"price": "12.00"}, {"price": "8.00"}]
    assert money(line(two)) == (50.0, 100.0, 0.0, 100.0, 0.0, 100.0)


def test_a_tax_inclusive_refund_gives_back_its_subtotal_less_its_tax() -> None:
    full = vat(refunds=refund("120.00", total_tax="20.00"))
    assert money(line(full))[3:] == (100.0, 100.0, 0.0)
    # a refund line without total_tax: its tax taken out at its line's share (1/6 here)
    half = vat(quantity=2, price="60.00", refunds=refund("60.00"))
    assert money(line(half))[3:] == (100.0, 50.0, 50.0)
    # an edit that removed one of two units: the tax goes with it pro rata
    edited = vat(quantity=2, price="60.00", current_quantity=1)
    assert money(line(edited)) == (50.0, 50.0, 0.0, 50.0, 0.0, 50.0)


def test_a_tax_exclusive_order_is_read_as_before() -> None:
    row = order(refunds=refund("60.00", total_tax="4.80"))  # US sales tax, on top of the price
    row["line_items"][0].update(
        quantity=2, price="60.00", tax_lines=[{"title": "NY", "price": "9.60"}]
    )
    assert money(line(row)) == (60.0, 120.0, 0.0, 120.0, 60.0, 60.0)
    # taxes_included absent (an older export) is tax-exclusive, as before
    del row["taxes_included"]
    assert money(line(row)) == (60.0, 120.0, 0.0, 120.0, 60.0, 60.0)


def test_a_tax_inclusive_line_without_tax_lines_is_kept_with_a_note() -> None:
    row = vat()
    del row["line_items"][0]["tax_lines"]
    out = normalise([row], NY)
    assert out.rejections == [] and out.frame["revenue"].tolist() == [120.0]
    assert [(n.row_index, n.field, n.kind) for n in out.notes] == [
        (0, "line_items[0].tax_lines", "tax_lines_missing")
    ]
    # an untaxed line (taxable: false) has no tax to take out: no note
    row["line_items"][0]["taxable"] = False
    assert normalise([row], NY).notes == []


def test_bad_tax_data_costs_only_its_order() -> None:
    rows = [
        vat(),
        vat(tax="130.00"),  # more tax than the line sold
        vat(refunds=refund("120.00", total_tax="121.00")),
        order(5550002, taxes_included="yes"),
        vat(tax="20,00"),
        order(5550003),
    ]
    for k, r in enumerate(rows[1:5], start=1):
        r["id"] = 5550010 + k
        r["line_items"][0]["id"] = (5550010 + k) * 10 + 1
        for rf in r["refunds"]:
            rf["refund_line_items"][0]["line_item_id"] = (5550010 + k) * 10 + 1
    out = normalise(rows, NY)
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (1, "line_items[0].tax_lines", "invalid_number"),
        (2, "refunds[0].refund_line_items[0].total_tax", "invalid_number"),
        (3, "taxes_included", "malformed"),
        (4, "line_items[0].tax_lines[0].price", "invalid_number"),
    ]
    assert "tax 130.00 exceeds what the line sold, 120.00" in out.rejections[0].message
    assert out.frame["order_id"].tolist() == ["5550001", "5550012", "5550003"]
    # at ingest an order with a rejected line is rejected whole; the good orders are stored
    batch = raw_batch("shopify_orders", [json.dumps(r) for r in rows], NY, pulled_at=PULLED)
    result = finish_products(prepare_products(batch), ProductBook())
    assert sorted({r.row_index for r in result.rejections}) == [1, 2, 3, 4]
    rec = result.records.set_index("order_id")
    assert rec.loc["5550001", "revenue"] == 100.0 and rec.loc["5550001", "list_price"] == 100.0
    assert rec.loc["5550003", "revenue"] == 120.0


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def test_graphql_global_ids_in_a_rest_order_are_its_ids() -> None:
    rest = order(refunds=refund("60.00"))
    rest["line_items"][0].update(quantity=2, price="60.00")
    ids = copy.deepcopy(rest)
    ids["id"] = gid("Order", 5550001)
    ids["updated_at"] = "2024-03-02T10:00:00-05:00"  # a later pull: the same order restated
    li = ids["line_items"][0]
    li.update(id=gid("LineItem", 55500011), product_id=gid("Product", 632910392),
              variant_id=gid("ProductVariant", 808950810))  # fmt: skip
    ids["refunds"][0]["refund_line_items"][0]["line_item_id"] = gid("LineItem", 55500011)
    book = OrderBook()
    for row in (rest, ids):
        out = normalise([row], NY)
        assert out.rejections == []
        book.apply(out)
    assert book.counts == {"new": 1, "restated": 1, "duplicate": 0, "stale": 0}
    f = book.frame()
    assert f[["order_id", "line_item_id", "product_id", "variant_id"]].values.tolist() == [
        ["5550001", "55500011", "632910392", "808950810"]
    ]
    assert f["natural_key"].tolist() == ["shopify|myshop|5550001|55500011"]
    assert (f["refunded_quantity"].tolist(), f["refund_amount"].tolist()) == ([1], [60.0])


def test_an_id_of_the_wrong_kind_or_shape_is_rejected_naming_the_shape() -> None:
    wrong_kind = order(5550002)
    wrong_kind["line_items"][0]["product_id"] = gid("ProductVariant", 808950810)
    rows = [order(id=gid("Product", 5550001)), wrong_kind, order(5550003)]
    out = normalise(rows, NY)
    assert [(r.row_index, r.field, r.reason, r.message) for r in out.rejections] == [
        (0, "id", "malformed", "id 'gid://shopify/Product/5550001' is not a Shopify Order id "
         "(a number, or gid://shopify/Order/<number>)"),
        (1, "line_items[0].product_id", "malformed",
         "line_items[0].product_id 'gid://shopify/ProductVariant/808950810' is not a Shopify "
         "Product id (a number, or gid://shopify/Product/<number>)"),
    ]  # fmt: skip
    assert out.frame["order_id"].tolist() == ["5550003"]


def test_a_graphql_shaped_order_is_rejected_saying_which_shape_is_read() -> None:
    node = {"id": gid("Order", 5550001), "createdAt": "2024-03-02T04:30:00Z",
            "currencyCode": "USD", "displayFinancialStatus": "PAID"}  # fmt: skip
    child = {"id": gid("LineItem", 55500011), "quantity": 1,
             "__parentId": gid("Order", 5550001)}  # fmt: skip
    out = normalise([node, child, order(5550002)], NY)
    got = [(r.row_index, r.field, r.reason) for r in out.rejections]
    assert got == [(0, "createdAt", "malformed"), (1, "__parentId", "malformed")]
    assert all("REST orders.json" in r.message for r in out.rejections)
    assert out.frame["order_id"].tolist() == ["5550002"]
