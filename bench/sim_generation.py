"""Generation speed of the simulator at benchmark scale: 2 years x 200 campaigns x 50 states.

Prints rows/s and peak RSS for (1) generating the world in memory (``sim.simulate``) and
(2) writing the raw NDJSON exports, each against a reference measured in the same run:
numpy drawing the same number of random rows into a DataFrame of the panel's numeric width
(the floor for any vectorised generator), and ``json.dumps`` of the same number of flat
dicts (the floor for any Python JSON writer).

Run: ``OPENBLAS_NUM_THREADS=1 python bench/sim_generation.py [--days 730 --campaigns 200
--geos 50 --write-rows N]``. Writing all ~6M lines takes minutes; ``--write-rows`` times a
prefix of each export (default 400,000 lines in total) and extrapolates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim
from bench._figures import figure


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reference_frame(n: int, width: int) -> float:
    """Seconds for numpy to fill an n x width DataFrame with random draws."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    cols = {f"c{k}": rng.random(n) for k in range(width)}
    pd.DataFrame(cols)
    return time.perf_counter() - t0


def reference_json(n: int) -> float:
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    vals = rng.random(min(n, 200_000))
    for i in range(n):
        json.dumps({"a": "x", "spend": f"{vals[i % vals.size]:.2f}", "n": i}, separators=(",", ":"))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--campaigns", type=int, default=200)
    ap.add_argument("--geos", type=int, default=50)
    ap.add_argument("--write-rows", type=int, default=400_000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    result = sim.simulate(
        "large", seed=0, days=args.days, n_campaigns=args.campaigns, n_geos=args.geos
    )
    gen_s = time.perf_counter() - t0
    rows = len(result.panel)
    raw_rows = sum(len(e) for e in result.raw.values())
    rss_gen = peak_rss_mb()
    width = result.panel.select_dtypes("number").shape[1]
    ref_s = reference_frame(rows, width)

    # Writing: time a prefix of every export in proportion to its size.
    with tempfile.TemporaryDirectory() as tmp:
        target = min(args.write_rows, raw_rows)
        t1 = time.perf_counter()
        written = 0
        for source, export in result.raw.items():
            k = max(1, round(target * len(export) / raw_rows))
            with open(os.path.join(tmp, f"{source}.ndjson"), "w") as fh:
                for i, line in enumerate(export.lines()):
                    if i >= k:
                        break
                    fh.write(line + "\n")
                    written += 1
        write_s = time.perf_counter() - t1
        tj = time.perf_counter()
        sim_truth = json.dumps(result.truth, separators=(",", ":"))
        truth_s = time.perf_counter() - tj
    ref_json_s = reference_json(written)

    print(
        f"world: {args.days} days x {args.campaigns} campaigns x {args.geos} geos; "
        f"panel rows {rows:,}; raw export lines {raw_rows:,}; dirty lines "
        f"{len(result.truth['dirty_rows']):,}; truth.json {len(sim_truth) / 1e6:.1f} MB"
    )
    print(
        f"generate (sim.simulate): {gen_s:7.2f} s  {rows / gen_s:12,.0f} rows/s  "
        f"peak RSS {rss_gen:,.0f} MB"
    )
    print(
        f"reference (numpy random -> {width}-column DataFrame, same rows): {ref_s:7.2f} s  "
        f"{rows / ref_s:12,.0f} rows/s"
    )
    print(f"ratio generate / reference: {gen_s / ref_s:6.1f}x slower than the floor")
    print(
        f"write NDJSON ({written:,} lines): {write_s:7.2f} s  {written / write_s:10,.0f} lines/s"
        f"  -> all {raw_rows:,} lines ~{raw_rows / (written / write_s):,.0f} s"
    )
    print(
        f"reference (json.dumps of {written:,} flat dicts): {ref_json_s:7.2f} s  "
        f"{written / ref_json_s:10,.0f} lines/s; ratio {write_s / ref_json_s:5.1f}x"
    )
    print(f"truth.json encode: {truth_s:.2f} s; final peak RSS {peak_rss_mb():,.0f} MB")
    size = f"{args.days} days × {args.campaigns} campaigns × {args.geos} geos"
    figure(f"simulator generation, {size}", gen_s, "s",
           reference="numpy random → DataFrame, same rows", reference_value=ref_s,
           note=f"{rows / gen_s:,.0f} panel rows/s; peak RSS {rss_gen:,.0f} MB")  # fmt: skip
    figure(f"export writing, {written:,} NDJSON lines", write_s, "s",
           reference="json.dumps of flat dicts", reference_value=ref_json_s)  # fmt: skip


if __name__ == "__main__":
    main()
