"""SDID's variance cost: seconds per estimate when every draw refits both weight vectors (from
uniform weights since R11-F1, not the R package's warm start from the fitted ones): the
bootstrap (Algorithm 2) on the simulator's geo holdouts — ``geo_experiment`` (50 states, 25
treated, 56 pre-period days) and ``demo`` (20 states) — and the placebo (Algorithm 4) on
California's Prop 99 (39 states, one treated) and on a synthetic single-geo holdout with few
controls and a long pre-period (1 treated + 19 controls, 60 pre-days, 14 test days: the
N0 <= T0 shape where the warm start collapsed the variance).
Prints the median of ``--runs`` timings per estimate, the point and standard error
(so runs of two versions can be checked for the same answer), the point fit alone
(``variance="none"``) and, as the machine's own reference in the same run, the time of an SVD of
a 400 × 400 matrix (numpy; no LiftOS code).

Run: PYTHONPATH=.:gen python bench/causal_sdid_bootstrap.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from causal_geo_experiments import PANEL, geo_panel
from synthdid import load_california_prop99

from bench._figures import figure
from causal_svc.estimators.result import EffectSpec
from causal_svc.estimators.sdid import estimate_sdid

PROP99 = EffectSpec(outcome="PacksPerCapita", treatment="treated", unit="State", time="Year")


SINGLE_GEO = EffectSpec(outcome="y", treatment="d", unit="geo", time="day")


def _single_geo(n_units: int, pre: int, post: int) -> pd.DataFrame:
    """Geo 0 treated after ``pre`` days; unit effects, a random-walk common factor, N(0, 1)."""
    rng = np.random.default_rng(0)
    days = pre + post
    factor, level = np.cumsum(rng.normal(size=days)), rng.normal(size=n_units)
    geo, day = np.repeat(np.arange(n_units), days), np.tile(np.arange(days), n_units)
    y = level[geo] + factor[day] + rng.normal(size=geo.size)
    return pd.DataFrame({"geo": geo, "day": day, "y": y, "d": ((geo == 0) & (day >= pre)) * 1})


def _median_seconds(runs: int, call) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replications", type=int, default=200)
    args = parser.parse_args()
    print(f"== SDID variance, {args.replications} draws, median of {args.runs} runs")
    a = np.random.default_rng(0).normal(size=(400, 400))
    ref_s, _ = _median_seconds(max(args.runs, 5), lambda: np.linalg.svd(a))
    print(f"  machine reference: SVD 400 x 400 in {ref_s * 1000:.1f} ms")
    cases = [(*geo_panel(s, 1)[:1], PANEL, "bootstrap", s) for s in ("geo_experiment", "demo")]
    prop99 = load_california_prop99()
    cases.append((prop99, PROP99, "placebo", "prop99"))
    cases.append((_single_geo(20, 60, 14), SINGLE_GEO, "placebo", "single geo"))
    for frame, spec, variance, name in cases:
        estimate_sdid(frame, spec, variance="none")  # compile the solver outside the timing
        units = frame[spec.unit].nunique()
        fit_s, _ = _median_seconds(
            args.runs, lambda f=frame, p=spec: estimate_sdid(f, p, variance="none")
        )
        seconds, est = _median_seconds(
            args.runs,
            lambda f=frame, p=spec, v=variance: estimate_sdid(
                f, p, variance=v, replications=args.replications, random_state=0
            ),
        )
        print(
            f"  {name:<15} {units} units  {variance:<9} {seconds:7.2f} s / estimate"
            f"  ({seconds / ref_s:,.0f}x the reference; point fit {fit_s * 1000:.0f} ms)"
            f"  point {est.point_estimate:.6f}  SE {est.stderr:.6f}"  # type: ignore[attr-defined]
        )
        figure(f"SDID {variance} variance, {name} ({units} units)", seconds, "s",
               reference="SVD 400 × 400 (machine reference)", reference_value=ref_s,
               note=f"point fit {fit_s * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
