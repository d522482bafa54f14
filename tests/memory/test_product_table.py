"""The product table (issue 20) on SQLite and PostgreSQL alike: order lines, product report
rows and catalogue variants written as records come back as AggregateProducts' sums; a
restated order line replaces its old row, a stale one changes nothing; an org without
product records is NOT_FOUND. Migration v0003 gives PostgreSQL the SQLite table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.errors import NoProductRecords
from memory_svc.product_table import ProductAggregate
from memory_svc.sqlite_store import SQLiteRecordStore

from .test_store_contract import Opener, _engine, open_store  # noqa: F401  (fixture)

ORG = "shop"
_DAY0 = dt.date(2025, 3, 1)


def _record(
    key: str, source: int, day: int, *, version: int = 1, **fields: object
) -> md_pb.CausalMarketingData:
    product = fields.pop("product")
    d = _DAY0 + dt.timedelta(days=day)
    r = md_pb.CausalMarketingData(
        id=f"id-{key}", org_id=ORG, data_source=source, natural_key=key, version=version,  # type: ignore[arg-type]
        local_date=common_pb.Date(year=d.year, month=d.month, day=d.day), currency_code="USD",
        product=product, **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    r.timestamp.FromDatetime(dt.datetime.combine(d, dt.time()))
    return r


def _line(order: int, line: int, day: int, qty: int, price: float, **over: object) -> md_pb.CausalMarketingData:  # fmt: skip
    refund = float(over.pop("refund", 0.0))  # type: ignore[arg-type]
    version = int(over.pop("version", 1))  # type: ignore[call-overload]
    product = md_pb.ProductDimension(
        product_id=str(over.pop("product_id", "p1")), category="Tops", order_id=str(order),
        line_item_id=str(line), quantity=qty, list_price=price, discount_amount=1.0,
        refunded_quantity=1 if refund else 0, refund_amount=refund,
    )  # fmt: skip
    return _record(
        f"shopify|s|{order}|{line}", common_pb.DATA_SOURCE_SHOPIFY_ORDERS, day,
        version=version, product=product, revenue=round(qty * price - 1.0, 2),
        channel="first_party",
    )  # fmt: skip


def _records() -> list[md_pb.CausalMarketingData]:
    report = _record(
        "google|a|c1|p1|d0", common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING, 0,
        product=md_pb.ProductDimension(product_id="p1", item_id="shopify_us_p1_v1"),
        spend=12.5, impressions=100, clicks=7, conversions=1.0, revenue=30.0,
        channel="google_shopping", campaign_id="c1",
    )  # fmt: skip
    costed = md_pb.ProductDimension(product_id="p1", variant_id="v1", category="Tops",
                                    list_price=20.0, unit_cost=8.0, title="Tee")  # fmt: skip
    uncosted = md_pb.ProductDimension(product_id="p2", variant_id="v2", category="Tops",
                                      list_price=30.0, title="Shirt")  # fmt: skip
    return [
        _line(1, 1, 0, 2, 20.0),
        _line(1, 2, 0, 1, 30.0, product_id="p2"),
        _line(2, 3, 1, 3, 20.0),
        report,
        _record("shopify|s|product|p1|v1", common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, 0,
                product=costed),
        _record("shopify|s|product|p2|v2", common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, 0,
                product=uncosted),
    ]  # fmt: skip


def _write(engine: object, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))  # type: ignore[attr-defined]


def _sums(agg: ProductAggregate) -> tuple[list[tuple], list[tuple], list[tuple]]:  # type: ignore[type-arg]
    return [tuple(r) for r in agg.sales], [tuple(r) for r in agg.spend], [tuple(r) for r in agg.catalogue]  # fmt: skip


def test_product_records_sum_to_the_three_tables(open_store: Opener, tmp_path: Path) -> None:  # noqa: F811
    engine = _engine(open_store(), tmp_path / "index")
    try:
        with pytest.raises(NoProductRecords):
            engine.aggregate_products(ORG, None, None)
        _write(engine, _records())
        day0 = (_DAY0 - dt.date(1970, 1, 1)).days
        agg = engine.aggregate_products(ORG, None, None)
        sales, spend, catalogue = _sums(agg)
        assert sales == [
            (day0, "p1", "Tops", "USD", 1, 2, 0, 40.0, 1.0, 39.0, 0.0),
            (day0, "p2", "Tops", "USD", 1, 1, 0, 30.0, 1.0, 29.0, 0.0),
            (day0 + 1, "p1", "Tops", "USD", 1, 3, 0, 60.0, 1.0, 59.0, 0.0),
        ]
        assert spend == [
            (day0, "p1", "google_ads_shopping", "google_shopping", "USD", 12.5, 1.0, 30.0, 100, 7)
        ]
        assert catalogue[0] == ("p1", "Tops", "Tee", "USD", 1, 20.0, 8.0)
        assert catalogue[1][:6] == ("p2", "Tops", "Shirt", "USD", 1, 30.0)
        assert catalogue[1][6] is None  # no cost: unknown, not zero
        assert agg.record_count == 6
        # a refund restates order 1's first line; an older version of it changes nothing
        _write(engine, [_line(1, 1, 0, 2, 20.0, refund=19.5, version=2)])
        _write(engine, [_line(1, 1, 0, 5, 20.0, version=1)])
        sales, _, _ = _sums(engine.aggregate_products(ORG, day0, day0))
        assert sales[0] == (day0, "p1", "Tops", "USD", 1, 2, 1, 40.0, 1.0, 39.0, 19.5)
        assert len(sales) == 2  # the window holds the first day only
        assert engine.aggregate_products(ORG, day0 + 5, None).record_count == 2  # the catalogue
    finally:
        engine.close()


def test_spend_only_reads_the_product_reports_alone(open_store: Opener, tmp_path: Path) -> None:  # noqa: F811
    """What attribution asks (its product-spend warning): the spend table as the full call has
    it, no order lines or catalogue, and a count of the report rows alone."""
    engine = _engine(open_store(), tmp_path / "index")
    try:
        _write(engine, _records())
        day0 = (_DAY0 - dt.date(1970, 1, 1)).days
        full = engine.aggregate_products(ORG, None, None)
        only = engine.aggregate_products(ORG, None, None, spend_only=True)
        assert _sums(only) == ([], _sums(full)[1], [])
        assert only.record_count == 1 and full.record_count == 6
        assert engine.aggregate_products(ORG, day0, day0, spend_only=True).record_count == 1
        with pytest.raises(NoProductRecords):  # a window without report rows
            engine.aggregate_products(ORG, day0 + 1, None, spend_only=True)
    finally:
        engine.close()


def test_the_postgresql_migration_holds_the_sqlite_table(postgres_url: str, tmp_path: Path) -> None:  # fmt: skip
    import psycopg

    from memory_svc.postgres import PostgresRecordStore

    PostgresRecordStore(postgres_url).close()
    lite = SQLiteRecordStore(tmp_path / "m.sqlite")
    try:
        want = [r[1] for r in lite._read().execute("PRAGMA table_info(product_records)")]
    finally:
        lite.close()
    with psycopg.connect(postgres_url) as conn:
        got = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'product_records' ORDER BY ordinal_position"
        )]  # fmt: skip
    assert got == want
