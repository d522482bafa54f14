"""The incremental margin net of refunds (issue 20): a category that refunds 12% more of its
sales keeps that much less of the margin its extra sales bring."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import sim
from causal_svc.products import ProductEffects, estimate_products
from sim.products import PRODUCT_CHANNELS

PLANTED = 0.12  # extra share of the category's line items refunded whole


@pytest.fixture(scope="module")
def refunded() -> tuple[pd.DataFrame, dict[str, Any], str, ProductEffects]:
    """Seed 0's panel with one category's line items refunded whole at ``PLANTED`` on top of
    the simulator's own refunds (drawn per product-day, binomial in its line items)."""
    r = sim.simulate("products", seed=0, n_geos=3, dirt=False)
    assert r.products is not None
    panel = r.products.panel.copy()
    truth = r.products.truth["orgs"]["org_001"]
    category = max(truth["category_revenue"], key=truth["category_revenue"].get)
    rows = (panel["category"] == category).to_numpy()
    items = panel.loc[rows, "line_items"].to_numpy()
    back = np.random.default_rng(7).binomial(items, PLANTED)
    share = np.divide(back, items, out=np.zeros(len(items)), where=items > 0)
    panel.loc[rows, "refunds"] += np.round(panel.loc[rows, "revenue"].to_numpy() * share, 2)
    with threadpool_limits(1):
        est = estimate_products(panel, channels=PRODUCT_CHANNELS)
    return panel, truth, category, est


def test_net_margin_is_the_margin_less_the_categorys_refund_rate(refunded: Any) -> None:
    panel, truth, category, est = refunded
    sums = panel.groupby("category")[["refunds", "revenue"]].sum()
    rates = sums["refunds"] / sums["revenue"]
    # the planted category refunds its own ~4.7% and the planted 12% on top
    assert rates[category] == pytest.approx(truth["refund_share"][category] + PLANTED, abs=0.01)
    for other, rate in rates.drop(category).items():
        assert rate == pytest.approx(truth["refund_share"][other], rel=0.15)
    checked = 0
    for c in est.cells:
        if c.spend == 0:
            assert c.net_margin == c.net_margin_low == c.net_margin_high == 0
            continue
        keep = 1 - rates[c.category]
        assert c.refund_rate == pytest.approx(rates[c.category])
        assert 0 < c.refund_rate_stderr < 0.01
        assert c.net_margin == pytest.approx(c.incremental_margin * keep)
        assert (c.net_margin_low, c.net_margin_high) == pytest.approx(
            (c.margin_low * keep, c.margin_high * keep)
        )
        assert c.net_margin_low <= c.net_margin <= c.net_margin_high
        if c.category != category:
            continue
        # the planted category: what it keeps of the truth's margin lies in the net interval,
        # and the margin before refunds overstates it by more than the planted share
        t = truth["incremental"][c.channel]["categories"][category]["incremental_margin"]
        kept = t * (1 - truth["refund_share"][category] - PLANTED)
        assert c.net_margin_low <= kept <= c.net_margin_high
        assert c.incremental_margin > c.net_margin / (1 - PLANTED)
        checked += 1
    assert checked >= 2


def test_a_panel_without_refunds_keeps_the_whole_margin(refunded: Any) -> None:
    panel, _, _, _ = refunded
    with threadpool_limits(1):
        est = estimate_products(
            panel.drop(columns=["refunds"]), channels=PRODUCT_CHANNELS, transform_draws=0
        )
    for c in est.cells:
        assert c.refund_rate == 0 and c.net_margin == c.incremental_margin
