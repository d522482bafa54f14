"""The variance-weighted pair equations: compound-Poisson weighting is unbiased and tighter
than ordinary least squares where a product's demand swings, and it touches only the pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import sim
from causal_svc.products import estimate_products
from causal_svc.products.joint import hac as _hac
from causal_svc.products.joint import poisson_wls as _poisson_wls
from sim.products import PRODUCT_CHANNELS


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A product whose baseline swings 1x-6x (season, discount events) and a cross regressor;
    revenue is Poisson line items times a net price of 40 (10% off on discount days)."""
    t = np.arange(n)
    season = 1.0 + 5.0 * (np.sin(2 * np.pi * t / n) > 0.3)
    discount = np.where(season > 1, 0.1, 0.0)
    cross = rng.gamma(2.0, 5.0, n)
    mean = 400.0 * season - 3.0 * cross
    price = 40.0 * (1.0 - discount)
    y = rng.poisson(mean / price) * price
    x = np.column_stack([np.ones(n), season > 1, cross])
    return y, x, discount


def test_weighting_is_unbiased_and_tighter_than_ols_when_demand_swings() -> None:
    rng = np.random.default_rng(7)
    ols, wls = [], []
    with threadpool_limits(1):
        for _ in range(150):
            y, x, discount = _draw(rng, 240)
            ols.append(_hac(y, x, 7)[0][2])
            wls.append(_poisson_wls(y, x, discount, 7)[0][2])
    assert abs(np.mean(wls) + 3.0) < 0.15  # truth -3, Monte Carlo se ~0.05
    assert np.std(wls) < 0.8 * np.std(ols)


def test_weights_stay_finite_on_days_with_no_expected_sales() -> None:
    rng = np.random.default_rng(3)
    y, x, discount = _draw(rng, 200)
    y[:60] = 0.0  # not on sale yet: a launch step takes the level
    x = np.column_stack([x, np.arange(200) >= 60])
    params, bse, _ = _poisson_wls(y, x, discount, 7)
    assert np.isfinite(params).all() and np.isfinite(bse).all() and (bse > 0).all()


def test_weighting_changes_the_pairs_and_leaves_the_cells() -> None:
    r = sim.simulate("products", seed=3, n_geos=3, dirt=False)
    assert r.products is not None
    panel: pd.DataFrame = r.products.panel
    with threadpool_limits(1):
        weighted = estimate_products(panel, channels=PRODUCT_CHANNELS)
        plain = estimate_products(panel, channels=PRODUCT_CHANNELS, weighted=False)
    assert weighted.cells == plain.cells
    w = weighted.pairs_frame().set_index(["promoted", "affected"])
    p = plain.pairs_frame().set_index(["promoted", "affected"])
    assert w.index.equals(p.index)
    assert not np.allclose(w["revenue"], p["revenue"])
    truth = r.products.truth["orgs"]["org_001"]
    planted = [
        (pr["promoted"], pr["affected"])
        for pr in truth["pairs"]
        if pr["kind"] == "cannibalisation" and abs(pr["share_of_promoted_lift"]) >= 0.1
    ]
    assert planted and all(w.loc[k, "revenue"] < 0 for k in planted)


def test_transform_draws_widen_pair_intervals_and_keep_the_estimates() -> None:
    r = sim.simulate("products", seed=5, n_geos=3, dirt=False)
    assert r.products is not None
    with threadpool_limits(1):
        drawn = estimate_products(r.products.panel, channels=PRODUCT_CHANNELS)
        known = estimate_products(r.products.panel, channels=PRODUCT_CHANNELS, transform_draws=0)
    d = drawn.pairs_frame().set_index(["promoted", "affected"])
    k = known.pairs_frame().set_index(["promoted", "affected"])
    assert d.index.equals(k.index)
    np.testing.assert_allclose(d["revenue"], k["revenue"])
    assert (d["stderr"] >= k["stderr"] - 1e-9).all()
    assert (d["stderr"] > 1.01 * k["stderr"]).mean() > 0.5
    assert drawn.cells == known.cells
    # The channel x product cells are rebuilt in every draw too: same estimates, wider.
    dp = drawn.products_frame().set_index(["channel", "product_id"])
    kp = known.products_frame().set_index(["channel", "product_id"])
    assert dp.index.equals(kp.index)
    np.testing.assert_allclose(dp["incremental_revenue"], kp["incremental_revenue"])
    assert (dp["stderr"] >= kp["stderr"] - 1e-9).all()
    assert (dp["stderr"] > 1.05 * kp["stderr"]).mean() > 0.5
