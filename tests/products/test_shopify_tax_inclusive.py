"""A tax-inclusive shop (audit R15-F6's leftover), over gRPC with real ingestion and memory
servers: its orders are stored net of VAT (each order says ``taxes_included``) and so is its
catalogue, whose rows do not say it — the account does (``taxes_included``, ``tax_rate``). The
catalogue's prices then meet the orders' net unit prices, which the product analysis reads (an
uncosted product is costed at its category's cost-to-price ratio times its list price)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ing_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.product_analysis import _unit_costs
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import running_services
from mesh.runtime.main import Build
from mesh.runtime.tables import table_to_frame

ORG = "org_vat"
T = "2024-03-02T10:15:00+00:00"
GB = {"timezone": "Europe/London", "currency_code": "GBP", "country_code": "GB"}
INCLUSIVE = ing_pb.AccountInfo(**GB, taxes_included=True, tax_rate=0.2)


def _product(pid: int, title: str, price: str, cost: str | None, **kw: Any) -> dict[str, Any]:
    variant = {"id": pid * 10 + 1, "sku": f"SKU-{pid}", "price": price, **kw}
    if cost is not None:
        variant["inventory_item"] = {"cost": cost}
    return {"id": pid, "title": title, "product_type": "apparel", "updated_at": T,
            "variants": [variant]}  # fmt: skip


def _order(oid: int, pid: int, qty: int, price: str, tax: str | None) -> dict[str, Any]:
    line = {
        "id": oid * 10, "product_id": pid, "variant_id": pid * 10 + 1, "sku": f"SKU-{pid}",
        "product_type": "apparel", "quantity": qty, "price": price, "total_discount": "0.00",
        "tax_lines": [] if tax is None else [{"title": "VAT", "rate": 0.2, "price": tax}],
    }  # fmt: skip
    return {
        "id": oid, "currency": "GBP", "financial_status": "paid", "taxes_included": True,
        "processed_at": T, "created_at": T, "updated_at": T,
        "shipping_address": {"country_code": "GB", "province_code": "ENG"},
        "line_items": [line], "refunds": [],
    }  # fmt: skip


# A jacket at 120.00 incl. 20% VAT (cost 40), a zero-rated kids' jacket at 50.00 (taxable
# false: no VAT in its price, cost 25), a scarf at 60.00 incl. VAT with no cost entered.
CATALOGUE = [
    _product(101, "Jacket", "120.00", "40.00", taxable=True),
    _product(102, "Kids jacket", "50.00", "25.00", taxable=False),
    _product(103, "Scarf", "60.00", None),
]
ORDERS = [
    _order(1, 101, 1, "120.00", "20.00"),
    _order(2, 102, 1, "50.00", None),
    _order(3, 103, 2, "60.00", "20.00"),
]


def _ingest(
    stub: ing_grpc.IngestionServiceStub, source: int, batch: str, rows: list[Any],
    account: ing_pb.AccountInfo,
) -> Any:  # fmt: skip
    request = ing_pb.IngestRequest(
        org_id=ORG, source=source, batch_id=batch, json_rows=[json.dumps(r) for r in rows],
        account=account,
    )  # fmt: skip
    (ack,) = list(stub.Ingest(iter([request])))
    return ack


def _products(memory: memory_grpc.MemoryServiceStub) -> pd.DataFrame:
    """Per product: units, net sales, net unit price (the orders), list price and unit cost
    (the catalogue), and the cost the product analysis uses."""
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    sales, cat = table_to_frame(reply.sales), table_to_frame(reply.catalogue)
    out = sales.groupby("product_id")[["units", "net_sales"]].sum()
    out["unit_price"] = out["net_sales"] / out["units"]
    cat = cat.set_index("product_id")
    out["list_price"] = cat["list_price"]
    warnings: list[str] = []
    out["cost"] = _unit_costs(cat, sales, cat["category"], sorted(cat.index), warnings)
    return out.round(4)


def test_a_tax_inclusive_shops_catalogue_and_orders_meet_on_net_prices(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    ack = _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, "c1", CATALOGUE, INCLUSIVE)
    assert (ack.accepted_count, ack.rejected_count) == (3, 0)
    ack = _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_ORDERS, "o1", ORDERS, INCLUSIVE)
    assert (ack.accepted_count, ack.rejected_count) == (3, 0)
    got = _products(memory)
    # the catalogue's price is each product's net unit price in its orders: 120 / 1.2, and the
    # zero-rated jacket's as given
    assert got["net_sales"].to_dict() == {"101": 100.0, "102": 50.0, "103": 100.0}
    assert got["list_price"].to_dict() == {"101": 100.0, "102": 50.0, "103": 50.0}
    assert (got["list_price"] == got["unit_price"]).all()
    # the scarf's cost: the median of 40/100 and 25/50 times 50 = 22.50 (with the VAT in the
    # catalogue it was the median of 40/120 and 25/50 times 60 = 25.00)
    assert got["cost"].to_dict() == {"101": 40.0, "102": 25.0, "103": 22.5}


def test_without_the_accounts_setting_the_catalogue_is_read_as_given(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """The products endpoint does not say its prices hold tax: an account that does not say
    either keeps them as they are (right for a tax-exclusive shop); orders still say it."""
    ingestion, memory = stubs
    account = ing_pb.AccountInfo(**GB)
    _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, "c1", CATALOGUE, account)
    _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_ORDERS, "o1", ORDERS, account)
    got = _products(memory)
    assert got["list_price"].to_dict() == {"101": 120.0, "102": 50.0, "103": 60.0}
    assert got["unit_price"].to_dict() == {"101": 100.0, "102": 50.0, "103": 50.0}
    assert got["cost"].to_dict() == {"101": 40.0, "102": 25.0, "103": 25.0}


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (ing_pb.AccountInfo(**GB, taxes_included=True), "needs the rate its prices hold"),
        (ing_pb.AccountInfo(**GB, taxes_included=True, tax_rate=1.2), "not a fraction in [0, 1)"),
        (ing_pb.AccountInfo(**GB, tax_rate=-0.2), "not a fraction in [0, 1)"),
    ],
)
def test_a_tax_inclusive_catalogue_without_a_usable_rate_is_refused_naming_the_field(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
    account: ing_pb.AccountInfo,
    message: str,
) -> None:
    """No rate is assumed: the request is refused, naming account.tax_rate, and nothing is
    stored."""
    ingestion, memory = stubs
    with pytest.raises(grpc.RpcError) as err:
        _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, "c1", CATALOGUE, account)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "account.tax_rate" in str(err.value.details()) + str(err.value.trailing_metadata())
    assert message in str(err.value.details()) + str(err.value.trailing_metadata())
    with pytest.raises(grpc.RpcError) as none:
        memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    assert none.value.code() == grpc.StatusCode.NOT_FOUND


def test_orders_need_no_rate_from_the_account(
    stubs: tuple[ing_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """An order carries its own taxes_included and tax_lines: taxes_included on the account
    without a rate refuses only the catalogue."""
    ingestion, _ = stubs
    account = ing_pb.AccountInfo(**GB, taxes_included=True)
    ack = _ingest(ingestion, common_pb.DATA_SOURCE_SHOPIFY_ORDERS, "o1", ORDERS, account)
    assert (ack.accepted_count, ack.rejected_count) == (3, 0)


@pytest.fixture
def addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Real memory and ingestion servers the CLI is pointed at; yields memory's address."""
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path / "data") as services:
        monkeypatch.setenv("LIFTOS_INGESTION_ADDR", services["ingestion"].address)
        monkeypatch.setenv("LIFTOS_MEMORY_ADDR", services["memory"].address)
        yield services["memory"].address


def test_the_cli_sends_the_shops_tax_setting(
    addresses: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "products.ndjson"
    export.write_text("".join(json.dumps(p) + "\n" for p in CATALOGUE))
    argv = ["ingest", "--org", ORG, "--source", "shopify_products", "--timezone",
            "Europe/London", "--currency", "GBP", "--country", "GB", "--taxes-included", "true"]  # fmt: skip
    # no rate: refused, naming the field (nothing stored)
    assert cli.main([*argv, str(export)]) != 0
    assert "account.tax_rate" in capsys.readouterr().err
    assert cli.main([*argv, "--tax-rate", "0.2", "--json", str(export)]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 3
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(addresses))
    reply = memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG))
    prices = table_to_frame(reply.catalogue).set_index("product_id")["list_price"]
    assert prices.round(4).to_dict() == {"101": 100.0, "102": 50.0, "103": 50.0}
