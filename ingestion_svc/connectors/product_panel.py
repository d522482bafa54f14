"""The product x day panel a product analysis reads, from what the product connectors kept:
order line items (:mod:`.shopify_orders`), the platforms' spend per product
(:mod:`.product_reports`) and the catalogue's categories and unit costs.

Revenue is net of discounts and dated by the order's shop-local day; refunds are left out of
the causal outcome (they are the merchant's returns, dated weeks later) and summed apart.
Spend is in the report's currency, per channel (``spend_<channel>``). Every product of the
catalogue gets every day of the window, zero where nothing sold or nothing was spent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = ["catalogue_costs", "product_panel"]


def catalogue_costs(products: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Admin API products (one or more variants each, ``inventory_item.cost``) → per product
    id its category (``product_type``) and mean unit cost."""
    rows = []
    for p in products:
        for v in p.get("variants") or []:
            cost = (v.get("inventory_item") or {}).get("cost")
            rows.append(
                {
                    "product_id": str(p["id"]),
                    "category": str(p.get("product_type") or ""),
                    "cost": float(cost) if cost is not None else float("nan"),
                }
            )
    frame = pd.DataFrame(rows, columns=["product_id", "category", "cost"])
    return frame.groupby("product_id").agg(category=("category", "first"), cost=("cost", "mean"))


def product_panel(
    lines: pd.DataFrame,
    reports: pd.DataFrame,
    catalogue: pd.DataFrame,
    channels: tuple[str, ...],
) -> pd.DataFrame:
    """One row per catalogue product x day from the first to the last day of ``lines``.

    Parameters
    ----------
    lines : DataFrame
        ``OrderBook.frame()`` (line items of the latest version of each order).
    reports : DataFrame
        ``product_reports.latest(...)`` over every platform's product report.
    catalogue : DataFrame
        :func:`catalogue_costs`, indexed by product id.
    channels : tuple of str
        The ``spend_<channel>`` columns to write (a channel without rows gets zeros).
    """
    days = pd.date_range(lines["local_date"].min(), lines["local_date"].max(), freq="D")
    grid = pd.MultiIndex.from_product([catalogue.index, days], names=["product_id", "date"])
    sold = lines.assign(date=lines["local_date"].dt.normalize(), line_items=1)
    sums = sold.groupby(["product_id", "date"])[
        ["line_items", "quantity", "gross", "discount", "revenue", "refund_amount"]
    ].sum()
    panel = sums.reindex(grid, fill_value=0).rename(
        columns={"quantity": "units", "discount": "discounts", "refund_amount": "refunds"}
    )
    spend = reports.assign(date=reports["local_date"].dt.normalize())
    by_channel = spend.pivot_table(
        index=["product_id", "date"], columns="channel", values="spend", aggfunc="sum"
    )
    for ch in channels:
        col = by_channel[ch] if ch in by_channel.columns else pd.Series(dtype=float)
        panel[f"spend_{ch}"] = col.reindex(grid).fillna(0.0).round(2).to_numpy()
    panel = panel.reset_index()
    panel["category"] = catalogue["category"].reindex(panel["product_id"]).to_numpy()
    panel["cost"] = catalogue["cost"].reindex(panel["product_id"]).to_numpy()
    for col in ("gross", "discounts", "revenue", "refunds"):
        panel[col] = panel[col].round(2)
    return panel
