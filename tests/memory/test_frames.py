"""mesh.runtime.frames: records ↔ DataFrame, exact round trip, schema, enum names, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.frames import (
    DYNAMIC_COLUMNS,
    FRAME_SCHEMA,
    HOLIDAY_COLUMNS,
    enum_name,
    enum_value,
    frame_to_records,
    records_to_frame,
)
from mesh.runtime.synthetic_records import synthetic_records


def _rich_record() -> md_pb.CausalMarketingData:
    r = synthetic_records("o1", 1)[0]
    r.lag_features.spend_lag_7 = 12.5
    r.lag_features.adstock_spend = 40.0
    r.lag_features.adstock_decay = 0.6
    r.lag_features.history_days = 30
    r.external_factors.add(
        name="consumer_confidence", type=md_pb.EXTERNAL_FACTOR_TYPE_MACRO, value=101.2, source="x"
    )
    r.calendar_features.economic_indicators.add(name="cpi", value=3.1, unit="percent", source="b")
    r.causal_metadata.notes.extend(["a note", "another"])
    r.causal_metadata.ingested_at.FromSeconds(1_730_000_000)
    r.conceptual_space = "efficiency/profitable"
    r.conceptual_assignments.add(space="efficiency", region="profitable", distance=0.25)
    r.knowledge_graph_nodes.extend(["org:o1", "campaign:c0"])
    r.confounders[0].description = "weekend effect"
    return r


def test_round_trip_is_exact_on_realistic_records() -> None:
    records = [*synthetic_records("o1", 300, seed=3), _rich_record()]
    frame = records_to_frame(records)
    assert len(frame) == len(records)
    back = frame_to_records(frame)
    assert back == records


def test_schema_dtypes_and_enum_names() -> None:
    records = synthetic_records(
        "o1", 50, campaigns=3, geos=2, start=pd.Timestamp("2024-11-20").date()
    )
    frame = records_to_frame(records, include_embeddings=True, include_payload=True)
    fixed = {c.name: c.dtype for c in FRAME_SCHEMA}
    for name, dtype in fixed.items():
        assert name in frame.columns, name
        assert str(frame[name].dtype) == dtype, (name, frame[name].dtype)
    dynamic = [c for c in frame.columns if c not in fixed]
    prefixes = tuple(p.split("{")[0] for p in DYNAMIC_COLUMNS)
    assert dynamic and all(c.startswith(prefixes) for c in dynamic)
    assert set(frame["data_source"]) <= {"meta", "google_ads", "klaviyo"}
    assert "not_in_experiment" in set(frame["treatment_group"])
    assert frame["timestamp"].dt.tz is not None
    assert frame.loc[0, "local_date"] == pd.Timestamp("2024-11-20")
    assert frame.loc[0, "payload"] == records[0].SerializeToString()
    # a confounder absent on a row is NaN in its value column
    bf = frame["confounder__black_friday_proximity"]
    assert bf.notna().any() and bf.isna().any()


def test_frame_built_by_hand_becomes_records() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "org_id": ["o", "o"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "data_source": ["meta", "tiktok"],
            "treatment_group": ["treatment", "control"],
            "spend": [10.0, 0.0],
            "impressions": [100, 0],
            "confounder__promo": [1.0, np.nan],
            "confounder_type__promo": ["promotion", ""],
        }
    )
    a, b = frame_to_records(frame)
    assert a.data_source == 1 and b.data_source == 4
    assert a.treatment_group == md_pb.TREATMENT_GROUP_TREATMENT
    assert a.timestamp.ToSeconds() == 1_704_067_200
    assert [c.name for c in a.confounders] == ["promo"] and not b.confounders
    assert a.confounders[0].type == md_pb.CONFOUNDER_TYPE_PROMOTION
    assert not a.HasField("calendar_features")


def test_unknown_enum_name_names_the_cell() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "data_source": ["meta", "myspace"]})
    with pytest.raises(InvalidInput) as err:
        frame_to_records(frame)
    assert err.value.field == "data_source[1]"


def test_enum_helpers() -> None:
    assert enum_name("data_source", 2) == "google_ads"
    assert enum_name("treatment_group", 0) == "unspecified"
    assert enum_value("season", "autumn") == md_pb.SEASON_AUTUMN
    with pytest.raises(InvalidInput):
        enum_value("season", "monsoon")


def test_round_trip_is_exact_when_records_differ_in_what_they_carry() -> None:
    """Sub-messages and repeated items present on some rows only, unknown-free enums, -0.0."""
    records = synthetic_records("o1", 40, seed=5)
    records[0].ClearField("causal_metadata")
    records[1].causal_metadata.ClearField("quality")
    records[2].lag_features.spend_lag_1 = 0.0  # optional: set to zero is still set
    records[3].lag_features.history_days = 7
    records[4].ClearField("calendar_features")
    records[5].spend = -0.0  # proto3 keeps the sign of zero
    records[6].external_factors.add(name="cpi", value=2.0)
    records[7].conceptual_assignments.add(space="scale", region="small", distance=0.5)
    records[8].ClearField("timestamp")
    back = frame_to_records(records_to_frame(records))
    assert back == records
    assert [r.SerializeToString() for r in back] == [r.SerializeToString() for r in records]


def test_a_name_repeated_in_one_record_keeps_its_last_item() -> None:
    r = synthetic_records("o1", 1)[0]
    r.confounders.add(name="promo", value=1.0, strength=0.2)
    r.confounders.add(name="promo", value=3.0, strength=0.4)
    frame = records_to_frame([r])
    assert frame.loc[0, "confounder__promo"] == 3.0
    assert frame.loc[0, "confounder_strength__promo"] == 0.4


def test_columns_are_written_over_a_payload() -> None:
    """Scalars overwrite; confounders append; graph nodes and regions replace."""
    (r,) = synthetic_records("o1", 1)
    r.knowledge_graph_nodes.extend(["org:o1"])
    frame = records_to_frame([r], include_payload=True)[
        ["payload", "spend", "geo", "knowledge_graph_nodes"]
    ]
    frame["spend"] = 0.0
    frame["geo"] = "US-XX"
    frame["knowledge_graph_nodes"] = [("campaign:c0",)]
    frame["confounder__promo"] = 1.5
    (back,) = frame_to_records(frame)
    assert back.spend == 0.0 and back.geo == "US-XX"
    assert list(back.knowledge_graph_nodes) == ["campaign:c0"]
    assert [c.name for c in back.confounders] == [c.name for c in r.confounders] + ["promo"]
    assert back.campaign_name == r.campaign_name  # untouched columns keep the payload's


def test_missing_values_in_nullable_columns_become_defaults() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "spend": pd.array([1.5, None], dtype="Float64"),
            "impressions": pd.array([3, None], dtype="Int64"),
            "cal_date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "cal_is_weekend": pd.array([True, None], dtype="boolean"),
            "spend_lag_7": pd.array([None, 2.0], dtype="Float64"),
        }
    )
    a, b = frame_to_records(frame)
    assert (a.spend, a.impressions, a.calendar_features.is_weekend) == (1.5, 3, True)
    assert (b.spend, b.impressions, b.calendar_features.is_weekend) == (0.0, 0, False)
    assert not a.lag_features.HasField("spend_lag_7") and b.lag_features.spend_lag_7 == 2.0


def test_the_holidays_group_is_the_calendar_groups_day_names() -> None:
    records = synthetic_records("o1", 30, seed=2, start=pd.Timestamp("2024-11-20").date())
    records[3].ClearField("calendar_features")
    brief = records_to_frame(records, groups=("holidays",))
    full = records_to_frame(records, groups=("calendar",))
    assert list(brief.columns) == list(HOLIDAY_COLUMNS)
    pd.testing.assert_frame_equal(brief, full[list(HOLIDAY_COLUMNS)])
    assert brief["cal_next_holiday_name"].str.len().gt(0).any()  # Thanksgiving is near
