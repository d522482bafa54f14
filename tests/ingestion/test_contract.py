"""Contract: `liftos demo`'s ingestion of the simulated world, checked against the truth.

The demo streams every raw export through Ingest into a real memory service. Each dirty
line the simulator lists must be handled as its ``action`` says (dropped lines hold no
record of their own; fixed lines are repaired to the clean value or rejected naming the
field at fault; kept lines land with their values), and every stored record must equal the
simulator's clean panel row: spend from micros and strings, conversions from ``actions``,
UTC timestamps from the account time zones.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

import sim
from mesh.cli.demo import DemoResult, demo
from mesh.runtime.inprocess import running_services
from tests.conftest import all_builds
from tests.ingestion.conftest import peers_of

PLATFORMS = ("meta", "google_ads", "klaviyo", "tiktok")
REJECTED_FIXES = {
    "negative_spend": "negative_value",
    "clicks_exceed_impressions": "clicks_exceed_impressions",
    "bad_number": "invalid_number",
    "unknown_currency": "unknown_currency",
}


@pytest.fixture(scope="module")
def landed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DemoResult, list[str], dict[str, Any]]:
    data = tmp_path_factory.mktemp("demo")
    printed: list[str] = []
    with running_services(all_builds(), data / "mesh") as s:
        code, result = demo(data, None, printed.append, peers=peers_of(s), progress=False)
    assert code == 0 and result is not None and result.records is not None
    truth = json.loads((result.world / "truth.json").read_text())
    return result, printed, truth


def _pulled_us(result: DemoResult) -> int:
    manifest = json.loads((result.world / "manifest.json").read_text())
    last = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"])
    return int(dt.datetime.combine(last, dt.time(9), dt.UTC).timestamp() * 1_000_000)


def _rejections(result: DemoResult, source: str) -> dict[int, tuple[str, str]]:
    summary = result.summaries[source]
    assert len(summary.rejections) == summary.rejected  # all of them kept in the summary
    return {line: (field, reason) for line, field, reason, _ in summary.rejections}


def test_every_dirty_kind_is_handled_as_the_truth_says(landed) -> None:  # type: ignore[no-untyped-def]
    result, _, truth = landed
    records = result.records.set_index("natural_key")
    pulled = _pulled_us(result)
    seen_kinds = set()
    for entry in truth["dirty_rows"]:
        source, line, kind = entry["source"], entry["index"], entry["kind"]
        rejected = _rejections(result, source)
        key = entry["row_key"]
        seen_kinds.add(kind)
        where = f"{source} line {line} ({kind})"
        if kind == "malformed_json":
            assert rejected.get(line) == ("$", "malformed"), where
        elif kind == "future_date":
            assert rejected.get(line) == (entry["field"], "future_date"), where
        elif kind in REJECTED_FIXES:
            assert rejected.get(line) == (entry["field"], REJECTED_FIXES[kind]), where
            assert key not in records.index, where  # its only copy was refused
        else:
            assert line not in rejected, where
            record = records.loc[key]
            if kind in ("duplicate", "superseded"):
                # The kept line's version is stored, never this line's.
                assert record["version"] == pulled + entry["original_index"], where
            elif kind == "restated":
                assert record["version"] == pulled + line and record["meta_is_restatement"], where
                assert record["meta_replaced_version"] == pulled + entry["original_index"], where
            else:  # kept or repaired in place
                assert record["version"] == pulled + line, where
            if kind == "missing_id":
                assert any("recovered" in n for n in record["meta_notes"]), where
            if kind == "timezone_shift":
                assert any("UTC instant" in n for n in record["meta_notes"]), where
                # the UTC instant of a local midnight converts exactly: the day is certain
                assert record["quality_temporal_consistency"] == 1.0, where
            if kind in ("out_of_order", "late"):  # out of place in one pull, not late
                assert not record["meta_out_of_order"], where
                assert record["meta_late_days"] == 0, where
                assert record["quality_temporal_consistency"] == 1.0, where
    assert seen_kinds == {
        "duplicate", "superseded", "restated", "out_of_order", "late", "missing_id",
        "negative_spend", "clicks_exceed_impressions", "bad_number", "malformed_json",
        "future_date", "unknown_currency", "timezone_shift",
    }  # fmt: skip
    # Nothing but the listed lines was rejected.
    listed = {(e["source"], e["index"]) for e in truth["dirty_rows"]}
    for source in PLATFORMS:
        assert {(source, k) for k in _rejections(result, source)} <= listed


def test_stored_records_equal_the_clean_panel(landed, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    result, _, truth = landed
    rec = result.records
    refused = {e["row_key"] for e in truth["dirty_rows"] if e["kind"] in REJECTED_FIXES}
    panel = world.panel[~world.panel["row_key"].isin(refused)]
    platform = rec[rec["data_source"].isin(PLATFORMS)].set_index("natural_key")
    assert len(platform) == len(panel) and platform.index.is_unique
    got = platform.loc[panel["row_key"]]
    np.testing.assert_allclose(got["spend"], panel["spend"], rtol=0, atol=1e-9)
    klaviyo = (panel["source"] == "klaviyo").to_numpy()
    want_imps = np.where(klaviyo, panel["sends"], panel["impressions"])
    np.testing.assert_array_equal(got["impressions"], want_imps)
    np.testing.assert_array_equal(got["clicks"], panel["clicks"])
    np.testing.assert_allclose(got["conversions"], panel["platform_conversions"], atol=1e-9)
    np.testing.assert_allclose(got["revenue"], panel["platform_revenue"], atol=1e-9)
    assert (got["local_date"].to_numpy() == panel["date"].to_numpy()).all()
    assert (got["geo"].to_numpy() == ("US-" + panel["region"].astype(str)).to_numpy()).all()
    assert (got["channel"].to_numpy() == panel["channel"].astype(str).to_numpy()).all()
    assert (got["currency_code"].to_numpy() == panel["currency"].astype(str).to_numpy()).all()
    # UTC: the account's local midnight, converted with its own time zone.
    zones = {(a["source"], a["account_id"]): a["timezone"] for a in world.accounts}
    sample = panel.sample(300, random_state=0)
    for _, row in sample.iterrows():
        zone = ZoneInfo(zones[(row["source"], row["account_id"])])
        want = dt.datetime.combine(row["date"].date(), dt.time(), zone).astimezone(dt.UTC)
        assert got.loc[row["row_key"], "timestamp"] == pd.Timestamp(want), row["row_key"]
    # First-party orders: every geo-day once, through the column mapping.
    orders = rec[rec["data_source"] == "generic"]
    assert len(orders) == len(world.outcomes) == orders["natural_key"].nunique()
    assert orders["conversions"].sum() == world.outcomes["orders"].sum()


def test_arrival_flags_ignore_the_export_order(landed) -> None:  # type: ignore[no-untyped-def]
    """One pull: no record is out of order or late, whatever its line's place in the export
    (the simulator moves lines within it); order and lateness are against earlier pulls."""
    result, _, truth = landed
    records = result.records
    stored = records[records["data_source"].isin(PLATFORMS)]
    assert len(stored) > 28_000
    assert not stored["meta_out_of_order"].any() and (stored["meta_late_days"] == 0).all()
    assert any(e["kind"] in ("out_of_order", "late") for e in truth["dirty_rows"])


def test_experiment_assignment_follows_the_registry(landed) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = landed
    (exp,) = json.loads((result.world / "experiments.json").read_text())
    rec = result.records
    day = rec["local_date"].dt.strftime("%Y-%m-%d")
    scope = (
        (rec["data_source"] == "meta")
        & rec["campaign_id"].isin(exp["campaign_ids"])
        & (day >= exp["start_date"])
        & (day <= exp["end_date"])
    )
    assert scope.sum() > 500
    geo = rec["geo"].str.removeprefix("US-")
    want = np.where(geo.isin(exp["treatment_units"]), "treatment", "control")
    assert (rec.loc[scope, "treatment_group"].to_numpy() == want[scope.to_numpy()]).all()
    assert (rec.loc[scope, "experiment_id"] == exp["experiment_id"]).all()
    assert (rec.loc[~scope, "treatment_group"] == "not_in_experiment").all()
    assert (rec.loc[scope, "quality_treatment_assignment"] == 1.0).all()


def test_demo_prints_what_landed(landed) -> None:  # type: ignore[no-untyped-def]
    result, printed, _ = landed
    text = "\n".join(printed)
    for heading in (
        "== experiment registry", "== external factors", "== what landed",
        "== rejected rows by reason", "== causal quality score", "== detected confounders",
        "== treatment assignment", "== calendar around Black Friday",
    ):  # fmt: skip
        assert heading in text
    rec = result.records
    assert rec["data_quality_score"].between(0, 1).all()
    # The registered series are joined onto the records and flagged where in play.
    assert rec["external__consumer_confidence"].notna().all()
    assert rec["confounder__promotions"].notna().sum() > 0
    assert {"holiday_proximity", "retail_peak_season", "budget_response"} <= {
        c.removeprefix("confounder__") for c in rec.columns if c.startswith("confounder__")
    }
    weights = {"temporal_consistency": 0.25, "confounder_coverage": 0.3,
               "treatment_assignment": 0.2, "outcome_measurement": 0.15, "external_validity": 0.1}  # fmt: skip
    recomputed = sum(w * rec[f"quality_{k}"] for k, w in weights.items())
    np.testing.assert_allclose(rec["data_quality_score"], recomputed, atol=1e-12)
    assert Path(result.world).exists()


def test_demo_estimates_the_geo_holdout_against_the_truth(landed) -> None:  # type: ignore[no-untyped-def]
    result, printed, truth = landed
    text = "\n".join(printed)
    assert "== causal analysis of" in text
    e = result.analysis.estimate
    experiment = truth["experiments"][0]
    assert (
        e.n_treated == experiment["n_treated_geos"] and e.n_control == experiment["n_control_geos"]
    )
    assert e.ci_lower <= experiment["att_revenue_per_geo_day"] <= e.ci_upper
    # The summary never claims more than the interval supports.
    assert e.summary.startswith("No detectable effect") == (e.ci_lower <= 0 <= e.ci_upper)


def test_demo_writes_the_analysis_report(landed) -> None:  # type: ignore[no-untyped-def]
    result, printed, _ = landed
    line = next(p for p in printed if p.startswith("== report: "))
    path = Path(line.removeprefix("== report: ").split(" (open it")[0])
    html = path.read_text()
    assert result.analysis.analysis_id in html and 'data-figure="estimate"' in html


def test_demo_attributes_explains_and_plans_over_the_mesh(landed) -> None:  # type: ignore[no-untyped-def]
    result, printed, _ = landed
    text = "\n".join(printed)
    plan = result.plan
    assert plan is not None and not plan.notes, plan.notes if plan else None
    r = plan.attribution
    assert r is not None and r.channels and r.analysis_id in text
    # Live progress: every step of the pipeline, in order, ending at 100%.
    stages = [p.split("]")[1].split()[0] for p in printed if p.startswith("  [") and "%]" in p]
    assert stages[0] == "retrieve" and stages[-1] == "attribution" and "[100%]" in text
    # The table sets each paid channel's interval beside the simulator's truth, and the causal
    # model is nearer the truth than the naive regression the table also shows.
    paid = [c for c in r.channels if c.spend and c.spend.amount > 0 and c.incremental_roas]
    assert paid and set(plan.truth_iroas) >= {c.channel for c in paid}
    inside = [c.incremental_roas.lower <= plan.truth_iroas[c.channel] <= c.incremental_roas.upper
              for c in paid]  # fmt: skip
    assert sum(inside) >= len(paid) - 1
    err = line = next(p for p in printed if "mean |iROAS error| vs truth" in p)
    causal, naive = (
        float(err.split("causal ")[1].split(",")[0]),
        float(line.split("naive regression ")[1]),
    )
    assert causal < naive
    # The explanation streamed, every figure cited; then the plan's three answers.
    assert plan.explanation is not None and plan.explanation.citations
    assert plan.explanation.text.split(".")[0] in text
    p = plan.planning
    assert p is not None and p.recommendations is not None and p.recommendations.recommendations
    b = p.budget
    assert b is not None and b.allocations
    total = sum(c.spend.amount for c in r.channels if c.spend)
    assert sum(a.optimal_spend for a in b.allocations) == pytest.approx(total, rel=1e-6)
    assert p.forecast is not None and len(p.forecast.points) == 56 and p.forecast.total_fan
    assert p.design is not None and p.design.cells and p.design.cells[0].power_curve
    for heading in ("== recommendations", "== budget", "== forecast", "== next experiment"):
        assert heading in text
    # The attribution report holds the analysis and the planning answers.
    assert plan.report is not None
    html = plan.report.read_text()
    assert r.analysis_id in html and "Budget" in html
    assert "grpcurl -plaintext" in text and "--keep-running" in text


def test_demo_records_the_holdout_and_attribution_is_calibrated_by_it(landed) -> None:  # type: ignore[no-untyped-def]
    """The geo holdout's estimate is recorded as the experiment's result in the registry, and
    the attribution step is calibrated by it (issue 15)."""
    result, printed, truth = landed
    text = "\n".join(printed)
    experiment = truth["experiments"][0]
    recorded = result.analysis.recorded_result
    assert recorded is not None and recorded.experiment_id == experiment["experiment_id"]
    assert recorded.analysis_id == result.analysis.analysis_id
    assert recorded.spend_delta < 0 < recorded.lift_absolute
    assert f"recorded as experiment {experiment['experiment_id']}'s result" in text
    r = result.plan.attribution
    assert [c.experiment_id for c in r.calibration] == [experiment["experiment_id"]]
    assert "1 lift tests" in text
    line = next(p for p in printed if p.startswith("  calibrated by registry experiment"))
    assert f"{recorded.channel} iROAS" in line and "uncalibrated →" in line
