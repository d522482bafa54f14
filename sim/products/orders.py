"""Line items packed into Shopify orders, refunds, and the Admin API order JSON.

Each day's line items are shuffled and cut into orders of 1-3+ items (a new order starts
after each item with probability 0.65). About 6% of orders get a refund 3-20 days later, half
of them full, half partial (one unit of one line item); refunds after the export's last day
have not happened yet. Money is handled in integer cents so every total adds up exactly.

The export (``shopify_orders.ndjson``) is what an incremental pull by ``updated_at`` returns:
an order appears when created and again, superseding itself, when it is refunded (for half of
the refunded orders; the others are pulled once, already refunded); a pull that overlapped
the previous page repeats a few orders verbatim; a few lines are cut short. Every such line
is listed in the truth's ``dirty_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..raw.lazy import LazyLines
from .catalogue import Catalogue

REFUND_RATE = 0.06


@dataclass(frozen=True, slots=True)
class Lines:
    """Every line item, sorted by order then line (arrays of equal length)."""

    order: np.ndarray  # order number (0-based)
    product: np.ndarray
    day: np.ndarray
    qty: np.ndarray
    price_cents: np.ndarray  # unit list price
    discount_cents: np.ndarray  # total discount of the line
    refund_qty: np.ndarray  # units refunded (0 when none)
    refund_cents: np.ndarray  # money refunded for the line


@dataclass(frozen=True, slots=True)
class Orders:
    lines: Lines
    order_day: np.ndarray  # (O,)
    order_second: np.ndarray  # (O,) seconds after local midnight
    order_geo: np.ndarray  # (O,) geo index
    refund_day: np.ndarray  # (O,) -1 when no refund (within the window)
    refund_second: np.ndarray
    first_line: np.ndarray  # (O + 1,) line offsets


def pack_orders(
    rng: np.random.Generator,
    catalogue: Catalogue,
    line_items: np.ndarray,
    qty_two: np.ndarray,
    discount: np.ndarray,
    geo_weights: np.ndarray,
) -> Orders:
    """Build orders from the daily line-item counts.

    Parameters
    ----------
    rng : Generator
    catalogue : Catalogue
    line_items, qty_two : ndarray (P, T) int
        Line items per product-day, and how many of them have quantity 2.
    discount : ndarray (P, T)
    geo_weights : ndarray (G,)
        Where orders ship to (population x affinity).
    """
    n_p, n_t = line_items.shape
    prod = np.repeat(np.tile(np.arange(n_p), n_t), line_items.T.ravel())
    day = np.repeat(np.repeat(np.arange(n_t), n_p), line_items.T.ravel())
    two = np.zeros(prod.size, dtype=bool)
    # Which lines carry quantity 2: the first qty_two lines of each product-day.
    start = np.concatenate([[0], np.cumsum(line_items.T.ravel())[:-1]])
    rank = np.arange(prod.size) - np.repeat(start, line_items.T.ravel())
    two = rank < np.repeat(qty_two.T.ravel(), line_items.T.ravel())
    order_in_day = np.lexsort((rng.random(prod.size), day))
    prod, day, two = prod[order_in_day], day[order_in_day], two[order_in_day]
    qty = 1 + two.astype(np.int64)
    brk = rng.random(prod.size) < 0.65
    brk[0:1] = True
    new_day = np.r_[True, day[1:] != day[:-1]] if prod.size else np.zeros(0, bool)
    starts = np.r_[True, brk[:-1]] | new_day if prod.size else np.zeros(0, bool)
    order = np.cumsum(starts) - 1
    n_o = int(order[-1]) + 1 if prod.size else 0
    price = np.array([round(p.price * 100) for p in catalogue.products], dtype=np.int64)
    gross = price[prod] * qty
    disc = np.round(gross * discount[prod, day]).astype(np.int64)
    first = np.searchsorted(order, np.arange(n_o + 1))
    o_day = day[first[:-1]]
    o_sec = rng.integers(0, 86_400, n_o)
    o_geo = rng.choice(geo_weights.size, size=n_o, p=geo_weights / geo_weights.sum())
    # Refunds: full or one unit of one line; dated 3-20 days after the order.
    refunded = rng.random(n_o) < REFUND_RATE
    full = rng.random(n_o) < 0.5
    r_day = o_day + rng.integers(3, 21, n_o)
    r_sec = rng.integers(0, 86_400, n_o)
    refunded &= r_day < n_t
    pick = first[:-1] + (rng.random(n_o) * (first[1:] - first[:-1])).astype(np.int64)
    rq = np.zeros(prod.size, dtype=np.int64)
    full_orders = np.flatnonzero(refunded & full)
    if full_orders.size:
        in_full = np.isin(order, full_orders)
        rq[in_full] = qty[in_full]
    part = np.flatnonzero(refunded & ~full)
    rq[pick[part]] = 1
    net = gross - disc
    r_cents = np.where(rq > 0, np.round(net * rq / qty), 0).astype(np.int64)
    lines = Lines(order, prod, day, qty, price[prod], disc, rq, r_cents)
    return Orders(lines, o_day, o_sec, o_geo, np.where(refunded, r_day, -1), r_sec, first)


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


@dataclass(slots=True)
class ShopifyExport(LazyLines):
    """``shopify_orders.ndjson`` of one or more orgs, rendered on access.

    Line ``i`` is order ``order[i]`` of store ``store[i]`` at ``version[i]`` (0: before its
    refund, 1: its latest state), or, where ``store[i]`` is -1, the malformed text
    ``extras[i]`` written verbatim.
    """

    stores: list[dict[str, Any]]  # per org: orders, catalogue, ids, currency, tz, geo codes, dates
    store: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    version: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    extras: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.store.size)

    def line(self, k: int) -> dict[str, Any] | str:
        st = int(self.store[k])
        if st < 0:
            return self.extras[k]
        return render_order(self.stores[st], int(self.order[k]), int(self.version[k]))


def _stamp(store: dict[str, Any], day: int, second: int) -> str:
    d: date = store["dates"][day]
    z = ZoneInfo(store["timezone"])
    t = datetime.combine(d, time(0), z) + timedelta(seconds=int(second))
    return t.replace(tzinfo=z).isoformat()


def render_order(store: dict[str, Any], o: int, version: int) -> dict[str, Any]:
    """Order ``o`` of one store in the Admin API REST shape (``GET /orders.json`` element)."""
    orders: Orders = store["orders"]
    cat: Catalogue = store["catalogue"]
    ln = orders.lines
    a, b = int(orders.first_line[o]), int(orders.first_line[o + 1])
    cur = store["currency"]
    oid = store["order_id0"] + o
    created = _stamp(store, int(orders.order_day[o]), int(orders.order_second[o]))
    has_refund = version == 1 and orders.refund_day[o] >= 0
    items = []
    refund_items = []
    for i in range(a, b):
        p = cat.products[int(ln.product[i])]
        lid = store["line_id0"] + i
        item = {
            "id": lid,
            "product_id": int(p.product_id),
            "variant_id": int(p.variant_id),
            "sku": p.sku,
            "title": p.title,
            "name": p.title,
            "product_type": p.category,
            "quantity": int(ln.qty[i]),
            "price": _money(int(ln.price_cents[i])),
            "total_discount": _money(int(ln.discount_cents[i])),
            "price_set": {
                "shop_money": {"amount": _money(int(ln.price_cents[i])), "currency_code": cur},
                "presentment_money": {
                    "amount": _money(int(ln.price_cents[i])),
                    "currency_code": cur,
                },
            },
            "fulfillable_quantity": 0,
            "taxable": True,
            "requires_shipping": True,
            "gift_card": False,
        }
        items.append(item)
        if has_refund and ln.refund_qty[i] > 0:
            refund_items.append(
                {
                    "id": store["refund_line_id0"] + i,
                    "line_item_id": lid,
                    "quantity": int(ln.refund_qty[i]),
                    "restock_type": "return",
                    "subtotal": _money(int(ln.refund_cents[i])),
                    "total_tax": "0.00",
                    "line_item": {k: item[k] for k in ("id", "product_id", "variant_id", "sku")},
                }
            )
    gross = int((ln.price_cents[a:b] * ln.qty[a:b]).sum())
    disc = int(ln.discount_cents[a:b].sum())
    refunded = int(ln.refund_cents[a:b].sum()) if has_refund else 0
    all_units = int(ln.qty[a:b].sum())
    status = "paid"
    refunds = []
    updated = created
    if has_refund:
        updated = _stamp(store, int(orders.refund_day[o]), int(orders.refund_second[o]))
        status = "refunded" if int(ln.refund_qty[a:b].sum()) == all_units else "partially_refunded"
        refunds.append(
            {
                "id": store["refund_id0"] + o,
                "order_id": oid,
                "created_at": updated,
                "processed_at": updated,
                "note": "Customer return",
                "restock": True,
                "refund_line_items": refund_items,
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": _money(refunded),
                        "currency": cur,
                    }
                ],
            }
        )
    return {
        "id": oid,
        "name": f"#{1001 + o}",
        "order_number": 1001 + o,
        "created_at": created,
        "processed_at": created,
        "updated_at": updated,
        "currency": cur,
        "presentment_currency": cur,
        "financial_status": status,
        "total_line_items_price": _money(gross),
        "total_discounts": _money(disc),
        "subtotal_price": _money(gross - disc),
        "total_tax": "0.00",
        "taxes_included": False,
        "total_price": _money(gross - disc),
        "shipping_address": {
            "province_code": store["geo_codes"][int(orders.order_geo[o])],
            "country_code": "US",
        },
        "line_items": items,
        "refunds": refunds,
    }


def export_entries(
    rng: np.random.Generator, orders: Orders, dirt: bool
) -> tuple[np.ndarray, np.ndarray, dict[int, str], list[dict[str, Any]]]:
    """The export's line order for one store and the dirty lines it contains.

    Returns
    -------
    (order, version, extras, dirty) : per line the order (-1 for a malformed line) and its
    version; the malformed lines' text by line; dirty rows ``{index, order, kind, action}``
    (indices relative to this store's first line).
    """
    n_o = orders.order_day.size
    refunded = orders.refund_day >= 0
    restated = refunded & (rng.random(n_o) < 0.5) if dirt else np.zeros(n_o, bool)
    ids = np.arange(n_o)
    # One pull per version, dated by when it changed: creation, or the refund for the restated.
    r_ids = ids[restated]
    o = np.concatenate([ids, r_ids])
    v = np.concatenate([np.where(restated, 0, 1), np.ones(r_ids.size, np.int64)])
    day = np.concatenate([orders.order_day, orders.refund_day[restated]])
    sec = np.concatenate([orders.order_second, orders.refund_second[restated]])
    srt = np.lexsort((v, o, sec, day))
    o, v = o[srt], v[srt]
    n = o.size
    dup = rng.random(n) < (0.004 if dirt else 0.0)
    cut = rng.random(n) < (0.001 if dirt else 0.0)
    # Each pulled line is followed by its repeat (dup) and then a cut-short line (cut).
    reps = 1 + dup.astype(np.int64) + cut.astype(np.int64)
    pos = np.concatenate([[0], np.cumsum(reps)[:-1]])
    total = int(reps.sum())
    out_o = np.repeat(o, reps)
    out_v = np.repeat(v, reps)
    extras: dict[int, str] = {}
    dirty: list[dict[str, Any]] = []
    for j in np.flatnonzero((v == 0) | (v == 1) & restated[o]).tolist():
        kind, action = ("superseded", "drop") if v[j] == 0 else ("restated", "keep")
        dirty.append({"index": int(pos[j]), "order": int(o[j]), "kind": kind, "action": action})
    for j in np.flatnonzero(dup).tolist():
        dirty.append(
            {"index": int(pos[j]) + 1, "order": int(o[j]), "kind": "duplicate", "action": "drop"}
        )
    for j in np.flatnonzero(cut).tolist():
        k = int(pos[j]) + 1 + int(dup[j])
        out_o[k] = -1
        extras[k] = f'{{"id":{int(o[j])},"name":"#{1001 + int(o[j])}","line_items":[{{"id":'
        dirty.append({"index": k, "order": int(o[j]), "kind": "malformed_json", "action": "drop"})
    dirty.sort(key=lambda d: d["index"])
    assert out_o.size == total
    return out_o, out_v, extras, dirty
