"""Product report rows that name their item by a bare variant id or a SKU (R9-F1), written
before the catalogue that says whose it is, sum to that product in AggregateProducts' spend
table on SQLite and PostgreSQL alike; an id variants of two products carry, or that is
itself a catalogue product id, is kept as written; a restated catalogue counts at once. A
store from before ``product_records.sku`` gets the catalogue's SKUs from its payloads."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import psycopg
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from memory_svc import app
from memory_svc.convert import payload_skus
from memory_svc.engine import MemoryEngine

from .test_product_table import _DAY0, _record, _write
from .test_store_contract import Opener, _engine, open_store  # noqa: F401  (fixture)

_D0 = (_DAY0 - dt.date(1970, 1, 1)).days


def _report(item: str, day: int, spend: float, *, meta: bool = False) -> md_pb.CausalMarketingData:
    source = common_pb.DATA_SOURCE_META_PRODUCTS if meta else common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING  # fmt: skip
    channel = "meta_shopping" if meta else "google_shopping"
    return _record(
        f"{channel}|a|c1|{item}|d{day}", source, day,
        product=md_pb.ProductDimension(product_id=item, item_id=item),
        spend=spend, impressions=10, clicks=1, conversions=1.0, revenue=2 * spend,
        channel=channel, campaign_id="c1",
    )  # fmt: skip


def _variant(
    product: str, variant: str, *, sku: str = "", key: str = "", version: int = 1
) -> md_pb.CausalMarketingData:
    dim = md_pb.ProductDimension(product_id=product, variant_id=variant, sku=sku,
                                 category="Tops", list_price=20.0, title=f"T{product}")  # fmt: skip
    return _record(key or f"shopify|s|product|{product}|{variant}",
                   common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, 0, version=version, product=dim)  # fmt: skip


def _spend(engine: MemoryEngine, start: int | None = None) -> dict[tuple[int, str, str], float]:
    """(day offset, product_id, source) → spend."""
    rows = engine.aggregate_products("shop", start, None).spend
    out: dict[tuple[int, str, str], float] = {}
    for r in rows:
        k = (r[0] - _D0, r[1], r[2])
        assert k not in out, f"two spend rows for {k}"  # one row per (day, product, source, ...)
        out[k] = r[5]
    return out


G, M = "google_ads_shopping", "meta_products"


def test_bare_variant_ids_reach_their_product_whatever_came_first(
    open_store: Opener,  # noqa: F811
    tmp_path: Path,
) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    try:
        _write(engine, [
            _report("9001", 0, 10.0), _report("9002", 0, 5.0), _report("111", 0, 1.0),
            _report("9002", 1, 4.0, meta=True), _report("9003", 0, 7.0),
            _report("222", 0, 2.0),
        ])  # fmt: skip
        before = _spend(engine)
        assert before[(0, "9001", G)] == 10.0  # no catalogue yet: the ids as written
        _write(engine, [
            _variant("111", "9001"), _variant("111", "9002"),
            # 9003 is a variant of two products: it names neither
            _variant("222", "9003"), _variant("333", "9003"),
            # a variant id that is also a product id stays that product's
            _variant("444", "222"),
        ])  # fmt: skip
        assert _spend(engine) == {
            (0, "111", G): 16.0, (1, "111", M): 4.0, (0, "9003", G): 7.0, (0, "222", G): 2.0,
        }  # fmt: skip
        assert _spend(engine, _D0 + 1) == {(1, "111", M): 4.0}  # the window still applies
        row = next(r for r in engine.aggregate_products("shop", None, None).spend if r[1] == "111")
        assert tuple(row[5:]) == (16.0, 3.0, 32.0, 30, 3)  # every number summed, not the first
    finally:
        engine.close()


def test_spend_only_still_matches_report_ids_to_the_catalogue(
    open_store: Opener,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Attribution's spend-only read spares the order lines and the catalogue table, not the
    catalogue match: its spend rows name the product a bare variant id or a SKU belongs to,
    as the whole call's do (AggregateProductsRequest.spend_only), and its count is the report
    rows alone."""
    engine = _engine(open_store(), tmp_path / "index")
    try:
        _write(engine, [_report("9001", 0, 10.0), _report("SKU-7", 0, 3.0, meta=True)])
        _write(engine, [_variant("111", "9001"), _variant("222", "9002", sku="SKU-7")])
        full = engine.aggregate_products("shop", None, None)
        only = engine.aggregate_products("shop", None, None, spend_only=True)
        assert {(r[1], r[2]): r[5] for r in only.spend} == {("111", G): 10.0, ("222", M): 3.0}
        assert [tuple(r) for r in only.spend] == [tuple(r) for r in full.spend]
        assert (only.sales, only.catalogue, only.record_count) == ([], [], 2)
    finally:
        engine.close()


