"""convert.history_rows: what a stream learns from memory's Scan of stored records equals
what the frame decoder gives (the previous implementation, kept here as the reference) and
what the pipeline recorded when it wrote those rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from ingestion_svc.convert import history_rows
from ingestion_svc.history import HISTORY_COLUMNS, day_numbers
from mesh.runtime.frames import frame_to_records, records_to_frame
from tests.ingestion.conftest import account_of, ingested_batches

_PULLED = dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC)


def _reference(
    records: list[md_pb.CausalMarketingData], account_key: str, first_day: int, last_day: int
) -> pd.DataFrame:
    frame = records_to_frame(records, groups=("core", "metadata"))
    if frame.empty:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    keys = (frame["data_source"].astype(str) + "|" + frame["account_id"].astype(str)).to_numpy()
    day = day_numbers(frame["local_date"].to_numpy())
    frame = frame[(keys == account_key) & (day >= first_day) & (day <= last_day)]
    natural = frame["natural_key"].astype(str).tolist()
    parts = [k.split("|") for k in natural]
    klaviyo = account_key.startswith("klaviyo|")
    return pd.DataFrame(
        {
            "series": [k.rsplit("|", 1)[0] for k in natural],
            "account_key": account_key,
            "day": day_numbers(frame["local_date"].to_numpy()),
            "spend": frame["spend"].to_numpy(np.float64),
            "conversions": frame["conversions"].to_numpy(np.float64),
            "revenue": frame["revenue"].to_numpy(np.float64),
            "version": frame["version"].to_numpy(np.int64),
            "sha": frame["meta_raw_row_sha256"].astype(str).to_numpy(dtype=object),
            "campaign_id": frame["campaign_id"].astype(str).to_numpy(dtype=object),
            "campaign_key": (
                [p[2] if len(p) > 2 else "" for p in parts]
                if klaviyo
                else frame["campaign_name"].astype(str).tolist()
            ),
            "geo": frame["geo"].astype(str).to_numpy(dtype=object),
            "start": pd.DatetimeIndex(frame["timestamp"]).as_unit("us").asi8,
        }
    )


@pytest.fixture(scope="module")
def written() -> dict[str, tuple[str, list[md_pb.CausalMarketingData], pd.DataFrame]]:
    """Per source: account key, the records Ingest wrote, the history rows it recorded."""
    world = sim.simulate("demo", seed=4, days=50)
    out = {}
    for source in ("meta", "google_ads", "klaviyo", "tiktok"):
        records, recorded = [], []
        for result in ingested_batches(world, source, 800, _PULLED):
            records += frame_to_records(result.records)
            recorded.append(result.history_rows)
        account_key = f"{source}|{account_of(world, source).account_id}"
        out[source] = (account_key, records, pd.concat(recorded))
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["series", "day", "version"]).reset_index(drop=True)


@pytest.mark.parametrize("source", ["meta", "google_ads", "klaviyo", "tiktok"])
def test_history_rows_equal_the_frame_decoders_and_what_was_written(written, source) -> None:  # type: ignore[no-untyped-def]
    account_key, records, recorded = written[source]
    others = [r for s, (_, rs, _) in written.items() if s != source for r in rs[:50]]
    undated = md_pb.CausalMarketingData()
    undated.CopyFrom(records[0])
    undated.ClearField("local_date")
    mixed = [*records, *others, undated]  # other accounts' and an undated record: dropped
    days = day_numbers(records_to_frame(records, groups=("core",))["local_date"].to_numpy())
    lo, hi = int(days.min()), int(days.max())
    for first, last in ((lo, hi), (lo + 10, hi - 10), (hi + 1, hi + 5)):
        got = history_rows(mixed, account_key, first, last)
        want = _reference(mixed, account_key, first, last)
        assert list(got.columns) == list(HISTORY_COLUMNS)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_dtype=False)
    everything = history_rows(records, account_key, lo, hi)
    assert len(everything) == len(records) > 100
    # what a stream reads back is what the stream that wrote the rows recorded
    pd.testing.assert_frame_equal(
        _sorted(everything)[
            ["series", "day", "spend", "version", "sha", "campaign_id", "geo", "start"]
        ],
        _sorted(recorded)[
            ["series", "day", "spend", "version", "sha", "campaign_id", "geo", "start"]
        ],
        check_dtype=False,
    )
    assert history_rows([], account_key, lo, hi).empty
