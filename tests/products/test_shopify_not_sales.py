"""A Shopify merchant's own order exports (audit R9), over gRPC with real memory and ingestion
servers: what is not a product sale stays out of memory's product sums and the ack says so —
a test order, a cancelled order (one ingested before is zeroed when its cancellation arrives),
an order of gift cards only (a gift-card line beside products is left out of its order) —
discounts carried only in ``discount_allocations`` count once, and a line whose product was
deleted since (``product_id`` null) keeps its order, under a ``deleted:<sku>`` stand-in."""

from __future__ import annotations

import json
from typing import Any

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ing_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.cli.ingest import render, summary_json
from mesh.runtime.tables import table_to_frame
from mesh.sdk.ingestion import IngestSummary

ORG = "org_r9"
ACCOUNT = ing_pb.AccountInfo(timezone="America/New_York", currency_code="USD", country_code="US")


def _line(lid: int, pid: int | None, qty: int, price: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": lid, "product_id": pid, "variant_id": None if pid is None else pid * 10 + 1,
        "sku": f"SKU-{pid}", "title": f"Product {pid}", "product_type": "shoes",
        "quantity": qty, "price": price, "total_discount": "0.00", "gift_card": False, **kw,
    }  # fmt: skip


def _order(oid: int, lines: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "id": oid, "currency": "USD", "financial_status": "paid",
        "created_at": "2024-03-02T10:15:00-05:00", "updated_at": "2024-03-02T10:15:00-05:00",
        "shipping_address": {"country_code": "US", "province_code": "NY"},
        "line_items": lines, "refunds": [], **kw,
    }  # fmt: skip


def _ingest(stub: ing_grpc.IngestionServiceStub, batch_id: str, orders: list[Any]) -> Any:
    request = ing_pb.IngestRequest(
        org_id=ORG, source=common_pb.DATA_SOURCE_SHOPIFY_ORDERS, batch_id=batch_id,
        json_rows=[json.dumps(o) for o in orders], account=ACCOUNT,
    )  # fmt: skip
    (ack,) = list(stub.Ingest(iter([request])))
    return ack


def _sales(memory: memory_grpc.MemoryServiceStub) -> dict[str, tuple[int, float, float]]:
    """(units, discounts, net sales) per product in memory's product sums."""
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    s = table_to_frame(reply.sales).groupby("product_id")[["units", "discounts", "net_sales"]]
    return {
        str(p): (int(r["units"]), round(float(r["discounts"]), 2), round(float(r["net_sales"]), 2))
        for p, r in s.sum().iterrows()
    }


