"""The product layer's truth (``truth.json`` → ``products``), per org::

    catalogue   [{product_id, variant_id, sku, item_id, title, category, price, cost, margin,
                  launch_date, base_share, substitute, cannibalisation, halo}]
    campaigns   [{campaign_id, source, account_id, channel, name, category, product_id}]
    response    {channel: {category: {roas, half_saturation, decay}}}
    incremental {channel: {categories: {category: CELL}, products: {product_id: CELL}}}
    pairs       [{category, promoted, affected, kind, revenue, promoted_lift,
                  share_of_promoted_lift}]
    category_revenue {category: expected revenue over the window}
    refund_share {category: expected share of net sales refunded, eventually}
    totals      {product_id: {line_items, units, gross, discounts, net_sales, refunds,
                              net_revenue}}   what the orders export adds up to
    dirty_rows  [{index, order_id, kind, action}]   lines of shopify_orders.ndjson

A CELL is ``{spend, direct_revenue, halo_revenue, cannibalised_revenue,
incremental_revenue, incremental_margin, incremental_margin_net_of_refunds,
share_of_revenue}``: expected values over the window. ``incremental_revenue`` = direct + halo
received - cannibalised, all caused by the channel's spend (so a category's cell is net of the
cross-effects inside it); margin is each extra unit's price after discount less its cost.
Refunds do not depend on marketing here (each order is refunded with probability
``REFUND_RATE``, whatever its channel, discount or category; a refund restocks the goods), so
an extra unit keeps ``1 - refund_share`` of its margin: ``refund_share`` is the expected
refunded share of the category's net sales given how its lines were packed into orders (a full
refund takes a line whole, a partial one one unit of one of the order's lines), counting the
refunds that fall after the window too (what the merchant will give back, not what the export
shows yet). ``pairs`` lists every ordered pair of
products in one category: ``revenue`` is the expected change of ``affected``'s revenue caused
by the promotion of ``promoted`` (all channels), ``kind`` is halo, cannibalisation or none.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from .catalogue import Catalogue
from .orders import REFUND_RATE, Orders
from .plan import PRODUCT_CHANNELS, Plan
from .response import Response


def _cell(
    spend: float,
    direct: np.ndarray,
    cross_in: np.ndarray,
    margin_rate: np.ndarray,
    total: float,
    kept: np.ndarray,
) -> dict[str, float]:
    halo = float(np.clip(cross_in, 0, None).sum())
    cann = float(-np.clip(cross_in, None, 0).sum())
    inc = direct + cross_in
    margin = inc * margin_rate
    return {
        "spend": round(spend, 2),
        "direct_revenue": round(float(direct.sum()), 2),
        "halo_revenue": round(halo, 2),
        "cannibalised_revenue": round(cann, 2),
        "incremental_revenue": round(float(inc.sum()), 2),
        "incremental_margin": round(float(margin.sum()), 2),
        "incremental_margin_net_of_refunds": round(float((margin * kept).sum()), 2),
        "share_of_revenue": round(float(inc.sum()) / total, 6) if total > 0 else 0.0,
    }


def refund_shares(orders: Orders, n_products: int) -> np.ndarray:
    """(P,) each product's expected refunded share of its net sales, given its lines' orders:
    an order is refunded with probability ``REFUND_RATE``, half of the time whole, half of the
    time one unit of one of its lines (each line alike), so a line of ``q`` units in an order of
    ``n`` lines loses ``REFUND_RATE (1/2 + 1/(2 n q))`` of its money in expectation."""
    ln = orders.lines
    size = np.diff(orders.first_line)[ln.order]
    net = (ln.price_cents * ln.qty - ln.discount_cents).astype(np.float64)
    expected = REFUND_RATE * net * (0.5 + 0.5 / (size * ln.qty))
    sold = np.bincount(ln.product, net, n_products)
    lost = np.bincount(ln.product, expected, n_products)
    overall = float(lost.sum()) / max(float(sold.sum()), 1.0)  # for a product never sold
    return np.divide(lost, sold, out=np.full(n_products, overall), where=sold > 0)


def product_truth(
    catalogue: Catalogue,
    plan: Plan,
    response: Response,
    orders: Orders,
    dates: list[date],
    dirty: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON-able truth of one org's product layer (see the module docstring)."""
    prods = catalogue.products
    price = np.array([p.price for p in prods])
    cost = np.array([p.cost for p in prods])
    net_price = price[:, None] * (1.0 - plan.discount)
    margin_rate = 1.0 - cost[:, None] / net_price  # (P, T)
    chan = np.array([PRODUCT_CHANNELS.index(c.channel) for c in plan.campaigns], dtype=np.int64)
    expected = response.expected
    cat_rev = {c.name: float(expected[list(c.products)].sum()) for c in catalogue.categories}
    # Expected refunded shares: per product, and per category over its sales (net-weighted).
    ln = orders.lines
    share_p = refund_shares(orders, len(prods))
    net_p = np.bincount(ln.product, ln.price_cents * ln.qty - ln.discount_cents, len(prods))
    share_c = {
        c.name: float((share_p[list(c.products)] * net_p[list(c.products)]).sum())
        / max(float(net_p[list(c.products)].sum()), 1.0)
        for c in catalogue.categories
    }
    inc: dict[str, Any] = {}
    for c, name in enumerate(PRODUCT_CHANNELS):
        spend = plan.spend[chan == c].sum(axis=0) if (chan == c).any() else 0 * expected
        cross_in = response.cross[c].sum(axis=0)  # (P, T) received by q
        products = {
            p.product_id: _cell(
                float(spend[p.index].sum()),
                response.direct[c, p.index],
                cross_in[p.index],
                margin_rate[p.index],
                float(expected[p.index].sum()),
                np.full(margin_rate.shape[1], 1.0 - share_p[p.index]),
            )
            for p in prods
        }
        cats = {}
        for cat in catalogue.categories:
            m = list(cat.products)
            cats[cat.name] = _cell(
                float(spend[m].sum()),
                response.direct[c, m],
                cross_in[m],
                margin_rate[m],
                cat_rev[cat.name],
                np.full(margin_rate[m].shape, 1.0 - share_c[cat.name]),
            )
        inc[name] = {"categories": cats, "products": products}
    pairs = []
    cross_all = response.cross.sum(axis=(0, 3))  # (P, P)
    lift_all = response.direct.sum(axis=(0, 2))  # (P,)
    for cat in catalogue.categories:
        for p in cat.products:
            for q in cat.products:
                if p == q:
                    continue
                rev = float(cross_all[p, q])
                kind = "none"
                if prods[p].substitute == q and prods[p].cannibalisation > 0:
                    kind = "cannibalisation"
                elif rev > 0:
                    kind = "halo"
                lift = float(lift_all[p])
                pairs.append(
                    {
                        "category": cat.name,
                        "promoted": prods[p].product_id,
                        "affected": prods[q].product_id,
                        "kind": kind,
                        "revenue": round(rev, 2),
                        "promoted_lift": round(lift, 2),
                        "share_of_promoted_lift": round(rev / lift, 6) if lift > 0 else 0.0,
                    }
                )
    n_p = len(prods)
    gross = np.bincount(ln.product, ln.price_cents * ln.qty, n_p)
    disc = np.bincount(ln.product, ln.discount_cents, n_p)
    refunds = np.bincount(ln.product, ln.refund_cents, n_p)
    totals = {
        p.product_id: {
            "line_items": int((ln.product == p.index).sum()),
            "units": int(ln.qty[ln.product == p.index].sum()),
            "gross": round(gross[p.index] / 100, 2),
            "discounts": round(disc[p.index] / 100, 2),
            "net_sales": round((gross[p.index] - disc[p.index]) / 100, 2),
            "refunds": round(refunds[p.index] / 100, 2),
            "net_revenue": round((gross[p.index] - disc[p.index] - refunds[p.index]) / 100, 2),
        }
        for p in prods
    }
    return {
        "catalogue": [
            {
                "product_id": p.product_id,
                "variant_id": p.variant_id,
                "sku": p.sku,
                "item_id": p.item_id,
                "title": p.title,
                "category": p.category,
                "price": p.price,
                "cost": p.cost,
                "margin": round(p.margin, 6),
                "launch_date": dates[p.launch_day].isoformat(),
                "base_share": round(p.base_share, 6),
                "substitute": None if p.substitute is None else prods[p.substitute].product_id,
                "cannibalisation": round(p.cannibalisation, 6),
                "halo": round(p.halo, 6),
            }
            for p in prods
        ],
        "campaigns": [
            {
                "campaign_id": c.campaign_id,
                "source": c.source,
                "account_id": c.account_id,
                "channel": c.channel,
                "name": c.name,
                "category": c.category,
                "product_id": None if c.product is None else prods[c.product].product_id,
            }
            for c in plan.campaigns
        ],
        "response": response.params,
        "incremental": inc,
        "pairs": pairs,
        "category_revenue": {k: round(v, 2) for k, v in cat_rev.items()},
        "refund_share": {k: round(v, 6) for k, v in share_c.items()},
        "totals": totals,
        "dirty_rows": dirty,
    }
