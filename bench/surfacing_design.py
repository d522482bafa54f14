"""DesignExperiment's stated power against detection on fresh simulator worlds (issue 17).

Per replicate, a fresh world (a new seed of the simulator: new demand, geo shocks, budgets).
``design_experiment`` designs a go-dark of Meta prospecting on the world's first ``H`` days —
the history — and states its power at three effect sizes for a 28-day test. The test then
runs on the days after the history, in that same world: the planted effect (the treatment
geos' outcome × (1 − lift) over the test days) is analysed the way the design says it will be
(TBR on the pre-period, one-sided test against the placebo spread), and the replicate counts as
detected or not. Stated power, averaged over replicates, should match the detection rate
within ±5 points at each effect size, and both should rise with the effect; at no effect the
detection rate is the test's real size, against the stated alpha.

The reference measured in the same run is the detection rate itself (a simulation of the
design on the worlds it was not fitted to).

Run: PYTHONPATH=.:gen python bench/surfacing_design.py [--replicates 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import sim
from bench._figures import figure
from surfacing_svc.design import DesignSpec, design_experiment, significance, tbr_estimate
from surfacing_svc.history import GeoHistory

LIFTS = (0.0, 0.01, 0.025, 0.04)
TEST_DAYS = 28
HISTORY_DAYS = 337  # the test fills the world's last 28 days of a year
CHANNEL = "meta_prospecting"
ALPHA = 0.05


def _world(seed: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    r = sim.simulate("confounded", seed=seed, n_geos=30, n_campaigns=7, dirt=False,
                     days=HISTORY_DAYS + TEST_DAYS)  # fmt: skip
    o = r.outcomes
    geos = sorted(o["region"].astype(str).unique())
    dates = np.array(sorted(o["date"].unique()))
    y = o.pivot_table(index="region", columns="date", values="revenue", observed=True)
    p = r.panel[r.panel["channel"].astype(str) == CHANNEL]
    s = p.pivot_table(index="region", columns="date", values="spend_org", aggfunc="sum",
                      observed=True).reindex(index=geos, columns=dates).fillna(0.0)  # fmt: skip
    return geos, dates.astype("datetime64[D]"), y.loc[geos].to_numpy(), s.to_numpy()


def one(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Stated power and detection (0/1) per lift, and seconds the design took."""
    geos, dates, y, spend = _world(1000 + seed)
    h = HISTORY_DAYS
    history = GeoHistory(tuple(geos), dates[:h], y[:, :h], {CHANNEL: spend[:, :h]})
    stated, detected = np.zeros(len(LIFTS)), np.zeros(len(LIFTS))
    seconds = 0.0
    for k, lift in enumerate(LIFTS):
        t0 = time.perf_counter()
        d = design_experiment(history, DesignSpec(CHANNEL, lift=lift or None, alpha=ALPHA,
                                                  durations=(TEST_DAYS,), seed=seed))  # fmt: skip
        seconds += time.perf_counter() - t0
        cell = d.cells[0]
        point = cell.power_curve[0]
        stated[k] = point.power if lift else ALPHA
        treated = np.isin(geos, cell.treatment_geos)
        control = np.isin(geos, d.control_geos)
        yt = y[treated].sum(axis=0)
        yt[h:] *= 1.0 - lift
        est = tbr_estimate(yt, y[control].sum(axis=0), slice(h - d.pre_period_days, h),
                           slice(h, h + TEST_DAYS))  # fmt: skip
        detected[k] = significance(est.lift, point.noise, ALPHA, direction=-1)[1]
    return stated, detected, seconds / len(LIFTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(one, range(args.replicates)))
    stated = np.array([r[0] for r in runs])
    detected = np.array([r[1] for r in runs])
    n = len(runs)
    print(f"{n} fresh worlds (30 states, {HISTORY_DAYS}-day history), go-dark of {CHANNEL}, "
          f"{TEST_DAYS}-day test, one-sided alpha {ALPHA}")  # fmt: skip
    print(f"{'lift':>6}{'stated power':>14}{'detected':>10}{'± 2 se':>8}{'gap (pts)':>11}")
    for k, lift in enumerate(LIFTS):
        s, d = stated[:, k].mean(), detected[:, k].mean()
        se = np.sqrt(max(d * (1 - d), 1e-12) / n)
        print(f"{lift:>6.1%}{s:>14.3f}{d:>10.3f}{2 * se:>8.3f}{100 * (s - d):>+11.1f}")
    gaps = [100 * abs(stated[:, k].mean() - detected[:, k].mean()) for k in range(1, len(LIFTS))]
    mono_s = np.all(np.diff(stated[:, 1:].mean(axis=0)) > 0)
    mono_d = np.all(np.diff(detected[:, 1:].mean(axis=0)) > 0)
    print(f"largest gap over the three effect sizes: {max(gaps):.1f} points (target ≤ 5)")
    print(f"stated power monotone in effect size: {mono_s}; detection monotone: {mono_d}")
    print(
        f"per-world monotone (stated): {np.mean(np.all(np.diff(stated[:, 1:], axis=1) > 0, axis=1)):.0%}"
    )
    print(f"size at no effect: {detected[:, 0].mean():.3f} (alpha {ALPHA})")
    figure(f"DesignExperiment stated power vs detection, largest gap, {n} worlds", max(gaps),
           "points", target="≤ 5", met=max(gaps) <= 5,
           note=f"size at no effect {detected[:, 0].mean():.3f} (alpha {ALPHA})")  # fmt: skip
    print(f"design seconds per call: {np.mean([r[2] for r in runs]):.3f}; total "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
