"""`liftos demo`: the whole mesh, end to end, on the bundled simulated world.

Grows with each issue; today it simulates the ``demo`` world, brings up the five services,
registers the world's geo experiment and the org's external series (macro index,
competitor activity, its own promotions), streams every raw export — Meta, Google Ads,
Klaviyo, TikTok and the first-party orders CSV — through ``Ingest``, and prints what landed
in memory: rows by source, rejected rows by reason, the causal quality scores, the
confounders detected and the experiment's treatment assignment; then estimates the geo
holdout's effect from memory with its checks (the estimator the causal service picks for a
randomised geo panel, beside TWFE DiD and synthetic DiD) and sets it beside the simulator's
truth.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from mesh.cli.demo_plan import Plan, run_plan
from mesh.cli.estimate import recorded_line, recorded_to_json
from mesh.cli.ingest import ingest_files
from mesh.cli.processes import Mesh, fresh_health
from mesh.cli.registry import (
    read_experiments,
    read_factors,
    register_experiments,
    register_factors,
)
from mesh.runtime.channels import sync_channel
from mesh.runtime.config import PeerConfig
from mesh.runtime.durable_files import write_durably
from mesh.runtime.estimand import estimand_words
from mesh.runtime.frames import records_to_frame
from mesh.sdk.client import IngestSummary, LiftOS, Records, dc

Out = Callable[[str], None]
SCENARIO, SEED = "demo", 1
PLATFORMS = ("meta", "google_ads", "klaviyo", "tiktok")
# The simulated world is US states (sim/README.md): geo codes are USPS codes.
COUNTRY = "US"
ORDERS_MAPPING = {
    "date": "date",
    "geo": "region",
    "conversions": "orders",
    "revenue": "revenue",
    "currency_code": "currency",
    "channel": "first_party",
}


@dataclass
class DemoResult:
    """What the demo ingested and read back (the demo test checks it against the truth)."""

    world: Path
    org_id: str
    summaries: dict[str, IngestSummary] = field(default_factory=dict)
    records: pd.DataFrame | None = None
    analysis: dc.EstimateEffectResponse | None = None
    plan: Plan | None = None


def simulate_world(world: Path, out: Out) -> None:
    out(f"== simulating the {SCENARIO!r} world (seed {SEED}) into {world}")
    result = sim.simulate(SCENARIO, seed=SEED)
    sim.write(result, world)
    manifest = json.loads((world / "manifest.json").read_text())
    rows = ", ".join(f"{s} {n:,}" for s, n in manifest["rows"].items())
    out(f"  {manifest['days']} days from {manifest['start']}; export lines: {rows}")


def register(client: LiftOS, world: Path, org_id: str, out: Out) -> None:
    """The world's experiments and the org's external series, as `liftos experiments create`
    and `liftos factors register` send them."""
    out("== experiment registry")
    register_experiments(client, read_experiments(world / "experiments.json", org_id), out)
    out("== external factors")
    register_factors(client, read_factors(world / "external_factors.csv", org_id), out)


def ingest_world(
    client: LiftOS, world: Path, org_id: str, out: Out, *, progress: bool = True
) -> dict[str, IngestSummary]:
    """Every raw export of the world through Ingest, as `liftos ingest` sends it."""
    accounts = json.loads((world / "accounts.json").read_text())
    manifest = json.loads((world / "manifest.json").read_text())
    pulled_at = dt.datetime.fromisoformat(manifest["pulled_at"])  # the morning after the last day
    out(f"== ingesting the raw exports (pulled {pulled_at:%Y-%m-%d %H:%M}Z)")
    summaries: dict[str, IngestSummary] = {}
    for source in PLATFORMS:
        account = next(a for a in accounts if a["source"] == source and a["org_id"] == org_id)
        summaries[source], _ = ingest_files(
            client, source, [world / f"{source}.ndjson"], {**account, "country": COUNTRY},
            pulled_at=pulled_at, progress=progress, label=source,
        )  # fmt: skip
    org = next(a for a in accounts if a["org_id"] == org_id)
    orders = {"account_id": f"{org_id}-orders", "timezone": org["timezone"], "country": COUNTRY}
    summaries["orders"], _ = ingest_files(
        client, "generic", [world / "orders.csv"], {**orders, "currency": "USD"},
        mapping=ORDERS_MAPPING, pulled_at=pulled_at, progress=progress, label="orders.csv",
    )  # fmt: skip
    return summaries


def scan_records(memory_target: str, org_id: str) -> pd.DataFrame:
    """Everything the org now holds in memory, as a frame."""
    channel = sync_channel(memory_target)
    try:
        stub = memory_grpc.MemoryServiceStub(channel)
        request = memory_pb.ScanRequest(org_id=org_id, batch_size=5000)
        frames = [records_to_frame(r.records) for r in stub.Scan(request, timeout=120)]
    finally:
        channel.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def report(summaries: dict[str, IngestSummary], records: pd.DataFrame, out: Out) -> None:
    out("== what landed")
    out(f"  {'source':<12}{'lines':>8}{'written':>9}{'dup':>6}{'superseded':>11}"
        f"{'restated':>9}{'rejected':>9}{'late':>6}{'quality':>9}")  # fmt: skip
    for source, s in summaries.items():
        out(f"  {source:<12}{s.rows:>8,}{s.written:>9,}{s.duplicates:>6,}{s.superseded:>11,}"
            f"{s.restated:>9,}{s.rejected:>9,}{s.late:>6,}{s.mean_quality:>9.3f}")  # fmt: skip
    out("== rejected rows by reason")
    reasons: dict[str, dict[str, int]] = {}
    for source, s in summaries.items():
        for reason, n in s.rejected_by_reason.items():
            reasons.setdefault(reason, {})[source] = n
    for reason, by_source in sorted(reasons.items(), key=lambda kv: -sum(kv[1].values())):
        detail = ", ".join(f"{s} {n}" for s, n in by_source.items())
        out(f"  {reason:<26}{sum(by_source.values()):>6,}   ({detail})")
    if records.empty:
        return
    out(f"== causal quality score of the {len(records):,} records in memory")
    q = records.groupby("data_source")["data_quality_score"]
    table = q.describe(percentiles=[0.1, 0.5, 0.9])[["mean", "min", "10%", "50%", "90%", "max"]]
    out("  " + table.round(3).to_string().replace("\n", "\n  "))
    edges = np.linspace(0, 1, 11)
    counts, _ = np.histogram(records["data_quality_score"], bins=edges)
    peak = max(counts.max(), 1)
    for lo, n in zip(edges[:-1], counts, strict=True):
        if n:
            out(f"  {lo:.1f}-{lo + 0.1:.1f} {'#' * int(40 * n / peak):<40} {n:,}")
    components = [c for c in records.columns if c.startswith("quality_")]
    means = records[components].mean().rename(lambda c: c.removeprefix("quality_"))
    out("  component means: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()))
    out("== detected confounders (records carrying each)")
    for column in sorted(c for c in records.columns if c.startswith("confounder__")):
        name = column.removeprefix("confounder__")
        live = records[column].notna()
        kinds = records.loc[live, f"confounder_type__{name}"].iloc[0] if live.any() else ""
        by = records.loc[live, "data_source"].value_counts()
        out(f"  {name:<24}{kinds:<16}{int(live.sum()):>7,}   "
            + ", ".join(f"{s} {n:,}" for s, n in by.items()))  # fmt: skip
    out("== treatment assignment")
    assigned = records[records["experiment_id"] != ""]
    for (exp, group), n in assigned.groupby(["experiment_id", "treatment_group"]).size().items():
        geos = assigned[(assigned["experiment_id"] == exp) & (assigned["treatment_group"] == group)]
        out(f"  {exp} {group:<10} {n:>6,} records in {geos['geo'].nunique()} geos")
    restated = records[records["meta_is_restatement"]]
    out(f"== restatements: {len(restated):,} records replaced an earlier version of their day")


def analyse_experiment(client: LiftOS, world: Path, out: Out) -> dc.EstimateEffectResponse | None:
    """Estimate the registered geo holdout from memory (first-party revenue, geo × day) as the
    causal service chooses for a randomised geo panel, print what the other estimators would
    give and how wide their intervals are, and set it beside the simulator's truth."""
    experiments = json.loads((world / "experiments.json").read_text())
    truth = {
        e["experiment_id"]: e for e in json.loads((world / "truth.json").read_text())["experiments"]
    }
    if not experiments:
        return None
    entry = experiments[0]
    exp_id = entry["experiment_id"]
    out(f"== causal analysis of {exp_id}, read from memory (geo × day, first-party revenue)")
    start = dt.date.fromisoformat(entry.get("pre_period_start", entry["start_date"]))
    records = Records(
        experiment_id=exp_id, start=start, end=dt.date.fromisoformat(entry["end_date"])
    )
    roles: dict[str, Any] = {
        "outcome": "revenue", "treatment": "treated_post", "unit": "geo", "time": "day"
    }  # fmt: skip
    # record_experiment_result: the estimate becomes the experiment's result in the registry,
    # which the attribution step below is then calibrated by
    reply = client.estimate(
        records, method="auto", randomized=True, refutation_simulations=10,
        record_experiment_result=True, **roles,
    )  # fmt: skip
    e = reply.estimate
    assert e is not None
    level = round((1 - e.alpha) * 100)
    out(f"  {e.method.name.lower()} ({e.strategy.reason if e.strategy else ''})")
    # the estimand in the words the report and the explanation use (mesh.runtime.estimand)
    words = estimand_words(e.estimand.name, roles["unit"], roles["time"])
    out(f"  effect: {e.point_estimate:,.0f} revenue, the {words} "
        f"({level}% CI {e.ci_lower:,.0f} to {e.ci_upper:,.0f}; n = {e.n:,}; "
        f"{e.n_treated} treated / {e.n_control} control geos)")  # fmt: skip
    for check in e.checks:
        out(f"  {check.outcome.name:<8} {check.name}: {check.interpretation}")
    for warning in e.warnings:
        out(f"  warning: {warning}")
    out(f"  {e.summary}")
    out("  the same data by the other geo-experiment estimators (interval width vs TWFE DiD):")
    widths = {"chosen": e.ci_upper - e.ci_lower}
    for method, cluster in (("did", "geo"), ("sdid", "")):
        other = client.estimate(
            records, method=method, cluster=cluster, skip_refutation=True, **roles
        ).estimate
        assert other is not None
        widths[method] = other.ci_upper - other.ci_lower
        out(f"    {method:<6} {other.point_estimate:>10,.0f}  CI {other.ci_lower:>10,.0f} to "
            f"{other.ci_upper:>10,.0f}")  # fmt: skip
    for name, width in widths.items():
        out(f"    {name:<6} interval width {width:>10,.0f}  ({width / widths['did']:.0%} of DiD's)")
    true = truth.get(exp_id, {}).get("att_revenue_per_geo_day")
    if true is not None:
        covered = e.ci_lower <= true <= e.ci_upper
        att = estimand_words("att", roles["unit"], roles["time"])
        also = (
            ""
            if e.estimand.name == "ATT"
            else f" (assignment was randomised, so the {e.estimand.name} estimates it too)"
        )
        out(f"  simulator truth: {true:,.0f} revenue, the {att}{also} — "
            f"{'inside' if covered else 'OUTSIDE'} the interval")  # fmt: skip
    recorded = reply.recorded_result
    if recorded is not None:
        out(
            f"  {recorded_line(recorded_to_json(recorded) or {})} (the registry's result for {exp_id})"
        )
        truth_lift = truth.get(exp_id, {}).get("incremental_revenue_treated")
        if truth_lift is not None:
            out(f"  simulator truth: lift {truth_lift:,.0f} over the treated geos' window")
    out(f"  analysis id {reply.analysis_id}")
    return reply


