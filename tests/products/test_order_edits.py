"""An order edit that drops a line (issue 20's leftover), over gRPC with real memory and
ingestion servers: Shopify re-sends the whole edited order with a later ``updated_at``, and
memory's product sums must be the order as it now is — the dropped line sells nothing, a
line whose quantity changed counts its new units — while a stale re-send of the old order is
still rejected, a bad row in the same batch costs only itself, and the removed line is
restated as any changed line is: its current record is a zero version carrying the order's
new version and the one it replaced (the old one goes to memory's history)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ing_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.tables import table_to_frame

ORG = "org_edits"
ACCOUNT = ing_pb.AccountInfo(timezone="America/New_York", currency_code="USD", country_code="US")


def _line(lid: int, pid: int, qty: int, price: str, discount: str = "0.00") -> dict[str, Any]:
    return {
        "id": lid, "product_id": pid, "variant_id": pid * 10 + 1, "sku": f"SKU-{pid}",
        "title": f"Product {pid}", "product_type": "shoes" if pid < 300 else "bags",
        "quantity": qty, "price": price, "total_discount": discount,
    }  # fmt: skip


def _order(oid: int, updated: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": oid, "shop_id": "shop-1", "currency": "USD",
        "created_at": "2026-03-02T10:15:00-05:00", "updated_at": updated,
        "shipping_address": {"country_code": "US", "province_code": "NY"},
        "line_items": lines, "refunds": [],
    }  # fmt: skip


ORIGINAL = _order(
    5001,
    "2026-03-02T10:15:00-05:00",
    [_line(71, 101, 2, "40.00", "5.00"), _line(72, 202, 1, "25.00"), _line(73, 303, 3, "10.00")],
)
# Shopify's order edit removed line 72 and took line 73 from 3 units to 1; the export re-sends
# the whole order with its new updated_at.
EDITED = _order(
    5001,
    "2026-03-04T09:00:00-05:00",
    [_line(71, 101, 2, "40.00", "5.00"), _line(73, 303, 1, "10.00")],
)
# A second order, untouched, whose lines must stay as they are.
OTHER = _order(5002, "2026-03-02T11:00:00-05:00", [_line(81, 202, 4, "25.00")])


def _ingest(stub: ing_grpc.IngestionServiceStub, batch_id: str, rows: list[str]) -> Any:
    request = ing_pb.IngestRequest(
        org_id=ORG, source=common_pb.DATA_SOURCE_SHOPIFY_ORDERS, batch_id=batch_id,
        json_rows=rows, account=ACCOUNT,
    )  # fmt: skip
    (ack,) = list(stub.Ingest(iter([request])))
    return ack


def _sales(memory: memory_grpc.MemoryServiceStub) -> Any:
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    sales = table_to_frame(reply.sales)
    return sales.groupby("product_id")[
        ["line_items", "units", "gross", "discounts", "net_sales"]
    ].sum()


def _expected(*orders: dict[str, Any]) -> dict[str, tuple[int, int, float, float]]:
    """(line items, units, gross, net sales) per product, from the orders as sent."""
    out: dict[str, tuple[int, int, float, float]] = {}
    for o in orders:
        for li in o["line_items"]:
            gross = float(li["price"]) * li["quantity"]
            net = gross - float(li["total_discount"])
            n, u, g, s = out.get(str(li["product_id"]), (0, 0, 0.0, 0.0))
            out[str(li["product_id"])] = (n + 1, u + li["quantity"], g + gross, s + net)
    return out


def _assert_sums(got: Any, want: dict[str, tuple[int, int, float, float]]) -> None:
    assert set(got.index) == set(want)
    for pid, (lines, units, gross, net) in want.items():
        row = got.loc[pid]
        assert (int(row["line_items"]), int(row["units"])) == (lines, units), pid
        assert row["gross"] == pytest.approx(gross, abs=0.005)
        assert row["net_sales"] == pytest.approx(net, abs=0.005)


def _us(stamp: str) -> int:
    """An ``updated_at`` as the version it becomes (µs since the epoch)."""
    return int(dt.datetime.fromisoformat(stamp).timestamp()) * 10**6


def _stored_lines(memory: memory_grpc.MemoryServiceStub) -> dict[str, Any]:
    """The current order-line records by line item id."""
    request = memory_pb.ScanRequest(org_id=ORG, sources=[common_pb.DATA_SOURCE_SHOPIFY_ORDERS])
    return {r.product.line_item_id: r for m in memory.Scan(request) for r in m.records}


def test_an_edit_that_drops_a_line_leaves_the_order_as_it_now_is(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    first = _ingest(ingestion, "first", [json.dumps(ORIGINAL), json.dumps(OTHER)])
    assert (first.accepted_count, first.rejected_count) == (2, 0)
    _assert_sums(_sales(memory), _expected(ORIGINAL, OTHER))

    # the edit, beside a row with a malformed product id: only that row is rejected (a null
    # one is a deleted product's line, kept under a stand-in: R9-F4)
    broken = copy.deepcopy(OTHER)
    broken["id"] = 5003
    broken["line_items"][0]["product_id"] = "not-an-id"
    edit = _ingest(ingestion, "edit", [json.dumps(broken), json.dumps(EDITED)])
    assert [(r.row_index, r.field) for r in edit.rejections] == [(0, "line_items[0].product_id")]
    assert (edit.accepted_count, edit.restated_count) == (1, 1)
    edited = _expected(EDITED, OTHER)
    _assert_sums(_sales(memory), edited)
    assert "202" in edited and edited["202"][0] == 1  # product 202 now sells only OTHER's line
    lines = _stored_lines(memory)
    dropped = lines["72"]
    assert (dropped.product.product_id, dropped.product.quantity, dropped.revenue) == ("202", 0, 0)
    assert lines["71"].version == dropped.version
    assert dropped.causal_metadata.is_restatement
    assert dropped.version == _us(EDITED["updated_at"])
    assert dropped.causal_metadata.replaced_version == _us(ORIGINAL["updated_at"])

    # a stale re-send of the original order (older updated_at) is rejected and writes nothing
    stale = _ingest(ingestion, "stale", [json.dumps(ORIGINAL)])
    assert [(r.field, r.reason) for r in stale.rejections] == [
        ("updated_at", ing_pb.REJECTION_REASON_STALE_VERSION)
    ]
    _assert_sums(_sales(memory), edited)

    # the same edit pulled again, on a new stream, is a duplicate: nothing changes
    again = _ingest(ingestion, "again", [json.dumps(EDITED)])
    assert (again.accepted_count, again.duplicate_count, again.restated_count) == (1, 1, 0)
    _assert_sums(_sales(memory), edited)


def test_a_line_an_edit_dropped_comes_back_when_a_later_edit_restores_it(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    _ingest(ingestion, "first", [json.dumps(ORIGINAL)])
    _ingest(ingestion, "edit", [json.dumps(EDITED)])
    restored = copy.deepcopy(ORIGINAL)
    restored["updated_at"] = "2026-03-05T09:00:00-05:00"
    restored["line_items"][1]["quantity"] = 2
    ack = _ingest(ingestion, "restore", [json.dumps(restored)])
    assert (ack.accepted_count, ack.restated_count, ack.rejected_count) == (1, 1, 0)
    _assert_sums(_sales(memory), _expected(restored))
    # two versions of one order in one batch: the later wins whole, lines included
    later = copy.deepcopy(EDITED)
    later["updated_at"] = "2026-03-06T09:00:00-05:00"
    later["line_items"] = later["line_items"][:1]
    sooner = restored | {"updated_at": "2026-03-05T10:00:00-05:00"}
    both = _ingest(ingestion, "both", [json.dumps(sooner), json.dumps(later)])
    assert (both.accepted_count, both.superseded_count, both.rejected_count) == (2, 1, 0)
    _assert_sums(_sales(memory), _expected(later))


def test_an_edit_in_shopifys_current_quantity_shape_counts_what_is_left(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """Admin API 2024-01+: an edit keeps the line in line_items and lowers current_quantity
    (0: removed whole); a refund lowers it too, but refunds are counted on their own."""
    ingestion, memory = stubs
    _ingest(ingestion, "first", [json.dumps(ORIGINAL)])
    edited = copy.deepcopy(ORIGINAL)
    edited["updated_at"] = "2026-03-04T09:00:00-05:00"
    first, second, third = edited["line_items"]
    first["current_quantity"] = 1  # one of its 2 units refunded, not edited away
    edited["refunds"] = [{"id": 9, "refund_line_items": [
        {"line_item_id": 71, "quantity": 1, "subtotal": "37.50"}]}]  # fmt: skip
    second["current_quantity"] = 0  # removed by the edit
    third["current_quantity"] = 1  # 3 -> 1 by the edit
    third["total_discount"] = "3.00"  # the discount goes with the units, pro rata
    ack = _ingest(ingestion, "edit", [json.dumps(edited)])
    assert (ack.accepted_count, ack.restated_count, ack.rejected_count) == (1, 1, 0)
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    got = table_to_frame(reply.sales).groupby("product_id").sum(numeric_only=True)
    assert set(got.index) == {"101", "303"}
    assert got.loc["101", ["units", "gross", "net_sales", "refunds"]].tolist() == pytest.approx(
        [2, 80.0, 75.0, 37.5]
    )
    assert got.loc["303", ["units", "gross", "discounts", "net_sales"]].tolist() == pytest.approx(
        [1, 10.0, 1.0, 9.0]
    )
    bad = copy.deepcopy(edited)
    bad["updated_at"] = "2026-03-05T09:00:00-05:00"
    bad["line_items"][2]["current_quantity"] = 5
    (rejection,) = _ingest(ingestion, "bad", [json.dumps(bad)]).rejections
    assert rejection.field == "line_items[2].current_quantity"
