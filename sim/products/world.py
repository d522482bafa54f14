"""One run of the product layer over the orgs of a simulated world.

The layer reads each org's national demand index (population-weighted, the org's sitewide
promotions left out: here promotions are per product) and draws everything else from its own
named streams ``default_rng([seed, 40 + k, org_index])``, so enabling products never changes
a draw of the base world.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .catalogue import Catalogue, build_catalogue
from .orders import Orders, ShopifyExport, export_entries, pack_orders
from .plan import PRODUCT_CHANNELS, Plan, discounts, plan_spend
from .reports import deliver, report_rows
from .response import DISCOUNT_ELASTICITY, QBAR, QTY_TWO, Response, respond
from .truth import product_truth

STREAM_CATALOGUE = 41
STREAM_PLAN = 42
STREAM_RESPONSE = 43
STREAM_OUTCOME = 44
STREAM_ORDERS = 45
STREAM_DELIVERY = 46
STREAM_DIRT = 47
LINES_PER_ORDER = 1.0 / 0.65  # a new order starts after each line with probability 0.65
_BLACK_FRIDAY_WEEK = (
    "Black Friday",
    "Black Friday Saturday",
    "Black Friday Sunday",
    "Cyber Monday",
)

PANEL_COLUMNS = (
    "org_id",
    "date",
    "product_id",
    "category",
    "price",
    "cost",
    "line_items",
    "units",
    "gross",
    "discounts",
    "revenue",
    "refunds",
    *(f"spend_{c}" for c in PRODUCT_CHANNELS),
    *(f"claimed_{c}" for c in PRODUCT_CHANNELS),
)


@dataclass(frozen=True, slots=True)
class OrgProducts:
    org_id: str
    catalogue: Catalogue
    plan: Plan
    response: Response
    orders: Orders
    truth: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProductWorld:
    """The product layer of a world.

    panel
        One row per org x product x day (:data:`PANEL_COLUMNS`): what the orders export and
        the platforms' product reports add up to (revenue net of discounts, before refunds;
        the refunds beside it on their order's day).
    orders
        ``shopify_orders.ndjson`` lines (Admin API order JSON, dirt included).
    truth
        ``{channels, orgs: {org_id: ...}}`` (see :mod:`sim.products.truth`).
    """

    orgs: tuple[OrgProducts, ...]
    panel: pd.DataFrame
    orders: ShopifyExport
    truth: dict[str, Any]
    stores: list[dict[str, Any]]

    def report_rows(self, source: str) -> Iterator[dict[str, Any]]:
        """``meta`` / ``google_ads`` product report rows (see :mod:`sim.products.reports`)."""
        return report_rows(source, self.stores)

    def catalogue_json(self) -> dict[str, Any]:
        """``products.json``: the Admin API products (one variant each) with their costs."""
        out = []
        for op in self.orgs:
            for p in op.catalogue.products:
                out.append(
                    {
                        "org_id": op.org_id,
                        "id": int(p.product_id),
                        "title": p.title,
                        "product_type": p.category,
                        "variants": [
                            {
                                "id": int(p.variant_id),
                                "product_id": int(p.product_id),
                                "sku": p.sku,
                                "price": f"{p.price:.2f}",
                                "inventory_item": {"cost": f"{p.cost:.2f}"},
                            }
                        ],
                    }
                )
        return {"products": out}


def _rng(seed: int, stream: int, org_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, org_index])


def national_index(log_index: np.ndarray, weights: np.ndarray, promo: np.ndarray) -> np.ndarray:
    """log of the weighted mean over geos of exp(log_index), the sitewide promotions removed."""
    w = weights / weights.sum()
    return np.log((w[:, None] * np.exp(log_index - promo[None, :])).sum(axis=0))


def simulate_org_products(
    seed: int,
    org_index: int,
    org_id: str,
    org_size: float,
    currency: str,
    timezone: str,
    accounts: dict[str, tuple[str, str]],
    log_index: np.ndarray,
    geo_weights: np.ndarray,
    promo: np.ndarray,
    holiday_lifts: dict[str, tuple[str, float]],
    dates: list[date],
    geo_codes: list[str],
    *,
    n_categories: int,
    orders_per_day: float,
    confounding: float,
    dirt: bool,
) -> tuple[
    OrgProducts, dict[str, Any], pd.DataFrame, tuple[np.ndarray, np.ndarray, dict[int, str]]
]:
    """One org's catalogue, campaigns, demand, orders and truth."""
    n_t = len(dates)
    cat = build_catalogue(_rng(seed, STREAM_CATALOGUE, org_index), n_t, n_categories)
    prng = _rng(seed, STREAM_PLAN, org_index)
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    season = np.stack(
        [
            c.season_amp * np.cos(2 * np.pi * (doy - c.season_peak_doy) / 365.25)
            for c in cat.categories
        ]
    )
    bf = np.array(
        [holiday_lifts.get(d.isoformat(), ("", 0))[0] in _BLACK_FRIDAY_WEEK for d in dates]
    )
    disc = discounts(prng, len(cat.products), n_t, bf)
    launched = np.arange(n_t)[None, :] >= np.array([p.launch_day for p in cat.products])[:, None]
    idx = national_index(log_index, geo_weights, promo)
    lines_per_day = orders_per_day * LINES_PER_ORDER * org_size
    price = np.array([p.price for p in cat.products])
    share = np.array(
        [
            cat.categories[[c.name for c in cat.categories].index(p.category)].share * p.base_share
            for p in cat.products
        ]
    )
    cat_of = np.array([[c.name for c in cat.categories].index(p.category) for p in cat.products])
    base_lines = (
        lines_per_day
        * share[:, None]
        * np.exp(idx[None, :] + season[cat_of] + DISCOUNT_ELASTICITY * disc)
        * launched
    )
    base = base_lines * QBAR * price[:, None] * (1.0 - disc)
    plan = plan_spend(
        prng,
        cat,
        org_id=org_id,
        accounts={s: a for s, (a, _) in accounts.items()},
        season=season,
        base_revenue=base,
        discount=disc,
        launched=launched,
        confounding=confounding,
    )
    response = respond(_rng(seed, STREAM_RESPONSE, org_index), cat, plan, base)
    lam = np.clip(response.expected, 0.0, None) / (QBAR * price[:, None] * (1.0 - disc))
    orng = _rng(seed, STREAM_OUTCOME, org_index)
    lines = orng.poisson(lam)
    two = orng.binomial(lines, QTY_TWO)
    orders = pack_orders(_rng(seed, STREAM_ORDERS, org_index), cat, lines, two, disc, geo_weights)
    delivery = deliver(_rng(seed, STREAM_DELIVERY, org_index), plan, response, disc, price)
    store = {
        "org_id": org_id,
        "orders": orders,
        "catalogue": cat,
        "plan": plan,
        "delivery": delivery,
        "currency": currency,
        "timezone": timezone,
        "geo_codes": geo_codes,
        "dates": dates,
        "account_names": {s: n for s, (_, n) in accounts.items()},
        # Shopify ids: 13-digit order ids, 14-digit line / refund ids, per org.
        "order_id0": 5_600_000_000_000 + 10_000_000 * org_index,
        "line_id0": 14_200_000_000_000 + 100_000_000 * org_index,
        "refund_line_id0": 41_000_000_000_000 + 100_000_000 * org_index,
        "refund_id0": 9_300_000_000_000 + 10_000_000 * org_index,
    }
    e_order, e_version, extras, dirty = export_entries(
        _rng(seed, STREAM_DIRT, org_index), orders, dirt
    )
    for d in dirty:
        d["order_id"] = store["order_id0"] + d.pop("order")
    truth = product_truth(cat, plan, response, orders, dates, dirty)
    ln = orders.lines
    n_p = len(cat.products)
    key = ln.product * n_t + ln.day
    size = n_p * n_t

    def per_pd(w: np.ndarray) -> np.ndarray:
        return np.bincount(key, w, size).reshape(n_p, n_t)

    gross = per_pd((ln.price_cents * ln.qty).astype(np.float64)) / 100
    disc_money = per_pd(ln.discount_cents.astype(np.float64)) / 100
    chan = np.array([PRODUCT_CHANNELS.index(c.channel) for c in plan.campaigns], dtype=np.int64)
    cols: dict[str, Any] = {
        "org_id": org_id,
        "date": np.tile(np.array(dates, dtype="datetime64[D]"), n_p),
        "product_id": np.repeat([p.product_id for p in cat.products], n_t),
        "category": np.repeat([p.category for p in cat.products], n_t),
        "price": np.repeat(price, n_t),
        "cost": np.repeat([p.cost for p in cat.products], n_t),
        "line_items": lines.ravel(),
        "units": (lines + two).ravel(),
        "gross": np.round(gross, 2).ravel(),
        "discounts": np.round(disc_money, 2).ravel(),
        "revenue": np.round(gross - disc_money, 2).ravel(),
        # refunds within the window, dated on their order's day (as the mesh's panel has them)
        "refunds": np.round(per_pd(ln.refund_cents.astype(np.float64)) / 100, 2).ravel(),
    }
    for c, name in enumerate(PRODUCT_CHANNELS):
        m = chan == c
        cols[f"spend_{name}"] = np.round(plan.spend[m].sum(axis=0), 2).ravel() if m.any() else 0.0
        cols[f"claimed_{name}"] = (
            np.round(delivery["value"][m].sum(axis=0), 2).ravel() if m.any() else 0.0
        )
    panel = pd.DataFrame(cols, columns=list(PANEL_COLUMNS))
    op = OrgProducts(org_id, cat, plan, response, orders, truth)
    return op, store, panel, (e_order, e_version, extras)


