"""The product table: one row per current record of a product source (issue 20), beside the
records table, and the sums AggregateProducts reads from it. Both stores use it — the SQLite
store creates the table itself, the PostgreSQL store by migration ``v0003_product_records``
(the same columns) — so the rows written and the queries are one code.

A row holds what the product panel needs of the record: its local day, source, channel,
currency, product and category, and its numbers (an order line's units, gross, discount, net
sales and refund; a report row's spend and platform numbers; a catalogue variant's list price
and unit cost). It is written in the commit that stores the record and deleted with it when a
higher version replaces it, so the sums are always of current records only. An order line
with no units and no money is a line an edit removed (ingestion restates it as a zero version
so memory's history keeps what it was): it has no row, so it is not counted a line item. Sums are
computed by the database where the rows are (GROUP BY), never by shipping order lines out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CATALOGUE_COLUMNS",
    "FRAME_COLUMNS",
    "PRODUCT_COLUMNS",
    "PRODUCT_SOURCES",
    "SALES_COLUMNS",
    "SPEND_COLUMNS",
    "SQLITE_SCHEMA",
    "ProductAggregate",
    "aggregate_sql",
    "product_rows",
    "record_count_sql",
]

ORDERS, CATALOGUE = "shopify_orders", "shopify_products"
REPORTS = ("google_ads_shopping", "meta_products")
PRODUCT_SOURCES = frozenset((ORDERS, CATALOGUE, *REPORTS))

# The product dimension's columns on a Write's record frame (memory_svc.convert adds them):
# name -> dtype; unit_cost is NaN when unknown.
FRAME_COLUMNS = {
    "product_id": object, "variant_id": object, "category": object, "title": object,
    "quantity": np.int64, "refunded_quantity": np.int64, "list_price": np.float64,
    "discount_amount": np.float64, "refund_amount": np.float64, "unit_cost": np.float64,
    "sku": object,
}  # fmt: skip

# Columns of the table after seq (the insert's order).
PRODUCT_COLUMNS = (
    "org_id", "day", "source", "channel", "currency", "product_id", "variant_id", "category",
    "title", "quantity", "refunded_quantity", "gross", "discount", "net_sales", "refund",
    "spend", "impressions", "clicks", "conversions", "revenue", "list_price", "unit_cost", "sku",
)  # fmt: skip

# The PostgreSQL migrations v0003_product_records and v0006_product_records_sku hold the same
# table (text COLLATE "C"). sku comes last: a store from before it gets it by ALTER TABLE
# (``sqlite_upgrade.add_sku_column``), and the store's payloads fill it once
# (``convert.payload_skus``).
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS product_records (
    seq INTEGER PRIMARY KEY, org_id TEXT NOT NULL, day INTEGER NOT NULL, source TEXT NOT NULL,
    channel TEXT NOT NULL, currency TEXT NOT NULL, product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL,
    quantity INTEGER NOT NULL, refunded_quantity INTEGER NOT NULL, gross REAL NOT NULL,
    discount REAL NOT NULL, net_sales REAL NOT NULL, refund REAL NOT NULL, spend REAL NOT NULL,
    impressions INTEGER NOT NULL, clicks INTEGER NOT NULL, conversions REAL NOT NULL,
    revenue REAL NOT NULL, list_price REAL NOT NULL, unit_cost REAL,
    sku TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS product_records_org ON product_records (org_id, source, day);
"""

SALES_COLUMNS = (
    ("date", "int64"), ("product_id", "str"), ("category", "str"), ("currency", "str"),
    ("line_items", "int64"), ("units", "int64"), ("refunded_units", "int64"),
    ("gross", "float64"), ("discounts", "float64"), ("net_sales", "float64"),
    ("refunds", "float64"),
)  # fmt: skip
SPEND_COLUMNS = (
    ("date", "int64"), ("product_id", "str"), ("source", "str"), ("channel", "str"),
    ("currency", "str"), ("spend", "float64"), ("conversions", "float64"),
    ("revenue", "float64"), ("impressions", "int64"), ("clicks", "int64"),
)  # fmt: skip
CATALOGUE_COLUMNS = (
    ("product_id", "str"), ("category", "str"), ("title", "str"), ("currency", "str"),
    ("variants", "int64"), ("list_price", "float64"), ("unit_cost", "float64"),
)  # fmt: skip

_SALES = (
    "SELECT day, product_id, MAX(category), currency, COUNT(*), SUM(quantity), "
    "SUM(refunded_quantity), SUM(gross), SUM(discount), SUM(net_sales), SUM(refund) "
    "FROM product_records WHERE {where} AND source = {m} "
    "GROUP BY day, product_id, currency ORDER BY day, product_id, currency"
)
# A report row's product_id as ingested may be a bare variant id or a SKU (R9-F1: the report
# came before its catalogue, so ingestion could not match it). It is read as the product of
# the catalogue's current variant rows that carry it, at every call, so a later or restated
# catalogue counts at once — unless the id is itself a catalogue product id or variants of
# several products carry it (then it is kept as is and names no product). A variant id comes
# before a SKU, as at ingest (ingestion_svc.product_batch.match_items).
_ITEMS = (
    "WITH cat AS (SELECT product_id, variant_id, sku FROM product_records "
    "WHERE org_id = {m} AND source = {m}), "
    "variants AS (SELECT variant_id AS item, MIN(product_id) AS to_product, "
    "COUNT(DISTINCT product_id) AS products FROM cat WHERE variant_id <> '' "
    "GROUP BY variant_id), "
    "skus AS (SELECT sku AS item, MIN(product_id) AS to_product FROM cat WHERE sku <> '' "
    "AND sku NOT IN (SELECT item FROM variants) GROUP BY sku "
    "HAVING COUNT(DISTINCT product_id) = 1), "
    "items AS (SELECT item, to_product FROM variants WHERE products = 1 "
    "UNION ALL SELECT item, to_product FROM skus), "
    "named AS (SELECT item, to_product FROM items "
    "WHERE item NOT IN (SELECT product_id FROM cat)) "
)
_SPEND = _ITEMS + (
    "SELECT r.day, COALESCE(i.to_product, r.product_id), r.source, r.channel, r.currency, "
    "SUM(r.spend), SUM(r.conversions), SUM(r.revenue), SUM(r.impressions), SUM(r.clicks) "
    "FROM product_records r LEFT JOIN named i ON i.item = r.product_id "
    "WHERE {where} AND r.source IN ({m}, {m}) "
    "GROUP BY r.day, COALESCE(i.to_product, r.product_id), r.source, r.channel, r.currency "
    "ORDER BY 1, 2, 3, 4, 5"
)
_CATALOGUE = (
    "SELECT product_id, MAX(category), MAX(title), MAX(currency), COUNT(*), AVG(list_price), "
    "AVG(unit_cost) FROM product_records WHERE org_id = {m} AND source = {m} "
    "GROUP BY product_id ORDER BY product_id"
)


