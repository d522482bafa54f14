"""The measures table: sums per day × geo and per day × campaign equal the records' own sums,
restatements replace their old numbers, and a database written before the table existed is
backfilled from its payloads on open. The SQLite store answers from the org's sums held as
arrays per data version: the same rows as the SQL pivot, and a write makes it read again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.errors import OrgNotFound
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.org_sums import ColumnRows
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import Aggregate
from memory_svc.store_sql import (
    AGGREGATE_CAMPAIGN_DAYS,
    AGGREGATE_PAIRS,
    SUM_COLUMNS,
    aggregate_filter,
    geo_days_pivot_sql,
)
from mesh.runtime.aggregates import melt_campaign_geo_days, sum_column
from mesh.runtime.frames import records_to_frame
from mesh.runtime.synthetic_records import record_id, synthetic_records
from mesh.runtime.tables import table_to_frame

from .conftest import ORG as WIRE_ORG
from .conftest import reason_and_fields

ORG = "agg"


def _engine(path: Path) -> MemoryEngine:
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    return MemoryEngine(SQLiteRecordStore(path / "m.sqlite"), IndexManager(path / "index", index),
                        MemorySettings(index=index))  # fmt: skip


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def _expected(records: list[md_pb.CausalMarketingData], key: str) -> pd.DataFrame:
    f = records_to_frame(records, groups=("core",))
    f["day"] = (pd.to_datetime(f["local_date"]).to_numpy("datetime64[D]")).astype(np.int64)
    f = f.rename(columns={"data_source": "source"})
    g = f.groupby(["day", key, "source", "channel"], sort=True)
    return g[["spend", "impressions", "conversions", "revenue"]].sum().reset_index()


def _got(rows: list[tuple], key: str) -> pd.DataFrame:
    cols = ["day", key, "source", "channel", "spend", "impressions", "conversions", "revenue",
            "records"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols).drop(columns="records")


def _long(agg) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The wide geo rows back in long form, zero sums restored."""
    names = [f"{s}:{c}:{m}" for s, c, m in agg.geo_columns]
    wide = pd.DataFrame(agg.geo_days, columns=["date", "geo", *names])
    melted = wide.melt(id_vars=["date", "geo"], var_name="column")
    melted[["source", "channel", "sum"]] = melted["column"].str.split(":", expand=True)
    long = melted.pivot_table(index=["date", "geo", "source", "channel"], columns="sum",
                              values="value", aggfunc="sum").reset_index()  # fmt: skip
    for m in ("spend", "impressions", "conversions", "revenue"):
        if m not in long:
            long[m] = 0.0
    long = long.rename(columns={"date": "day"}).fillna(0.0)
    long = long.loc[(long[["spend", "impressions", "conversions", "revenue"]] != 0).any(axis=1)]
    return long.sort_values(["day", "geo", "source", "channel"]).reset_index(drop=True)


