"""Connectors on platform rows: each quirk read right, each bad row rejected with its field."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import sim
from ingestion_svc import connectors
from ingestion_svc.connectors.base import numbers
from ingestion_svc.raw_batch import Account, ColumnMap
from tests.ingestion.conftest import account_of, clean_line, dumps, raw_batch


def _one(source: str, rows: list[dict[str, Any] | str], account: Account, **kw: Any):  # type: ignore[no-untyped-def]
    lines = [r if isinstance(r, str) else dumps(r) for r in rows]
    return connectors.normalise(raw_batch(source, lines, account, **kw))


def _panel_row(world: sim.SimResult, source: str, k: int) -> Any:
    key = world.raw[source].row_key(k)
    return world.panel[world.panel["row_key"] == key].iloc[0]


@pytest.mark.parametrize("source", ["meta", "google_ads", "klaviyo", "tiktok"])
def test_clean_rows_read_as_the_panel(world: sim.SimResult, source: str) -> None:
    export = world.raw[source]
    idx = [k for k in range(60) if export.base_row(k)][:40]
    out = _one(source, [export.base_row(k) for k in idx], account_of(world, source))
    assert not out.rejections
    frame = out.frame
    for pos, k in enumerate(idx):
        want = _panel_row(world, source, k)
        got = frame.iloc[pos]
        assert got["spend"] == pytest.approx(want["spend"], abs=1e-9)
        assert got["impressions"] == (want["sends"] if source == "klaviyo" else want["impressions"])
        assert got["clicks"] == want["clicks"]
        assert got["conversions"] == pytest.approx(want["platform_conversions"], abs=1e-9)
        assert got["revenue"] == pytest.approx(want["platform_revenue"], abs=1e-9)
        assert got["local_date"] == want["date"]
        assert got["geo_key"] == want["region"] and got["geo"] == "US-" + want["region"]
        assert got["channel"] == want["channel"]
        assert got["currency"] == want["currency"]
        ident = want["message_id"] if source == "klaviyo" else want["campaign_id"]
        assert got["ident"] == ident and got["campaign_id"] == want["campaign_id"]


def test_meta_purchases_come_from_actions_and_zero_when_absent(world: sim.SimResult) -> None:
    row = clean_line(world, "meta")
    row["actions"] = [
        {"action_type": "link_click", "value": "940"},
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "6",
         "1d_click": "3", "7d_click": "4", "1d_view": "2"},
    ]  # fmt: skip
    row["action_values"] = [
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "503.53"}
    ]
    bare = copy.deepcopy(row)
    del bare["actions"], bare["action_values"]
    broken = copy.deepcopy(row)
    broken["actions"][1]["7d_click"] = "5"  # 5 + 2 != 6: the breakdown does not add up
    out = _one("meta", [row, bare, broken], account_of(world, "meta"))
    f = out.frame
    assert list(f["conversions"]) == [6.0, 0.0, 6.0]
    assert list(f["revenue"]) == [503.53, 0.0, 503.53]
    assert list(f["attribution_ok"]) == [True, True, False]
    assert set(f["attribution_window"]) == {"7d_click_1d_view"}


def test_google_micros_omitted_zeros_resource_name_and_modelled_conversions(
    world: sim.SimResult,
) -> None:
    row = clean_line(world, "google_ads")
    row["metrics"] = {"costMicros": "1234560000", "conversions": 2.5}
    del row["campaign"]["id"]
    out = _one("google_ads", [row], account_of(world, "google_ads", timezone=""))
    got = out.frame.iloc[0]
    assert got["spend"] == 1234.56
    assert got["impressions"] == 0 and got["clicks"] == 0 and got["revenue"] == 0
    assert got["conversions"] == 2.5 and got["modelled"]
    assert got["campaign_id"] == row["campaign"]["resourceName"].rsplit("/", 1)[1]
    assert "resourceName" in got["note"]
    assert got["timezone"] == row["customer"]["timeZone"]  # the row's own zone


def test_tiktok_utc_stamp_is_converted_back_to_the_local_day(world: sim.SimResult) -> None:
    row = clean_line(world, "tiktok")  # America/Chicago, 2024-09-15 00:00:00 local
    shifted = copy.deepcopy(row)
    shifted["dimensions"]["stat_time_day"] = "2024-09-15 05:00:00"  # CDT = UTC-5
    off = copy.deepcopy(row)
    off["dimensions"]["stat_time_day"] = "2024-09-15 07:30:00"  # no local midnight
    out = _one("tiktok", [row, shifted, off], account_of(world, "tiktok"))
    assert [str(d)[:10] for d in out.frame["local_date"]] == ["2024-09-15", "2024-09-15"]
    assert list(out.frame["tz_repaired"]) == [False, True]
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (2, "dimensions.stat_time_day", "invalid_date")


def test_klaviyo_geo_from_segment_and_offset_mismatch(world: sim.SimResult) -> None:
    row = clean_line(world, "klaviyo")
    other = copy.deepcopy(row)
    other["attributes"]["timeframe"]["start"] = (
        row["attributes"]["timeframe"]["start"][:19] + "+00:00"
    )
    unknown = copy.deepcopy(row)
    unknown["relationships"]["segments"]["data"][0]["id"] = "nope"
    out = _one("klaviyo", [row, other, unknown], account_of(world, "klaviyo"))
    assert list(out.frame["tz_mismatch"]) == [False, True]
    assert list(out.frame["geo"]) == ["US-" + world.accounts[2]["geo_keys"][
        row["relationships"]["segments"]["data"][0]["id"]]] * 2  # fmt: skip
    (bad,) = out.rejections
    assert (bad.row_index, bad.reason) == (2, "unknown_geo")
    assert bad.field == "relationships.segments.data[0].id"


def _mutate(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(row)
    cur = out
    parts = path.split(".")
    for p in parts[:-1]:
        cur = cur[p]
    if value is _DELETE:
        cur.pop(parts[-1])
    else:
        cur[parts[-1]] = value
    return out


_DELETE = object()
BAD_META = [
    ("spend", "-12.50", "negative_value"),
    ("spend", "$12.50", "invalid_number"),
    ("spend", "12,50", "invalid_number"),
    ("spend", True, "invalid_number"),
    ("impressions", "12.5", "invalid_number"),
    ("spend", _DELETE, "missing_field"),
    ("clicks", "999999999", "clicks_exceed_impressions"),
    ("account_currency", "US$", "unknown_currency"),
    ("account_currency", "EUR", "unknown_currency"),
    ("date_start", "2024-02-30", "invalid_date"),
    ("date_start", "2024-9-5", "invalid_date"),
    ("date_stop", "2024-09-16", "invalid_date"),
    ("region", "Atlantis", "unknown_geo"),
    ("account_id", "999", "wrong_account"),
]


@pytest.mark.parametrize(("path", "value", "reason"), BAD_META, ids=lambda x: str(x)[:20])
def test_meta_bad_rows_are_rejected_with_field_and_reason(
    world: sim.SimResult, path: str, value: Any, reason: str
) -> None:
    good = clean_line(world, "meta")
    out = _one("meta", [good, _mutate(good, path, value), good], account_of(world, "meta"))
    assert list(out.frame["row"]) == [0, 2]  # the rest of the batch lands
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (1, path, reason)
    assert bad.message


def test_meta_click_attributed_purchases_may_exceed_clicks(world: sim.SimResult) -> None:
    """One click can lead to several purchases (``actions`` counts events, not buyers), and
    with action_report_time=conversion a purchase is booked on its own day (R15-F9): the row
    lands, spend included, its outcome flagged rather than the row rejected."""
    row = clean_line(world, "meta")
    row["clicks"] = "2"
    row["actions"] = [
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "5", "7d_click": "4",
         "1d_view": "1"},
    ]  # fmt: skip
    out = _one("meta", [row], account_of(world, "meta"))
    assert not out.rejections
    got = out.frame.iloc[0]
    assert got["spend"] == float(row["spend"]) and got["conversions"] == 5.0
    assert not got["attribution_ok"] and got["outcome_reported"]
    assert "4 click-attributed purchases exceed 2 clicks" in got["note"]


def test_google_conversions_may_exceed_clicks(world: sim.SimResult) -> None:
    row = clean_line(world, "google_ads")
    row["metrics"] = {"impressions": "100", "clicks": "2", "conversions": 5.0}
    out = _one("google_ads", [row], account_of(world, "google_ads"))
    assert not out.rejections and out.frame["conversions"].iloc[0] == 5.0


@pytest.mark.parametrize(
    "line",
    ['{"account_id": "1", "spend": "1', "[1, 2]", '{"spend": NaN}', "not json", '"a string"'],
)
def test_malformed_lines_are_rejected_alone(world: sim.SimResult, line: str) -> None:
    good = dumps(clean_line(world, "meta"))
    out = _one("meta", [good, line, good], account_of(world, "meta"))
    assert len(out.frame) == 2
    (bad,) = out.rejections
    assert (bad.row_index, bad.reason) == (1, "malformed")


def test_struct_rows_numbers_as_doubles_are_read(world: sim.SimResult) -> None:
    row = clean_line(world, "google_ads")
    row["metrics"] = {"costMicros": 1.5e9, "impressions": 1000.0, "clicks": 10.0}
    out = _one("google_ads", [row], account_of(world, "google_ads"))
    assert not out.rejections
    assert out.frame["spend"].iloc[0] == 1500.0 and out.frame["impressions"].iloc[0] == 1000


def test_numbers_are_strict_and_fast_paths_agree() -> None:
    clean = numbers(["1", "2.50", "-3", "4e2"])
    assert clean.values.tolist() == [1.0, 2.5, -3.0, 400.0] and not clean.invalid.any()
    mixed = numbers(["1", None, 2, "x", "", " 3", "1_000", "inf"])
    assert np.isnan(mixed.values[[1, 3, 4, 5, 6, 7]]).all()
    assert mixed.missing.tolist() == [False, True, False, False, True, False, False, False]
    assert mixed.invalid.tolist() == [False, False, False, True, False, True, True, True]
    assert numbers([1.0, 2.5], integer=True).invalid.tolist() == [False, True]
    assert numbers(["12.0", "12.5"], integer=True).invalid.tolist() == [False, True]


def test_generic_mapping_defaults_and_required_columns() -> None:
    mapping = ColumnMap(date="day", geo="state", conversions="orders", revenue="rev")
    account = Account("shop", "America/New_York", "USD", "US")
    rows = [
        {"day": "2024-09-15", "state": "CA", "orders": "12", "rev": "340.5"},
        {"day": "2024-09-15", "state": "TX", "orders": "", "rev": "1"},
        {"day": "2024-09-31", "state": "NY", "orders": "1", "rev": "1"},
    ]
    out = _one("generic", rows, account, mapping=mapping)  # type: ignore[arg-type]
    got = out.frame.iloc[0]
    assert (got["campaign_id"], got["channel"], got["geo"]) == (
        "first_party",
        "first_party",
        "US-CA",
    )
    assert (got["conversions"], got["revenue"], got["spend"]) == (12.0, 340.5, 0.0)
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (1, "orders", "missing_field"),
        (2, "day", "invalid_date"),
    ]


def test_generic_geos_are_the_account_countrys_subdivisions() -> None:
    """A merchant's own region column: a US account's regions are US states and territories,
    by code or name in any case ("Atlantis" was stored as US-Atlantis); where the country's
    list is not known whole, any code goes as before."""
    mapping = ColumnMap(date="day", geo="state", revenue="rev")
    states = ["CA", "California", "ny", "US-TX", "Atlantis", "US-ZZ", "DC", "CA-ON"]
    rows = [{"day": "2024-09-15", "state": s, "rev": "1"} for s in states]
    out = _one("generic", rows, Account("shop", "America/New_York", "USD", "US"), mapping=mapping)  # type: ignore[arg-type]
    assert out.frame["geo"].tolist() == ["US-CA", "US-CA", "US-NY", "US-TX", "US-DC", "CA-ON"]
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (4, "state", "unknown_geo"),
        (5, "state", "unknown_geo"),
    ]
    assert "Atlantis" in out.rejections[0].message
    gb = Account("shop", "Europe/London", "GBP", "GB")
    out = _one("generic", rows[:1] + rows[4:5], gb, mapping=mapping)  # type: ignore[arg-type]
    assert out.frame["geo"].tolist() == ["GB-CA", "GB-Atlantis"] and not out.rejections
