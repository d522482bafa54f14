"""Product campaigns, their daily spend per product, and per-product discounts.

Two channels promote products: ``meta_catalogue`` (Meta Advantage+ catalogue ads; a campaign's
product set is a category or one product) and ``google_shopping`` (Google Shopping campaigns
bidding on a category's listing group or one product id). A category campaign's spend lands
on the category's products as the platform's delivery shifts between them (popularity times a
daily log-normal jitter), which is what the platforms' product breakdowns report.

Budgets run in flights (on 10-50 days at a drawn level, off 4-25 days), chase the category's
own seasonality (elasticity ``confounding``) and are pushed while a product is on discount:
the confounders a product analysis must adjust for are seasonality and promotions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import Catalogue

PRODUCT_CHANNELS: tuple[str, ...] = ("meta_catalogue", "google_shopping")
CHANNEL_SOURCE = {"meta_catalogue": "meta", "google_shopping": "google_ads"}


@dataclass(frozen=True, slots=True)
class ProductCampaign:
    org_id: str
    source: str  # meta | google_ads
    account_id: str
    channel: str  # one of PRODUCT_CHANNELS
    campaign_id: str
    name: str
    category: str
    product: int | None  # product index for a single-product campaign, None for a category


@dataclass(frozen=True, slots=True)
class Plan:
    campaigns: tuple[ProductCampaign, ...]
    spend: np.ndarray  # (K, P, T) org-currency spend of campaign k on product p, cents
    discount: np.ndarray  # (P, T) share off list price
    launched: np.ndarray  # (P, T) bool


def _flights(rng: np.random.Generator, n: int) -> np.ndarray:
    """A budget multiplier per day: on-flights at a log-normal level, off-flights at zero."""
    out = np.zeros(n)
    day = int(rng.integers(0, 15))
    while day < n:
        on = int(rng.integers(10, 51))
        out[day : day + on] = float(np.exp(rng.normal(0.0, 0.45)))
        day += on + int(rng.integers(4, 26))
    return out


def discounts(
    rng: np.random.Generator, n_products: int, n_days: int, bf_days: np.ndarray
) -> np.ndarray:
    """Per-product promotions: a 3-10 day discount every 30-80 days, and Black Friday week."""
    d = np.zeros((n_products, n_days))
    for p in range(n_products):
        day = int(rng.integers(0, 60))
        while day < n_days:
            d[p, day : day + int(rng.integers(3, 11))] = float(rng.choice([0.1, 0.15, 0.2, 0.3]))
            day += int(rng.integers(30, 81))
    if bf_days.any():
        depth = rng.choice([0.2, 0.25, 0.3], size=n_products)
        d[:, bf_days] = np.maximum(d[:, bf_days], depth[:, None])
    return d


def plan_spend(
    rng: np.random.Generator,
    catalogue: Catalogue,
    *,
    org_id: str,
    accounts: dict[str, str],
    season: np.ndarray,
    base_revenue: np.ndarray,
    discount: np.ndarray,
    launched: np.ndarray,
    confounding: float,
) -> Plan:
    """Draw the campaigns and their spend per product and day.

    Parameters
    ----------
    rng : Generator
    catalogue : Catalogue
    org_id : str
    accounts : dict source -> account id
    season : ndarray (C, T)
        Each category's own log seasonality (what budgets chase).
    base_revenue : ndarray (P, T)
        Expected baseline revenue per product (sizes the budgets).
    discount, launched : ndarray (P, T)
    confounding : float
        Elasticity of budgets to the category's seasonality.

    Returns
    -------
    Plan
    """
    n_p, n_t = base_revenue.shape
    camps: list[ProductCampaign] = []
    rows: list[np.ndarray] = []
    for k, cat in enumerate(catalogue.categories):
        members = np.array(cat.products)
        cat_rev = float(base_revenue[members].sum(axis=0).mean())
        chase = np.exp(confounding * (season[k] - season[k].mean()))
        for channel in PRODUCT_CHANNELS:
            targets: list[int | None] = []
            if rng.random() < 0.9:
                targets.append(None)
            for p in members.tolist():
                if rng.random() < 0.3:
                    targets.append(p)
            for target in targets:
                source = CHANNEL_SOURCE[channel]
                cid = (
                    "1202" + "".join(str(x) for x in rng.integers(0, 10, 14))
                    if source == "meta"
                    else "2" + "".join(str(x) for x in rng.integers(0, 10, 10))
                )
                spend = np.zeros((n_p, n_t))
                noise = np.exp(rng.normal(0.0, 0.15, n_t))
                if target is None:
                    level = cat_rev * float(rng.uniform(0.05, 0.12))
                    daily = level * _flights(rng, n_t) * chase * noise
                    pop = np.array([catalogue.products[p].base_share for p in members])
                    jitter = np.exp(rng.normal(0.0, 0.6, (len(members), n_t)))
                    w = pop[:, None] * jitter * launched[members]
                    w = w / np.maximum(w.sum(axis=0, keepdims=True), 1e-12)
                    spend[members] = daily[None, :] * w
                    title = f"{cat.name} - All"
                else:
                    level = float(base_revenue[target].mean()) * float(rng.uniform(0.10, 0.25))
                    push = 1.0 + 1.5 * discount[target]
                    daily = level * _flights(rng, n_t) * chase * push * noise
                    spend[target] = daily * launched[target]
                    title = catalogue.products[target].title
                kind = "Catalog Sales" if source == "meta" else "Shopping"
                camps.append(
                    ProductCampaign(
                        org_id,
                        source,
                        accounts[source],
                        channel,
                        cid,
                        f"{kind} | {title} #{len(camps) + 1}",
                        cat.name,
                        target,
                    )
                )
                rows.append(np.round(spend, 2))
    spend_all = np.stack(rows) if rows else np.zeros((0, n_p, n_t))
    return Plan(tuple(camps), spend_all, discount, launched)
