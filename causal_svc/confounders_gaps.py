"""The budget-response detector's missing orders: geo-days the fit leaves out are not zero demand.

A tracking outage (a tag removed by a site release, an order feed down for three days) leaves
days without first-party orders while the media run on. The attribution fit leaves such days
out as unobserved (:func:`.attribution.fit.gap_days`, :mod:`.attribution.partial_gaps`); read
as zero orders, each would be a log move of about -6 in every geo, a national "demand
collapse" the budgets did not follow, and the detector's elasticity and flags would follow the
outage instead of the budgets (audit R50 F2: 62.9% of geo-days flagged on a world whose
budgets truly chase demand, 1.3% once three days of its orders were lost).

The days and geo-days are the fit's own: :func:`missing_orders` asks
:func:`.attribution.partial_gaps.fill_partial_gaps` which geo-days lack first-party rows on a
day other geos have them (and which days too few geos have), and adds the days whose orders
are zero in every geo (:func:`.attribution.fit.gap_days`). A geo-day whose first-party row is
present with zero orders stays a zero, as in the fit.

The detector then carries no reading of the orders on those cells: :func:`filled_log_orders`
puts each at its geo's level plus the day's move over the geos present (the day's move
interpolated across a day no geo has), a value its weights then ignore; the per-geo orders
reading gets an infinite variance there, and the national one is read from the campaigns'
spend alone on a day without orders in any geo (:func:`common_orders_variance`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.attribution.partial_gaps import fill_partial_gaps

__all__ = ["common_orders_variance", "filled_log_orders", "missing_orders", "usual_orders"]

_SWEEPS = 10


def _present(first_party: pd.DataFrame, geos: pd.Index, days: pd.Index) -> np.ndarray:
    """(G, T) the geo-days with a first-party row: any row of a long frame, or, melted from
    memory's wide sums (which have a ``records`` count for rows whose sums are all zero), a
    row with a non-zero sum or a record."""
    rows = first_party
    if "records" in rows.columns:
        sums = [c for c in ("conversions", "revenue", "spend", "impressions") if c in rows]
        seen = (rows[sums].to_numpy(np.float64) != 0).any(axis=1)
        rows = rows.loc[seen | (rows["records"].to_numpy(np.float64) > 0)]
    g, t = geos.get_indexer(rows["geo"].astype(str)), days.get_indexer(rows["date"])
    keep = (g >= 0) & (t >= 0)
    out = np.zeros((len(geos), len(days)), dtype=bool)
    out[g[keep], t[keep]] = True
    return out


def missing_orders(
    first_party: pd.DataFrame, orders: np.ndarray, geos: pd.Index, days: pd.Index
) -> np.ndarray:
    """(G, T) the geo-days whose orders the fit leaves out (module docstring): ``first_party``
    the window's first-party rows (``date``, ``geo``, sums), ``orders`` their (G, T) sums."""
    present = _present(first_party, geos, days)
    dates = days.to_numpy().astype("datetime64[D]")
    gaps = fill_partial_gaps(orders, present, tuple(geos), dates, orders)
    whole = gaps.emptied | (gaps.outcome.sum(axis=0) <= 0)
    return gaps.filled | whole[None, :]


def usual_orders(orders: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``orders`` with each missing geo-day at its geo's mean over the days it has (for the
    weights and Poisson variances that read a count: a lost day is not a day of few orders)."""
    seen = ~missing
    mean = (orders * seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    return np.where(missing, mean[:, None], orders)


def filled_log_orders(log_orders: np.ndarray, missing: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(G, T) ``log_orders`` with each missing cell at its geo's level plus the day's move over
    the geos present (weighted by ``share``, as the detector weighs geos); a day no geo has
    takes its move interpolated from the days either side."""
    if not missing.any():
        return log_orders
    seen = ~missing
    weight = share[:, None] * seen
    total = weight.sum(axis=0)
    has = np.flatnonzero(total > 0)
    day = np.zeros(log_orders.shape[1])
    for _ in range(_SWEEPS):
        level = ((log_orders - day[None, :]) * seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        moved = (weight * (log_orders - level[:, None])).sum(axis=0)
        day = np.divide(moved, total, np.zeros_like(total), where=total > 0)
    day = np.interp(np.arange(len(day)), has, day[has])
    return np.where(missing, level[:, None] + day[None, :], log_orders)


def common_orders_variance(
    share: np.ndarray, orders: np.ndarray, missing: np.ndarray
) -> np.ndarray:
    """(T,) the Poisson variance of the orders' common log move (the geos' weighted mean of
    log orders, missing cells filled by :func:`filled_log_orders`): the present geos' alone,
    their weights scaled up to the whole; infinite on a day no geo has."""
    weight = share[:, None] * ~missing
    total = weight.sum(axis=0)
    spread = (weight**2 / np.maximum(orders, 1.0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, spread / total**2, np.inf)
