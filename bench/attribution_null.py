"""No false attributions (issue 15): on the ``null`` scenario, where Meta prospecting has no
effect at all (the platform still claims conversions for it), how often does the attribution
analysis call its iROAS significantly positive — the lower end of its 90% interval above zero,
a one-sided 5% test?

Each seed is a fresh world; the analysis runs as the service runs it, with the registry's geo
holdout as calibration, and again without it. The platform's own claim and the naive
regression are printed beside it.

Run: PYTHONPATH=.:gen python bench/attribution_null.py [--seeds 100] [--workers 2]
     [--identification national|geo|pacing]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bench._figures import figure
from causal_svc.attribution import Identification, ModelSpec, analyze
from causal_svc.attribution.scores import naive_roas
from causal_svc.errors import ContradictoryCalibration
from tests.causal.attribution.world import world

CHANNEL = "meta_prospecting"


IDENTIFICATION = Identification.NATIONAL


def one(seed: int) -> tuple[float, float, float, float, float, float, str]:
    w = world("null", seed)
    assert w.experiment is not None
    c = w.panel.channels.index(CHANNEL)
    out = []
    for tests in ([w.experiment], []):
        try:
            rep = analyze(w.panel, ModelSpec(identification=IDENTIFICATION), tests)
        except ContradictoryCalibration:
            # An experiment significantly below zero is refused (FAILED_PRECONDITION in the
            # service), so the calibrated analysis makes no claim.
            out += [0.0, 0.0]
            continue
        score = next((s for s in rep.channels if s.channel == CHANNEL), None)
        if score is None or score.iroas is None:  # a failed model reports nothing: no claim
            out += [0.0, 0.0]
        else:
            out += [score.iroas.estimate, score.iroas.lower]
    spend = w.panel.spend[c].sum()
    return (*out, float(w.panel.platform_outcome[c] / spend), float(naive_roas(w.panel)[c]),
            rep.verdict.value)  # type: ignore[return-value]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed .. first-seed + seeds - 1 (hold-out seed ranges)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--identification", default="national", choices=[i.value for i in Identification]
    )
    args = ap.parse_args()
    global IDENTIFICATION
    IDENTIFICATION = Identification(args.identification)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, range(args.first_seed, args.first_seed + args.seeds)))
    est, low, est_u, low_u, platform, naive = (np.array([r[i] for r in rows]) for i in range(6))
    print(f"null scenario, {CHANNEL} (true iROAS 0), {args.seeds} seeds "
          f"({args.first_seed}-{args.first_seed + args.seeds - 1}), "
          f"identification {IDENTIFICATION.value}")  # fmt: skip
    print(f"  calibrated by the registry's geo holdout: significant positive iROAS in "
          f"{np.mean(low > 0):.1%} of runs (target <= 5%); mean estimate {est.mean():.3f}")  # fmt: skip
    print(f"  without calibration:                       significant positive iROAS in "
          f"{np.mean(low_u > 0):.1%} of runs; mean estimate {est_u.mean():.3f}")  # fmt: skip
    print(f"  what a user would have believed: platform ROAS {platform.mean():.2f}, naive "
          f"regression {naive.mean():.2f}")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")
    figure(f"null channel called significantly positive, calibrated, {args.seeds} seeds",
           100 * np.mean(low > 0), "%", reference="without calibration",
           reference_value=100 * np.mean(low_u > 0), target="≤ 5%", met=np.mean(low > 0) <= 0.05,
           note=f"platform ROAS {platform.mean():.2f}, naive {naive.mean():.2f}; truth 0")  # fmt: skip


if __name__ == "__main__":
    main()
