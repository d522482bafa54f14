"""The record store's contract, on SQLite and on PostgreSQL alike: a write is visible to a new
connection once acknowledged, re-sent batches change nothing, restatements replace and keep
history, scans page in order, aggregates equal the records' own sums — and one story of
writes, a restart, restatements and stale re-sends leaves both stores answering every read
the same, byte for byte. PostgreSQL-only: versioned migrations, and an unreachable server is
UNAVAILABLE."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import psycopg
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import app, convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.errors import OrgNotFound
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.migrations import MIGRATIONS, applied, migrate
from memory_svc.postgres import PostgresRecordStore
from memory_svc.postgres.commit import WriteConflict
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import Aggregate, CampaignGeoDays, RecordFilter, RecordStore, seq_checksum
from memory_svc.writer import WriteOutcome
from mesh.runtime.exceptions import DependencyUnavailable
from mesh.runtime.frames import records_to_frame
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from . import test_crash
from .conftest import scan_all, write

ORG = "contract"
DIM = 256  # the hashing embedder's
Opener = Callable[[], RecordStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens (again and again) one store of the parametrised kind."""
    if request.param == "sqlite":
        return lambda: SQLiteRecordStore(tmp_path / "m.sqlite")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresRecordStore(url)


def _engine(store: RecordStore, path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(store, IndexManager(path, index), MemorySettings(index=index))


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> WriteOutcome:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    return engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _restated(
    records: list[md_pb.CausalMarketingData], every: int = 7
) -> list[md_pb.CausalMarketingData]:
    """New versions of every ``every``-th record, half of them under a new id (same key)."""
    out = []
    for i, r in enumerate(records[::every]):
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend + 1.0
        if i % 2:
            new.id = f"{r.id}-moved"
        out.append(new)
    return out


def test_an_acknowledged_write_is_visible_to_a_new_connection(
    open_store: Opener, tmp_path: Path
) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    other = open_store()  # another process would see the same
    try:
        records = synthetic_records(ORG, 300, seed=3)
        assert _write(engine, records).inserted == 300
        state = other.org_state(ORG)
        assert state is not None and state.record_count == 300 and state.dim == DIM
        rows = other.scan_page(ORG, RecordFilter(), None, 1000, False)
        seqs = np.array([r.seq for r in rows], dtype=np.int64)
        assert sorted(r.id for r in rows) == sorted(r.id for r in records)
        assert state.checksum == seq_checksum(seqs) and state.max_seq == seqs.max()
        assert other.orgs() == [ORG]
    finally:
        other.close()
        engine.close()


def test_a_resent_batch_changes_nothing(open_store: Opener, tmp_path: Path) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    try:
        records = synthetic_records(ORG, 120, seed=4)
        _write(engine, records)
        before = engine.store.org_state(ORG)
        again = _write(engine, records)
        assert (again.inserted, again.unchanged, again.org_record_count) == (0, 120, 120)
        assert engine.store.org_state(ORG) == before  # no seq given, nothing withdrawn
        older = md_pb.CausalMarketingData()
        older.CopyFrom(records[5])
        older.version = 0
        assert _write(engine, [older]).stale == 1
        assert engine.store.org_state(ORG) == before
        assert engine.store.removed_since(ORG, 0).size == 0
    finally:
        engine.close()


def test_restatements_replace_and_keep_history(open_store: Opener, tmp_path: Path) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    store = engine.store
    try:
        records = synthetic_records(ORG, 140, seed=5)
        _write(engine, records)
        max_before = store.org_state(ORG).max_seq  # type: ignore[union-attr]
        restated = _restated(records)
        out = _write(engine, restated)
        assert (out.replaced, out.inserted, out.org_record_count) == (20, 0, 140)
        rows = store.scan_page(ORG, RecordFilter(), None, 1000, False)
        ids = {r.id for r in rows}
        assert len(rows) == 140 and {r.id for r in restated} <= ids
        moved = [r for r in restated if r.id.endswith("-moved")]
        assert not {r.id.removesuffix("-moved") for r in moved} & ids
        removed = store.removed_since(ORG, max_before)
        assert len(removed) == 20 and not set(removed.tolist()) & {r.seq for r in rows}
        for old, new in zip(records[::7], restated, strict=True):
            history = store.history(ORG, old.natural_key)  # type: ignore[attr-defined]
            assert [(rid, v) for rid, v, _ in history] == [(old.id, old.version)]
            assert history[0][2] > max_before  # replaced at the new version's seq
            del new
        state = store.org_state(ORG)
        assert state is not None and state.checksum == seq_checksum(
            np.array([r.seq for r in rows], dtype=np.int64)
        )
        spend = {m.id: m.spend for m in _decoded(rows)}
        assert all(spend[r.id] == r.spend for r in restated)
    finally:
        engine.close()


def _decoded(rows: list) -> list[md_pb.CausalMarketingData]:  # type: ignore[type-arg]
    out = []
    for row in rows:
        m = md_pb.CausalMarketingData()
        m.ParseFromString(row.payload)
        out.append(m)
    return out


def test_scans_page_in_time_order_and_streams_agree(open_store: Opener, tmp_path: Path) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    store = engine.store
    try:
        records = synthetic_records(ORG, 500, seed=6, start=dt.date(2024, 11, 1))
        for i in range(0, 500, 125):
            _write(engine, records[i : i + 125])
        whole = store.scan_page(ORG, RecordFilter(), None, 10_000, True)
        keys = [(r.timestamp_us, r.id) for r in whole]
        assert keys == sorted(keys) and len(whole) == 500
        paged, after = [], None
        while page := store.scan_page(ORG, RecordFilter(), after, 37, True):
            paged += page
            after = (page[-1].timestamp_us, page[-1].id)
        assert paged == whole
        flt = RecordFilter(campaign_ids=("c1", "c3"), geos=("US-CA",))
        some = store.scan_page(ORG, flt, None, 10_000, False)
        want = {r.id for r in records if r.campaign_id in ("c1", "c3") and r.geo == "US-CA"}
        assert {r.id for r in some} == want and all(r.embedding is None for r in some)
        assert sorted(store.candidates(ORG, flt, None).tolist()) == sorted(r.seq for r in some)
        seqs = np.array([r.seq for r in whole], dtype=np.int64)
        streamed = list(store.iter_vectors(ORG, DIM, 0, 64))
        assert all(len(s) <= 64 for s, _ in streamed)
        got = np.concatenate([s for s, _ in streamed])
        assert got.tolist() == sorted(seqs.tolist())
        by_seq = {r.seq: r.embedding for r in whole}
        for s, m in streamed:
            assert all(by_seq[int(q)] == v.tobytes() for q, v in zip(s, m, strict=True))
        tail = list(store.iter_vectors(ORG, DIM, int(np.median(seqs)), 1000))
        assert np.concatenate([s for s, _ in tail]).min() > np.median(seqs)
        ids = list(store.iter_record_ids(ORG, 100))  # type: ignore[call-arg]
        assert [i for _, page in ids for i in page] == [
            r.id for r in sorted(whole, key=lambda r: r.seq)
        ]
        picked, vectors = store.vectors(seqs[::5], DIM)
        assert sorted(picked.tolist()) == sorted(seqs[::5].tolist()) and vectors.shape[1] == DIM
        hits = store.hits(ORG, seqs[:3].tolist(), True)
        assert {h.id for h in hits.values()} == {r.id for r in whole[:3]}
    finally:
        engine.close()


def test_aggregates_equal_the_records_sums(open_store: Opener, tmp_path: Path) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    try:
        records = synthetic_records(ORG, 400, seed=8, campaigns=5, geos=4)
        _write(engine, records[:200])
        _write(engine, records[200:])
        restated = _restated(records, every=9)
        _write(engine, restated)
        current = {r.natural_key: r for r in records} | {r.natural_key: r for r in restated}
        frame = records_to_frame(list(current.values()), groups=("core",))
        frame["day"] = pd.to_datetime(frame["local_date"]).to_numpy("datetime64[D]").astype(int)
        agg = engine.aggregate(ORG, None, None, ())
        assert agg.record_count == 400
        want = frame.groupby(["day", "campaign_id", "data_source", "channel"], sort=True)[
            ["spend", "impressions", "conversions", "revenue"]
        ].sum()
        got = pd.DataFrame(
            agg.campaign_days,
            columns=["day", "campaign_id", "data_source", "channel", "spend", "impressions",
                     "conversions", "revenue", "records"],
        ).set_index(["day", "campaign_id", "data_source", "channel"])  # fmt: skip
        assert got.index.tolist() == want.index.tolist()
        np.testing.assert_allclose(got[want.columns].to_numpy(), want.to_numpy(), rtol=1e-9)
        spend_cols = [i for i, (_, _, m) in enumerate(agg.geo_columns) if m == "spend"]
        total = sum(row[2 + i] for row in agg.geo_days for i in spend_cols)
        assert total == pytest.approx(frame["spend"].sum(), rel=1e-9)
        days = sorted(frame["day"].unique())
        window = engine.aggregate(ORG, int(days[2]), int(days[4]), ())
        assert {row[0] for row in window.campaign_days} == set(days[2:5])
    finally:
        engine.close()


def _spend_long(wide: CampaignGeoDays) -> pd.DataFrame:
    """The wide spend back as long (day, geo, source, channel, campaign_id, spend) rows."""
    row, col = np.nonzero(wide.spend)
    keys = np.array(wide.columns, dtype=object).reshape(-1, 3)
    return pd.DataFrame({"day": wide.day[row], "geo": np.array(wide.geo, dtype=object)[row],
                         "source": keys[col, 0], "channel": keys[col, 1],
                         "campaign_id": keys[col, 2], "spend": wide.spend[row, col]})  # fmt: skip


def _spend_want(records: list[md_pb.CausalMarketingData], window: tuple[int, int] | None = None,
                sources: tuple[str, ...] = ()) -> pd.DataFrame:  # fmt: skip
    frame = records_to_frame(records, groups=("core",)).rename(columns={"data_source": "source"})
    frame["day"] = pd.to_datetime(frame["local_date"]).to_numpy("datetime64[D]").astype(int)
    if window is not None:
        frame = frame.loc[frame["day"].between(*window)]
    if sources:
        frame = frame.loc[frame["source"].isin(sources)]
    keys = ["day", "geo", "source", "channel", "campaign_id"]
    want = frame.groupby(keys, sort=True)["spend"].sum().reset_index()
    return want.loc[want["spend"] != 0].reset_index(drop=True)


def _same_spend(got: CampaignGeoDays, want: pd.DataFrame) -> None:
    # rows in (day, geo) order, columns in (source, channel, campaign_id) order, every one
    # with spend
    cells = list(zip(got.day.tolist(), got.geo, strict=True))
    assert cells == sorted(set(cells)) and got.columns == sorted(set(got.columns))
    assert got.spend.shape == (len(cells), len(got.columns))
    assert (got.spend != 0).any(axis=1).all() and (got.spend != 0).any(axis=0).all()
    long = _spend_long(got).sort_values(["day", "geo", "source", "channel", "campaign_id"])
    keys = ["day", "geo", "source", "channel", "campaign_id"]
    assert long[keys].to_numpy().tolist() == want[keys].to_numpy().tolist()
    np.testing.assert_allclose(long["spend"], want["spend"], rtol=1e-12)


def test_spend_per_campaign_geo_day_equals_the_records(open_store: Opener, tmp_path: Path) -> None:
    engine = _engine(open_store(), tmp_path / "index")
    try:
        records = synthetic_records(ORG, 480, seed=9, campaigns=6, geos=5)
        _write(engine, records)
        got = engine.aggregate(ORG, None, None, (), campaign_geo=True).campaign_geo_days
        assert got is not None and len(got.columns) == 6  # every campaign spends
        _same_spend(got, _spend_want(records))
        assert engine.aggregate(ORG, None, None, ()).campaign_geo_days is None  # not asked
        # a restatement (a new data version) is read again: the new spend, the old gone
        restated = _restated(records, every=5)
        _write(engine, restated)
        current = list(({r.natural_key: r for r in records}
                        | {r.natural_key: r for r in restated}).values())  # fmt: skip
        again = engine.store.campaign_geo_spend(ORG, None, None, ())
        _same_spend(again, _spend_want(current))
        assert not np.array_equal(again.spend, got.spend)
        days = sorted(set(got.day.tolist()))
        window = engine.store.campaign_geo_spend(ORG, days[2], days[5], ("meta",))
        _same_spend(window, _spend_want(current, (days[2], days[5]), ("meta",)))
        assert set(window.day.tolist()) == set(days[2:6]) and 0 < len(window.columns) < 6
        # a window without records: no rows, no columns
        none = engine.store.campaign_geo_spend(ORG, days[-1] + 10, days[-1] + 20, ())
        assert (len(none.geo), none.columns, none.spend.shape) == (0, [], (0, 0))
        zero = md_pb.CausalMarketingData()
        zero.CopyFrom(current[0])
        zero.version += 1
        zero.spend = 0.0
        _write(engine, [zero])  # a record without spend adds no cell
        after = engine.store.campaign_geo_spend(ORG, None, None, ())
        _same_spend(after, _spend_want([zero, *current[1:]]))
        with pytest.raises(OrgNotFound):
            engine.aggregate("nobody", None, None, (), campaign_geo=True)
    finally:
        engine.close()


# ------------------------------------------------------------- the same story, both stores


def _observed(store: RecordStore, keys: list[str]) -> dict[str, object]:
    """Everything a reader can see of the org, in comparable form (store-wide seqs included:
    both stores give them in the same order from 1)."""
    rows = store.scan_page(ORG, RecordFilter(), None, 10_000, True)
    seqs = np.array([r.seq for r in rows], dtype=np.int64)
    got, matrix = store.vectors(seqs, DIM)
    order = np.argsort(got)
    filters = [
        RecordFilter(campaign_ids=("c1",), geos=("US-CA", "US-NY")),
        RecordFilter(region="scale/large"),
        RecordFilter(experiment_id="exp-bf", treatment_groups=("treatment",)),
        RecordFilter(start_us=rows[50].timestamp_us, end_us=rows[400].timestamp_us),
        RecordFilter(min_quality=0.5, channels=("google_search", "tiktok_app")),
    ]
    nodes, edges = store.graph(ORG)
    nodes = sorted(nodes, key=lambda n: n.node_id)
    days = sorted({row[0] for row in store.aggregate(ORG, None, None, ()).campaign_days})
    return {
        "scan": [(r.seq, r.timestamp_us, r.id, r.payload, r.embedding) for r in rows],
        "vectors": (got[order].tolist(), matrix[order].tobytes()),
        "iter_vectors": [(a.tolist(), m.tobytes()) for a, m in store.iter_vectors(ORG, DIM, 0, 97)],
        "filters": [sorted(store.candidates(ORG, f, None).tolist()) for f in filters],
        "matching": [sorted(store.matching(ORG, seqs[::3], f).tolist()) for f in filters],
        "scan_filtered": [
            [(r.seq, r.id) for r in store.scan_page(ORG, f, None, 10_000, False)] for f in filters
        ],
        "hits": store.hits(ORG, seqs[::13].tolist(), True),
        "graph": (
            nodes,
            sorted(edges, key=lambda e: (e.source, e.target, e.type)),
        ),
        "present": store.present_nodes(ORG, [n.node_id for n in nodes[::5]] + ["campaign:none"]),
        "removed": sorted(store.removed_since(ORG, 0).tolist()),
        "history": [store.history(ORG, k) for k in keys],  # type: ignore[attr-defined]
        "existing": sorted(
            store.existing(ORG, [r.id for r in rows[::11]], keys[:20]), key=lambda e: e.seq
        ),
        "aggregate": store.aggregate(ORG, None, None, ()),
        "campaign_names": store.campaign_names(ORG, ["c0", "c1", "c3", "nobody"]),
        "aggregate_window": store.aggregate(ORG, days[1], days[5], ("meta", "google_ads")),
        "campaign_geo": [
            (w.day.tolist(), w.geo, w.columns, w.spend.tolist())
            for w in (
                store.campaign_geo_spend(ORG, None, None, ()),
                store.campaign_geo_spend(ORG, days[1], days[5], ("meta", "google_ads")),
            )
        ],
        "state": store.org_state(ORG),
    }


def _blank_and_renamed() -> list[md_pb.CausalMarketingData]:
    """Records on a later day whose four sums are all zero (present rows: the aggregate sends
    their pairs' records counts), campaign c0's renamed."""
    out = synthetic_records(ORG, 12, seed=9, start=dt.date(2025, 3, 1))
    for r in out:
        r.spend = r.impressions = r.conversions = r.revenue = 0
        if r.campaign_id == "c0":
            r.campaign_name = "c0 | renamed"
    return out


def _story(open_store: Opener, index: Path) -> dict[str, object]:
    records = synthetic_records(ORG, 600, seed=5, start=dt.date(2024, 11, 22))
    first = _engine(open_store(), index)
    _write(first, records[:400])
    first.close()
    again = _engine(open_store(), index)
    again.recover()
    _write(again, records[400:])
    _write(again, _restated(records))
    _write(again, records[:50])  # stale now: nothing changes
    _write(again, _blank_and_renamed())
    seen = _observed(again.store, [r.natural_key for r in records[::3]])
    again.close()
    return seen


def _same_sums(a: Aggregate, b: Aggregate) -> None:
    """Equal keys and counts; sums equal to the last bits a different summation order (each
    engine's SUM) may change."""
    assert (a.geo_columns, a.record_count) == (b.geo_columns, b.record_count)
    for rows_a, rows_b, keys in (
        (a.geo_days, b.geo_days, 2),
        (a.campaign_days, b.campaign_days, 4),
    ):
        assert [r[:keys] for r in rows_a] == [r[:keys] for r in rows_b]
        np.testing.assert_allclose(
            np.array([r[keys:] for r in rows_a], dtype=float),
            np.array([r[keys:] for r in rows_b], dtype=float),
            rtol=1e-12,
        )


def test_both_stores_answer_the_same_story_alike(tmp_path: Path, postgres_url: str) -> None:
    lite = _story(lambda: SQLiteRecordStore(tmp_path / "m.sqlite"), tmp_path / "lite")
    pg = _story(lambda: PostgresRecordStore(postgres_url), tmp_path / "pg")
    assert pg.keys() == lite.keys()
    for key in lite:
        if key.startswith("aggregate"):
            _same_sums(pg[key], lite[key])  # type: ignore[arg-type]
        else:
            assert pg[key] == lite[key], key
    assert len(lite["removed"]) == 86  # type: ignore[arg-type]  # every 7th of 600 replaced
    assert lite["aggregate_window"].record_count > 0  # type: ignore[attr-defined]
    # the blank day's pairs send their records counts; the latest record names c0
    assert any(m == "records" for _, _, m in lite["aggregate"].geo_columns)  # type: ignore[attr-defined]
    names = lite["campaign_names"]
    assert names["c0"] == "c0 | renamed" and "nobody" not in names  # type: ignore[index, operator]
    assert names["c1"] and names["c1"] != names["c0"]  # type: ignore[index]
    assert all(lite["filters"]) and len(lite["hits"]) > 10  # type: ignore[arg-type]


# ---------------------------------------------------------------------- PostgreSQL only


def test_migrations_are_versioned_and_applied_once(postgres_url: str) -> None:
    PostgresRecordStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert (
            applied(conn) == [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
        )
        assert migrate(conn) == []  # nothing left to apply
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(RuntimeError, match=r"schema versions \[999\]"):
        PostgresRecordStore(postgres_url)


def test_an_unreachable_server_is_unavailable(postgres_url: str) -> None:
    store = PostgresRecordStore(postgres_url)
    try:
        assert store.org_state(ORG) is None  # this thread's reader is connected
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(DependencyUnavailable) as err:
            store.org_state(ORG)
        assert err.value.dependency == "postgresql"
        assert store.org_state(ORG) is None  # the next call reconnects
    finally:
        store.close()
    bad = postgres_url.replace("port=", "port=1")
    with pytest.raises(psycopg.OperationalError):
        PostgresRecordStore(bad)


def test_a_memory_server_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The service over gRPC with ``store=`` a PostgreSQL URL (what --store passes)."""
    records = synthetic_records("pgorg", 300, seed=9)
    memory = functools.partial(app.build, store=postgres_url)
    with (
        running_services({"memory": memory}, tmp_path) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = memory_grpc.MemoryServiceStub(channel)
        assert write(stub, "pgorg", records, batch=100).inserted_count == 300
        assert write(stub, "pgorg", records).unchanged_count == 300
        assert {r.id for r in scan_all(stub, org_id="pgorg")} == {r.id for r in records}
        found = stub.Search(
            memory_pb.SearchRequest(org_id="pgorg", text="search campaign", k=5),
            timeout=30,
        )
        assert len(found.hits) == 5 and found.index_size == 300
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone() == (300,)
    assert not (tmp_path / "memory" / "memory.sqlite").exists()


def test_a_batch_decided_on_a_stale_view_is_refused(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two memory processes on one database: a batch one of them decided before the other
    committed the same records is refused whole (retryable), and its retry is a no-op."""
    first = _engine(PostgresRecordStore(postgres_url), tmp_path / "a")
    second = _engine(PostgresRecordStore(postgres_url), tmp_path / "b")
    try:
        records = synthetic_records(ORG, 50, seed=12)
        with monkeypatch.context() as m:
            m.setattr(second.store, "existing", lambda *_: [])  # read before `first` wrote
            assert _write(first, records).inserted == 50
            with pytest.raises(WriteConflict) as err:
                _write(second, records)
        assert err.value.reason == "WRITE_CONFLICT" and err.value.retry_after_s > 0
        state = second.store.org_state(ORG)
        assert state is not None and state.record_count == 50
        assert _write(second, records).unchanged == 50
    finally:
        second.close()
        first.close()


def test_kill_during_write_on_postgresql_loses_no_acked_row(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_crash's kill -9 story, with the service's store on PostgreSQL (the server
    process takes LIFTOS_MEMORY_STORE from this environment)."""
    monkeypatch.setenv("LIFTOS_MEMORY_STORE", postgres_url)
    test_crash.test_kill_during_write_keeps_every_acked_record_once(tmp_path)
    with psycopg.connect(postgres_url) as conn:  # the records are there, not in a SQLite file
        assert conn.execute("SELECT record_count FROM orgs").fetchone()[0] >= 1500  # type: ignore[index]
    assert not (tmp_path / "memory" / "memory.sqlite").exists()


# ------------------------------------------- several memory processes on one database


def _following(url: str, path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9, follow_s=1.0)
    store = PostgresRecordStore(url)
    return MemoryEngine(store, IndexManager(path, index, store), MemorySettings(index=index))


def _in_step(engine: MemoryEngine, org: str) -> None:
    idx = engine.indexes.get(org)
    state = engine.store.org_state(org)
    assert idx is not None and state is not None
    assert (idx.size, idx.checksum(), idx.max_seq) == (
        state.record_count, state.checksum, state.max_seq
    )  # fmt: skip
    ids = engine.indexes.record_ids(org)
    assert ids is not None and len(ids) == state.record_count


def test_indexes_follow_the_commits_of_another_process(postgres_url: str, tmp_path: Path) -> None:
    a = _following(postgres_url, tmp_path / "a")
    b = _following(postgres_url, tmp_path / "b")
    try:
        records = synthetic_records(ORG, 400, seed=13)
        _write(a, records[:200])
        assert b.indexes.follow(ORG) == 200  # an org new to b: recovered from the store
        _in_step(b, ORG)
        _write(a, records[200:300])
        # b writes before it has followed a's last commit: that commit is applied first
        _write(b, records[300:])
        _in_step(b, ORG)
        restated = _restated(records[:300], every=10)  # written by a, replaced through b
        assert _write(b, restated).replaced == 30
        assert a.indexes.follow(ORG) > 0
        _in_step(a, ORG)
        _in_step(b, ORG)
        q = a.query_vector(ORG, "google search", None)
        got_a = [h.record_id for h in a.search(ORG, q, RecordFilter(), 10).hits]
        assert got_a == [h.record_id for h in b.search(ORG, q, RecordFilter(), 10).hits]
        moved = {r.id for r in restated}
        assert not {r.id.removesuffix("-moved") for r in restated if r.id.endswith("-moved")} & {
            h.record_id for h in a.search(ORG, q, RecordFilter(), 400).hits
        }
        assert moved <= {h.record_id for h in a.search(ORG, q, RecordFilter(), 400).hits}
    finally:
        b.close()
        a.close()


def test_two_memory_servers_on_one_database_see_each_others_writes(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two memory processes (their own data dirs, one PostgreSQL), following every 0.2 s:
    a write through either is searchable through the other within the follow interval plus
    a catch-up (asserted with room for a loaded machine: 5 s, 25 intervals)."""
    monkeypatch.setenv("LIFTOS_MEMORY_FOLLOW_S", "0.2")
    memory = functools.partial(app.build, store=postgres_url)
    records = synthetic_records("both", 200, seed=14)
    with (
        running_services({"memory": memory}, tmp_path / "a") as one,
        running_services({"memory": memory}, tmp_path / "b") as two,
        grpc.insecure_channel(one["memory"].address) as ca,
        grpc.insecure_channel(two["memory"].address) as cb,
    ):
        first, second = memory_grpc.MemoryServiceStub(ca), memory_grpc.MemoryServiceStub(cb)
        for writer, reader, part, total in ((first, second, records[:120], 120),
                                            (second, first, records[120:], 200)):  # fmt: skip
            write(writer, "both", part)
            start = time.monotonic()
            while True:
                try:
                    found = reader.Search(
                        memory_pb.SearchRequest(org_id="both", text="campaign", k=3), timeout=10
                    )
                    if found.index_size == total:
                        break
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.NOT_FOUND  # the org not followed yet
                assert time.monotonic() - start < 5.0, "not visible through the other within 5 s"
                time.sleep(0.02)


def test_a_store_url_of_no_known_kind_is_refused_before_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--store / LIFTOS_MEMORY_STORE: unknown store 'mysql'"):
        app.open_store("mysql://root:secret@db/x", tmp_path)
    with pytest.raises(SystemExit, match="unknown store 'mysql'") as stop:
        app.main(["--store", "mysql://root:secret@db/x", "--port", "0"])
    assert "secret" not in str(stop.value)
    with pytest.raises(SystemExit, match="--memory-budget: 'lots' is not a size"):
        app.main(["--memory-budget", "lots"])
    lite = app.open_store(f"sqlite://{tmp_path / 'other.sqlite'}", tmp_path)  # sqlite:///abs/path
    lite.close()
    assert (tmp_path / "other.sqlite").exists()
