"""The batch pipeline without gRPC: identity and versions, dedupe and restatements across
batches, arrival order, UTC normalisation, future dates, campaign-id repair, lags."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from ingestion_svc.external_factors import FactorTable
from ingestion_svc.history import StreamHistory
from ingestion_svc.lags import ADSTOCK_DECAY, MAX_LAG, lag_features
from ingestion_svc.pipeline import BatchResult, Settings, finish, prepare
from tests.ingestion.conftest import PULLED, account_of, clean_line, dumps, raw_batch

NOW = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)


def _run(
    source: str,
    rows: list[dict[str, Any] | str],
    account: Any,
    history: StreamHistory,
    **kw: Any,
) -> BatchResult:
    lines = [r if isinstance(r, str) else dumps(r) for r in rows]
    result = finish(
        prepare(raw_batch(source, lines, account, **kw)), history, [], FactorTable.empty(), NOW
    )
    history.add(result.history_rows)
    return result


def _tiktok(world: sim.SimResult, day: str, spend: float, **over: str) -> dict[str, Any]:
    row = copy.deepcopy(clean_line(world, "tiktok"))
    row["dimensions"]["stat_time_day"] = f"{day} 00:00:00"
    row["metrics"]["spend"] = f"{spend:.2f}"
    row["metrics"]["complete_payment"] = row["metrics"]["conversion"] = "3"
    row["metrics"]["total_complete_payment_rate"] = f"{spend * 2:.2f}"
    row["metrics"].update(over)
    return row


def test_identity_follows_the_contract(world: sim.SimResult) -> None:
    row = clean_line(world, "meta")
    line = dumps(row)
    result = _run("meta", [line], account_of(world, "meta"), StreamHistory(), row_offset=500)
    rec = result.records.iloc[0]
    key = world.raw["meta"].row_key(0)
    assert rec["natural_key"] == key
    assert rec["id"] == hashlib.sha256(f"acme|{key}".encode()).hexdigest()[:32]
    assert rec["meta_raw_row_sha256"] == hashlib.sha256(line.encode()).hexdigest()
    pulled_us = int(PULLED.timestamp() * 1e6)
    assert rec["version"] == pulled_us + 500  # pull time µs + row offset + row index
    # 2024-09-15 at midnight in Los Angeles (PDT, UTC-7) is 07:00 UTC.
    assert rec["timestamp"] == pd.Timestamp("2024-09-15 07:00", tz="UTC")
    assert rec["meta_batch_id"] == "b1" and rec["meta_pulled_at"] == pd.Timestamp(PULLED)


def test_duplicates_restatements_and_stale_versions_across_batches(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok")
    h = StreamHistory()
    first = _tiktok(world, "2024-09-15", 100.0)
    restated = _tiktok(world, "2024-09-15", 120.0)
    r1 = _run("tiktok", [first, first], acct, h, batch_id="a", row_offset=0)
    assert (r1.accepted, r1.duplicates, len(r1.records)) == (2, 1, 1)
    # Same content again in a later batch: a duplicate, nothing written.
    r2 = _run("tiktok", [first], acct, h, batch_id="b", row_offset=10)
    assert (r2.duplicates, len(r2.records)) == (1, 0)
    # A later line with new numbers replaces the stored version.
    r3 = _run("tiktok", [restated], acct, h, batch_id="c", row_offset=20)
    rec = r3.records.iloc[0]
    assert r3.restated == 1 and rec["meta_is_restatement"] and rec["spend"] == 120.0
    assert rec["meta_replaced_version"] == r1.records.iloc[0]["version"]
    assert not rec["meta_out_of_order"] and rec["meta_late_days"] == 0
    # An older version with other numbers is stale: rejected, nothing written.
    r4 = _run("tiktok", [first | {"x": 1}], acct, h, batch_id="d", row_offset=5)
    (bad,) = r4.rejections
    assert bad.reason == "stale_version" and len(r4.records) == 0 and r4.accepted == 0
    # The same version as the stored one (same pull time and position: the export edited
    # and sent again) with other numbers is stale too: only a newer version replaces, as
    # memory keeps the stored row on an equal version (R36-F8).
    edited = _tiktok(world, "2024-09-15", 130.0)
    r5 = _run("tiktok", [edited], acct, h, batch_id="e", row_offset=20)
    (bad,) = r5.rejections
    assert bad.reason == "stale_version" and len(r5.records) == 0
    assert (r5.accepted, r5.restated) == (0, 0)


def test_a_resend_in_the_same_batch_supersedes_the_preliminary_line(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok")
    pre, final = _tiktok(world, "2024-09-15", 90.0), _tiktok(world, "2024-09-15", 95.0)
    other = _tiktok(world, "2024-09-16", 50.0)
    r = _run("tiktok", [pre, other, final], acct, StreamHistory())
    assert (r.accepted, r.superseded, r.restated, len(r.records)) == (3, 1, 1, 2)
    rec = r.records.set_index("spend").loc[95.0]
    base = int(PULLED.timestamp() * 1e6)
    assert rec["meta_replaced_version"] == base + 0 and rec["version"] == base + 2


def test_versions_order_lines_across_batches_by_row_offset(world: sim.SimResult) -> None:
    """The superseded line at the end of batch 1 loses to the re-send early in batch 2."""
    acct = account_of(world, "tiktok")
    h = StreamHistory()
    filler = [_tiktok(world, f"2024-09-{d:02d}", 10.0 + d) for d in range(1, 10)]
    pre, final = _tiktok(world, "2024-09-15", 90.0), _tiktok(world, "2024-09-15", 95.0)
    _run("tiktok", [*filler, pre], acct, h, batch_id="a", row_offset=0)
    r2 = _run("tiktok", [final], acct, h, batch_id="b", row_offset=10)
    assert r2.restated == 1 and r2.records.iloc[0]["spend"] == 95.0


def test_arrival_order_out_of_order_and_late(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok")
    h = StreamHistory()
    days = ["2024-09-10", "2024-09-11", "2024-09-14", "2024-09-12", "2024-09-15", "2024-09-05"]
    r = _run("tiktok", [_tiktok(world, d, 10.0) for d in days], acct, h)
    # One pull's lines were delivered together: their order in the export says nothing.
    assert not r.records["meta_out_of_order"].any() and (r.records["meta_late_days"] == 0).all()
    assert (r.out_of_order, r.late) == (0, 0)
    # A later pull's row behind the series (which an earlier pull took to 09-15) is: out of
    # order, and late by the days beyond the one-day reporting delay.
    later = PULLED + dt.timedelta(hours=1)
    r2 = _run("tiktok", [_tiktok(world, "2024-09-13", 1.0)], acct, h, pulled_at=later)
    assert r2.records.iloc[0]["meta_out_of_order"] and r2.records.iloc[0]["meta_late_days"] == 1
    assert (r2.out_of_order, r2.late) == (1, 1)
    r3 = _run("tiktok", [_tiktok(world, "2024-09-05", 1.0)], acct, h, pulled_at=later)
    assert r3.records.iloc[0]["meta_late_days"] == 0  # a restatement is not late: it replaced
    r4 = _run("tiktok", [_tiktok(world, "2024-09-01", 1.0)], acct, h, pulled_at=later)
    assert r4.records.iloc[0]["meta_late_days"] == 13


def test_future_dates_are_measured_from_the_pull(world: sim.SimResult) -> None:
    acct = account_of(world, "meta")
    row = clean_line(world, "meta")
    today = _mut(row, date_start="2025-01-13", date_stop="2025-01-13")
    tomorrow = _mut(row, date_start="2025-01-14", date_stop="2025-01-14")
    r = _run("meta", [today, tomorrow], acct, StreamHistory())
    assert len(r.records) == 1
    (bad,) = r.rejections
    assert (bad.row_index, bad.field, bad.reason) == (1, "date_start", "future_date")
    # The same row is fine when pulled a day later.
    later = PULLED + dt.timedelta(days=1)
    assert not _run("meta", [tomorrow], acct, StreamHistory(), pulled_at=later).rejections


def _mut(row: dict[str, Any], **fields: str) -> dict[str, Any]:
    return {**copy.deepcopy(row), **fields}


def test_local_midnight_skipped_by_dst_is_flagged(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok", timezone="America/Santiago")
    row = _tiktok(world, "2024-09-08", 10.0)  # Chile springs forward at 24:00
    rec = _run("tiktok", [row], acct, StreamHistory()).records.iloc[0]
    assert rec["timestamp"] == pd.Timestamp("2024-09-08 04:00", tz="UTC")  # 01:00 -03
    assert rec["quality_temporal_consistency"] == pytest.approx(0.8)


def test_missing_campaign_id_is_recovered_from_an_unambiguous_name(world: sim.SimResult) -> None:
    acct = account_of(world, "meta")
    row = clean_line(world, "meta")
    missing = copy.deepcopy(row)
    del missing["campaign_id"]
    h = StreamHistory()
    alone = _run("meta", [missing], acct, h)  # nobody names the campaign's id yet
    (bad,) = alone.rejections
    assert (bad.field, bad.reason) == ("campaign_id", "missing_field")
    r = _run("meta", [row, _mut(missing, region="Texas")], acct, h)
    assert not r.rejections and set(r.records["campaign_id"]) == {row["campaign_id"]}
    assert "campaign_id recovered from the campaign name" in r.records.iloc[1]["meta_notes"]
    # Later batches use the stream's history; a name with two ids is never used.
    assert (
        _run("meta", [_mut(missing, region="Ohio")], acct, h).records.iloc[0]["campaign_id"]
        == row["campaign_id"]
    )
    twin = _mut(row, campaign_id="42", region="Florida")
    r = _run("meta", [twin, _mut(missing, region="Georgia")], acct, h)
    assert [x.reason for x in r.rejections] == ["missing_field"]


def _series(spend: list[float | None]) -> np.ndarray:
    """A cube for one row whose k-day-back spend is spend[k] (None = unknown)."""
    cube = np.full((1, 29, 3), np.nan)
    for k, v in enumerate(spend):
        if v is not None:
            cube[0, k, 0] = v
            cube[0, k, 1] = v / 10
            cube[0, k, 2] = v * 3
    return cube


def test_lag_features_by_hand() -> None:
    spend = [float(100 - k) for k in range(29)]
    spend[3] = None  # type: ignore[call-overload]
    f = lag_features(_series(spend), 0.5).iloc[0]
    assert (f["spend_lag_1"], f["spend_lag_7"], f["spend_lag_14"], f["spend_lag_28"]) == (
        99.0, 93.0, 86.0, 72.0,
    )  # fmt: skip
    assert f["conversions_lag_7"] == pytest.approx(9.3) and f["revenue_lag_28"] == 216.0
    # Adstock a_t = x_t + 0.5 a_{t-1} unrolled; the unknown day counts as zero.
    want = sum((0.5**k) * (v or 0.0) for k, v in enumerate(spend))
    assert f["adstock_spend"] == pytest.approx(want, rel=1e-12)
    # The 7-day mean needs all 7 previous days; day 3 is missing.
    assert np.isnan(f["spend_rolling_mean_7"])
    assert f["lag_history_days"] == 27
    full = lag_features(_series([float(v) for v in range(29)]), 0.0).iloc[0]
    assert full["spend_rolling_mean_7"] == pytest.approx(np.mean(range(1, 8)))
    assert full["adstock_spend"] == 0.0 and full["lag_history_days"] == 28


def test_a_rows_lag_features_do_not_depend_on_the_rows_beside_it() -> None:
    """The same row's window gives the same numbers, bit for bit, in a batch of any size:
    adstock was a matrix product, whose BLAS kernel (and so its last bit) changes with the
    number of rows, so a row's adstock moved with how its export was cut (R47-F2)."""
    rng = np.random.default_rng(0)
    cube = rng.random((1000, MAX_LAG + 1, 3)) * 100.0
    cube[rng.random(cube.shape) < 0.1] = np.nan
    whole = lag_features(cube, ADSTOCK_DECAY["tiktok"])
    for n in (1, 7, 33, 100, 399, 400):
        part = lag_features(cube[:n], ADSTOCK_DECAY["tiktok"])
        for column in whole.columns:
            np.testing.assert_array_equal(
                part[column].to_numpy(), whole[column].to_numpy()[:n], err_msg=f"{column} n={n}"
            )


