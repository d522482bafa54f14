"""An org's product catalogue: categories, products (price, cost, launch day) and the planted
cross-effects between products (halo and cannibalisation).

Ids follow Shopify's formats: product and variant ids are 13- and 14-digit integers, the SKU
is the merchant's code, and the id Google Merchant Center and Meta catalogues carry for a
Shopify variant is ``shopify_US_<product_id>_<variant_id>`` (Google lower-cases it in
``segments.product_item_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (category, price range in the org currency, margin range as a share of list price)
_CATEGORIES = (
    ("Tops", (28.0, 70.0), (0.50, 0.65)),
    ("Bottoms", (45.0, 110.0), (0.45, 0.60)),
    ("Footwear", (80.0, 180.0), (0.35, 0.50)),
    ("Outerwear", (120.0, 260.0), (0.40, 0.55)),
    ("Accessories", (15.0, 45.0), (0.60, 0.75)),
    ("Bags", (50.0, 140.0), (0.50, 0.65)),
)
_NOUNS = ("Classic", "Everyday", "Trail", "Studio", "Heritage", "Summit", "Coastal", "Urban")


@dataclass(frozen=True, slots=True)
class Product:
    """One product with a single variant (the unit everything product-level is keyed by)."""

    index: int
    product_id: str  # Shopify product id
    variant_id: str  # Shopify variant id
    sku: str
    title: str
    category: str
    price: float  # list price, org currency
    cost: float  # unit cost, org currency (Shopify InventoryItem.cost)
    base_share: float  # share of the category's baseline demand once launched
    launch_day: int  # first day it sells (0 = on sale before the window)
    substitute: int | None  # index of the product it cannibalises when promoted
    cannibalisation: float  # revenue the substitute loses per unit of this product's lift
    halo: float  # revenue its category siblings gain per unit of its lift

    @property
    def item_id(self) -> str:
        """The Merchant Center / Meta catalogue id of the variant."""
        return f"shopify_US_{self.product_id}_{self.variant_id}"

    @property
    def margin(self) -> float:
        return 1.0 - self.cost / self.price


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    share: float  # share of the store's baseline demand
    season_amp: float  # extra yearly log amplitude of this category
    season_peak_doy: int
    products: tuple[int, ...]  # product indices


@dataclass(frozen=True, slots=True)
class Catalogue:
    categories: tuple[Category, ...]
    products: tuple[Product, ...]

    def in_category(self, name: str) -> list[Product]:
        return [p for p in self.products if p.category == name]


def _digits(rng: np.random.Generator, first: int, n: int) -> str:
    return str(first) + "".join(str(d) for d in rng.integers(0, 10, n - 1))


def build_catalogue(rng: np.random.Generator, n_days: int, n_categories: int) -> Catalogue:
    """Draw a catalogue of ``n_categories`` categories with 3-6 products each.

    About half the products have a substitute in their category that they cannibalise when
    promoted (a share of their own lift in 0.03-0.6, so some fall under the 10% the causal
    estimate is scored on), and about a third lift their siblings (halo, 0.1-0.45).
    Roughly one product in six launches inside the window.
    """
    picks = rng.choice(len(_CATEGORIES), size=n_categories, replace=False)
    shares = rng.dirichlet(np.full(n_categories, 6.0))
    categories: list[Category] = []
    products: list[Product] = []
    for k, ci in enumerate(sorted(picks.tolist())):
        name, (lo, hi), (mlo, mhi) = _CATEGORIES[ci]
        n = int(rng.integers(3, 7))
        within = rng.dirichlet(np.full(n, 3.0))
        first = len(products)
        idx = list(range(first, first + n))
        for j in range(n):
            price = float(np.round(rng.uniform(lo, hi)) - 0.01 + 0.01 * (rng.random() < 0.5))
            margin = float(rng.uniform(mlo, mhi))
            launch = 0
            if j > 0 and rng.random() < 0.17:
                launch = int(rng.integers(n_days // 5, max(n_days // 5 + 1, 3 * n_days // 5)))
            # A substitute sells at least 0.7x as much, so what it loses stays a share of
            # its sales rather than all of them (the cap in sim.products.response rarely binds).
            peers = [first + i for i in range(n) if i != j and within[i] >= 0.7 * within[j]]
            sub: int | None = None
            cann = 0.0
            if rng.random() < 0.5 and peers:
                sub = int(rng.choice(peers))
                small = rng.random() < 0.2
                cann = float(rng.uniform(0.03, 0.08) if small else rng.uniform(0.15, 0.6))
            halo = float(rng.uniform(0.10, 0.45)) if rng.random() < 0.35 else 0.0
            noun = _NOUNS[int(rng.integers(0, len(_NOUNS)))]
            products.append(
                Product(
                    index=first + j,
                    product_id=_digits(rng, 8, 13),
                    variant_id=_digits(rng, 4, 14),
                    sku=f"{name[:3].upper()}-{first + j + 1:03d}",
                    title=f"{noun} {name.rstrip('s')} {j + 1}",
                    category=name,
                    price=price,
                    cost=round(price * (1.0 - margin), 2),
                    base_share=float(within[j]),
                    launch_day=launch,
                    substitute=sub,
                    cannibalisation=cann,
                    halo=halo,
                )
            )
        categories.append(
            Category(
                name,
                float(shares[k]),
                float(rng.uniform(0.0, 0.25)),
                int(rng.integers(1, 366)),
                tuple(idx),
            )
        )
    return Catalogue(tuple(categories), tuple(products))
