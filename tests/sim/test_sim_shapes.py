"""Raw rows have the platforms' documented shapes and types."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sim


def _clean_lines(demo_dir: Path, source: str) -> list[dict]:
    truth = json.loads((demo_dir / "truth.json").read_text())
    dirty = {d["index"] for d in truth["dirty_rows"] if d["source"] == source}
    lines = (demo_dir / f"{source}.ndjson").read_text().splitlines()
    return [json.loads(t) for k, t in enumerate(lines) if k not in dirty]


def test_meta_insights_numbers_are_strings(demo_dir: Path) -> None:
    rows = _clean_lines(demo_dir, "meta")
    assert rows
    for r in rows[:500]:
        for f in ("spend", "impressions", "clicks"):
            assert isinstance(r[f], str)
        assert re.fullmatch(r"\d+\.\d{2}", r["spend"])
        assert r["date_start"] == r["date_stop"]
        assert r["objective"].startswith("OUTCOME_")
        for a in r.get("actions", []) + r.get("action_values", []):
            assert isinstance(a["action_type"], str) and isinstance(a["value"], str)
        purchases = [
            a
            for a in r.get("actions", [])
            if a["action_type"] == "offsite_conversion.fb_pixel_purchase"
        ]
        for a in purchases:
            assert int(a["value"]) == int(a["7d_click"]) + int(a["1d_view"])
            assert int(a["1d_click"]) <= int(a["7d_click"])


def test_google_ads_search_stream_rows_are_proto_json(demo_dir: Path) -> None:
    rows = _clean_lines(demo_dir, "google_ads")
    for r in rows[:500]:
        assert set(r) == {"customer", "campaign", "metrics", "segments"}
        m = r["metrics"]
        if "costMicros" in m:
            assert isinstance(m["costMicros"], str) and int(m["costMicros"]) % 10_000 == 0
        for f in ("impressions", "clicks"):
            if f in m:
                assert isinstance(m[f], str) and int(m[f]) > 0  # int64 as string, 0 omitted
        if "conversions" in m:
            assert isinstance(m["conversions"], float)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["segments"]["date"])
        assert r["segments"]["geoTargetRegion"].startswith("geoTargetConstants/")
        assert r["campaign"]["resourceName"] == (
            f"customers/{r['customer']['id']}/campaigns/{r['campaign']['id']}"
        )
        assert r["campaign"]["advertisingChannelType"] in ("SEARCH", "PERFORMANCE_MAX", "SHOPPING")


def test_klaviyo_rows_are_values_report_results(demo_dir: Path) -> None:
    for r in _clean_lines(demo_dir, "klaviyo")[:300]:
        assert r["type"] == "campaign-values-report"
        a = r["attributes"]
        assert set(a["groupings"]) == {"send_channel", "campaign_id", "campaign_message_id"}
        assert a["groupings"]["send_channel"] in ("email", "sms")
        st = a["statistics"]
        assert isinstance(st["recipients"], int) and isinstance(st["conversion_value"], float)
        assert st["delivered"] <= st["recipients"]
        assert ("text_message_spend" in st) == (a["groupings"]["send_channel"] == "sms")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00[-+]\d{2}:\d{2}", a["timeframe"]["start"])


def test_tiktok_rows_have_dimensions_and_string_metrics(demo_dir: Path) -> None:
    for r in _clean_lines(demo_dir, "tiktok")[:500]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} 00:00:00", r["dimensions"]["stat_time_day"])
        assert all(isinstance(v, str) for v in r["metrics"].values())
        assert len(r["dimensions"]["campaign_id"]) == 19


def test_every_row_carries_a_mapped_geo(demo: sim.SimResult) -> None:
    regions = {g["code"] for g in demo.truth["geos"]}
    for a in demo.accounts:
        assert set(a["geo_keys"].values()) == regions
    assert set(demo.panel["region"].astype(str)) <= regions


def test_experiment_registry_entry(demo: sim.SimResult) -> None:
    (e,) = demo.experiments
    assert e["randomization_unit"] == "geo" and e["treatment_type"] == "geo_holdout"
    assert not set(e["treatment_units"]) & set(e["control_units"])
    assert e["control_config"]["spend_multiplier"] == 0.0
    p = demo.panel
    ctrl = p[
        p["region"].isin(e["control_units"])
        & (p["channel"] == e["channel"])
        & (p["date"] >= e["start_date"])
        & (p["date"] <= e["end_date"])
    ]
    assert ctrl.empty  # control geos really had the channel off during the test
    treated = p[(p["treated"] == 1)]
    assert set(treated["region"].astype(str)) <= set(e["treatment_units"])
