"""The macro detector's national orders with a geo's rows lost (audit R50 F2's follow-up): a
geo-day without a first-party row on a day the other geos have them is missing, as the fit
reads it (the geo's usual ratio to the geos present), not zero orders. Read as zero, the
largest geo's lost fortnight dipped the national orders by its share and moved the effect
and the flagged days (here: 115 -> 189 of 366 days flagged, effect 0.029 -> 0.045)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.confounders_macro import detect_macro_shock, first_party_orders
from mesh.runtime.aggregates import sum_column
from tests.causal.test_confounders_macro import DAYS, _index, _orders

ORDERS = sum_column("generic", "first_party", "conversions")
SPEND = sum_column("meta", "meta_prospecting", "spend")


def _geo_days(rng: np.random.Generator, national: np.ndarray) -> pd.DataFrame:
    """Memory's wide geo × day sums: ten geos splitting the national orders by fixed shares
    (the largest a fifth), and paid spend on every geo-day."""
    shares = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.09, 0.07, 0.07, 0.05, 0.05])
    orders = rng.binomial(national.astype(np.int64)[None, :], shares[:, None] / shares.sum())
    geos = [f"US-G{g}" for g in range(len(shares))]
    return pd.DataFrame({
        "date": np.tile(DAYS.astype(np.int64), len(geos)),
        "geo": np.repeat(geos, DAYS.size),
        ORDERS: orders.ravel().astype(np.float64),
        SPEND: 100.0,
    })  # fmt: skip


def test_a_large_geos_lost_fortnight_does_not_move_the_macro_finding() -> None:
    rng = np.random.default_rng(1)
    index = _index(rng, DAYS.size)
    geo_days = _geo_days(rng, _orders(rng, index, 0.03, 20_000.0))
    whole = detect_macro_shock(DAYS, index, *first_party_orders(geo_days))
    # the largest geo's first-party rows are missing for 14 days (its media rows remain)
    lost = geo_days["geo"].eq("US-G0") & geo_days["date"].between(
        DAYS[150].astype(np.int64), DAYS[163].astype(np.int64)
    )
    days, orders = first_party_orders(
        geo_days.assign(**{ORDERS: np.where(lost, np.nan, geo_days[ORDERS])})
    )
    assert (days == DAYS).all()
    gap = detect_macro_shock(DAYS, index, days, orders)
    assert abs(gap.effect - whole.effect) < 0.002
    flagged, flagged_gap = np.asarray(whole.flagged), np.asarray(gap.flagged)
    assert (flagged == flagged_gap).mean() >= 0.97
    assert abs(int(flagged_gap.sum()) - int(flagged.sum())) <= 0.05 * flagged.sum()
    national = geo_days.groupby("date")[ORDERS].sum().to_numpy()
    assert np.abs(orders[150:164] / national[150:164] - 1.0).max() < 0.05  # not 20% short
