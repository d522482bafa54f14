"""A line an order edit removed (issue 20), on SQLite and PostgreSQL alike: ingestion restates
it as a zero version of itself (no units, no money); memory keeps that record current, the old
version in its history, and no product row for it — so AggregateProducts counts neither its
units nor its line item, and a later edit that restores the line brings its row back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from liftos.v1 import marketing_data_pb2 as md_pb

from memory_svc.store import RecordFilter

from .test_product_table import _DAY0, ORG, _line, _sums, _write
from .test_store_contract import Opener, _engine, open_store  # noqa: F401  (fixture)


def _zero(order: int, line: int, day: int, version: int) -> md_pb.CausalMarketingData:
    r = _line(order, line, day, 0, 0.0, version=version, product_id="p2")
    r.product.discount_amount = 0.0
    r.revenue = 0.0
    return r


def test_a_zero_order_line_is_current_but_sums_to_nothing(open_store: Opener, tmp_path: Path) -> None:  # noqa: F811  # fmt: skip
    engine = _engine(open_store(), tmp_path / "index")
    day0 = (_DAY0 - dt.date(1970, 1, 1)).days
    try:
        _write(engine, [_line(1, 1, 0, 2, 20.0), _line(1, 2, 0, 1, 30.0, product_id="p2")])
        sales, _, _ = _sums(engine.aggregate_products(ORG, None, None))
        assert [(r[1], r[4], r[5]) for r in sales] == [("p1", 1, 2), ("p2", 1, 1)]
        # the edit: line 1 re-sent at the order's new version, line 2 zeroed
        _write(engine, [_line(1, 1, 0, 2, 20.0, version=2), _zero(1, 2, 0, version=2)])
        agg = engine.aggregate_products(ORG, None, None)
        sales, _, _ = _sums(agg)
        assert sales == [(day0, "p1", "Tops", "USD", 1, 2, 0, 40.0, 1.0, 39.0, 0.0)]
        assert agg.record_count == 1
        rows = engine.scan_page(ORG, RecordFilter(sources=("shopify_orders",)), None, 100, False)
        current = {
            r.natural_key: r
            for r in (md_pb.CausalMarketingData.FromString(row.payload) for row in rows)
        }
        zeroed = current["shopify|s|1|2"]
        assert (zeroed.version, zeroed.product.quantity, zeroed.revenue) == (2, 0, 0.0)
        # a later edit puts the line back: its row returns
        _write(engine, [_line(1, 2, 0, 3, 30.0, version=3, product_id="p2")])
        sales, _, _ = _sums(engine.aggregate_products(ORG, None, None))
        assert [(r[1], r[4], r[5]) for r in sales] == [("p1", 1, 2), ("p2", 1, 3)]
    finally:
        engine.close()