@dataclass(frozen=True, slots=True)
class ProductAggregate:
    """An org's product sums (rows in the order of ``SALES_COLUMNS``, ``SPEND_COLUMNS``,
    ``CATALOGUE_COLUMNS``) and how many records they sum."""

    sales: list[tuple]  # type: ignore[type-arg]
    spend: list[tuple]  # type: ignore[type-arg]
    catalogue: list[tuple]  # type: ignore[type-arg]
    record_count: int


def aggregate_sql(
    org_id: str, start_day: int | None, end_day: int | None, mark: str = "?",
    *, spend_only: bool = False,
) -> list[tuple[str, list[object]] | None]:  # fmt: skip
    """(sql, params) of the three sums (sales, spend, catalogue), with ``mark`` placeholders;
    with ``spend_only``, None in place of sales and catalogue (not read)."""
    where, params = ["{t}org_id = {m}"], [org_id]
    if start_day is not None:
        where.append("{t}day >= {m}")
        params.append(start_day)  # type: ignore[arg-type]
    if end_day is not None:
        where.append("{t}day <= {m}")
        params.append(end_day)  # type: ignore[arg-type]
    cond = " AND ".join(where)
    spend: tuple[str, list[object]] = (
        _SPEND.format(where=cond.format(t="r.", m=mark), m=mark),
        [org_id, CATALOGUE, *params, *REPORTS],
    )
    if spend_only:
        return [None, spend, None]
    return [
        (_SALES.format(where=cond.format(t="", m=mark), m=mark), [*params, ORDERS]),
        spend,
        (_CATALOGUE.format(m=mark), [org_id, CATALOGUE]),
    ]


def record_count_sql(
    org_id: str, start_day: int | None, end_day: int | None, mark: str = "?",
    *, spend_only: bool = False,
) -> tuple[str, list[object]]:  # fmt: skip
    """How many current product records the sums read (with ``spend_only``, the product
    report rows alone)."""
    sql = f"SELECT COUNT(*) FROM product_records WHERE org_id = {mark}"
    params: list[object] = [org_id]
    dated = []
    if start_day is not None:
        dated.append(f"day >= {mark}")
        params.append(start_day)
    if end_day is not None:
        dated.append(f"day <= {mark}")
        params.append(end_day)
    if spend_only:
        sql += f" AND source IN ({mark}, {mark})" + "".join(f" AND {d}" for d in dated)
        return sql, [org_id, *REPORTS, *params[1:]]
    if dated:
        sql += f" AND (source = {mark} OR ({' AND '.join(dated)}))"
        params = [org_id, CATALOGUE, *params[1:]]
    return sql, params


def product_rows(
    rows: pd.DataFrame, days: Sequence[int], org_id: str
) -> list[tuple[int, tuple[object, ...]]]:
    """(index in the batch, the row's ``PRODUCT_COLUMNS`` values) of each record of a product
    source in a commit. ``rows`` is the commit's record frame with the product dimension's
    columns (``FRAME_COLUMNS``, added by ``memory_svc.convert.write_batch``)."""
    sources = rows["data_source"].astype(str).to_numpy()
    picked = np.flatnonzero(np.isin(sources, list(PRODUCT_SOURCES)))
    if picked.size == 0 or "product_id" not in rows.columns:
        return []
    sub = rows.iloc[picked]
    out: list[tuple[int, tuple[object, ...]]] = []
    for i, r in zip(picked.tolist(), sub.itertuples(index=False), strict=True):
        src = str(r.data_source)
        orders = src == ORDERS
        if orders and int(r.quantity) == 0 and float(r.revenue) == 0.0:
            continue  # a line an order edit removed: stored as a zero version, sells nothing
        cost = float(r.unit_cost)
        out.append(
            (
                i,
                (
                    org_id, int(days[i]), src, str(r.channel), str(r.currency_code),
                    str(r.product_id), str(r.variant_id), str(r.category), str(r.title),
                    int(r.quantity), int(r.refunded_quantity),
                    round(float(r.list_price) * int(r.quantity), 2) if orders else 0.0,
                    float(r.discount_amount), float(r.revenue) if orders else 0.0,
                    float(r.refund_amount), float(r.spend), int(r.impressions), int(r.clicks),
                    float(r.conversions), float(r.revenue), float(r.list_price),
                    None if math.isnan(cost) else cost, str(r.sku),
                ),
            )
        )  # fmt: skip
    return out
