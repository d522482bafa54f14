"""Shopify orders: line items, full and partial refunds, restatements, duplicate pulls and bad
rows, checked against the simulator's product truth."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest

import sim
from ingestion_svc.connectors import PRODUCT_CONNECTORS
from ingestion_svc.connectors.shopify_orders import OrderBook, normalise
from ingestion_svc.parse import parse_json_rows
from ingestion_svc.raw_batch import Account

SHOP = Account(account_id="northwind.myshopify.com", currency="USD", country="US")


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate(
        "products", seed=11, days=45, n_geos=4, products=3, product_orders_per_day=30.0
    )


def _lines(world: sim.SimResult) -> list[str]:
    assert world.products is not None
    return [r if isinstance(r, str) else json.dumps(r) for r in world.products.orders]


def _ingest(book: OrderBook, lines: list[str], batch: int = 400) -> list[Any]:
    rejections = []
    for start in range(0, len(lines), batch):
        rows, _, parse_rej = parse_json_rows(lines[start : start + batch], first_index=start)
        out = normalise(rows, SHOP)
        rejections += parse_rej + out.rejections + book.apply(out)
    return rejections


def test_export_with_refunds_and_a_duplicate_pull_adds_up_to_the_truth(
    world: sim.SimResult,
) -> None:
    truth = world.truth["products"]["orgs"]["org_001"]
    lines = _lines(world)
    book = OrderBook()
    rejections = _ingest(book, lines)
    # A second pull overlapping the first: the same orders again, nothing may count twice.
    rejections += _ingest(book, lines[: len(lines) // 2])
    malformed = [d for d in truth["dirty_rows"] if d["kind"] == "malformed_json"]
    assert len([r for r in rejections if r.reason == "malformed"]) == 2 * len(
        [d for d in malformed if d["index"] < len(lines) // 2]
    ) + len([d for d in malformed if d["index"] >= len(lines) // 2])
    assert all(r.reason in ("malformed", "stale_version") for r in rejections)
    assert book.counts["restated"] >= 1 and book.counts["duplicate"] >= len(lines) // 2 - 50
    totals = book.product_totals().loc["USD"]
    assert set(totals.index) == {p for p, t in truth["totals"].items() if t["units"]}
    for pid, t in truth["totals"].items():
        if not t["units"]:
            continue
        got = totals.loc[pid]
        assert got["units"] == t["units"]
        assert got["gross"] == pytest.approx(t["gross"], abs=0.01)
        assert got["discounts"] == pytest.approx(t["discounts"], abs=0.01)
        assert got["refunds"] == pytest.approx(t["refunds"], abs=0.01)
        assert got["net_revenue"] == pytest.approx(t["net_revenue"], abs=0.01)
    refunded = book.frame()
    partial = refunded[
        (refunded["refunded_quantity"] > 0) & (refunded["refunded_quantity"] < refunded["quantity"])
    ]
    assert not partial.empty or (refunded["refunded_quantity"] > 0).any()


def _order(world: sim.SimResult, status: str) -> dict[str, Any]:
    assert world.products is not None
    for row in world.products.orders:
        if (
            isinstance(row, dict)
            and row["financial_status"] == status
            and len(row["line_items"]) > 1
        ):
            return copy.deepcopy(row)
    for row in world.products.orders:
        if isinstance(row, dict) and row["financial_status"] == status:
            return copy.deepcopy(row)
    raise AssertionError(f"no {status} order in the export")


def test_a_stale_resend_is_rejected_and_the_refund_stays(world: sim.SimResult) -> None:
    new = _order(world, "partially_refunded")
    old = copy.deepcopy(new)
    old["refunds"] = []
    old["financial_status"] = "paid"
    old["updated_at"] = old["created_at"]
    book = OrderBook()
    _ingest(book, [json.dumps(new)])
    rej = _ingest(book, [json.dumps(old)])
    assert [(r.field, r.reason) for r in rej] == [("updated_at", "stale_version")]
    f = book.frame()
    assert f["refund_amount"].sum() > 0
    assert f["net_revenue"].sum() < f["revenue"].sum()
    assert (f["refunded_quantity"] <= f["quantity"]).all()


def test_one_bad_line_costs_only_itself(world: sim.SimResult) -> None:
    order = _order(world, "paid")
    good = len(order["line_items"])
    extra = copy.deepcopy(order["line_items"][0])
    extra["id"] = 1
    extra["price"] = "$12.00"
    missing = copy.deepcopy(order["line_items"][0])
    missing["id"] = 2
    del missing["product_id"]
    order["line_items"] += [extra, missing]
    order["refunds"] = [
        {"id": 9, "refund_line_items": [{"line_item_id": 777, "quantity": 1, "subtotal": "1.00"}]}
    ]
    foreign = copy.deepcopy(_order(world, "paid"))
    foreign["id"] = 42
    foreign["currency"] = "CAD"
    wrong = copy.deepcopy(foreign)
    wrong["id"] = 43
    wrong["currency"] = "XYZ"
    undated = copy.deepcopy(foreign)
    undated["id"] = 44
    undated["processed_at"] = "yesterday"  # the day Shopify reports the order on
    book = OrderBook()
    rej = _ingest(book, [json.dumps(o) for o in (order, foreign, wrong, undated)])
    got = {(r.row_index, r.field, r.reason) for r in rej}
    assert got == {
        (0, f"line_items[{good}].price", "invalid_number"),
        (0, "refunds[0].refund_line_items[0].line_item_id", "missing_field"),
        (1, "currency", "unknown_currency"),  # CAD in a USD account
        (2, "currency", "unknown_currency"),
        (3, "processed_at", "invalid_date"),
    }
    f = book.frame()
    # the line with no product id (a product deleted since) is kept under a stand-in product
    assert (f["order_id"] == str(order["id"])).sum() == good + 1
    assert (f["product_id"] == "deleted:" + missing["sku"]).sum() == 1
    assert set(book.product_totals().index.get_level_values("currency")) == {"USD"}
    # An account that names no currency: each order keeps its own, never mixed into another.
    book = OrderBook()
    for i, o in enumerate((order, foreign)):
        book.apply(normalise([o], Account(account_id=SHOP.account_id, country="US")))
        assert book.frame()["currency"].iloc[-1] == ("USD", "CAD")[i]
    assert set(book.product_totals().index.get_level_values("currency")) == {"USD", "CAD"}


def test_the_registry_names_the_product_connectors() -> None:
    assert set(PRODUCT_CONNECTORS) == {"shopify_orders", "google_ads_shopping", "meta_products"}


def test_the_product_panel_from_the_connectors_is_the_simulators(world: sim.SimResult) -> None:
    """Orders, product reports and the catalogue through the connectors give the product x day
    panel the causal estimate reads, equal to the simulator's."""
    from ingestion_svc.connectors.product_panel import catalogue_costs, product_panel
    from ingestion_svc.connectors.product_reports import (
        latest,
        normalise_google_shopping,
        normalise_meta_products,
    )
    from sim.products import PRODUCT_CHANNELS

    assert world.products is not None
    book = OrderBook()
    _ingest(book, _lines(world))
    camps = world.truth["products"]["orgs"]["org_001"]["campaigns"]
    ids = {c["source"]: c["account_id"] for c in camps}
    frames: list[pd.DataFrame] = []
    for source, fn in (
        ("google_ads", normalise_google_shopping),
        ("meta", normalise_meta_products),
    ):
        rows = list(world.products.report_rows(source))
        acct = Account(account_id=ids[source], currency="USD", country="US")
        frames.append(fn(rows, acct, version_base=len(frames) * 10**7).frame)
    cat = catalogue_costs(world.products.catalogue_json()["products"])
    panel = product_panel(book.frame(), latest(frames), cat, PRODUCT_CHANNELS)
    want = world.products.panel.assign(date=lambda f: pd.to_datetime(f["date"]))
    merged = want.merge(panel, on=["product_id", "date"], suffixes=("", "_in"), how="outer")
    assert len(merged) == len(want) == len(panel)
    for col in (
        "line_items",
        "units",
        "gross",
        "discounts",
        "revenue",
        "cost",
        "category",
        *(f"spend_{c}" for c in PRODUCT_CHANNELS),
    ):
        if merged[col].dtype.kind == "f":
            assert (merged[col] - merged[f"{col}_in"]).abs().max() < 0.011, col
        else:
            assert (merged[col] == merged[f"{col}_in"]).all(), col