def _check(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    agg = engine.aggregate(ORG, None, None, ())
    for key, got in (("geo", _long(agg)), ("campaign_id", _got(agg.campaign_days, "campaign_id"))):
        want = _expected(records, key)
        want = want.loc[(want[["spend", "impressions", "conversions", "revenue"]] != 0).any(axis=1)]
        assert len(got) == len(want)
        for col in ("spend", "impressions", "conversions", "revenue"):
            np.testing.assert_allclose(got[col], want[col], rtol=1e-9, err_msg=col)
    assert agg.record_count == len(records)


def test_sums_match_the_records_and_follow_restatements(tmp_path: Path) -> None:
    records = synthetic_records(ORG, 600, seed=3)
    engine = _engine(tmp_path)
    _write(engine, records)
    _check(engine, records)
    restated = []
    for r in records[::5]:
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend * 2 + 1
        restated.append(new)
    _write(engine, restated)
    current = {r.id: r for r in records} | {r.id: r for r in restated}
    _check(engine, list(current.values()))
    day0 = int(engine.aggregate(ORG, None, None, ()).geo_days[0][0])  # type: ignore[call-overload]
    only = engine.aggregate(ORG, day0, day0, ())
    assert {r[0] for r in only.geo_days} == {day0}
    with pytest.raises(OrgNotFound):
        engine.aggregate("nobody", None, None, ())
    engine.close()


def _sql_pivot(store: SQLiteRecordStore, start: int | None, end: int | None,
               sources: tuple[str, ...]) -> Aggregate:  # fmt: skip
    """The SQL pivot the store used to answer with (and the PostgreSQL store still does)."""
    where, params = aggregate_filter(ORG, start, end, sources)
    db = store._read()
    columns: list[tuple[str, str, str]] = []
    records = 0
    pairs = db.execute(AGGREGATE_PAIRS.format(where=where), params)
    for source, channel, *nonzero, blank, count in pairs:
        records += int(count)
        columns += [(source, channel, m) for m, n in zip(SUM_COLUMNS, nonzero, strict=True) if n]
        if blank:  # a row with all four sums zero: the pair's records count per (day, geo)
            columns.append((source, channel, "records"))
    pivot = [v for s, c, _ in columns for v in (s, c)]
    geo = db.execute(geo_days_pivot_sql(columns, where), pivot + params).fetchall()
    camp = db.execute(AGGREGATE_CAMPAIGN_DAYS.format(where=where), params).fetchall()
    currencies = db.execute(
        "SELECT source, channel, currency, TOTAL(spend), TOTAL(revenue), SUM(records) "
        f"FROM currency_day_sums WHERE {where} AND records > 0 "
        "GROUP BY source, channel, currency ORDER BY source, channel, currency",
        params,
    ).fetchall()
    # names are looked up, not pivoted: the store's own lookup
    ids = sorted({row[1] for row in camp})
    names = store.campaign_names(ORG, ids)
    return Aggregate(columns, geo, camp, records, currencies=currencies,
                     campaign_names=[(c, names[c]) for c in ids if c in names])  # fmt: skip


def test_array_sums_equal_the_sql_pivot_and_follow_writes(tmp_path: Path) -> None:
    records = synthetic_records(ORG, 800, seed=5)
    engine = _engine(tmp_path)
    _write(engine, records[:500])
    store = engine.store
    assert isinstance(store, SQLiteRecordStore)
    days = sorted({row[0] for row in store.aggregate(ORG, None, None, ()).campaign_days})
    sources = sorted({row[2] for row in store.aggregate(ORG, None, None, ()).campaign_days})
    windows = [
        (None, None, ()),
        (days[2], days[6], ()),
        (days[1], None, tuple(sources[:2])),
        (None, days[0], (sources[-1],)),
        (days[-1] + 1, None, ()),
        (None, None, ("x",)),
    ]
    for start, end, srcs in windows:
        got = store.aggregate(ORG, start, end, srcs)
        assert got == _sql_pivot(store, start, end, srcs), (start, end, srcs)
        assert isinstance(got.geo_days, ColumnRows)
        assert list(got.geo_days) == _sql_pivot(store, start, end, srcs).geo_days
    # Unchanged data: the arrays are read once; a write changes the data version.
    held = store._org_sums(ORG)
    assert store._org_sums(ORG)[0] is held[0]
    _write(engine, records[500:])
    assert store._org_sums(ORG)[0] is not held[0]
    assert store.aggregate(ORG, None, None, ()) == _sql_pivot(store, None, None, ())
    _check(engine, records)
    restated = []
    for r in records[::7]:
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.revenue = r.revenue * 3 + 2
        restated.append(new)
    _write(engine, restated)  # a restatement keeps the count, changes the version
    current = {r.id: r for r in records} | {r.id: r for r in restated}
    _check(engine, list(current.values()))
    assert store.aggregate(ORG, days[1], days[3], ()) == _sql_pivot(store, days[1], days[3], ())
    engine.close()


def test_held_sums_follow_commits_without_reading_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits to a held org patch its arrays with the sums rows they changed (as stored):
    equal to the SQL after new keys, restatements, and a record moved off a key that it
    alone held (the key goes), with no second read of the tables."""
    records = synthetic_records(ORG, 900, seed=6)
    engine = _engine(tmp_path)
    store = engine.store
    assert isinstance(store, SQLiteRecordStore)
    _write(engine, records[:300])
    store.aggregate(ORG, None, None, ())
    reads: list[str] = []
    hold = store._hold_sums
    monkeypatch.setattr(store, "_hold_sums", lambda org, held: (reads.append(org), hold(org, held)))
    _write(engine, records[300:600])
    _write(engine, records[600:])
    geos = sorted({r.geo for r in records})
    moved = []
    for i, r in enumerate(records[::9]):
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = r.spend + 0.1 * i
        if i % 3 == 0:
            new.geo = "ZZ-" + geos[0]  # off its key: a key only it held is left empty
        moved.append(new)
    _write(engine, moved)
    emptied = "SELECT count(*) FROM geo_day_sums WHERE org_id = ? AND records = 0"
    assert store._read().execute(emptied, (ORG,)).fetchone()[0] > 0
    days = sorted({row[0] for row in _sql_pivot(store, None, None, ()).geo_days})
    for start, end, srcs in ((None, None, ()), (days[1], days[4], ()), (None, None, ("meta",))):
        assert store.aggregate(ORG, start, end, srcs) == _sql_pivot(store, start, end, srcs)
    assert reads == []  # patched, never read again
    current = {r.id: r for r in records} | {r.id: r for r in moved}
    _check(engine, list(current.values()))
    engine.close()


def test_held_spend_per_campaign_geo_follows_commits_without_reading_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits to an org whose spend cells are held hand over their records with spend and
    the seqs they replaced: the answer equals a fresh read of the records after new records,
    restatements, a record moved to a new geo and campaign, and one whose spend went to 0 —
    with no second read."""
    records = synthetic_records(ORG, 900, seed=6)
    engine = _engine(tmp_path)
    store = engine.store
    assert isinstance(store, SQLiteRecordStore)
    _write(engine, records[:300])
    store.campaign_geo_spend(ORG, None, None, ())
    reads: list[str] = []
    put = store._spend.put
    monkeypatch.setattr(store._spend, "put", lambda org, *a: (reads.append(org), put(org, *a)))
    _write(engine, records[300:600])
    _write(engine, records[600:])
    moved = []
    for i, r in enumerate(records[::9]):
        new = md_pb.CausalMarketingData()
        new.CopyFrom(r)
        new.version = r.version + 1
        new.spend = 0.0 if i % 5 == 0 else r.spend + 0.1 * i
        if i % 3 == 0:
            new.geo, new.campaign_id = "ZZ-" + r.geo, r.campaign_id + "-moved"
        moved.append(new)
    _write(engine, moved)
    fresh = SQLiteRecordStore(tmp_path / "m.sqlite")
    try:
        days = sorted({r[0] for r in store.aggregate(ORG, None, None, ()).geo_days})
        for start, end, srcs in ((None, None, ()), (days[1], days[4], ()), (None, None, ("meta",))):
            got = store.campaign_geo_spend(ORG, start, end, srcs)
            want = fresh.campaign_geo_spend(ORG, start, end, srcs)
            assert (got.day.tolist(), got.geo, got.columns) == (
                want.day.tolist(), want.geo, want.columns)  # fmt: skip
            assert np.array_equal(got.spend, want.spend)  # same records, same order: same bits
        assert any(g.startswith("ZZ-") for g in got.geo)
        assert any(c.endswith("-moved") for _, _, c in got.columns)
    finally:
        fresh.close()
    assert reads == []  # followed, never read again
    current = {r.natural_key: r for r in records} | {r.natural_key: r for r in moved}
    whole = store.campaign_geo_spend(ORG, None, None, ())
    spend = sum(r.spend for r in current.values())
    assert float(whole.spend.sum()) == pytest.approx(spend, rel=1e-12)
    engine.close()


def test_column_rows_read_as_the_tuples_they_hold() -> None:
    rows = ColumnRows([np.array([3, 4, 5]), ["a", "b", "c"], np.array([0.5, 0.0, 2.0])], 3)
    want = [(3, "a", 0.5), (4, "b", 0.0), (5, "c", 2.0)]
    assert list(rows) == want and rows == want and len(rows) == 3
    assert rows[1] == (4, "b", 0.0) and rows[-1] == (5, "c", 2.0) and rows[1:] == want[1:]
    assert all(type(v) in (int, str, float) for v in rows[0])
    assert rows != want[:2] and rows != [(3, "a", 0.5), (4, "b", 1.0), (5, "c", 2.0)]
    with pytest.raises(IndexError):
        rows[3]


def test_a_database_from_before_the_table_is_backfilled(tmp_path: Path) -> None:
    records = synthetic_records(ORG, 300, seed=4)
    engine = _engine(tmp_path)
    _write(engine, records)
    engine.close()
    # An older layout: the table did not exist.
    store = SQLiteRecordStore(tmp_path / "m.sqlite")
    store._writer.execute("DELETE FROM measures")
    assert store.backfill_measures(convert.payload_measures) == len(records)
    assert store.backfill_measures(convert.payload_measures) == 0
    store.close()
    _check(_engine(tmp_path), records)


# -- over the wire ------------------------------------------------------------------------


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def test_aggregate_records_over_the_wire(
    stub: memory_grpc.MemoryServiceStub, org_records: list[md_pb.CausalMarketingData]
) -> None:
    resp = stub.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=WIRE_ORG), timeout=30)
    geo = table_to_frame(resp.geo_days)
    camp = table_to_frame(resp.campaign_days)
    assert resp.record_count == len(org_records) == int(camp["records"].sum())
    spend_cols = [c for c in geo.columns if c.endswith(":spend")]
    want = _expected(org_records, "geo")
    np.testing.assert_allclose(geo[spend_cols].to_numpy().sum(), want["spend"].sum(), rtol=1e-9)
    assert geo.columns[:2].tolist() == ["date", "geo"] and len(geo) == len(
        geo[["date", "geo"]].drop_duplicates()
    )
    rev_cols = [c for c in geo.columns if c.endswith(":revenue")]
    np.testing.assert_allclose(camp["revenue"].sum(), geo[rev_cols].to_numpy().sum(), rtol=1e-9)
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(geo["date"].min()))
    one_day = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(
            org_id=WIRE_ORG,
            date_range=common_pb.DateRange(start_date=_date(first), end_date=_date(first)),
        ),
        timeout=30,
    )
    assert set(table_to_frame(one_day.geo_days)["date"]) == {int(geo["date"].min())}
    # Only the sums asked for: the same values in fewer columns.
    spend_only = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(org_id=WIRE_ORG, measures=["spend"]), timeout=30
    )
    narrow = table_to_frame(spend_only.geo_days)
    # records columns (pairs with an all-zero row) go with any sum: they say a row is there
    kept = [c for c in geo.columns if c.endswith((":spend", ":records"))]
    assert narrow.columns.tolist() == ["date", "geo", *kept]
    pd.testing.assert_frame_equal(narrow, geo[["date", "geo", *kept]])
    pd.testing.assert_frame_equal(table_to_frame(spend_only.campaign_days), camp)


