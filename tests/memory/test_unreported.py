"""Records whose platform conversions were not reported (``conversions_unreported``, audit
R15-F3): both stores keep the flag in the record and sum those records' count and spend per
campaign-day, over any window and sources, following restatements that report them after all;
AggregateRecords sends them as campaign_days' ``unreported_records`` / ``unreported_spend``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordFilter, RecordStore
from mesh.runtime.frames import records_to_frame
from mesh.runtime.synthetic_records import synthetic_records
from mesh.runtime.tables import table_to_frame

ORG = "unrep"
KEY = ["day", "campaign_id", "source", "channel"]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], RecordStore]:
    if request.param == "sqlite":
        return lambda: SQLiteRecordStore(tmp_path / "m.sqlite")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresRecordStore(url)


def _records() -> list[md_pb.CausalMarketingData]:
    """Synthetic records with Meta's unreported (conversions and revenue 0)."""
    records = synthetic_records(ORG, 400, seed=5, start=dt.date(2025, 3, 1), campaigns=6, geos=4)
    for r in records:
        if r.data_source == common_pb.DATA_SOURCE_META:
            r.conversions_unreported, r.conversions, r.revenue = True, 0.0, 0.0
    return records


def _want(records: list[md_pb.CausalMarketingData], window: tuple[int, int] | None = None,
          sources: tuple[str, ...] = ()) -> pd.DataFrame:  # fmt: skip
    f = records_to_frame(records, groups=("core",)).rename(columns={"data_source": "source"})
    f["day"] = pd.to_datetime(f["local_date"]).to_numpy("datetime64[D]").astype(np.int64)
    f = f.loc[f["conversions_unreported"]]
    if window is not None:
        f = f.loc[f["day"].between(*window)]
    if sources:
        f = f.loc[f["source"].isin(sources)]
    out = f.groupby(KEY, sort=True).agg(records=("id", "size"), spend=("spend", "sum"))
    return out.reset_index()


def _got(rows: object) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[*KEY, "records", "spend"])  # type: ignore[call-overload]


def _write(engine: MemoryEngine, records: list[md_pb.CausalMarketingData]) -> None:
    batch = convert.write_batch(memory_pb.WriteRequest(org_id=ORG, records=records), None)
    engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))


def test_both_stores_sum_the_unreported_records(open_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    engine = MemoryEngine(open_store(), IndexManager(tmp_path / "i", index),
                          MemorySettings(index=index))  # fmt: skip
    try:
        records = _records()
        _write(engine, records)
        want = _want(records)
        assert len(want) > 10
        agg = engine.aggregate(ORG, None, None, ())
        pd.testing.assert_frame_equal(_got(agg.unreported), want, check_dtype=False)
        days = sorted(set(want["day"]))
        window = (days[3], days[-4])
        for sources in ((), ("meta",), ("google_ads",)):
            got = _got(engine.aggregate(ORG, *window, sources).unreported)
            pd.testing.assert_frame_equal(got, _want(records, window, sources),
                                          check_dtype=False)  # fmt: skip
        # a restatement that reports a day's purchases after all leaves the unreported sums
        first = [r for r in records if r.conversions_unreported][:5]
        restated = []
        for r in first:
            new = md_pb.CausalMarketingData()
            new.CopyFrom(r)
            new.version, new.conversions_unreported, new.conversions = r.version + 1, False, 2.0
            restated.append(new)
        _write(engine, restated)
        now = {r.id: r for r in records} | {r.id: r for r in restated}
        agg = engine.aggregate(ORG, None, None, ())
        pd.testing.assert_frame_equal(_got(agg.unreported), _want(list(now.values())),
                                      check_dtype=False)  # fmt: skip
        # on the wire: one value per campaign_days row, 0 where none is unreported
        table = table_to_frame(convert.aggregate_response(agg).campaign_days)
        per_row = table.rename(columns={"date": "day"}).merge(
            _want(list(now.values())), on=KEY, how="left"
        ).fillna({"records_y": 0, "spend_y": 0.0})  # fmt: skip
        assert table["unreported_records"].tolist() == per_row["records_y"].astype(int).tolist()
        assert table["unreported_spend"].to_numpy() == pytest.approx(per_row["spend_y"])
        scanned = engine.scan_page(ORG, RecordFilter(), None, 10_000, False)
        assert sum(md_pb.CausalMarketingData.FromString(r.payload).conversions_unreported
                   for r in scanned) == sum(r.conversions_unreported for r in now.values())  # fmt: skip
    finally:
        engine.close()
