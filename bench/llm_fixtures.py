"""Writes the LLM tests' analysis fixtures: simulator analyses of every method, stored as the
causal service stores them (one ``Analysis`` per line, proto3 JSON; series, weights and
coefficient tables left out: the LLM service does not read them), with their truth.

The tests read the file instead of running estimators, so they stay fast; regenerate it when
the causal service's result contract changes.

Run: PYTHONPATH=.:gen python bench/llm_fixtures.py [--out tests/llm/data/analyses.jsonl]
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from google.protobuf import json_format
from liftos.v1 import causal_pb2 as causal_pb

from bench.llm_worlds import Case, build_case_args

ROOT = Path(__file__).resolve().parent.parent
# (scenario, method) pairs: every method the causal service has, three worlds each.
PAIRS = [
    ("geo_experiment", "difference_in_means"), ("null", "difference_in_means"),
    ("small_effect", "difference_in_means"), ("staggered", "did"), ("staggered", "event_study"),
    ("staggered", "staggered_did"), ("instrument", "iv"), ("rdd", "rdd"),
    ("observational", "matching"), ("observational", "ipw"), ("observational", "aipw"),
    ("observational", "dml"), ("synthetic_control", "synthetic_control"),
    ("synthetic_control", "bsts"), ("observational", "naive_regression"),
    ("null", "naive_regression"),
]  # fmt: skip
SEEDS = (11, 12, 13)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--out", type=Path, default=ROOT / "tests" / "llm" / "data" / "analyses.jsonl"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(s, m, seed) for s, m in PAIRS for seed in SEEDS]
    with ProcessPoolExecutor(args.workers) as pool:
        cases: list[Case] = list(pool.map(build_case_args, jobs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as f:
        for c in cases:
            if c.error:
                print(f"skipped {c.scenario}/{c.method}/{c.seed}: {c.error}")
                continue
            analysis = causal_pb.Analysis.FromString(c.analysis)
            for bulky in ("series", "weights", "coefficients"):  # unread by the LLM service
                analysis.estimate.ClearField(bulky)
            line = {
                "scenario": c.scenario, "method": c.method, "seed": c.seed,
                "true_effect": c.true_effect,
                "analysis": json_format.MessageToDict(analysis),
            }  # fmt: skip
            f.write(json.dumps(line, sort_keys=True) + "\n")
    print(f"wrote {sum(not c.error for c in cases)} analyses to {args.out}")


if __name__ == "__main__":
    main()
