"""build_panel on AggregateProducts' three tables (memory_svc.product_table's columns), built
here by hand: what the panel keeps, names and warns of before any estimate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from causal_svc.product_analysis import NO_CATEGORY, build_panel

START = dt.date(2023, 7, 1)
DAYS = 100
_EPOCH = dt.date(1970, 1, 1)


def _day0() -> int:
    return (START - _EPOCH).days


def _catalogue(types: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": list(types), "category": list(types.values()),
        "title": [f"Title {p}" for p in types], "currency": "USD", "variants": 1,
        "list_price": 50.0, "unit_cost": 20.0,
    })  # fmt: skip


def _sales(types: dict[str, str], per_day: dict[str, float]) -> pd.DataFrame:
    rows = []
    for pid, category in types.items():
        for d in range(DAYS):
            net = per_day[pid]
            rows.append((_day0() + d, pid, category, "USD", 1, 2, 0, net, 0.0, net, 0.0))
    cols = ["date", "product_id", "category", "currency", "line_items", "units",
            "refunded_units", "gross", "discounts", "net_sales", "refunds"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _spend(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """``rows``: (day offset from START, product id, channel, spend)."""
    source = {"meta_catalogue": "meta", "google_shopping": "google_ads"}
    return pd.DataFrame({
        "date": [_day0() + d for d, *_ in rows], "product_id": [r[1] for r in rows],
        "source": [source[r[2]] for r in rows], "channel": [r[2] for r in rows],
        "currency": "USD", "spend": [r[3] for r in rows], "conversions": 0.0, "revenue": 0.0,
        "impressions": np.int64(0), "clicks": np.int64(0),
    })  # fmt: skip


def _daily(pid: str, channel: str, amount: float) -> list[tuple[int, str, str, float]]:
    return [(d, pid, channel, amount) for d in range(DAYS)]


TYPES = {"p1": "Tops", "p2": "Tops", "b1": "", "b2": ""}
PER_DAY = {"p1": 100.0, "p2": 100.0, "b1": 150.0, "b2": 50.0}


def test_products_without_a_product_type_are_a_named_category_and_a_warning() -> None:
    """R25-F5: a product with no product_type (optional in Shopify) was put in a category
    named "", printed as "move ... spend from  to Outerwear", with no warning."""
    spend = _spend(_daily("p1", "meta_catalogue", 10.0) + _daily("b1", "meta_catalogue", 10.0))
    panel = build_panel(_sales(TYPES, PER_DAY), spend, _catalogue(TYPES))
    assert set(panel.categories["category"]) == {"Tops", NO_CATEGORY}
    assert (panel.frame["category"] != "").all()
    by = panel.products.set_index("product_id")["category"]
    assert by["b1"] == by["b2"] == NO_CATEGORY
    (warning,) = [w for w in panel.warnings if "product_type" in w]
    assert warning.startswith("2 products have no product_type")
    assert "20,000 USD of net sales, 50.0% of the total" in warning
    assert "Title b1 (b1), Title b2 (b2)" in warning  # the larger first
    assert NO_CATEGORY in warning


def test_an_order_line_s_product_type_names_a_product_the_catalogue_leaves_blank() -> None:
    types = {"p1": "Tops", "p2": "Tops", "b1": "", "b2": ""}
    sales = _sales({**types, "b1": "Bags", "b2": "Bags"}, PER_DAY)
    spend = _spend(_daily("p1", "meta_catalogue", 10.0))
    panel = build_panel(sales, spend, _catalogue(types))
    assert set(panel.categories["category"]) == {"Tops", "Bags"}
    assert not [w for w in panel.warnings if "product_type" in w]


def test_naming_a_channel_warns_of_the_channels_left_out_of_the_model() -> None:
    """R25-F9: --channel meta_catalogue dropped Google Shopping's spend from the model without
    a word (Meta's return then took Google's sales)."""
    types = {"p1": "Tops", "p2": "Tops"}
    spend = _spend(_daily("p1", "meta_catalogue", 10.0) + _daily("p2", "google_shopping", 30.0))
    sales, catalogue = _sales(types, PER_DAY), _catalogue(types)
    panel = build_panel(sales, spend, catalogue, channels=("meta_catalogue",))
    assert panel.channels == ("meta_catalogue",)
    (warning,) = [w for w in panel.warnings if "left out of the model" in w]
    assert "75% of the window's product spend: google_shopping (spend 3,000 USD)" in warning
    assert "leave channels empty to model every channel" in warning
    every = build_panel(sales, spend, catalogue)
    assert not [w for w in every.warnings if "left out of the model" in w]


def test_report_spend_after_the_last_order_day_is_said_with_its_amount_and_days() -> None:
    """R25-F10: spend dated after the last order line's day was left out silently."""
    types = {"p1": "Tops", "p2": "Tops"}
    late = [(DAYS + 7, "p1", "google_shopping", 50_000.0), (DAYS + 9, "p2", "google_shopping", 5.0)]
    early = [(-3, "p1", "meta_catalogue", 40.0)]
    spend = _spend(_daily("p1", "meta_catalogue", 10.0) + late + early)
    panel = build_panel(_sales(types, PER_DAY), spend, _catalogue(types))
    after = START + dt.timedelta(days=DAYS + 7), START + dt.timedelta(days=DAYS + 9)
    last = START + dt.timedelta(days=DAYS - 1)
    assert (
        f"the product reports' spend from {after[0]} to {after[1]}, after the orders' last day "
        f"{last}, is left out: 50,005 USD (google_shopping 50,005); is the orders export older "
        "than the ad reports?"
    ) in panel.warnings
    assert (
        f"the product reports' spend on {START - dt.timedelta(days=3)}, before the orders' "
        f"first day {START}, is left out: 40 USD (meta_catalogue 40); does the orders export "
        "start later than the ad reports?"
    ) in panel.warnings
    assert panel.channels == ("meta_catalogue",)  # its only spend is on no order day
    assert panel.frame["spend_meta_catalogue"].sum() == pytest.approx(10.0 * DAYS)
