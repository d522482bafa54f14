"""The causal quality score: the seed's weights and each component as documented, and
temporal consistency through the pipeline (order and lateness against earlier pulls)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from ingestion_svc import quality as q
from ingestion_svc.external_factors import FactorTable
from ingestion_svc.history import StreamHistory
from ingestion_svc.pipeline import finish, prepare
from tests.ingestion.conftest import PULLED, account_of, clean_line, dumps, raw_batch

NOW = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)


def a(*values: object) -> np.ndarray:
    return np.array(values)


def test_weights_are_the_seeds_and_sum_to_one() -> None:
    assert q.WEIGHTS == {
        "temporal_consistency": 0.25,
        "confounder_coverage": 0.30,
        "treatment_assignment": 0.20,
        "outcome_measurement": 0.15,
        "external_validity": 0.10,
    }
    assert sum(q.WEIGHTS.values()) == pytest.approx(1.0)


def test_score_is_the_weighted_sum() -> None:
    parts = {name: np.array([1.0, 0.0, 0.5]) for name in q.WEIGHTS}
    parts["confounder_coverage"] = np.array([0.0, 1.0, 0.5])
    score = q.quality_score(parts)
    assert score.tolist() == pytest.approx([0.70, 0.30, 0.5])


def test_temporal_consistency_penalties() -> None:
    f, t = False, True
    score = q.temporal_consistency(
        out_of_order=a(f, t, f, f, f, t),
        late_days=a(0, 0, 3, 20, 0, 20),
        tz_mismatch=a(f, f, f, f, t, t),
        tz_ambiguous=a(f, f, f, f, t, t),
    )
    assert score.tolist() == pytest.approx([1.0, 0.7, 0.85, 0.6, 0.6, 0.0])


def test_confounder_coverage_is_the_share_of_the_platforms_expected_inputs() -> None:
    yes, no = np.ones(2, bool), np.zeros(2, bool)
    meta = q.confounder_coverage(
        "meta", {"calendar": yes, "weekly": a(True, False), "macro": no, "competitor": yes}
    )
    assert meta.tolist() == pytest.approx([3 / 5, 2 / 5])  # promotion missing
    # Budget response is expected of search, not of social: the same inputs cover
    # different shares.
    google = q.confounder_coverage(
        "google_ads", {"calendar": yes, "weekly": yes, "budget": yes, "demand": yes}
    )
    assert google.tolist() == pytest.approx([4 / 6, 4 / 6])
    assert q.confounder_coverage(
        "klaviyo", {"calendar": yes, "weekly": yes, "promotion": yes}
    ).tolist() == [1.0, 1.0]


def test_treatment_assignment_randomised_beats_any_observational_row() -> None:
    score = q.treatment_assignment(a(True, False, False, False), a(0, 0, 14, 60))
    assert score.tolist() == pytest.approx([1.0, 0.2, 0.35, 0.5])
    assert score[1:].max() <= 0.5


def test_outcome_measurement_checks() -> None:
    t, f = True, False
    score = q.outcome_measurement(
        outcome_reported=a(t, f, t, t, t),
        conversions=a(3.0, 0.0, 2.0, 0.0, 2.5),
        revenue=a(90.0, 0.0, 0.0, 10.0, 80.0),
        attribution_ok=a(t, t, t, t, f),
        modelled=a(f, f, f, f, t),
    )
    assert score.tolist() == pytest.approx([1.0, 0.75, 0.75, 0.75, 0.625])


def test_external_validity_checks() -> None:
    t, f = True, False
    score = q.external_validity(
        is_holiday=a(f, t, f, f, f),
        calendar_known=a(t, t, f, t, t),
        impressions=a(5000.0, 5000.0, 5000.0, 100.0, 5000.0),
        conversions=a(0.0, 0.0, 0.0, 2.0, 0.0),
        spend=a(100.0, 100.0, 100.0, 100.0, 400.0),
        spend_mean_7=a(90.0, 90.0, np.nan, 90.0, 100.0),
    )
    assert score.tolist() == pytest.approx(
        [1.0, (0.5 + 1 + 1) / 3, (0.75 + 1 + 0.75) / 3, (1 + 0.2 + 1) / 3, (1 + 1 + 0.5) / 3]
    )


# ------------------------------------------------ temporal consistency through the pipeline


def _tiktok_row(world: sim.SimResult, stamp: str) -> dict[str, Any]:
    row = copy.deepcopy(clean_line(world, "tiktok"))
    row["dimensions"]["stat_time_day"] = stamp
    return row


def _ingest(
    world: sim.SimResult, stamps: list[str], history: StreamHistory, **kw: Any
) -> pd.DataFrame:
    acct = account_of(world, "tiktok", timezone="America/Los_Angeles")
    lines = [dumps(_tiktok_row(world, s)) for s in stamps]
    result = finish(
        prepare(raw_batch("tiktok", lines, acct, **kw)), history, [], FactorTable.empty(), NOW
    )
    history.add(result.history_rows)
    return result.records.set_index(result.records["local_date"].dt.strftime("%m-%d"))


def test_lines_of_one_pull_are_consistent_in_any_order(world: sim.SimResult) -> None:
    h = StreamHistory()
    days = ["2024-09-10", "2024-09-14", "2024-09-11", "2024-09-15", "2024-09-02"]
    first = _ingest(world, [f"{d} 00:00:00" for d in days[:3]], h, batch_id="a")
    # The same pull's next batch: a line far behind its series is still not late.
    second = _ingest(world, [f"{d} 00:00:00" for d in days[3:]], h, batch_id="b", row_offset=3)
    rec = pd.concat([first, second])
    # neither the export's line order nor its cut into batches makes a line late (R47-F2)
    assert not rec["meta_out_of_order"].any() and (rec["meta_late_days"] == 0).all()
    assert (rec["quality_temporal_consistency"] == 1.0).all()


def test_a_day_arriving_in_a_later_pull_after_its_series_moved_on_is_late(
    world: sim.SimResult,
) -> None:
    h = StreamHistory()
    _ingest(world, ["2024-09-10 00:00:00", "2024-09-20 00:00:00"], h)
    later = PULLED + dt.timedelta(days=1)
    rec = _ingest(world, ["2024-09-12 00:00:00", "2024-09-21 00:00:00"], h, pulled_at=later)
    # 8 days behind the earlier pull's 09-20, 7 beyond the one-day delay: 1 - 0.3 - 0.35
    assert rec.loc["09-12", "quality_temporal_consistency"] == pytest.approx(0.35)
    assert rec.loc["09-21", "quality_temporal_consistency"] == 1.0


def test_a_day_given_as_the_utc_instant_of_local_midnight_is_exact(world: sim.SimResult) -> None:
    # 2024-09-15 00:00 in Los Angeles (PDT) is 07:00 UTC: the day is certain, the note says so.
    rec = _ingest(world, ["2024-09-15 07:00:00"], StreamHistory()).iloc[0]
    assert rec["local_date"] == pd.Timestamp("2024-09-15")
    assert any("UTC instant" in n for n in rec["meta_notes"])
    assert rec["quality_temporal_consistency"] == 1.0


def test_days_of_earlier_pulls_follow_the_history_as_it_grows() -> None:
    def rows(series: str, day: int, version: int) -> pd.DataFrame:
        return pd.DataFrame(
            {"series": [series], "account_key": ["a"], "day": [day], "spend": [1.0],
             "conversions": [1.0], "revenue": [1.0], "version": [version], "sha": ["x"],
             "campaign_id": ["c"], "campaign_key": ["k"]}
        )  # fmt: skip

    h = StreamHistory()
    h.add(rows("s1", 10, version=100))
    s1, s2 = h.codes(["s1", "s2"])
    codes = np.array([s1, s2])
    assert h.series_max_day_before(codes, 1_000).tolist() == [10, -(1 << 40)]
    h.add(rows("s1", 20, version=200))  # loaded later, from an earlier pull
    h.add(rows("s2", 5, version=300))
    h.add(rows("s1", 30, version=2_000))  # this pull's own
    assert h.series_max_day_before(codes, 1_000).tolist() == [20, 5]
    assert h.series_max_day_before(codes, 3_000).tolist() == [30, 5]
    h.add(rows("s3", 7, version=50))  # a series first seen after the cache was built
    assert h.series_max_day_before(h.codes(["s3"]), 3_000).tolist() == [7]
