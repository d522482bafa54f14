"""Memory records aggregated into analysis tables: every level keeps the media totals."""

from __future__ import annotations

import datetime as dt

import pytest

from causal_svc.record_tables import Aggregation, analysis_table
from mesh.runtime.frames import records_to_frame
from mesh.runtime.synthetic_records import synthetic_records


@pytest.fixture(scope="module")
def records():  # type: ignore[no-untyped-def]
    return records_to_frame(
        synthetic_records("acme", 4 * 4 * 30, campaigns=4, geos=4, start=dt.date(2024, 10, 20)),
        groups=("core", "external"),
    )


@pytest.mark.parametrize(
    ("aggregation", "keys"),
    [
        (Aggregation.GEO_DAY, ["geo", "date"]),
        (Aggregation.CAMPAIGN_DAY, ["campaign_id", "channel", "date"]),
        (Aggregation.CHANNEL_DAY, ["channel", "date"]),
        (Aggregation.DAY, ["date"]),
    ],
)
def test_every_level_keeps_the_totals_and_one_row_per_key(records, aggregation, keys) -> None:
    table, _ = analysis_table(records, aggregation)
    assert not table.duplicated(keys).any()
    assert len(table) == len(
        records.drop_duplicates([k if k != "date" else "local_date" for k in keys])
    )
    for column in ("spend", "impressions", "clicks"):
        assert table[column].sum() == pytest.approx(records[column].sum())
    spend_by_channel = [c for c in table.columns if c.startswith("spend__")]
    if "channel" in keys:  # channel is a key: no per-channel spend columns
        assert spend_by_channel == []
    else:
        assert table[spend_by_channel].sum(axis=1).to_numpy() == pytest.approx(table["spend"])


def test_campaign_day_with_an_experiment(records) -> None:
    experiment = records.loc[records["experiment_id"] != "", "experiment_id"].iloc[0]
    table, _ = analysis_table(records, Aggregation.CAMPAIGN_DAY, experiment_id=experiment)
    assert set(table["treated_post"].unique()) <= {0, 1}
    assert {"treated", "post"} <= set(table.columns)