def write_report(client: LiftOS, analysis_id: str, data_dir: Path, out: Out) -> Path:
    """The analysis as `liftos report` writes it, with the grounded explanation on top."""
    from mesh.cli.report import explain, fetch
    from mesh.report import render_report

    analysis = fetch(client, analysis_id, latest=False)
    path = data_dir / f"report-{analysis_id}.html"
    write_durably(path, render_report(analysis, explanation=explain(client, analysis_id)))
    # the closing lines give `liftos report` with the org and ports it needs (R28 #3)
    out(f"== report: {path} (open it in a browser)")
    return path


def run_demo(
    data_dir: Path | None,
    base_port: int | None,
    out: Out = print,
    *,
    peers: PeerConfig | None = None,
    progress: bool | None = None,
    keep_running: bool = False,
) -> int:
    """Run the demo; with ``peers`` it uses an already running mesh instead of starting one."""
    code, _ = demo(
        data_dir, base_port, out, peers=peers, progress=progress, keep_running=keep_running
    )
    return code


def demo(
    data_dir: Path | None,
    base_port: int | None,
    out: Out = print,
    *,
    peers: PeerConfig | None = None,
    progress: bool | None = None,
    keep_running: bool = False,
) -> tuple[int, DemoResult | None]:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="liftos-demo-"))
    world = data_dir / "world"
    simulate_world(world, out)
    org_id = json.loads((world / "accounts.json").read_text())[0]["org_id"]
    progress = sys.stderr.isatty() if progress is None else progress
    mesh = None
    if peers is None:
        ports = (
            None
            if base_port is None
            else {
                s: base_port + i
                for i, s in enumerate(("ingestion", "memory", "causal", "llm", "surfacing"))
            }
        )
        mesh = Mesh(data_dir, ports=ports)
        peers = PeerConfig(**{s: mesh.address(s) for s in mesh.ports})
        out(f"== starting the mesh (data dir {data_dir})")
        mesh.start()
    try:
        with LiftOS(peers, org_id=org_id) as client:
            if mesh is not None:
                status = mesh.wait_serving(fresh_health(lambda: LiftOS(peers, org_id=org_id)))
                for service, state in status.items():
                    out(f"  {service:<10} {getattr(peers, service):<18} {state}")
                if any(v != "SERVING" for v in status.values()):
                    return 1, None
            register(client, world, org_id, out)
            result = DemoResult(world, org_id)
            result.summaries = ingest_world(client, world, org_id, out, progress=progress)
            result.records = scan_records(peers.memory, org_id)
            report(result.summaries, result.records, out)
            result.analysis = analyse_experiment(client, world, out)
            if result.analysis is not None:
                write_report(client, result.analysis.analysis_id, data_dir, out)
            out("== calendar around Black Friday (US)")
            cal = client.calendar("US", dt.date(2024, 11, 25), dt.date(2024, 12, 3))
            out(
                cal[
                    ["date", "day_of_week", "is_holiday", "holiday_name", "days_to_next_holiday"]
                ].to_string(index=False)
            )
            result.plan = run_plan(client, world, org_id, data_dir, out)
            keep = keep_running and mesh is not None
            poke(peers, org_id, base_port, result, out, keep_running=keep)
            while keep and mesh is not None and not mesh.dead():
                time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        if mesh is not None:
            mesh.stop()
            out("== mesh stopped")
    return 0, result


