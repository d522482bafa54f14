"""Which currencies an org's money is in: AggregateRecords' ``currencies`` table (spend,
revenue and records per source × channel × currency) equals the records' own sums over any
window and sources, follows restatements that change a record's currency, reads alike from
the SQLite and PostgreSQL stores, is answered over the wire, and a data dir or database from
before memory kept currencies is upgraded from the stored payloads."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import psycopg
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import app, convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordStore
from mesh.runtime.frames import records_to_frame
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records
from mesh.runtime.tables import table_to_frame

ORG = "fx"
Opener = Callable[[], RecordStore]
Row = tuple[str, str, str, float, float, int]


def _records(n: int = 480, seed: int = 11) -> list[md_pb.CausalMarketingData]:
    """Synthetic records (USD) with Meta's in EUR and a few Klaviyo ones naming none."""
    records = synthetic_records(ORG, n, seed=seed, start=dt.date(2025, 3, 1), campaigns=6, geos=4)
    klaviyo = 0
    for r in records:
        if r.data_source == common_pb.DATA_SOURCE_META:
            r.currency_code = "EUR"
        elif r.data_source == common_pb.DATA_SOURCE_KLAVIYO:
            klaviyo += 1
            r.currency_code = "" if klaviyo % 2 else r.currency_code
    return records


def _want(
    records: list[md_pb.CausalMarketingData],
    window: tuple[int, int] | None = None,
    sources: tuple[str, ...] = (),
) -> list[Row]:
    f = records_to_frame(records, groups=("core",)).rename(columns={"data_source": "source"})
    f["day"] = pd.to_datetime(f["local_date"]).to_numpy("datetime64[D]").astype(np.int64)
    if window is not None:
        f = f.loc[f["day"].between(*window)]
    if sources:
        f = f.loc[f["source"].isin(sources)]
    g = f.groupby(["source", "channel", "currency_code"], sort=True)
    out = g.agg(spend=("spend", "sum"), revenue=("revenue", "sum"), n=("id", "size"))
    return [(s, c, k, float(a), float(b), int(n)) for (s, c, k), (a, b, n) in out.iterrows()]


def _same(got: list[Row] | tuple[Row, ...], want: list[Row]) -> None:
    assert [r[:3] for r in got] == [r[:3] for r in want]
    assert [r[5] for r in got] == [r[5] for r in want]
    np.testing.assert_allclose(
        np.array([r[3:5] for r in got]), np.array([r[3:5] for r in want]), rtol=1e-9
    )