def test_test_cancelled_and_gift_card_orders_are_not_sales_and_the_ack_says_so(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    not_a_sale = ing_pb.RejectionReason.Value("REJECTION_REASON_NOT_A_SALE")
    sale = _order(1, [_line(11, 101, 2, "50.00")])
    test = _order(2, [_line(21, 303, 5, "100.00")], test=True)
    cancelled = _order(
        3, [_line(31, 303, 2, "100.00")], cancelled_at="2024-03-04T15:00:00-05:00",
        cancel_reason="customer", financial_status="voided",
    )  # fmt: skip
    voided = _order(4, [_line(41, 303, 1, "100.00")], financial_status="voided")
    gift_only = _order(5, [_line(51, 777, 1, "25.00", gift_card=True, product_type="Gift Card")])
    # a gift card bought beside a product: the product's line is a sale, the card's is not
    mixed = _order(6, [_line(61, 202, 1, "40.00"), _line(62, 777, 1, "25.00", gift_card=True)])
    ack = _ingest(ingestion, "b1", [sale, test, cancelled, voided, gift_only, mixed])
    assert (ack.accepted_count, ack.rejected_count) == (2, 4)
    got = {r.row_index: (r.field, r.reason, r.message) for r in ack.rejections}
    assert {k: v[:2] for k, v in got.items()} == {
        1: ("test", not_a_sale),
        2: ("cancelled_at", not_a_sale),
        3: ("financial_status", not_a_sale),
        4: ("line_items", not_a_sale),
    }
    assert got[1][2].startswith("test order")
    assert got[2][2].startswith("cancelled order") and "2024-03-04T15:00" in got[2][2]
    assert got[3][2].startswith("cancelled order (financial_status voided)")
    assert "gift cards only" in got[4][2]
    assert _sales(memory) == {"101": (2, 0.0, 100.0), "202": (1, 0.0, 40.0)}


def test_a_cancellation_after_the_order_was_ingested_zeroes_it(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    order = _order(7, [_line(71, 101, 2, "50.00"), _line(72, 202, 1, "40.00")])
    other = _order(8, [_line(81, 101, 1, "50.00")])
    first = _ingest(ingestion, "first", [order, other])
    assert (first.accepted_count, first.rejected_count) == (2, 0)
    assert _sales(memory) == {"101": (3, 0.0, 150.0), "202": (1, 0.0, 40.0)}
    # Shopify re-sends the order cancelled, with a later updated_at: a restatement to nothing
    gone = dict(order, cancelled_at="2024-03-03T09:00:00-05:00", financial_status="refunded")
    gone["updated_at"] = "2024-03-03T09:00:00-05:00"
    ack = _ingest(ingestion, "cancel", [gone])
    assert (ack.accepted_count, ack.restated_count, ack.rejected_count) == (1, 1, 0)
    assert _sales(memory) == {"101": (1, 0.0, 50.0)}
    # the same cancellation pulled again is a duplicate; the order as it was is stale
    again = _ingest(ingestion, "again", [gone, order])
    assert (again.accepted_count, again.duplicate_count) == (1, 1)
    assert [r.reason for r in again.rejections] == [ing_pb.REJECTION_REASON_STALE_VERSION]
    assert _sales(memory) == {"101": (1, 0.0, 50.0)}


def test_discount_allocations_count_once(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    alloc = [{"amount": "12.50", "discount_application_index": 0},
             {"amount": "7.50", "discount_application_index": 1}]  # fmt: skip
    # only in the allocations (total_discount "0.00"), as a code discount's export carries it
    only = _order(9, [_line(91, 303, 1, "100.00", discount_allocations=alloc)],
                  total_discounts="20.00")  # fmt: skip
    # both given: the same discount twice over, counted once
    both = _order(
        10, [_line(101, 404, 1, "100.00", total_discount="20.00", discount_allocations=alloc)]
    )
    ack = _ingest(ingestion, "b", [only, both])
    assert (ack.accepted_count, ack.rejected_count) == (2, 0), list(ack.rejections)
    assert _sales(memory) == {"303": (1, 20.0, 80.0), "404": (1, 20.0, 80.0)}


def test_a_deleted_products_line_keeps_its_order_under_a_stand_in(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    # Shopify returns product_id null for a line whose product was deleted since the order
    deleted = _order(11, [_line(111, 101, 1, "50.00"), _line(112, None, 1, "30.00", sku="OLD-1")])
    ack = _ingest(ingestion, "b", [deleted])
    assert (ack.accepted_count, ack.rejected_count) == (1, 0), list(ack.rejections)
    assert _sales(memory) == {"101": (1, 0.0, 50.0), "deleted:OLD-1": (1, 0.0, 30.0)}


def test_an_amount_only_refund_and_a_dropped_gift_card_line_are_noted_in_the_ack(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """R9-F7: an accepted order stored without a part of it says so. A refund given as an
    amount only (no refund_line_items: order 9014's 15.00) and a gift-card line beside a
    product line are each a note of their row, in the ack, the SDK summary and `liftos
    ingest`'s table; a rejected order (gift cards only, a test order) gets no note."""
    ingestion, memory = stubs
    amount_only = {
        "id": 7001, "refund_line_items": [],
        "order_adjustments": [{"amount": "-15.00", "kind": "refund_discrepancy"}],
        "transactions": [{"kind": "refund", "status": "success", "amount": "15.00"}],
    }  # fmt: skip
    gift = _line(42, None, 1, "25.00", gift_card=True)
    orders = [
        _order(41, [_line(41, 401, 1, "60.00"), gift]),
        _order(42, [_line(43, 402, 2, "40.00")], refunds=[amount_only]),
        _order(43, [gift]),  # gift cards only: rejected, nothing left out of a stored order
        _order(44, [_line(44, 403, 1, "9.00"), gift], test=True),  # rejected: a test order
        _order(45, [_line(45, 404, 1, "5.00")]),
    ]
    ack = _ingest(ingestion, "notes", orders)
    assert (ack.accepted_count, ack.rejected_count) == (3, 2)
    notes = [(n.row_index, n.field, n.kind) for n in ack.notes]
    assert notes == [
        (0, "line_items[1]", "gift_card_line"),
        (1, "refunds[0]", "refund_without_lines"),
    ]
    assert ack.note_count == 2
    assert "gift card of 25.00 left out" in ack.notes[0].message
    assert "refund of 15.00 USD with no refund_line_items" in ack.notes[1].message
    # what was stored is what the notes say: the products' sales, no gift card, no refund
    assert _sales(memory) == {"401": (1, 0.0, 60.0), "402": (2, 0.0, 80.0), "404": (1, 0.0, 5.0)}

    summary = IngestSummary()
    summary.add(ack, row_offset=0)
    assert summary.notes_by_kind == {"gift_card_line": 1, "refund_without_lines": 1}
    text = render(summary, 1.0, scored=False)
    assert "left out    2 parts of accepted rows" in text
    assert "refund_without_lines" in text and "line 1 (refunds[0]): refund of 15.00 USD" in text
    assert summary_json(summary, 1.0)["notes_by_kind"] == {
        "gift_card_line": 1,
        "refund_without_lines": 1,
    }