def test_a_restated_catalogue_counts_at_once(open_store: Opener, tmp_path: Path) -> None:  # noqa: F811
    engine = _engine(open_store(), tmp_path / "index")
    try:
        _write(engine, [_report("9001", 0, 10.0)])
        _write(engine, [_variant("111", "9001", key="shopify|s|variant|9001")])
        assert _spend(engine) == {(0, "111", G): 10.0}
        # the same catalogue record restated: variant 9001 is product 555's now
        _write(engine, [_variant("555", "9001", key="shopify|s|variant|9001", version=2)])
        assert _spend(engine) == {(0, "555", G): 10.0}
        # another product also lists it: ambiguous, it names neither
        _write(engine, [_variant("666", "9001")])
        assert _spend(engine) == {(0, "9001", G): 10.0}
    finally:
        engine.close()


def test_skus_reach_their_product_whatever_came_first(open_store: Opener, tmp_path: Path) -> None:  # noqa: F811
    engine = _engine(open_store(), tmp_path / "index")
    try:
        _write(engine, [
            _report("TEE-S", 0, 10.0), _report("TEE-M", 0, 5.0, meta=True),
            _report("MUG", 0, 3.0), _report("X1", 0, 2.0), _report("TEE-L", 1, 4.0),
        ])  # fmt: skip
        _write(engine, [
            _variant("111", "9001", sku="TEE-S"), _variant("111", "9002", sku="TEE-M"),
            # two products sell the same SKU: it names neither
            _variant("222", "9101", sku="MUG"), _variant("333", "9201", sku="MUG"),
            # an id that is one product's variant and another's SKU is the variant's
            _variant("444", "X1"), _variant("555", "9301", sku="X1"),
        ])  # fmt: skip
        assert _spend(engine) == {
            (0, "111", G): 10.0, (0, "111", M): 5.0, (0, "MUG", G): 3.0, (0, "444", G): 2.0,
            (1, "TEE-L", G): 4.0,
        }  # fmt: skip
        # the catalogue restated: variant 9002's SKU is TEE-L now, TEE-M names nothing
        _write(engine, [_variant("111", "9002", sku="TEE-L", version=2)])
        assert _spend(engine) == {
            (0, "111", G): 10.0, (0, "TEE-M", M): 5.0, (0, "MUG", G): 3.0, (0, "444", G): 2.0,
            (1, "111", G): 4.0,
        }  # fmt: skip
    finally:
        engine.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'memory' / 'memory.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


def _to_store_before_skus(url: str) -> None:
    """The layout before ``product_records.sku``: no column, no mark (nor migration 6)."""
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        db.executescript("ALTER TABLE product_records DROP COLUMN sku; "
                         "DELETE FROM meta WHERE key = 'product_sku';")  # fmt: skip
        db.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE product_records DROP COLUMN sku; "
                     "DELETE FROM meta WHERE key = 'product_sku'; "
                     "DELETE FROM schema_migrations WHERE version = 6")  # fmt: skip


def test_an_old_store_gets_its_catalogue_skus_from_the_payloads(store_url: str, tmp_path: Path) -> None:  # fmt: skip
    engine = _engine(app.open_store(store_url, tmp_path), tmp_path / "index")
    _write(engine, [
        _report("TEE-S", 0, 10.0), _variant("111", "9001", sku="TEE-S"),
        _variant("111", "9002", sku="TEE-M"), _variant("222", "9101"),
    ])  # fmt: skip
    engine.close()
    _to_store_before_skus(store_url)
    engine = _engine(app.open_store(store_url, tmp_path), tmp_path / "index")  # upgraded, filled
    try:
        assert _spend(engine) == {(0, "111", G): 10.0}
        assert engine.store.backfill_skus(payload_skus) == 0  # type: ignore[attr-defined]  # once only
        _write(engine, [_report("TEE-M", 1, 4.0), _variant("333", "9401", sku="CAP"),
                        _report("CAP", 1, 1.0)])  # fmt: skip
        assert _spend(engine) == {(0, "111", G): 10.0, (1, "111", G): 4.0, (1, "333", G): 1.0}
    finally:
        engine.close()
