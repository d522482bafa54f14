"""Our data promises, measured: the ingestion detectors' confounders against the simulator's
truth (:func:`sim.confounders.confounder_truth`), the share of records with temporal
consistency, and the causal quality score by source.

Each world is simulated, its experiment and external series registered and every raw export
streamed through Ingest into memory on a fresh mesh, exactly as ``liftos demo`` does; the
records scanned back are joined to the truth on (campaign, geo, day). Per kind, a record is
*detected* when a confounder of that kind is live on it:

============  =======================================================================
kind          detectors
============  =======================================================================
holiday       holiday_proximity
seasonal_peak retail_peak_season
macro_shock   the registered macro series (consumer_confidence)
competitor    the registered competitor series (competitor_activity)
promotion     the registered promotions series, promotional_campaign (campaign names)
budget        budget_response
============  =======================================================================

Targets (issue 19): recall >= 95% and precision >= 90% per kind; LiftOS promises 95%
confounder detection and 100% temporal consistency.

Run: PYTHONPATH=.:gen python bench/confounder_detection.py [--seeds 1 2 3] [--scenario demo]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from mesh.cli.demo import ingest_world, register, scan_records
from mesh.cli.processes import Mesh
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS
from sim.confounders import KINDS, confounder_truth

DETECTORS = {
    "holiday": ("holiday_proximity",),
    "seasonal_peak": ("retail_peak_season",),
    "macro_shock": ("consumer_confidence",),
    "competitor_push": ("competitor_activity",),
    "promotion": ("promotions", "promotional_campaign"),
    "budget_response": ("budget_response",),
}


def _world(scenario: str, seed: int, data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records scanned back from memory, the confounder truth) for one simulated world."""
    result = sim.simulate(scenario, seed=seed)
    world = data_dir / "world"
    sim.write(result, world)
    org_id = json.loads((world / "accounts.json").read_text())[0]["org_id"]
    mesh = Mesh(data_dir)
    peers = PeerConfig(**{s: mesh.address(s) for s in mesh.ports})
    mesh.start()
    quiet = io.StringIO()

    def out(line: str) -> None:
        quiet.write(line + "\n")

    try:
        with LiftOS(peers, org_id=org_id) as client:
            mesh.wait_serving(client.health)
            register(client, world, org_id, out)
            ingest_world(client, world, org_id, out, progress=False)
            records = scan_records(peers.memory, org_id)
    finally:
        mesh.stop()
    return records, confounder_truth(result)


def _joined(records: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    platform = records[records["campaign_id"].astype(str) != ""].copy()
    platform["region"] = platform["geo"].astype(str).str.rsplit("-", n=1).str[-1]
    platform["date"] = pd.to_datetime(platform["local_date"])
    platform["campaign_id"] = platform["campaign_id"].astype(str)
    truth = truth.assign(date=pd.to_datetime(truth["date"]))
    keys = ["campaign_id", "region", "date"]
    joined = platform.merge(truth.drop(columns="source"), on=keys, how="inner")
    for kind, names in DETECTORS.items():
        columns = [f"confounder__{n}" for n in names if f"confounder__{n}" in joined.columns]
        live = np.zeros(len(joined), dtype=bool)
        for c in columns:
            live |= joined[c].notna().to_numpy()
        joined[f"detected_{kind}"] = live
    return joined


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scenario", default="demo")
    args = parser.parse_args()
    parts, records_all = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="liftos-confounders-") as tmp:
            records, truth = _world(args.scenario, seed, Path(tmp))
        joined = _joined(records, truth)
        parts.append(joined.assign(seed=seed))
        records_all.append(records.assign(seed=seed))
        print(f"  world {seed}: {len(records):,} records, {len(joined):,} joined to the truth")
    joined = pd.concat(parts, ignore_index=True)
    records = pd.concat(records_all, ignore_index=True)
    rows = []
    for kind in KINDS:
        truth_on, found = joined[kind].to_numpy(), joined[f"detected_{kind}"].to_numpy()
        tp = int((truth_on & found).sum())
        rows.append(
            {
                "kind": kind,
                "active rows": int(truth_on.sum()),
                "detected rows": int(found.sum()),
                "recall": tp / max(int(truth_on.sum()), 1),
                "precision": tp / max(int(found.sum()), 1),
                "meets 95/90": tp >= 0.95 * truth_on.sum() and tp >= 0.9 * found.sum(),
            }
        )
    pd.set_option("display.width", 160)
    print(f"\n== confounder detection, {args.scenario} worlds {args.seeds}, "
          f"{len(joined):,} platform records (campaign × geo × day)")  # fmt: skip
    print(pd.DataFrame(rows).set_index("kind").round(3).to_string())
    temporal = records["quality_temporal_consistency"]
    print(f"\n== temporal consistency: {float((temporal >= 1.0).mean()):.1%} of "
          f"{len(records):,} records score 1.0 (mean {temporal.mean():.3f})")  # fmt: skip
    print("\n== causal quality score by source")
    q = records.groupby("data_source")["data_quality_score"]
    print(q.describe(percentiles=[0.1, 0.5, 0.9])[["count", "mean", "min", "10%", "50%", "90%", "max"]]
          .round(3).to_string())  # fmt: skip


if __name__ == "__main__":
    main()
