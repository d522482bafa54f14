"""The platforms' product reports (Google shopping_performance_view, Meta by product_id): the
simulator's spend per product comes back through the connectors, a repeated pull adds
nothing, a restated day replaces the old one, a bad row costs only itself."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest

import sim
from ingestion_svc.connectors.product_reports import (
    latest,
    normalise_google_shopping,
    normalise_meta_products,
)
from ingestion_svc.parse import parse_json_rows
from ingestion_svc.raw_batch import Account


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate(
        "products", seed=5, days=40, n_geos=3, products=3, product_orders_per_day=20.0
    )


def _accounts(world: sim.SimResult) -> dict[str, Account]:
    camps = world.truth["products"]["orgs"]["org_001"]["campaigns"]
    ids = {c["source"]: c["account_id"] for c in camps}
    return {s: Account(account_id=a, currency="USD", country="US") for s, a in ids.items()}


def _pull(source: str, lines: list[str], account: Account, base: int) -> Any:
    rows, _, rej = parse_json_rows(lines)
    fn = normalise_google_shopping if source == "google_ads" else normalise_meta_products
    out = fn(rows, account, version_base=base)
    return out.frame, rej + out.rejections


@pytest.mark.parametrize(
    ("source", "channel"), [("google_ads", "google_shopping"), ("meta", "meta_catalogue")]
)
def test_spend_per_product_matches_the_simulator(
    world: sim.SimResult, source: str, channel: str
) -> None:
    assert world.products is not None
    lines = [json.dumps(r) for r in world.products.report_rows(source)]
    account = _accounts(world)[source]
    first, rej1 = _pull(source, lines, account, 0)
    again, rej2 = _pull(source, lines[: len(lines) // 3], account, 10_000_000)
    assert rej1 == [] and rej2 == []
    frame = latest([first, again])
    assert len(frame) == len(lines)
    got = frame.groupby("product_id")["spend"].sum()
    want = world.products.panel.groupby("product_id")[f"spend_{channel}"].sum()
    want = want[want > 0]
    pd.testing.assert_index_equal(got.index.sort_values(), want.index.sort_values())
    for pid, v in want.items():
        assert got[pid] == pytest.approx(v, abs=0.05)
    assert set(frame["channel"]) == {channel}
    assert frame["variant_id"].str.len().gt(0).all()


def test_a_restated_day_replaces_and_a_bad_row_is_alone(world: sim.SimResult) -> None:
    assert world.products is not None
    rows = list(world.products.report_rows("google_ads"))[:20]
    account = _accounts(world)["google_ads"]
    restated = copy.deepcopy(rows[0])
    restated["metrics"]["costMicros"] = "1230000"
    bad = copy.deepcopy(rows[1])
    bad["metrics"]["costMicros"] = "12.5 USD"
    foreign = copy.deepcopy(rows[2])
    foreign["customer"]["id"] = "1111111111"
    first, _ = _pull("google_ads", [json.dumps(r) for r in rows], account, 0)
    second, rej = _pull(
        "google_ads", [json.dumps(r) for r in (restated, bad, foreign)], account, 100
    )
    assert {(r.row_index, r.field, r.reason) for r in rej} == {
        (1, "metrics.costMicros", "invalid_number"),
        (2, "customer.id", "wrong_account"),
    }
    frame = latest([first, second])
    assert len(frame) == 20
    key = second["natural_key"].iloc[0]
    assert frame.loc[frame["natural_key"] == key, "spend"].item() == pytest.approx(1.23)


def test_an_item_id_without_its_variant_names_the_product(world: sim.SimResult) -> None:
    """R9-F1: a feed keyed by product (``shopify_US_<product id>``, no variant) names the
    product, as ``shopify_US_<product id>_<variant id>`` does; any other id is kept as is."""
    assert world.products is not None
    rows = list(world.products.report_rows("google_ads"))[:3]
    account = _accounts(world)["google_ads"]
    item = rows[0]["segments"]["productItemId"]
    pid, vid = item.split("_")[2:]
    rows[0]["segments"]["productItemId"] = f"shopify_US_{pid}"
    rows[1]["segments"]["productItemId"] = vid
    frame, rej = _pull("google_ads", [json.dumps(r) for r in rows], account, 0)
    assert rej == []
    got = frame.set_index("row")[["product_id", "variant_id"]]
    assert tuple(got.loc[0]) == (pid, "")
    assert tuple(got.loc[1]) == (vid, "")  # a bare variant id: matched at ingest, not here


def test_a_pmax_campaign_s_rows_take_the_campaign_export_s_channel(world: sim.SimResult) -> None:
    """R25-F7: shopping_performance_view reports Performance Max campaigns beside Shopping
    ones; their rows are ``google_pmax``, the name the campaign export (google_ads.CHANNELS)
    gives the same campaign, not ``google_shopping``. A row without the type stays Shopping."""
    assert world.products is not None
    rows = copy.deepcopy(list(world.products.report_rows("google_ads"))[:3])
    rows[0]["campaign"]["advertisingChannelType"] = "PERFORMANCE_MAX"
    del rows[1]["campaign"]["advertisingChannelType"]
    frame, rej = _pull(
        "google_ads", [json.dumps(r) for r in rows], _accounts(world)["google_ads"], 0
    )
    assert rej == []
    assert frame.set_index("row")["channel"].to_dict() == {
        0: "google_pmax",
        1: "google_shopping",
        2: "google_shopping",
    }