def grpcurl_auth(environ: Mapping[str, str] | None = None) -> str:
    """grpcurl's authorization flag when the mesh checks keys (else nothing): the shell
    variable, never the key itself, so a printed hint holds no secret."""
    env = os.environ if environ is None else environ
    if env.get("LIFTOS_API_KEYS") or env.get("LIFTOS_API_KEY"):
        return ' -H "authorization: Bearer $LIFTOS_API_KEY"'
    return ""


def poke(
    peers: PeerConfig,
    org_id: str,
    base_port: int | None,
    result: DemoResult,
    out: Out,
    *,
    keep_running: bool,
) -> None:
    """How to keep the mesh up and ask it things by hand."""
    plan = result.plan
    aid = plan.attribution.analysis_id if plan and plan.attribution else "ANALYSIS_ID"
    body = json.dumps({"org_id": org_id, "analysis_id": aid})
    out("== poke it yourself")
    if keep_running:
        out("  the mesh stays up (Ctrl-C stops it); in another terminal:")
    else:
        out("  keep the mesh up with `liftos demo --keep-running` (or `liftos up`), then:")
    auth = grpcurl_auth()
    out(f"  .venv/bin/grpcurl -plaintext{auth} {peers.causal} list liftos.v1.CausalService")
    out(
        f"  .venv/bin/grpcurl -plaintext{auth} -d '{body}' {peers.causal} "
        "liftos.v1.CausalService/GetAnalysis"
    )
    ports = "" if base_port is None else f" --base-port {base_port}"
    out(f"  .venv/bin/liftos report {aid} --org {org_id}{ports} --out report.html")
    channels = plan.attribution.channels if plan and plan.attribution else []
    first = channels[0].channel if channels else "CHANNEL"
    out(f"  .venv/bin/liftos counterfactual {aid} --org {org_id}{ports} --set {first}=0")
