"""The product layer: determinism, the base world untouched, exports that add up to the truth,
native shapes, and a truth whose parts are consistent."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.products import PRODUCT_CHANNELS


def _small(seed: int = 3, **kw: object) -> sim.SimResult:
    return sim.simulate("products", seed=seed, days=60, n_geos=4, product_orders_per_day=40.0, **kw)


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return _small()


def test_same_seed_same_world_and_other_seed_differs(world: sim.SimResult) -> None:
    again = _small()
    assert again.products is not None and world.products is not None
    pd.testing.assert_frame_equal(again.products.panel, world.products.panel)
    assert json.dumps(again.truth["products"]) == json.dumps(world.truth["products"])
    assert list(again.products.orders[:50]) == list(world.products.orders[:50])
    other = _small(seed=4)
    assert other.products is not None
    assert not other.products.panel["revenue"].equals(world.products.panel["revenue"])


def test_products_leave_the_base_world_unchanged(world: sim.SimResult) -> None:
    base = _small(products=0)
    assert base.products is None and "products" not in base.truth
    pd.testing.assert_frame_equal(base.panel, world.panel)
    pd.testing.assert_frame_equal(base.outcomes, world.outcomes)
    assert list(base.raw["meta"][:200]) == list(world.raw["meta"][:200])
    same = {k: v for k, v in world.truth.items() if k not in ("products", "config")}
    assert json.dumps(same) == json.dumps({k: v for k, v in base.truth.items() if k != "config"})


def _latest_orders(lines: list[object], dirty: list[dict[str, object]]) -> dict[int, dict]:
    """What a correct ingestion keeps: parseable lines, the latest version of each order."""
    drop = {d["index"] for d in dirty if d["action"] == "drop"}
    kept: dict[int, dict] = {}
    for i, row in enumerate(lines):
        if i in drop:
            continue
        assert isinstance(row, dict), f"line {i} is not an order but is not listed as dirty"
        old = kept.get(row["id"])
        assert old is None or old["updated_at"] <= row["updated_at"]
        kept[row["id"]] = row
    return kept


def test_orders_add_up_to_truth_and_panel(world: sim.SimResult) -> None:
    pw = world.products
    assert pw is not None
    truth = world.truth["products"]["orgs"]["org_001"]
    kept = _latest_orders(list(pw.orders), truth["dirty_rows"])
    kinds = {d["kind"] for d in truth["dirty_rows"]}
    assert {"superseded", "restated"} <= kinds
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    statuses = set()
    for order in kept.values():
        statuses.add(order["financial_status"])
        assert order["currency"] == "USD"
        for li in order["line_items"]:
            s = sums[str(li["product_id"])]
            s["gross"] += float(li["price"]) * li["quantity"]
            s["discounts"] += float(li["total_discount"])
            s["units"] += li["quantity"]
        for refund in order["refunds"]:
            for rli in refund["refund_line_items"]:
                sums[str(rli["line_item"]["product_id"])]["refunds"] += float(rli["subtotal"])
    assert {"paid", "refunded", "partially_refunded"} <= statuses
    for pid, t in truth["totals"].items():
        s = sums[pid]
        assert s["units"] == t["units"]
        assert s["gross"] == pytest.approx(t["gross"], abs=0.01)
        assert s["discounts"] == pytest.approx(t["discounts"], abs=0.01)
        assert s["refunds"] == pytest.approx(t["refunds"], abs=0.01)
        net = s["gross"] - s["discounts"] - s["refunds"]
        assert net == pytest.approx(t["net_revenue"], abs=0.01)
    by_product = pw.panel.groupby("product_id")[["revenue", "units"]].sum()
    for pid, t in truth["totals"].items():
        assert by_product.loc[pid, "revenue"] == pytest.approx(t["net_sales"], abs=0.05)
        assert by_product.loc[pid, "units"] == t["units"]


def test_partial_refund_refunds_part_of_an_order(world: sim.SimResult) -> None:
    pw = world.products
    assert pw is not None
    partial = [
        o
        for o in pw.orders
        if isinstance(o, dict) and o["financial_status"] == "partially_refunded"
    ]
    assert partial
    o = partial[0]
    refunded = sum(float(r["subtotal"]) for f in o["refunds"] for r in f["refund_line_items"])
    assert 0 < refunded < float(o["total_price"])
    assert o["refunds"][0]["transactions"][0]["amount"] == f"{refunded:.2f}"


def test_platform_reports_are_native_and_match_spend(world: sim.SimResult) -> None:
    pw = world.products
    assert pw is not None
    g = list(pw.report_rows("google_ads"))
    m = list(pw.report_rows("meta"))
    assert g and m
    assert g[0]["campaign"]["advertisingChannelType"] == "SHOPPING"
    assert g[0]["segments"]["productItemId"].startswith("shopify_us_")
    assert isinstance(g[0]["metrics"]["costMicros"], str)
    assert m[0]["product_id"].startswith("shopify_US_") and isinstance(m[0]["spend"], str)
    items = {
        p["item_id"]: p["product_id"]
        for p in world.truth["products"]["orgs"]["org_001"]["catalogue"]
    }
    spend: dict[str, float] = defaultdict(float)
    for row in g:
        pid = items[row["segments"]["productItemId"].replace("shopify_us_", "shopify_US_")]
        spend[pid] += int(row["metrics"].get("costMicros", "0")) / 1e6
    panel = pw.panel.groupby("product_id")["spend_google_shopping"].sum()
    for pid, v in spend.items():
        assert v == pytest.approx(panel[pid], abs=0.05)


def test_truth_cells_are_direct_plus_halo_minus_cannibalised(world: sim.SimResult) -> None:
    t = world.truth["products"]["orgs"]["org_001"]
    for ch in PRODUCT_CHANNELS:
        for cell in t["incremental"][ch]["categories"].values():
            parts = cell["direct_revenue"] + cell["halo_revenue"] - cell["cannibalised_revenue"]
            assert cell["incremental_revenue"] == pytest.approx(parts, abs=0.05)
    kinds = {p["kind"] for p in t["pairs"]}
    assert {"halo", "cannibalisation", "none"} <= kinds
    cann = [p for p in t["pairs"] if p["kind"] == "cannibalisation"]
    assert all(p["revenue"] <= 0 for p in cann)
    assert all(p["revenue"] == 0 for p in t["pairs"] if p["kind"] == "none")


def test_write_adds_product_files_only_when_enabled(world: sim.SimResult, tmp_path: Path) -> None:
    sizes = sim.write(world, tmp_path / "p")
    for name in (
        "shopify_orders.ndjson",
        "google_ads_shopping.ndjson",
        "meta_products.ndjson",
        "products.json",
    ):
        assert sizes[name] > 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert "shopify_orders.ndjson" in manifest["files"]
    first = (tmp_path / "p" / "shopify_orders.ndjson").read_text().splitlines()[0]
    assert json.loads(first)["line_items"]
    base = sim.write(_small(products=0), tmp_path / "b")
    assert "shopify_orders.ndjson" not in base
    assert np.isfinite(world.products.panel["revenue"]).all()  # type: ignore[union-attr]


def test_cli_products_flag_writes_the_product_files(tmp_path: Path) -> None:
    from sim.cli import main

    out = tmp_path / "cli"
    code = main(
        ["simulate", "--scenario", "demo", "--days", "30", "--geos", "3", "--products", "2",
         "--no-dirt", "--quiet", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    truth = json.loads((out / "truth.json").read_text())
    assert len({p["category"] for p in truth["products"]["orgs"]["org_001"]["catalogue"]}) == 2
    assert (out / "google_ads_shopping.ndjson").stat().st_size > 0
    assert main(["simulate", "--scenario", "demo", "--products", "9", "--out", str(out)]) == 2
