"""The product sources' batch path (ingestion_svc.product_batch) without gRPC: the catalogue
connector, dedupe per unit (an order, a product, a report row) across batches, future days,
and `liftos ingest` reading Shopify's one-document pages."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import sim
from ingestion_svc.connectors.shopify_products import normalise as normalise_catalogue
from ingestion_svc.product_batch import ProductBook, finish_products, prepare_products
from ingestion_svc.raw_batch import Account
from mesh.cli.ingest import read_rows

from .conftest import raw_batch

PULLED = dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC)
SHOP = Account(account_id="shop-1", timezone="America/New_York", currency="USD", country="US")


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("products", seed=4, days=30, n_geos=3, products=2,
                        product_orders_per_day=10.0, dirt=False)  # fmt: skip


def _catalogue(world: sim.SimResult) -> list[dict[str, Any]]:
    assert world.products is not None
    return list(world.products.catalogue_json()["products"])


def test_a_bad_variant_costs_only_itself_and_a_missing_cost_stays_unknown(
    world: sim.SimResult,
) -> None:
    products = copy.deepcopy(_catalogue(world)[:2])
    good = copy.deepcopy(products[0]["variants"][0])
    good["id"] = 99
    del good["inventory_item"]
    products[0]["variants"].append(good)
    products[1]["variants"][0]["price"] = "twelve"
    out = normalise_catalogue(products, SHOP)
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (1, "variants[0].price", "invalid_number")
    ]
    f = out.frame
    assert len(f) == 2 and f["cost"].isna().tolist() == [False, True]
    assert f["natural_key"].iloc[0].startswith("shopify|shop-1|product|")


def _run(source: str, rows: list[dict[str, Any]], book: ProductBook, **kw: Any) -> Any:
    # the report rows carry their own account ids
    account = SHOP if source.startswith("shopify") else Account(timezone=SHOP.timezone)
    batch = raw_batch(source, [json.dumps(r) for r in rows], account, pulled_at=PULLED, **kw)
    return finish_products(prepare_products(batch), book)


def test_units_are_deduplicated_across_batches(world: sim.SimResult) -> None:
    assert world.products is not None
    reports = list(world.products.report_rows("google_ads"))[:30]
    book = ProductBook()
    first = _run("google_ads_shopping", reports, book)
    assert (first.accepted, len(first.records), first.duplicates) == (30, 30, 0)
    again = _run("google_ads_shopping", reports, book, batch_id="b2", row_offset=100)
    assert (again.accepted, len(again.records), again.duplicates) == (30, 0, 30)
    restated = copy.deepcopy(reports[0])
    restated["metrics"]["costMicros"] = "1230000"
    later = _run("google_ads_shopping", [restated], book, batch_id="b3", row_offset=200)
    assert (later.restated, len(later.records)) == (1, 1)
    assert later.records["replaced_version"].iloc[0] > 0
    earlier = copy.deepcopy(reports[1])
    earlier["metrics"]["costMicros"] = "4560000"
    stale = _run("google_ads_shopping", [earlier], book, batch_id="b4", row_offset=0)
    assert [(r.field, r.reason) for r in stale.rejections] == [("$", "stale_version")]
    assert len(stale.records) == 0


def test_a_future_order_is_rejected_whole(world: sim.SimResult) -> None:
    assert world.products is not None
    order = next(o for o in world.products.orders if isinstance(o, dict))
    ahead = copy.deepcopy(order)
    ahead["created_at"] = "2026-02-01T10:00:00-05:00"
    ahead["processed_at"] = "2026-02-01T10:00:00-05:00"  # the day Shopify reports it on
    ahead["updated_at"] = "2026-02-01T10:00:00-05:00"
    out = _run("shopify_orders", [order, ahead], ProductBook())
    assert {(r.row_index, r.field, r.reason) for r in out.rejections} == {
        (1, "processed_at", "future_date")
    }
    assert set(out.records["row"]) == {0} and out.accepted == 1


def test_liftos_ingest_reads_a_shopify_page_document(world: sim.SimResult, tmp_path: Path) -> None:
    path = tmp_path / "products.json"
    path.write_text(json.dumps({"products": _catalogue(world)}, indent=2))
    rows = [json.loads(r) for r in read_rows(path)]
    assert rows == _catalogue(world)
    lines = tmp_path / "orders.json"
    lines.write_text('{"id": 1}\n{"id": 2}\n')  # JSON lines stay lines
    assert list(read_rows(lines)) == ['{"id": 1}', '{"id": 2}']