def test_spend_per_campaign_geo_day_over_the_wire(
    stub: memory_grpc.MemoryServiceStub, org_records: list[md_pb.CausalMarketingData]
) -> None:
    plain = stub.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=WIRE_ORG), timeout=30)
    assert not plain.HasField("campaign_geo_days")  # only when asked
    asked = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(org_id=WIRE_ORG, campaign_geo_spend=True), timeout=30
    )
    # the other tables are as without it
    assert (asked.geo_days, asked.campaign_days) == (plain.geo_days, plain.campaign_days)
    wide = table_to_frame(asked.campaign_geo_days)
    assert wide.columns[:2].tolist() == ["date", "geo"] and wide["date"].dtype == np.int64
    assert all(wide[c].dtype == np.float64 for c in wide.columns[2:])
    long = melt_campaign_geo_days(wide)
    f = records_to_frame(org_records, groups=("core",)).rename(columns={"data_source": "source"})
    f["date"] = pd.to_datetime(f["local_date"]).to_numpy("datetime64[D]").astype(np.int64)
    keys = ["date", "geo", "source", "channel", "campaign_id"]
    want = f.groupby(keys, sort=True)["spend"].sum().reset_index()
    want = want.loc[want["spend"] != 0]
    got = long.astype({k: str for k in keys[1:]}).sort_values(keys)
    assert got[keys].to_numpy().tolist() == want[keys].to_numpy().tolist()
    np.testing.assert_allclose(got["spend"], want["spend"], rtol=1e-12)
    geo = table_to_frame(plain.geo_days)
    spend = geo[[c for c in geo.columns if c.endswith(":spend")]].to_numpy().sum()
    np.testing.assert_allclose(long["spend"].sum(), spend, rtol=1e-9)
    # window and sources as for the other tables
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(wide["date"].min()))
    one = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(
            org_id=WIRE_ORG, campaign_geo_spend=True, sources=[common_pb.DATA_SOURCE_META],
            date_range=common_pb.DateRange(start_date=_date(first), end_date=_date(first)),
        ),
        timeout=30,
    )  # fmt: skip
    narrow = melt_campaign_geo_days(table_to_frame(one.campaign_geo_days))
    assert set(narrow["date"]) == {int(wide["date"].min())} and set(narrow["source"]) == {"meta"}
    # a window with no records: the table says its columns' types and has no rows
    empty = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(
            org_id=WIRE_ORG, campaign_geo_spend=True,
            date_range=common_pb.DateRange(start_date=_date(dt.date(1990, 1, 1)),
                                           end_date=_date(dt.date(1990, 1, 2))),
        ),
        timeout=30,
    )  # fmt: skip
    assert empty.campaign_geo_days.row_count == 0
    assert [c.name for c in empty.campaign_geo_days.columns] == ["date", "geo"]


