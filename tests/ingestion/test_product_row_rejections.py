"""Shopify rows a fuzz campaign found failing their whole Ingest batch (INTERNAL, or memory
refusing the write) or losing data without a word: over a real Ingest stream to a real
memory, each is now its own row's rejection naming the field, and the clean order beside it
is acked and stored."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.tables import table_to_frame
from tests.ingestion.conftest import rich_error

ACCOUNT = ingestion_pb.AccountInfo(
    timezone="America/New_York", currency_code="USD", country_code="US"
)


def _line(lid: int, pid: int, qty: int, price: str, discount: str = "0.00") -> dict[str, Any]:
    return {
        "id": lid, "product_id": pid, "variant_id": 11, "sku": "S", "title": "t",
        "product_type": "shoes", "quantity": qty, "price": price, "total_discount": discount,
    }  # fmt: skip


def _order(oid: int, lines: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    row = {
        "id": oid, "currency": "USD", "created_at": "2026-03-02T10:15:00-05:00",
        "updated_at": "2026-03-02T10:15:00-05:00",
        "shipping_address": {"country_code": "US", "province_code": "NY"},
        "line_items": lines, "refunds": [],
    }  # fmt: skip
    row.update(over)
    return row


def _product(pid: int, variants: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    row = {"id": pid, "title": "p", "product_type": "shoes", "variants": variants}
    row.update(over)
    return row


GOOD_ORDER = _order(1, [_line(1, 101, 2, "40.00")])
GOOD_PRODUCT = _product(4, [{"id": 41, "price": "5.00"}])
# case -> (source, bad row, (field, reason) of its rejection)
CASES: dict[str, tuple[str, dict[str, Any], tuple[str, str]]] = {
    # net sales 1e15 > record_rules.MAX_MONEY: memory refused the whole write
    "sales_over_max_money": (
        "orders", _order(2, [_line(2, 102, 1_000_000, "999999999.00")]),
        ("line_items[0].price", "invalid_number"),
    ),
    # version = updated_at in µs since the epoch < 0: memory refused the whole write
    "order_before_1970": (
        "orders",
        _order(2, [_line(2, 102, 1, "5.00")], created_at="1969-07-20T20:17:00Z",
               updated_at="1969-07-20T20:17:00Z"),
        ("created_at", "invalid_date"),
    ),
    "order_updated_before_1970": (
        "orders", _order(2, [_line(2, 102, 1, "5.00")], updated_at="1960-01-01T00:00:00+14:00"),
        ("updated_at", "invalid_date"),
    ),
    "product_before_1970": (
        "products", _product(5, [{"id": 51, "price": "5.00"}], updated_at="1960-01-01T00:00:00Z"),
        ("updated_at", "invalid_date"),
    ),
    # one natural key for two lines: one of them was silently lost
    "duplicate_line_id": (
        "orders", _order(2, [_line(7, 102, 1, "5.00"), _line(7, 103, 3, "6.00")]),
        ("line_items[1].id", "malformed"),
    ),
    "duplicate_variant_id": (
        "products", _product(5, [{"id": 51, "price": "5.00"}, {"id": 51, "price": "6.00"}]),
        ("variants[1].id", "malformed"),
    ),
    # were skipped without a word (the refunds they held not counted), or stored as "US-"
    "refund_lines_not_a_list": (
        "orders", _order(2, [_line(2, 102, 1, "5.00")], refunds=[{"refund_line_items": 5}]),
        ("refunds[0].refund_line_items", "malformed"),
    ),
    "refund_not_an_object": (
        "orders", _order(2, [_line(2, 102, 1, "5.00")], refunds=[7]),
        ("refunds[0]", "malformed"),
    ),
    "province_code_object": (
        "orders",
        _order(2, [_line(2, 102, 1, "5.00")],
               shipping_address={"country_code": "US", "province_code": {"a": 1}}),
        ("shipping_address.province_code", "malformed"),
    ),
}  # fmt: skip
SOURCE_ENUM = {
    "orders": common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
    "products": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
}


def _ingest(
    stub: ingestion_grpc.IngestionServiceStub, org: str, source: str, rows: list[dict[str, Any]]
) -> ingestion_pb.IngestResponse:
    request = ingestion_pb.IngestRequest(
        org_id=org, source=SOURCE_ENUM[source], batch_id="b1",
        json_rows=[json.dumps(r) for r in rows], account=ACCOUNT,
    )  # fmt: skip
    request.pulled_at.FromJsonString("2026-12-01T00:00:00Z")
    (ack,) = list(stub.Ingest(iter([request]), timeout=60))
    return ack


def _reason(value: ingestion_pb.RejectionReason.ValueType) -> str:
    return ingestion_pb.RejectionReason.Name(value).removeprefix("REJECTION_REASON_").lower()


@pytest.fixture()
def stubs(
    services: dict[str, Any],
) -> tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub]:
    return (
        ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address)),
        memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address)),
    )


@pytest.mark.parametrize("case", CASES)
def test_a_bad_row_is_its_own_rejection_and_the_clean_row_is_stored(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub], case: str
) -> None:
    ingestion, memory = stubs
    source, bad, (field, reason) = CASES[case]
    good = GOOD_ORDER if source == "orders" else GOOD_PRODUCT
    ack = _ingest(ingestion, "org_h", source, [good, bad])
    got = [(r.row_index, r.field, _reason(r.reason)) for r in ack.rejections]
    assert (ack.accepted_count, ack.rejected_count, got) == (1, 1, [(1, field, reason)])
    assert ack.rejections[0].message
    stored = memory.AggregateProducts(
        memory_pb.AggregateProductsRequest(org_id="org_h"), timeout=60
    )
    if source == "orders":
        sales = table_to_frame(stored.sales)
        assert sales[["product_id", "units", "net_sales"]].to_dict("records") == [
            {"product_id": "101", "units": 2, "net_sales": 80.0}
        ]
    else:
        assert set(table_to_frame(stored.catalogue)["product_id"]) == {"4"}


def test_a_discount_within_rounding_of_the_price_is_the_price(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """10.005 off a 10.00 line passed the discount check (half a cent of rounding) and then
    failed the refund check of a line with no refund (KeyError: the batch was INTERNAL):
    the discount is the price, the line sells for 0, and a refund within rounding of what
    is left is all of it."""
    ingestion, memory = stubs
    refund = {"refund_line_items": [{"line_item_id": 3, "quantity": 1, "subtotal": "5.004"}]}
    rows = [
        GOOD_ORDER,
        _order(2, [_line(2, 102, 1, "10.00", "10.005")]),
        _order(3, [_line(3, 103, 1, "5.00")], refunds=[refund]),
    ]
    ack = _ingest(ingestion, "org_rounding", "orders", rows)
    assert (ack.accepted_count, list(ack.rejections)) == (3, [])
    stored = memory.AggregateProducts(
        memory_pb.AggregateProductsRequest(org_id="org_rounding"), timeout=60
    )
    sales = table_to_frame(stored.sales).set_index("product_id")
    assert sales.loc["102", ["gross", "discounts", "net_sales"]].tolist() == [10.0, 10.0, 0.0]
    assert sales.loc["103", ["net_sales", "refunds", "refunded_units"]].tolist() == [5.0, 5.0, 1]


def test_a_batch_of_orders_with_more_lines_than_memory_takes_in_one_message(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """40 orders of 300 lines are 12,000 records, past memory's 10,000 a message: the whole
    batch failed (RESOURCE_EXHAUSTED at memory, INTERNAL to the client). Written in parts of
    whole orders, all of it lands."""
    ingestion, memory = stubs
    rows = [
        _order(o, [_line(o * 10_000 + j, 100 + j % 7, 1, "1.00") for j in range(300)])
        for o in range(1, 41)
    ]
    ack = _ingest(ingestion, "org_big", "orders", rows)
    assert (ack.accepted_count, list(ack.rejections)) == (40, [])
    stored = memory.AggregateProducts(
        memory_pb.AggregateProductsRequest(org_id="org_big"), timeout=60
    )
    sales = table_to_frame(stored.sales)
    assert (sales["line_items"].sum(), sales["net_sales"].sum()) == (12_000, 12_000.0)


def test_a_pull_before_1970_is_refused_with_the_request(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """Versions of rows without their own clock (a catalogue without updated_at, report rows)
    count µs from pulled_at: before 1970 each would be negative, which memory refuses (the
    whole write failed). A request-wide field: the request is refused, naming it."""
    ingestion, _ = stubs
    request = ingestion_pb.IngestRequest(
        org_id="org_h", source=common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, batch_id="b1",
        json_rows=[json.dumps(GOOD_PRODUCT)], account=ACCOUNT,
    )  # fmt: skip
    request.pulled_at.FromJsonString("1960-12-01T00:00:00Z")
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([request]), timeout=60))
    code, _, violations, _ = rich_error(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in violations] == ["pulled_at"] and "1970" in violations[0][1]


# The safety nets behind the checks (as for the campaign sources in test_edge_requests): a
# step that raises on some row — a bug, every value being meant to be checked — costs only
# that row. The fault is injected, since every row known to raise now has its own check.


def test_a_line_step_that_raises_costs_only_its_order(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ingestion_svc.connectors import shopify_orders
    from ingestion_svc.parse import parse_json_rows
    from ingestion_svc.raw_batch import Account

    real = shopify_orders._after_edits

    def fragile(li: dict[str, Any], *args: Any) -> tuple[int, float]:
        if li.get("sku") == "boom":
            raise ZeroDivisionError("a line step broke")
        return real(li, *args)

    monkeypatch.setattr(shopify_orders, "_after_edits", fragile)
    boom = {**_line(3, 103, 1, "5.00"), "sku": "boom"}
    rows = [
        GOOD_ORDER,
        _order(2, [_line(2, 102, 1, "5.00"), boom]),
        _order(4, [_line(4, 104, 1, "1.00")]),
    ]
    parsed, _, _ = parse_json_rows([json.dumps(r) for r in rows])
    out = shopify_orders.normalise(parsed, Account(currency="USD", country="US"))
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [(1, "$", "malformed")]
    assert "ZeroDivisionError" in out.rejections[0].message
    # the order's first line, read before its second raised, is not kept either
    assert out.frame["order_id"].tolist() == ["1", "4"]
    assert "could not be read" in caplog.text


def test_a_batch_step_that_raises_costs_only_its_row(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import datetime as dt

    from ingestion_svc import product_batch
    from ingestion_svc.connectors import shopify_orders
    from ingestion_svc.raw_batch import Account
    from tests.ingestion.conftest import raw_batch

    real = shopify_orders._frame

    def fragile(records: list[dict[str, Any]]) -> Any:
        if any(r["sku"] == "boom" for r in records):
            raise ZeroDivisionError("a column step broke")
        return real(records)

    monkeypatch.setattr(shopify_orders, "_frame", fragile)
    boom = {**_line(3, 103, 1, "5.00"), "sku": "boom"}
    rows = [GOOD_ORDER, _order(2, [boom]), _order(4, [_line(4, 104, 1, "1.00")])]
    batch = raw_batch(
        "shopify_orders", [json.dumps(r) for r in rows],
        Account(timezone="America/New_York", currency="USD", country="US"),
        pulled_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    prepared = product_batch.prepare_products(batch)
    assert [(r.row_index, r.field, r.reason) for r in prepared.rejections] == [
        (1, "$", "malformed")
    ]
    assert "ZeroDivisionError" in prepared.rejections[0].message
    assert prepared.rows["row"].tolist() == [0, 2]
    assert "row by row" in caplog.text
