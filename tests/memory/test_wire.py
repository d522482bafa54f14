"""mesh.runtime.frames.wire: a frame's records as wire bytes, column by column, equal to frame_to_records'."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

import sim
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.frames import frame_to_records, records_to_frame
from mesh.runtime.frames.wire import frame_to_wire, write_request_wire
from mesh.runtime.synthetic_records import synthetic_records
from tests.ingestion.conftest import ingested_batches

_Record = md_pb.CausalMarketingData
_PULLED = dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC)
# What memory adds (frame_to_wire leaves frames carrying them to frame_to_records).
_MEMORY_COLUMNS = ("conceptual_space", "knowledge_graph_nodes", "region__", "region_distance__")


def _parsed(wire: list[bytes]) -> list[md_pb.CausalMarketingData]:
    return [_Record.FromString(b) for b in wire]


def _without_memory_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if not c.startswith(_MEMORY_COLUMNS)]]


def _ingested_frames(world: sim.SimResult) -> list[pd.DataFrame]:
    """The record frames Ingest builds from the world's raw exports, dirt included."""
    return [
        result.records
        for source in ("meta", "google_ads", "klaviyo", "tiktok")
        for result in ingested_batches(world, source, 700, _PULLED)
    ]


def test_ingested_batches_encode_to_the_records_frame_to_records_builds() -> None:
    world = sim.simulate("demo", seed=2, days=40)
    frames = _ingested_frames(world)
    assert sum(len(f) for f in frames) > 5000
    seen = set()
    for frame in frames:
        expected = frame_to_records(frame)
        assert _parsed(frame_to_wire(frame)) == expected
        seen.update(c for c in frame.columns if "__" in c)
    # the dynamic families the pipeline writes were all exercised
    assert any(c.startswith("confounder_strength__") for c in seen)


def test_every_field_family_and_uneven_rows_encode_exactly() -> None:
    """Sub-messages and repeated items on some rows only, -0.0, optional zeros, unicode."""
    records = synthetic_records("o1", 60, seed=7)
    records[0].ClearField("causal_metadata")
    records[1].causal_metadata.ClearField("quality")
    records[2].lag_features.spend_lag_1 = 0.0  # optional: set to zero is still set
    records[3].lag_features.history_days = 7
    records[4].ClearField("calendar_features")
    records[5].spend = -0.0  # not proto3's default: its bits are set
    records[6].external_factors.add(
        name="cpi", type=md_pb.EXTERNAL_FACTOR_TYPE_MACRO, value=2.0, source="bls"
    )
    records[7].ClearField("timestamp")
    records[8].campaign_name = "Café ☕ — été"
    records[9].causal_metadata.notes.extend(["", "ünïcode note"])
    records[10].calendar_features.economic_indicators.add(name="cpi", value=3.1, unit="%")
    records[11].calendar_features.market_conditions.promotion_active = True
    records[11].calendar_features.market_conditions.promotion_name = "BFCM"
    records[12].impressions = -5  # negative int64: a ten-byte varint
    records[13].version = 2**62
    records[14].calendar_features.days_since_last_holiday = -3
    records[15].ClearField("local_date")
    frame = _without_memory_columns(records_to_frame(records))
    assert _parsed(frame_to_wire(frame)) == frame_to_records(frame) == records


def test_a_hand_built_frame_with_missing_values_and_absent_columns() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "org_id": ["o", "o", None],
            "timestamp": pd.to_datetime(
                ["2024-01-01T00:00:00", None, "2024-03-01T12:30:00"], utc=True
            ),
            "local_date": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "data_source": ["meta", "tiktok", ""],
            "spend": [10.0, np.nan, 0.0],
            "impressions": [100, 0, 7],
            "confounder__promo": [1.0, np.nan, 0.0],
            "confounder_type__promo": ["promotion", "", "promotion"],
            "confounder_strength__promo": [0.5, np.nan, 0.0],
            "spend_lag_7": [np.nan, 0.0, 3.5],
        }
    )
    assert _parsed(frame_to_wire(frame)) == frame_to_records(frame)


def test_frames_it_does_not_encode_go_through_frame_to_records() -> None:
    (r,) = synthetic_records("o1", 1)
    r.knowledge_graph_nodes.extend(["org:o1", "campaign:c0"])
    r.conceptual_space = "efficiency/profitable"
    frame = records_to_frame([r])  # memory's columns: left to frame_to_records
    assert _parsed(frame_to_wire(frame)) == [r]
    # cells of types the encoder does not take: frame_to_records reads them its own way
    odd = pd.DataFrame({"id": ["a", "b"], "spend": ["12.5", 3], "cal_is_weekend": [1, 0]})
    odd["cal_date"] = pd.to_datetime(["2024-01-06", "2024-01-08"])
    assert _parsed(frame_to_wire(odd)) == frame_to_records(odd)
    assert frame_to_records(odd)[0].spend == 12.5


def test_an_unknown_enum_name_is_the_same_error() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "data_source": ["meta", "myspace"]})
    with pytest.raises(InvalidInput) as err:
        frame_to_wire(frame)
    assert err.value.field == "data_source[1]"


def test_write_request_bytes_parse_to_the_request_of_the_records() -> None:
    frame = _without_memory_columns(records_to_frame(synthetic_records("o1", 25, seed=3)))
    request = memory_pb.WriteRequest.FromString(write_request_wire("o1", frame))
    assert request == memory_pb.WriteRequest(org_id="o1", records=frame_to_records(frame))
    empty = memory_pb.WriteRequest.FromString(write_request_wire("o1", frame.iloc[:0]))
    assert empty == memory_pb.WriteRequest(org_id="o1")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_datetime_columns_of_any_unit_and_zone_encode_like_frame_to_records(unit: str) -> None:
    stamps = pd.Series(
        pd.to_datetime(["2024-03-10T06:59:59.123456", None, "1969-12-31T23:59:59.5"])
    ).astype(f"datetime64[{unit}]")
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "timestamp": stamps.dt.tz_localize("America/New_York"),  # not UTC: converted
            "meta_ingested_at": stamps,  # naive: read as UTC
            "meta_pulled_at": stamps.dt.tz_localize("UTC"),
            "local_date": stamps,
            "cal_date": stamps.dt.tz_localize("Asia/Tokyo"),  # a zone on a date: dropped
        }
    )
    assert _parsed(frame_to_wire(frame)) == frame_to_records(frame)