@pytest.mark.parametrize(
    ("request_kwargs", "code", "field"),
    [
        ({"org_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "org_id"),
        (
            {"org_id": WIRE_ORG, "date_range": common_pb.DateRange(
                start_date=_date(dt.date(2024, 12, 1)), end_date=_date(dt.date(2024, 11, 1)))},
            grpc.StatusCode.INVALID_ARGUMENT, "date_range",
        ),
        ({"org_id": WIRE_ORG, "sources": [0]}, grpc.StatusCode.INVALID_ARGUMENT, "sources[0]"),
        ({"org_id": WIRE_ORG, "measures": ["spend", "clicks"]}, grpc.StatusCode.INVALID_ARGUMENT,
         "measures[1]"),
        ({"org_id": "nobody-here"}, grpc.StatusCode.NOT_FOUND, None),
        ({"org_id": "nobody-here", "campaign_geo_spend": True}, grpc.StatusCode.NOT_FOUND, None),
        ({"org_id": WIRE_ORG, "campaign_geo_spend": True, "sources": [0]},
         grpc.StatusCode.INVALID_ARGUMENT, "sources[0]"),
    ],
)  # fmt: skip
def test_aggregate_records_refusals(
    stub: memory_grpc.MemoryServiceStub,
    org_records: list[md_pb.CausalMarketingData],
    request_kwargs: dict,
    code: grpc.StatusCode,
    field: str | None,
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.AggregateRecords(memory_pb.AggregateRecordsRequest(**request_kwargs), timeout=30)
    got, _, fields = reason_and_fields(info.value)
    assert got == code
    if field:
        assert field in fields


def test_a_row_with_all_sums_zero_is_sent_as_its_records_count(tmp_path: Path) -> None:
    """A pair's row whose four sums are zero is present (a day without sales), not missing:
    its pair gains a ``records`` column, equal to the SQL pivot's; pairs without such a row
    send none."""
    engine = _engine(tmp_path)
    records = synthetic_records(ORG, 40, seed=4, campaigns=2, geos=4)
    for r in records:  # sums never all zero: no records column to begin with
        r.impressions = max(r.impressions, 1)
    _write(engine, records)
    store = engine.store
    assert isinstance(store, SQLiteRecordStore)
    assert all(m != "records" for _, _, m in store.aggregate(ORG, None, None, ()).geo_columns)
    blank = md_pb.CausalMarketingData()
    blank.CopyFrom(records[0])  # its (day, geo, source, channel) again, on a later day
    day = dt.date(2024, 12, 1)
    blank.natural_key = f"blank|{day}"
    blank.id = record_id(ORG, blank.natural_key)
    blank.local_date.year, blank.local_date.month, blank.local_date.day = 2024, 12, 1
    blank.timestamp.FromDatetime(dt.datetime(2024, 12, 1, 12, tzinfo=dt.UTC))
    blank.spend = blank.impressions = blank.conversions = blank.revenue = 0
    _write(engine, [blank])
    agg = store.aggregate(ORG, None, None, ())
    assert agg == _sql_pivot(store, None, None, ())
    (col,) = [i for i, (_, _, m) in enumerate(agg.geo_columns) if m == "records"]
    pair = agg.geo_columns[col][:2]
    assert pair[1] == blank.channel
    by_cell = {(row[0], row[1]): row[2 + col] for row in agg.geo_days}
    epoch = (day - dt.date(1970, 1, 1)).days
    assert by_cell.pop((epoch, blank.geo)) == 1.0
    # the pair's rows with sums carry their counts too; cells where it has no row read 0
    assert set(by_cell.values()) <= {0.0, 1.0} and 1.0 in by_cell.values()
    assert store.aggregate(ORG, None, epoch - 1, ()).geo_columns == agg.geo_columns[:col] + \
        agg.geo_columns[col + 1 :]  # fmt: skip
    wire = convert.aggregate_response(agg, ("spend",))
    assert sum_column(*pair, "records") in [c.name for c in wire.geo_days.columns]
    engine.close()