def _engine(store: RecordStore, path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(store, IndexManager(path, index), MemorySettings(index=index))


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        return lambda: SQLiteRecordStore(tmp_path / "m.sqlite")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresRecordStore(url)


def _story(store: RecordStore, index: Path) -> dict[str, list[Row]]:
    """Writes, a restatement that moves some records to another currency, and the answers
    for four windows × sources; checked against the records' own sums on the way."""
    engine = _engine(store, index)
    try:
        records = _records()
        _write(engine, records[:300])
        assert engine.aggregate(ORG, None, None, ()).currencies  # held sums from here
        _write(engine, records[300:])
        _same(engine.aggregate(ORG, None, None, ()).currencies, _want(records))
        moved = []
        for r in records[::6]:
            new = md_pb.CausalMarketingData()
            new.CopyFrom(r)
            new.version = r.version + 1
            new.currency_code = "GBP" if r.currency_code == "EUR" else r.currency_code
            new.spend = r.spend + 2.0
            moved.append(new)
        _write(engine, moved)
        current = list(({r.id: r for r in records} | {r.id: r for r in moved}).values())
        days = sorted({row[0] for row in engine.aggregate(ORG, None, None, ()).campaign_days})
        asks = {
            "all": (None, None, ()),
            "window": (days[2], days[6], ()),
            "sources": (None, None, ("meta", "klaviyo")),
            "both": (days[1], days[4], ("meta",)),
        }
        out: dict[str, list[Row]] = {}
        for name, (start, end, sources) in asks.items():
            got = list(engine.aggregate(ORG, start, end, sources).currencies)
            window = None if start is None else (start, end)
            _same(got, _want(current, window, sources))  # type: ignore[arg-type]
            out[name] = got
        currencies = {r[2] for r in out["all"]}
        assert currencies == {"EUR", "GBP", "USD", ""}
        assert {r[2] for r in out["both"]} <= {"EUR", "GBP"}
        return out
    finally:
        engine.close()


def test_currencies_equal_the_records_sums_on_both_stores(
    open_store: Opener, tmp_path: Path
) -> None:
    _story(open_store(), tmp_path / "index")


def test_both_stores_answer_the_currencies_alike(tmp_path: Path, postgres_url: str) -> None:
    lite = _story(SQLiteRecordStore(tmp_path / "m.sqlite"), tmp_path / "lite")
    pg = _story(PostgresRecordStore(postgres_url), tmp_path / "pg")
    assert pg.keys() == lite.keys()
    for key in lite:
        _same(pg[key], lite[key])


def test_aggregate_records_answers_the_currencies_over_the_wire(tmp_path: Path) -> None:
    records = _records(240)
    with (
        running_services({"memory": app.build}, tmp_path) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = memory_grpc.MemoryServiceStub(channel)
        stub.Write(iter([memory_pb.WriteRequest(org_id=ORG, records=records)]), timeout=60)
        resp = stub.AggregateRecords(
            memory_pb.AggregateRecordsRequest(
                org_id=ORG, sources=[common_pb.DATA_SOURCE_META, common_pb.DATA_SOURCE_KLAVIYO]
            ),
            timeout=30,
        )
    table = table_to_frame(resp.currencies)
    assert table.columns.tolist() == ["source", "channel", "currency", "spend", "revenue",
                                      "records"]  # fmt: skip
    got = [(*r[:3], float(r[3]), float(r[4]), int(r[5])) for r in table.itertuples(index=False)]
    _same(got, _want(records, sources=("meta", "klaviyo")))  # type: ignore[arg-type]
    assert {"EUR", "USD", ""} == set(table["currency"])


# ------------------------------------------------------------------ stores from before


def _to_old_sqlite(path: Path) -> None:
    """The layout before currencies: no measures.currency, no currency_day_sums, no mark."""
    db = sqlite3.connect(path)
    db.executescript(
        "ALTER TABLE measures DROP COLUMN currency; DROP TABLE currency_day_sums; "
        "DELETE FROM meta WHERE key = 'measures_currency';"
    )
    db.close()


def test_an_old_sqlite_data_dir_gets_its_currencies_from_the_payloads(tmp_path: Path) -> None:
    records = _records(300)
    root = tmp_path / "memory"
    engine = _engine(app.open_store("", root), tmp_path / "index")
    _write(engine, records)
    engine.close()
    _to_old_sqlite(root / "memory.sqlite")
    db = sqlite3.connect(root / "memory.sqlite")
    assert "currency" not in {r[1] for r in db.execute("PRAGMA table_info(measures)")}
    db.close()
    store = app.open_store("", root)  # adds the column, fills it, sums it
    try:
        _same(store.aggregate(ORG, None, None, ()).currencies, _want(records))
        assert isinstance(store, SQLiteRecordStore)
        assert store.backfill_currencies(convert.payload_currencies) == 0  # once only
    finally:
        store.close()
    engine = _engine(app.open_store("", root), tmp_path / "index")  # and writes go on
    try:
        more = _records(60, seed=12)
        for r in more:
            r.id, r.natural_key = f"{r.id}-more", f"{r.natural_key}-more"
        _write(engine, more)
        _same(engine.aggregate(ORG, None, None, ()).currencies, _want(records + more))
    finally:
        engine.close()


def test_an_old_postgresql_database_is_migrated_and_backfilled(
    tmp_path: Path, postgres_url: str
) -> None:
    records = _records(300)
    engine = _engine(PostgresRecordStore(postgres_url), tmp_path / "index")
    _write(engine, records)
    engine.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE measures DROP COLUMN currency; DROP TABLE currency_day_sums; "
            "DELETE FROM meta WHERE key = 'measures_currency'; "
            "DELETE FROM schema_migrations WHERE version = 5"
        )
    store = app.open_store(postgres_url, tmp_path / "memory")  # migration 5, then backfill
    try:
        _same(store.aggregate(ORG, None, None, ()).currencies, _want(records))
        assert isinstance(store, PostgresRecordStore)
        assert store.backfill_currencies(convert.payload_currencies) == 0
    finally:
        store.close()
