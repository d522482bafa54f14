"""Counterfactual intervals under the test of no effect (issue 15): the before/after study
behind docs/performance.md's "Counterfactual intervals under the test of no effect".

``--null`` (default): on ``null`` worlds, how often a plan on the null channel claims a change
(its delta interval excludes zero) — "without" at 90% and 95%, and half its spend over the
last 28 days at 90% — calibrated by the registry's experiment and not, beside the table's own
significant rate, and how often "without" claims a loss the table does not. Run it in a tree
before the gate for the "before" column.

``--cost``: CPU time per ``plan`` call on a stored analysis (minimum of 25), with and without
the table's stored tests (without them the tests run in the call).

Run: PYTHONPATH=.:gen python bench/counterfactual_gate.py [--null|--cost] [--seeds 100]
     [--first-seed N] [--workers 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from causal_svc.attribution import LiftTest, MediaPanel, ModelSpec, SpendChange, analyze, plan
from causal_svc.errors import ContradictoryCalibration
from tests.causal.attribution.world import world

CHANNEL = "meta_prospecting"


def _claims(panel: MediaPanel, tests: list[LiftTest]) -> list[float] | None:
    """[table significant, without 90%, without 95%, half spend last 28 days 90%]."""
    try:
        rep = analyze(panel, ModelSpec(), tests)
    except ContradictoryCalibration:
        return None
    s = next((s for s in rep.channels if s.channel == CHANNEL), None)
    if s is None or s.iroas is None or rep.state is None:
        return None
    last28 = dt.date.fromisoformat(str(panel.dates[-28]))
    out = [float(s.iroas.lower > 0)]
    for start, level in ((None, 0.90), (None, 0.95), (last28, 0.90)):
        change = SpendChange(CHANNEL, multiplier=0.0 if start is None else 0.5)
        r = plan(rep.state, [change], level=level, start=start)
        out.append(float(r.delta.upper < 0))
    return out


def _one(seed: int) -> list[list[float] | None]:
    w = world("null", seed)
    assert w.experiment is not None
    return [_claims(w.panel, [w.experiment]), _claims(w.panel, [])]


def null_study(seeds: range, workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(_one, seeds))
    for k, name in enumerate(("calibrated", "uncalibrated")):
        r = np.array([x[k] if x[k] is not None else [0.0] * 4 for x in rows])
        print(f"{name:13s} ({len(rows)} seeds, {seeds[0]}-{seeds[-1]}): table significant "
              f"{r[:, 0].mean():.1%}; 'without' claims a loss: 90% {r[:, 1].mean():.1%}, 95% "
              f"{r[:, 2].mean():.1%}; half spend, last 28 days, 90%: {r[:, 3].mean():.1%}; "
              f"'without' claims where the table does not: "
              f"{int(((r[:, 1] > 0) & (r[:, 0] == 0)).sum())}")  # fmt: skip


def _cpu(f: Callable[[], Any], n: int = 25) -> float:
    ts = []
    for _ in range(n):
        t = time.process_time()
        f()
        ts.append(time.process_time() - t)
    return float(np.min(ts))


def cost() -> None:
    stored_param = "tests" in inspect.signature(plan).parameters  # absent before the gate
    for label, kw in (("demo 20 geos x 120 days", {}),
                      ("demo 50 geos x 365 days", {"n_geos": 50, "days": 365})):  # fmt: skip
        w = world("demo", 0, **kw)
        rep = analyze(w.panel, ModelSpec())
        assert rep.state is not None
        state = rep.state
        stored = {s.channel: s.null_test for s in rep.channels if s.null_test is not None}
        claimed = next(s.channel for s in rep.channels if s.incremental.lower > 0)
        plans = {"without a claimed channel": [SpendChange(claimed, multiplier=0.0)],
                 "every channel x0.5": [SpendChange(n, multiplier=0.5) for n in w.panel.channels]}  # fmt: skip
        for name, changes in plans.items():
            line = f"{label}: {name}: {_cpu(partial(plan, state, changes)) * 1e3:.1f} ms"
            if stored_param:
                with_tests = _cpu(partial(plan, state, changes, tests=stored))
                line += f" (with the table's stored tests {with_tests * 1e3:.1f} ms)"
            print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--null", action="store_true", help="the null-world study (default)")
    mode.add_argument("--cost", action="store_true", help="CPU time per plan call")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.cost:
        cost()
    else:
        null_study(range(args.first_seed, args.first_seed + args.seeds), args.workers)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
