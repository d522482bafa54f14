"""The product layer of a simulated world: catalogue, product campaigns, demand per product
with planted halo and cannibalisation, Shopify orders with refunds, the platforms' product
reports, and the truth to score product-level causal estimates against.

Enabled by a scenario's ``products`` (number of categories, 0 = off; scenario ``products``)
or ``simulate(..., products=N)``; off, a world is generated exactly as before.
"""

from __future__ import annotations

from .catalogue import Catalogue, Category, Product
from .plan import PRODUCT_CHANNELS, ProductCampaign
from .world import PANEL_COLUMNS, ProductWorld, simulate_products

__all__ = [
    "PANEL_COLUMNS",
    "PRODUCT_CHANNELS",
    "Catalogue",
    "Category",
    "Product",
    "ProductCampaign",
    "ProductWorld",
    "simulate_products",
]
