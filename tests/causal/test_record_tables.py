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


def test_unreported_platform_conversions_are_missing_not_zero(records) -> None:  # type: ignore[no-untyped-def]
    """Rows whose platform reported no conversions (audit R15-F3) add nothing to the platform
    sums, and a group made only of them reads missing, not 0; reported groups are as before."""
    flagged = records.copy()
    campaign = flagged["campaign_id"].iloc[0]
    mine = flagged["campaign_id"].eq(campaign).to_numpy()
    day = flagged["local_date"].eq(flagged.loc[~mine, "local_date"].iloc[0]).to_numpy()
    flagged["conversions_unreported"] = mine | (day & ~mine)  # one campaign, and one other day
    flagged.loc[flagged["conversions_unreported"], ["conversions", "revenue"]] = 0.0
    before, _ = analysis_table(records, Aggregation.CAMPAIGN_DAY)
    table, warnings = analysis_table(flagged, Aggregation.CAMPAIGN_DAY)
    assert any("missing, not 0" in w for w in warnings)
    gone = table["campaign_id"].eq(campaign).to_numpy()
    assert table.loc[gone, "platform_conversions"].isna().all()
    assert table.loc[gone, "platform_revenue"].isna().all()
    unflagged = (
        flagged.groupby(["campaign_id", "channel", "local_date"])["conversions_unreported"]
        .any()
        .to_numpy()
    )
    kept = ~unflagged
    assert kept.any() and table.loc[kept, "platform_conversions"].notna().all()
    assert table.loc[kept, "platform_conversions"].to_numpy() == pytest.approx(
        before.loc[kept, "platform_conversions"].to_numpy()
    )
    # one geo × day mixes reported and unreported campaigns: the reported ones' sum
    geo_day, _ = analysis_table(flagged, Aggregation.GEO_DAY)
    reported = flagged.loc[
        ~flagged["conversions_unreported"] & flagged["data_source"].ne("generic")
    ]
    want = reported.groupby(["geo", "local_date"])["conversions"].sum()
    got = geo_day.set_index(["geo", geo_day["date"].dt.tz_localize(None)])["platform_conversions"]
    assert got.loc[want.index].to_numpy() == pytest.approx(want.to_numpy())
