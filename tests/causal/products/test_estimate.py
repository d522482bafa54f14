"""Product estimates against the simulator's planted truth, and their input checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import sim
from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.products import ProductEffects, estimate_products
from sim.products import PRODUCT_CHANNELS


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, dict[str, Any], ProductEffects]:
    r = sim.simulate("products", seed=0, n_geos=3, dirt=False)
    assert r.products is not None
    with threadpool_limits(1):
        est = estimate_products(r.products.panel, channels=PRODUCT_CHANNELS)
    return r.products.panel, r.products.truth["orgs"]["org_001"], est


def test_channel_category_revenue_tracks_the_planted_truth(world: Any) -> None:
    _, truth, est = world
    errors, covered = [], []
    for c in est.cells:
        cell = truth["incremental"][c.channel]["categories"][c.category]
        if cell["share_of_revenue"] < 0.10:
            continue
        t = cell["incremental_revenue"]
        errors.append(abs(c.incremental_revenue - t) / t)
        covered.append(c.conf_low <= t <= c.conf_high)
    assert len(errors) >= 5
    assert np.median(errors) < 0.15
    assert np.mean(covered) >= 0.7


def test_cells_without_spend_report_nothing_and_margin_follows_revenue(world: Any) -> None:
    """A cell's margin is its revenue times the margin rate of its own lift, which reads the
    truth's rate of the extra sales at least as well as the category's average rate does."""
    panel, truth, est = world
    own_error, category_error = [], []
    for c in est.cells:
        if c.spend == 0:
            assert c.incremental_revenue == 0 and c.stderr == 0
            continue
        rows = panel[panel["category"] == c.category]
        rate = 1 - (rows["cost"] * rows["units"]).sum() / rows["revenue"].sum()
        own = c.incremental_margin / c.incremental_revenue
        assert c.margin_low <= c.incremental_margin <= c.margin_high
        assert c.margin_low == pytest.approx(c.conf_low * own)
        assert c.margin_high == pytest.approx(c.conf_high * own)
        assert abs(own - rate) < 0.1  # a weighing of the category's own product-day rates
        t = truth["incremental"][c.channel]["categories"][c.category]
        if t["incremental_revenue"] > 0:
            true_rate = t["incremental_margin"] / t["incremental_revenue"]
            assert rate == pytest.approx(true_rate, abs=0.05)
            own_error.append(abs(own - true_rate))
            category_error.append(abs(rate - true_rate))
    assert own_error and np.mean(own_error) <= np.mean(category_error)


def test_cannibalisation_has_the_planted_sign_and_nulls_stay_quiet(world: Any) -> None:
    _, truth, est = world
    pairs = {(p.promoted, p.affected): p for p in est.pairs}
    signs, quiet = [], []
    for pr in truth["pairs"]:
        e = pairs.get((pr["promoted"], pr["affected"]))
        if e is None:
            continue
        if pr["kind"] == "cannibalisation" and abs(pr["share_of_promoted_lift"]) >= 0.1:
            signs.append(e.revenue < 0)
        elif pr["kind"] == "none":
            quiet.append(e.verdict != "cannibalisation")
            assert e.conf_low <= e.revenue <= e.conf_high
    assert len(signs) >= 3 and np.mean(signs) >= 0.8
    assert len(quiet) >= 10 and np.mean(quiet) >= 0.9


def test_bad_panels_name_the_field(world: Any) -> None:
    panel = world[0]
    with pytest.raises(InvalidSpec) as err:
        estimate_products(panel.drop(columns=["cost"]), channels=PRODUCT_CHANNELS)
    assert err.value.field == "cost"
    with pytest.raises(InvalidSpec) as err:
        estimate_products(panel, channels=("tiktok_shop",))
    assert err.value.field == "spend_tiktok_shop"
    broken = panel.astype({"revenue": object})
    broken.loc[3, "revenue"] = "n/a"
    with pytest.raises(InvalidSpec) as err:
        estimate_products(broken, channels=PRODUCT_CHANNELS)
    assert err.value.field == "revenue"
    with pytest.raises(InvalidSpec):
        estimate_products(panel, channels=PRODUCT_CHANNELS, alpha=1.5)
    short = panel[pd.to_datetime(panel["date"]) < pd.Timestamp("2023-08-15")]
    with pytest.raises(InsufficientData):
        estimate_products(short, channels=PRODUCT_CHANNELS)


def test_pairs_into_a_product_launched_mid_window_use_its_days_on_sale() -> None:
    """Seed 4 has two planted cannibalisations of a product launched on day 86. Fitted over
    the whole window, its zero revenue before the launch pulled its seasonal terms into a
    step and both estimates sat one and 1.4 standard errors off the truth; over its days on
    sale they are within a tenth of one."""
    r = sim.simulate("products", seed=4, n_geos=3, dirt=False)
    assert r.products is not None
    truth = r.products.truth["orgs"]["org_001"]
    launched = {c["product_id"] for c in truth["catalogue"] if c["launch_date"] == "2023-09-25"}
    planted = [
        pr
        for pr in truth["pairs"]
        if pr["kind"] == "cannibalisation"
        and abs(pr["share_of_promoted_lift"]) >= 0.1
        and pr["affected"] in launched
    ]
    with threadpool_limits(1):
        est = estimate_products(r.products.panel, channels=PRODUCT_CHANNELS, transform_draws=0)
    pairs = {(p.promoted, p.affected): p for p in est.pairs}
    assert len(planted) == 2
    for pr in planted:
        e = pairs[(pr["promoted"], pr["affected"])]
        assert abs(e.revenue - pr["revenue"]) < 0.5 * e.stderr
