"""A customer who returns units of one order line at different times: Shopify sends one refund
per return, each naming the same ``line_item_id``, and the line's refunded units and money are
their sum (audit R36-F4: a refund that replaced the line's earlier one instead of adding to it
left refunded sales counted). Over gRPC with real ingestion and memory servers (the ``stubs``
fixture): memory's product sums, which the product analysis reads."""

from __future__ import annotations

import json
from typing import Any

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ing_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.tables import table_to_frame

ORG = "org_returns"
ACCOUNT = ing_pb.AccountInfo(timezone="America/New_York", currency_code="USD", country_code="US")
T = "2024-03-02T10:15:00-05:00"


def _order(
    oid: int, pid: int, price: str, tax: str | None, refunds: list[dict[str, Any]]
) -> dict[str, Any]:
    """One line of 3 units of product ``pid``; ``tax`` set: the price holds that much VAT."""
    line = {
        "id": oid * 10, "product_id": pid, "variant_id": pid * 10 + 1, "sku": f"SKU-{pid}",
        "product_type": "shoes", "quantity": 3, "price": price, "total_discount": "0.00",
        "tax_lines": [] if tax is None else [{"title": "VAT", "rate": 0.2, "price": tax}],
    }  # fmt: skip
    return {
        "id": oid, "currency": "USD", "financial_status": "partially_refunded",
        "taxes_included": tax is not None, "processed_at": T, "created_at": T,
        "updated_at": "2024-03-20T09:00:00-04:00",
        "shipping_address": {"country_code": "US", "province_code": "NY"},
        "line_items": [line], "refunds": refunds,
    }  # fmt: skip


def _returns(oid: int, subtotal: str, **kw: str) -> list[dict[str, Any]]:
    """Two refunds of one unit each of the order's line, a week apart."""
    return [
        {"id": oid * 100 + k, "created_at": f"2024-03-{d}T12:00:00-04:00",
         "refund_line_items": [{"line_item_id": oid * 10, "quantity": 1, "subtotal": subtotal,
                                **kw}]}
        for k, d in ((1, "10"), (2, "17"))
    ]  # fmt: skip


def test_two_refunds_of_one_line_add_up_in_memorys_product_sums(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    orders = [
        # tax on top of the price: 3 x 50.00, two units of 50.00 back
        _order(1, 101, "50.00", None, _returns(1, "50.00")),
        # 20% VAT in the price (3 x 120.00 holds 60.00): each refund says its 20.00 of tax
        _order(2, 202, "120.00", "60.00", _returns(2, "120.00", total_tax="20.00")),
        # the same without total_tax on the refund lines: taken out at the line's share (1/6)
        _order(3, 303, "120.00", "60.00", _returns(3, "120.00")),
    ]
    request = ing_pb.IngestRequest(
        org_id=ORG, source=common_pb.DATA_SOURCE_SHOPIFY_ORDERS, batch_id="b1",
        json_rows=[json.dumps(o) for o in orders], account=ACCOUNT,
    )  # fmt: skip
    (ack,) = list(ingestion.Ingest(iter([request])))
    assert (ack.accepted_count, ack.rejected_count) == (3, 0), ack
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    sums = table_to_frame(reply.sales).groupby("product_id")[
        ["units", "refunded_units", "gross", "refunds", "net_sales"]
    ]
    got = {
        str(p): (int(r["units"]), int(r["refunded_units"]), *(round(float(r[k]), 2)
                 for k in ("gross", "refunds", "net_sales")))
        for p, r in sums.sum().iterrows()
    }  # fmt: skip
    # (units, refunded units, gross, refunds, net sales): both returns count, net of VAT.
    # Memory keeps the refunds beside the sales (net sales are after discounts only): the
    # product analysis takes the refunds off the margin at their category's rate.
    assert got == {
        "101": (3, 2, 150.0, 100.0, 150.0),
        "202": (3, 2, 300.0, 200.0, 300.0),
        "303": (3, 2, 300.0, 200.0, 300.0),
    }