def simulate_products(
    seed: int,
    sims: list[Any],
    geo_codes: list[str],
    dates: list[date],
    *,
    n_categories: int,
    orders_per_day: float,
    confounding: float,
    dirt: bool,
) -> ProductWorld:
    """The product layer over the orgs of a world (``sims``: ``sim.orgsim.OrgSim`` per org)."""
    orgs: list[OrgProducts] = []
    stores: list[dict[str, Any]] = []
    panels: list[pd.DataFrame] = []
    e_store: list[np.ndarray] = []
    e_order: list[np.ndarray] = []
    e_version: list[np.ndarray] = []
    extras: dict[int, str] = {}
    n_lines = 0
    truths: dict[str, Any] = {}
    for o in sims:
        accounts = {
            a.source: (a.account_id, a.name)
            for a in o.accounts
            if a.source in ("meta", "google_ads")
        }
        op, store, panel, ent = simulate_org_products(
            seed,
            o.org_index,
            o.org.org_id,
            o.org.size,
            o.org.currency,
            o.org.timezone,
            accounts,
            o.demand.log_index,
            o.pop * o.demand.affinity,
            o.demand.components["promo"],
            o.demand.holiday_lifts,
            dates,
            geo_codes,
            n_categories=n_categories,
            orders_per_day=orders_per_day,
            confounding=confounding,
            dirt=dirt,
        )
        for d in op.truth["dirty_rows"]:
            d["index"] += n_lines
        o_arr, v_arr, ext = ent
        e_store.append(np.where(o_arr < 0, -1, len(stores)))
        e_order.append(o_arr)
        e_version.append(v_arr)
        extras.update({n_lines + k: text for k, text in ext.items()})
        n_lines += o_arr.size
        orgs.append(op)
        stores.append(store)
        panels.append(panel)
        truths[op.org_id] = op.truth
    truth = {"channels": list(PRODUCT_CHANNELS), "orgs": truths}
    return ProductWorld(
        tuple(orgs),
        pd.concat(panels, ignore_index=True),
        ShopifyExport(
            stores,
            np.concatenate(e_store),
            np.concatenate(e_order),
            np.concatenate(e_version),
            extras,
        ),
        truth,
        stores,
    )
