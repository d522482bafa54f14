"""What a category keeps of its extra sales: the margin rate of a channel's own lift, and the
refunds taken back."""

from __future__ import annotations

import numpy as np

__all__ = ["lift_margin_rate", "product_day_margins", "refund_rate"]


def product_day_margins(
    units: np.ndarray, revenue: np.ndarray, discount: np.ndarray, cost: np.ndarray,
    fallback: float,
) -> np.ndarray:  # fmt: skip
    """Each product-day's margin rate in a category (products × days; ``cost`` per product):
    1 − unit cost over its net unit price, the list price less the day's discount; ``fallback``
    (the category's rate) where no price is known. The same for every channel of the category."""
    sold = units.sum(axis=1)
    gross = (revenue / np.clip(1.0 - discount, 1e-9, None)).sum(axis=1)
    list_price = np.divide(gross, sold, out=np.zeros_like(gross), where=sold > 0)
    net_price = list_price[:, None] * (1.0 - discount)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(net_price > 0, 1.0 - cost[:, None] / net_price, fallback)


def lift_margin_rate(rates: np.ndarray, coef: np.ndarray, z: np.ndarray, fallback: float) -> float:
    """The margin rate of a channel's own lift in a category: the product-day ``rates``
    (:func:`product_day_margins`) weighted by the lift the fit puts there (``coef[p] z[p, t]``);
    ``fallback`` (the category's rate) where that lift is not positive. The extra sales fall on
    promoted products and discount days, whose margin differs from the category's average."""
    w = np.clip(coef, 0.0, None)[:, None] * z
    total = float(w.sum())
    return float((w * rates).sum() / total) if total > 0 else fallback


def refund_rate(refunds: np.ndarray, revenue: np.ndarray) -> tuple[float, float]:
    """``(rate, stderr)``: a category's refunds over its net sales, clipped to [0, 1], and the
    ratio estimator's standard error with days as the units (``sqrt(sum (R_t - r Y_t)^2) /
    sum Y``: each refund is dated on its order's day, so a day's orders carry their own)."""
    sold = float(revenue.sum())
    if sold <= 0:
        return 0.0, 0.0
    rate = float(np.clip(refunds.sum() / sold, 0.0, 1.0))
    return rate, float(np.sqrt(np.sum((refunds - rate * revenue) ** 2)) / sold)
