"""AggregateProducts never answers past the server's message limit (s18 R32 F3's class, as
AggregateRecords in test_aggregate_reply_size): a reply that would pass it is refused
RESOURCE_EXHAUSTED REPLY_TOO_LARGE naming the size, the limit, the days that fit and
spend_only. Before, gRPC refused to send it and the caller saw the transport's bare
"Sent message larger than max". The limit is lowered so the org stays small: a real memory
server, restarted on the same data with each limit."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.convert.reply_size import product_table_bytes, reply_budget
from memory_svc.product_table import CATALOGUE_COLUMNS, SALES_COLUMNS, SPEND_COLUMNS
from memory_svc.sqlite_store import SQLiteRecordStore
from mesh.runtime.inprocess import BackgroundLoop
from mesh.runtime.status import decode_status
from tests.memory.conftest import BIG_MESSAGES, date_window, serve_limited, write

ORG = "product-org"
PRODUCTS, DAYS = 40, 30
START = dt.date(2025, 3, 1)


def _record(
    key: str, source: int, day: dt.date, product: md_pb.ProductDimension, **fields: object
) -> md_pb.CausalMarketingData:
    r = md_pb.CausalMarketingData(
        id=f"id-{key}", org_id=ORG, data_source=source, natural_key=key, version=1,  # type: ignore[arg-type]
        local_date=common_pb.Date(year=day.year, month=day.month, day=day.day),
        currency_code="USD", product=product, **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    r.timestamp.FromDatetime(dt.datetime.combine(day, dt.time()))
    return r


def product_records() -> list[md_pb.CausalMarketingData]:
    """Each product's catalogue variant, and per day an order line and a report row."""
    out = []
    for p in range(PRODUCTS):
        pid = f"prod-{p:03d}"
        out.append(_record(
            f"shopify|s|product|{pid}|v", common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, START,
            md_pb.ProductDimension(product_id=pid, variant_id=f"{pid}-v", category="Tops",
                                   list_price=20.0 + p, unit_cost=8.0, title=f"Tee {p}"),
        ))  # fmt: skip
        for d in range(DAYS):
            day = START + dt.timedelta(days=d)
            line = md_pb.ProductDimension(
                product_id=pid, category="Tops", order_id=f"{p}-{d}", line_item_id=f"{p}-{d}",
                quantity=1 + d % 3, list_price=20.0 + p, discount_amount=0.5,
            )  # fmt: skip
            out.append(_record(f"shopify|s|{p}|{d}", common_pb.DATA_SOURCE_SHOPIFY_ORDERS, day,
                               line, revenue=19.5 + p, channel="first_party"))  # fmt: skip
            out.append(_record(
                f"google|a|c1|{pid}|{d}", common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING, day,
                md_pb.ProductDimension(product_id=pid), spend=3.25 + d, impressions=100 + d,
                clicks=7, conversions=1.0, revenue=30.0, channel="google_shopping",
                campaign_id="c1",
            ))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("products-reply-size")


def _call(address: str, **request: object) -> memory_pb.AggregateProductsResponse:
    # the client reads anything: only the server's own limit is under test
    options = [("grpc.max_receive_message_length", BIG_MESSAGES)]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        return stub.AggregateProducts(memory_pb.AggregateProductsRequest(**request), timeout=60)


def _refusal(address: str, **request: object) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        _call(address, **request)
    status = decode_status(caught.value)
    assert status.carried, f"a transport failure, not memory's refusal: {status.message}"
    assert status.retry_after_s is None  # the same call never fits
    return status.code, status.reason or "", status.message


@pytest.fixture(scope="module")
def sizes(loop: BackgroundLoop, data: Path) -> tuple[int, int]:
    """(bytes of the whole reply, bytes of the spend_only reply) under the default limit."""
    memory = serve_limited(loop, data, BIG_MESSAGES)
    try:
        records = product_records()
        with grpc.insecure_channel(memory.address) as channel:
            done = write(memory_grpc.MemoryServiceStub(channel), ORG, records, batch=1000)
        assert done.inserted_count == len(records)
        full = _call(memory.address, org_id=ORG)
        spend = _call(memory.address, org_id=ORG, spend_only=True)
    finally:
        memory.stop()
    assert full.sales.row_count == PRODUCTS * DAYS and spend.spend.row_count == PRODUCTS * DAYS
    assert full.catalogue.row_count == PRODUCTS
    return full.ByteSize(), spend.ByteSize()


def test_a_reply_past_the_limit_is_refused_naming_size_limit_range_and_spend_only(
    loop: BackgroundLoop, data: Path, sizes: tuple[int, int]
) -> None:
    full, spend = sizes
    limit = (spend + full) // 2
    assert spend < reply_budget(limit) < full
    memory = serve_limited(loop, data, limit)
    try:
        code, reason, message = _refusal(memory.address, org_id=ORG)
        assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "REPLY_TOO_LARGE")
        assert f"over this server's {limit:,} bytes message limit" in message, message
        assert f"{PRODUCTS * DAYS:,} sales rows and {PRODUCTS * DAYS:,} spend rows" in message
        assert f"a catalogue of {PRODUCTS} products" in message, message
        assert "or ask with spend_only (the spend table alone is ~" in message, message
        found = re.search(rf"its first (\d+) of {DAYS} days fit, to (\S+)\)", message)
        assert found, message
        fit = int(found.group(1))
        assert 1 <= fit < DAYS and found.group(2) == str(START + dt.timedelta(days=fit - 1))
        # the range it names fits, a day more does not; spend_only fits
        narrow = _call(memory.address, org_id=ORG, date_range=date_window(START, fit))
        assert narrow.sales.row_count == PRODUCTS * fit
        assert narrow.ByteSize() <= limit
        assert _refusal(memory.address, org_id=ORG, date_range=date_window(START, fit + 1))[1] == (
            "REPLY_TOO_LARGE"
        )
        assert _call(memory.address, org_id=ORG, spend_only=True).spend.row_count == PRODUCTS * DAYS
    finally:
        memory.stop()


def test_spend_only_past_the_limit_is_refused_naming_the_days_that_fit(
    loop: BackgroundLoop, data: Path, sizes: tuple[int, int]
) -> None:
    _, spend = sizes
    limit = spend // 2
    memory = serve_limited(loop, data, limit)
    try:
        code, reason, message = _refusal(memory.address, org_id=ORG, spend_only=True)
    finally:
        memory.stop()
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "REPLY_TOO_LARGE")
    assert f"{limit:,} bytes message limit" in message and "catalogue" not in message, message
    assert re.search(
        rf"narrower date_range \(its first \d+ of {DAYS} days fit, to \S+\)$", message
    ), message


def test_the_estimate_bounds_the_reply_it_stands_for(data: Path, sizes: tuple[int, int]) -> None:
    """A reply is never encoded when it will not fit: the estimate from the summed rows is at
    least its wire size, and not far above it (a looser one refuses replies that fit)."""
    full, _ = sizes
    store = SQLiteRecordStore(data / "memory" / "memory.sqlite")
    try:
        agg = store.aggregate_products(ORG, None, None)
    finally:
        store.close()
    estimate = sum(
        product_table_bytes(rows, columns)
        for rows, columns in ((agg.sales, SALES_COLUMNS), (agg.spend, SPEND_COLUMNS),
                              (agg.catalogue, CATALOGUE_COLUMNS))
    )  # fmt: skip
    assert full <= estimate <= full * 1.05, (estimate, full)
