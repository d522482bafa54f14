"""Scan pages are cut by bytes as well as by records (audit R14-F3): a client that stops
reading pins one page (``MemorySettings.scan_page_bytes``), not batch_size records (13-23 MB
at 10,000). The pages of a scan, however cut, hold every record exactly once, in order: on
SQLite and PostgreSQL, at budgets that cut after every record, mid-scan, and exactly at the
scan's end; and through a real server."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import convert
from memory_svc.app import build
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore
from memory_svc.scan_replies import ScanPager, row_bytes
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter, RecordStore, ScanRow
from mesh.runtime.inprocess import Build, running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import write

ORG = "paged"
N = 300
INDEX = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], RecordStore]:
    if request.param == "sqlite":
        return lambda: SQLiteRecordStore(tmp_path / "m.sqlite")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresRecordStore(url)


def _records(n: int) -> list[md_pb.CausalMarketingData]:
    return synthetic_records(ORG, n, seed=11, campaigns=6, geos=5, start=dt.date(2024, 3, 1))


def _pages(engine: MemoryEngine, batch_size: int, with_embeddings: bool) -> list[list[ScanRow]]:
    """A scan's pages as the servicer reads them (ScanPager), each checked against the row
    count it was asked for."""
    pages: list[list[ScanRow]] = []
    pager = ScanPager(batch_size, engine.settings.scan_page_bytes)
    while not pager.done:
        limit = pager.limit()
        assert 1 <= limit <= batch_size
        rows = engine.scan_page(ORG, RecordFilter(), pager.after, limit, with_embeddings)
        assert len(rows) <= limit
        pager.advance(rows, limit)
        pages.append(rows)
    return pages


def test_byte_cut_pages_hold_every_record_once(
    open_store: Callable[[], RecordStore], tmp_path: Path
) -> None:
    store = open_store()
    engine = MemoryEngine(store, IndexManager(tmp_path / "index", INDEX), MemorySettings())
    try:
        batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=_records(N)), None)
        engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
        for with_embeddings in (False, True):
            whole = store.scan_page(ORG, RecordFilter(), None, 10_000, with_embeddings)
            assert len(whole) == N
            sizes = [row_bytes(r) for r in whole]
            total = sum(sizes)
            budgets = {
                "one record a page": 1,
                "mid-scan": total // 7,
                "exactly the first 40 records": sum(sizes[:40]),
                "exactly the whole scan": total,
                "none reached": total + 1,
            }
            for name, budget in budgets.items():
                engine.settings = replace(engine.settings, scan_page_bytes=budget)
                pages = _pages(engine, 10_000, with_embeddings)
                assert [r for p in pages for r in p] == whole, name
                for page in pages:
                    # a page stops at the record that reaches the budget, no later
                    assert sum(map(row_bytes, page[:-1])) < budget, name
            # after the first page (asked for as if records were FIRST_ROW_BYTES), the rows
            # asked for are what fills the budget: the byte cut ends the pages
            engine.settings = replace(engine.settings, scan_page_bytes=total // 10)
            pages = _pages(engine, 10_000, with_embeddings)
            assert [r for p in pages for r in p] == whole
            assert all(sum(map(row_bytes, p)) >= total // 10 for p in pages[1:-1])
            assert len(pages) <= 12
            # the record count still cuts a page first when it is the smaller bound
            engine.settings = replace(engine.settings, scan_page_bytes=total // 3)
            pages = _pages(engine, 37, with_embeddings)
            assert [r for p in pages for r in p] == whole
            assert max(len(p) for p in pages) == 37
    finally:
        engine.close()


def test_a_server_scan_across_byte_cut_pages(tmp_path: Path) -> None:
    """A real server whose pages are ~20 KB: a 10,000-record batch_size scan comes back in
    page-sized replies, every record once, in (timestamp, id) order, filters applied."""
    budget = 20_000
    settings = MemorySettings(index=INDEX, scan_page_bytes=budget)
    records = _records(600)
    builds: dict[str, Build] = {"memory": functools.partial(build, settings=settings)}
    with (
        running_services(builds, tmp_path) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = memory_grpc.MemoryServiceStub(channel)
        assert write(stub, ORG, records).inserted_count == len(records)
        for embeddings in (False, True):
            request = memory_pb.ScanRequest(
                org_id=ORG, batch_size=10_000, include_embeddings=embeddings
            )
            replies = list(stub.Scan(request, timeout=60))
            got = [r for reply in replies for r in reply.records]
            assert sorted(r.id for r in got) == sorted(r.id for r in records)
            keys = [(r.timestamp.ToMicroseconds(), r.id) for r in got]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
            per_record = max(r.ByteSize() for r in got) + 16
            assert len(replies) >= 2
            assert all(reply.ByteSize() < budget + per_record for reply in replies)
        geo = records[0].geo
        request = memory_pb.ScanRequest(org_id=ORG, batch_size=10_000, geos=[geo])
        ids = [r.id for reply in stub.Scan(request, timeout=60) for r in reply.records]
        assert sorted(ids) == sorted(r.id for r in records if r.geo == geo)


def test_the_pager_goes_on_after_a_page_full_by_count_or_bytes() -> None:
    def rows(*sizes: int) -> list[ScanRow]:
        return [ScanRow(i, i, f"r{i}", b"x" * (n - 8), None) for i, n in enumerate(sizes)]

    pager = ScanPager(batch_size=3, max_bytes=100)
    pager.advance(rows(10, 10, 10), 3)  # full by count
    assert not pager.done and pager.after == (2, "r2")
    pager.advance(rows(60, 40), 3)  # exactly max_bytes: there may be more
    assert not pager.done and pager.after == (1, "r1")
    pager.advance([], 3)  # the scan ended exactly at the last page: one empty page more
    assert pager.done
    pager = ScanPager(batch_size=3, max_bytes=100)
    pager.advance(rows(10, 10), 3)  # short by count and bytes: the end
    assert pager.done


def test_the_pager_asks_for_what_fills_the_budget() -> None:
    pager = ScanPager(batch_size=10_000, max_bytes=1 << 20)
    first = pager.limit()
    assert first == 1280  # 1.25 x 1 MiB of FIRST_ROW_BYTES records
    pager.advance([ScanRow(i, i, f"r{i}", b"x" * 2040, None) for i in range(first)], first)
    assert pager.limit() == 640  # 1.25 x 1 MiB of 2,048-byte records
    assert ScanPager(batch_size=100, max_bytes=1 << 20).limit() == 100