def test_lags_come_from_history_and_the_batch(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok")
    h = StreamHistory()
    days = pd.date_range("2024-09-01", "2024-09-30")
    spend = {d: 100.0 + i for i, d in enumerate(days)}
    _run("tiktok", [_tiktok(world, f"{d:%Y-%m-%d}", spend[d]) for d in days[:20]], acct, h)
    r = _run(
        "tiktok",
        [_tiktok(world, f"{d:%Y-%m-%d}", spend[d]) for d in days[20:]],
        acct,
        h,
        row_offset=20,
    )
    last = r.records.iloc[-1]  # 09-30: lag 1 from this batch, lag 7 and 14 from history
    assert last["spend_lag_1"] == spend[days[28]]
    assert last["spend_lag_7"] == spend[days[22]] and last["spend_lag_14"] == spend[days[15]]
    assert last["spend_lag_28"] == spend[days[1]]  # 09-02
    decay = ADSTOCK_DECAY["tiktok"]
    want = sum(decay**k * spend[days[29 - k]] for k in range(29))  # the 28-day window
    assert last["adstock_spend"] == pytest.approx(want, rel=1e-12)
    assert last["lag_history_days"] == 28
    first = r.records.iloc[0]  # 09-21: 20 days of history, nothing 28 days back
    assert first["lag_history_days"] == 20 and np.isnan(first["spend_lag_28"])


def test_experiment_assignment_on_records(world: sim.SimResult) -> None:
    from ingestion_svc.experiments import Experiment

    exp = Experiment(
        "acme", "geo-test", dt.date(2024, 9, 1), dt.date(2024, 9, 30), "RANDOMIZATION_UNIT_GEO",
        treatment_units=("CA",), control_units=("US-TX",), data_sources=("DATA_SOURCE_TIKTOK",),
    )  # fmt: skip
    acct = account_of(world, "tiktok")
    ca = _tiktok(world, "2024-09-15", 10.0)
    tx = copy.deepcopy(ca)
    tx["dimensions"]["province_id"] = next(k for k, v in acct.geo_keys.items() if v == "TX")
    ny = copy.deepcopy(ca)
    ny["dimensions"]["province_id"] = next(k for k, v in acct.geo_keys.items() if v == "NY")
    lines = [dumps(r) for r in (ca, tx, ny)]
    result = finish(
        prepare(raw_batch("tiktok", lines, acct)), StreamHistory(), [exp], FactorTable.empty(), NOW
    )
    rec = result.records.set_index("geo")
    assert rec.loc["US-CA", "treatment_group"] == "treatment"
    assert rec.loc["US-TX", "treatment_group"] == "control"
    assert rec.loc["US-NY", "treatment_group"] == "not_in_experiment"
    assert (
        rec.loc["US-CA", "treatment_intensity"] == 1.0
        and rec.loc["US-TX", "experiment_id"] == "geo-test"
    )
    assert rec.loc["US-CA", "quality_treatment_assignment"] == 1.0
    assert rec.loc["US-NY", "quality_treatment_assignment"] < 0.5


def test_settings_move_the_temporal_tolerances(world: sim.SimResult) -> None:
    acct = account_of(world, "tiktok")
    loose = Settings(allowed_delay_days=5)
    history = StreamHistory()
    results = []
    # the second pull's 09-11 is 3 days behind the first's 09-14: out of order, not late
    for days, pulled in ((["2024-09-10", "2024-09-14"], PULLED), (["2024-09-11"], NOW)):
        lines = [dumps(_tiktok(world, d, 1.0)) for d in days]
        result = finish(
            prepare(raw_batch("tiktok", lines, acct, pulled_at=pulled), loose),
            history,
            [],
            FactorTable.empty(),
            NOW,
            loose,
        )
        history.add(result.history_rows)
        results.append(result)
    assert results[1].out_of_order == 1 and results[1].late == 0


def test_history_plan_scans_the_account_forward_and_late_series_alone() -> None:
    h = StreamHistory()
    first = {("meta|1", "c1", "US-CA"): (72, 100), ("meta|1", "c2", "US-CA"): (72, 100)}
    assert h.plan(first) == ([("meta|1", 72, 100)], [])
    h.mark_loaded("meta|1", 72, 100)
    # The next day extends the account's span; a late row of c2 in US-TX from long ago is
    # scanned for that series alone, once.
    nxt = {("meta|1", "c1", "US-CA"): (73, 101), ("meta|1", "c2", "US-TX"): (10, 38)}
    assert h.plan(nxt) == ([("meta|1", 101, 101)], [("meta|1", 10, 38, [("c2", "US-TX")])])
    h.mark_loaded("meta|1", 101, 101)
    h.mark_loaded("meta|1", 10, 38, [("c2", "US-TX")])
    assert h.plan(nxt) == ([], [])
    # the same days of the campaign's other geo were not loaded: scanned on their own
    other_geo = {("meta|1", "c2", "US-CA"): (10, 38)}
    assert h.plan(other_geo) == ([], [("meta|1", 10, 38, [("c2", "US-CA")])])
    # series needing the same days share one scan
    two = {("meta|1", "c3", "US-CA"): (20, 30), ("meta|1", "c4", "US-NY"): (20, 30)}
    assert h.plan(two) == ([], [("meta|1", 20, 30, [("c3", "US-CA"), ("c4", "US-NY")])])


def test_history_plan_reaches_ahead_so_consecutive_days_share_one_scan() -> None:
    h = StreamHistory()
    first = {("meta|1", "c1", "US-CA"): (72, 100)}
    assert h.plan(first, ahead_days=14) == ([("meta|1", 72, 114)], [])
    h.mark_loaded("meta|1", 72, 114)
    # days 101..114 were scanned with the first batch: nothing to load for them
    for day in range(101, 115):
        assert h.plan({("meta|1", "c1", "US-CA"): (day - 28, day)}, ahead_days=14) == ([], [])
    assert h.plan({("meta|1", "c1", "US-CA"): (87, 115)}, ahead_days=14) == (
        [("meta|1", 115, 129)],
        [],
    )
    # never past the last day that can have rows (today, in the account's zone)
    assert h.plan({("meta|1", "c1", "US-CA"): (87, 115)}, ahead_days=14, last_day=118) == (
        [("meta|1", 115, 118)],
        [],
    )
    assert h.plan({("meta|1", "c1", "US-CA"): (87, 115)}, ahead_days=14, last_day=100) == (
        [("meta|1", 115, 115)],
        [],
    )
