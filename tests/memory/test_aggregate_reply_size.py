"""AggregateRecords never answers past the server's message limit (s18 R35 F2): a
campaign_geo_days that would pass it is left out, saying why; a reply that passes it without
campaign_geo_days is RESOURCE_EXHAUSTED REPLY_TOO_LARGE naming size, limit and a range that
fits. Before, gRPC refused to send the reply and the caller saw a bare transport failure
(INTERNAL through causal). The limit is lowered so the org stays small: a real memory server,
restarted on the same data with each limit."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.convert.reply_size import campaign_geo_bytes, reply_budget
from memory_svc.sqlite_store import SQLiteRecordStore
from mesh.runtime.inprocess import BackgroundLoop
from mesh.runtime.status import decode_status
from mesh.runtime.synthetic_records import synthetic_records
from tests.memory.conftest import BIG_MESSAGES, date_window, serve_limited, write

ORG = "wide-org"
CAMPAIGNS, GEOS, DAYS = 16, 25, 20
START = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reply-size")


def _call(address: str, **request: object) -> memory_pb.AggregateRecordsResponse:
    # the client reads anything: only the server's own limit is under test
    options = [("grpc.max_receive_message_length", BIG_MESSAGES)]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        return stub.AggregateRecords(memory_pb.AggregateRecordsRequest(**request), timeout=60)


@pytest.fixture(scope="module")
def sizes(loop: BackgroundLoop, data: Path) -> tuple[int, int]:
    """(bytes without campaign_geo_days, bytes with it) under the default limit."""
    memory = serve_limited(loop, data, BIG_MESSAGES)
    try:
        n = CAMPAIGNS * GEOS * DAYS
        records = synthetic_records(ORG, n, seed=3, campaigns=CAMPAIGNS, geos=GEOS, start=START)
        with grpc.insecure_channel(memory.address) as channel:
            assert write(memory_grpc.MemoryServiceStub(channel), ORG, records,
                         batch=1000).inserted_count == n  # fmt: skip
        plain = _call(memory.address, org_id=ORG)
        full = _call(memory.address, org_id=ORG, campaign_geo_spend=True)
    finally:
        memory.stop()
    assert full.campaign_geo_days.row_count == GEOS * DAYS
    assert not full.campaign_geo_days_omitted
    return plain.ByteSize(), full.ByteSize()


def _limit_between(low: int, high: int) -> int:
    """A message limit whose reply budget lies between ``low`` and ``high`` bytes."""
    limit = (low + high) // 2
    assert low < reply_budget(limit) < high
    return limit


def test_campaign_geo_days_past_the_limit_is_left_out_saying_why(
    loop: BackgroundLoop, data: Path, sizes: tuple[int, int]
) -> None:
    plain, full = sizes
    limit = _limit_between(plain, full)
    memory = serve_limited(loop, data, limit)
    try:
        reply = _call(memory.address, org_id=ORG, campaign_geo_spend=True)
        # the rest comes whole
        assert reply.ByteSize() <= limit
        assert reply.geo_days.row_count == GEOS * DAYS
        assert reply.record_count == CAMPAIGNS * GEOS * DAYS
        assert not reply.HasField("campaign_geo_days")
        why = reply.campaign_geo_days_omitted
        assert f"{GEOS * DAYS:,} rows (day × geo) × {CAMPAIGNS} campaigns" in why, why
        assert f"{limit:,} bytes message limit" in why and "date_range" in why, why
        fit = int(re.search(r"~(\d+) of its 20 days fit", why).group(1))  # type: ignore[union-attr]
        assert 1 <= fit < DAYS
        # the range it names fits: asked for it, the table comes
        window = date_window(START, fit)
        narrow = _call(memory.address, org_id=ORG, campaign_geo_spend=True, date_range=window)
        assert not narrow.campaign_geo_days_omitted, narrow.campaign_geo_days_omitted
        assert narrow.campaign_geo_days.row_count == GEOS * fit
        # not asked: nothing said
        assert not _call(memory.address, org_id=ORG).campaign_geo_days_omitted
    finally:
        memory.stop()


def test_a_reply_past_the_limit_without_it_is_refused_naming_size_limit_and_range(
    loop: BackgroundLoop, data: Path, sizes: tuple[int, int]
) -> None:
    plain, _ = sizes
    limit = plain // 2
    memory = serve_limited(loop, data, limit)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _call(memory.address, org_id=ORG, campaign_geo_spend=True)
    finally:
        memory.stop()
    status = decode_status(caught.value)
    assert status.carried, f"a transport failure, not memory's refusal: {status.message}"
    assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status.reason == "REPLY_TOO_LARGE"
    assert status.retry_after_s is None  # the same call never fits
    assert f"over this server's {limit:,} bytes message limit" in status.message
    assert "narrower date_range (~" in status.message and "of its 20 days fit" in status.message
    assert f"{DAYS * GEOS:,} geo_days rows" in status.message


def test_the_estimate_bounds_the_table_it_stands_for(data: Path, sizes: tuple[int, int]) -> None:
    """The table is never built when it will not fit: the estimate from the other sums is
    at least its wire size, and not far above it (a looser one leaves out tables that fit)."""
    plain, full = sizes
    store = SQLiteRecordStore(data / "memory" / "memory.sqlite")
    try:
        estimate, rows, columns = campaign_geo_bytes(store.aggregate(ORG, None, None, ()))
    finally:
        store.close()
    assert (rows, columns) == (GEOS * DAYS, CAMPAIGNS)
    actual = full - plain
    assert actual <= estimate <= actual * 1.05, (estimate, actual)
