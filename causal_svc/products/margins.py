"""What a category keeps of its extra sales: the margin rate of a channel's own lift, and the
refunds taken back."""

from __future__ import annotations

import numpy as np

__all__ = ["lift_margin_rate", "refund_rate"]


def lift_margin_rate(
    units: np.ndarray,
    revenue: np.ndarray,
    discount: np.ndarray,
    cost: np.ndarray,
    coef: np.ndarray,
    z: np.ndarray,
    fallback: float,
) -> float:
    """The margin rate of a channel's own lift in a category: each product-day's rate (1 − unit
    cost over its net unit price, the list price less the day's discount) weighted by the lift
    the fit puts there (``coef[p] z[p, t]``); ``fallback`` (the category's rate) where that lift
    is not positive. Arrays are products × days (``cost`` per product); the extra sales fall on
    promoted products and discount days, whose margin differs from the category's average."""
    sold = units.sum(axis=1)
    gross = (revenue / np.clip(1.0 - discount, 1e-9, None)).sum(axis=1)
    list_price = np.divide(gross, sold, out=np.zeros_like(gross), where=sold > 0)
    net_price = list_price[:, None] * (1.0 - discount)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(net_price > 0, 1.0 - cost[:, None] / net_price, fallback)
    w = np.clip(coef, 0.0, None)[:, None] * z
    total = float(w.sum())
    return float((w * rate).sum() / total) if total > 0 else fallback


def refund_rate(refunds: np.ndarray, revenue: np.ndarray) -> tuple[float, float]:
    """``(rate, stderr)``: a category's refunds over its net sales, clipped to [0, 1], and the
    ratio estimator's standard error with days as the units (``sqrt(sum (R_t - r Y_t)^2) /
    sum Y``: each refund is dated on its order's day, so a day's orders carry their own)."""
    sold = float(revenue.sum())
    if sold <= 0:
        return 0.0, 0.0
    rate = float(np.clip(refunds.sum() / sold, 0.0, 1.0))
    return rate, float(np.sqrt(np.sum((refunds - rate * revenue) ** 2)) / sold)
