"""Product-level causal estimates: channel x category incremental revenue and margin, and
halo / cannibalisation between products (see :mod:`causal_svc.products.estimate`)."""

from __future__ import annotations

from causal_svc.products.estimate import (
    CellEffect,
    PairEffect,
    ProductCellEffect,
    ProductEffects,
    PromotionNet,
    estimate_products,
)

__all__ = [
    "CellEffect",
    "PairEffect",
    "ProductCellEffect",
    "ProductEffects",
    "PromotionNet",
    "estimate_products",
]
