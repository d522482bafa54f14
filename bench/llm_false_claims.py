"""False causal claims, measured as issue 16 promises: a correlation-based report against our
Explain, over simulator analyses whose true effects are known.

For each case (bench/llm_worlds.py: a simulated world, an estimation method run in-process
through the causal service's pipeline with its checks, stored as an Analysis):

(a) the correlation-based report a marketing dashboard writes: the platform-reported ROAS of
    the channel over the design window, and a naive regression of the outcome on the channel
    (treated minus untreated), stated as a lift in outcome units and in percent — phrased as
    marketing reports are ("Meta prospecting drove a 1.52x ROAS");
(b) our Explain: the grounded writer's default explanation of the analysis (analyst audience;
    the other audiences are counted too).

Both texts go through the same claim reader (llm_svc.claims.extract, whose accuracy
bench/llm_claims.py measures). Each causal claim is then compared with the simulator's truth,
not with the analysis: a claim is false when the truth is zero and it claims an effect, when
its direction is wrong, when it quotes an interval that misses the truth, or when it states a
bare size more than 50% away from the truth (a "no effect" claim is false unless the truth is
zero). ROAS claims are compared with the channel's true incremental ROAS over the window,
percentages with the true effect over the same baseline, other sizes with the true effect.

Run: PYTHONPATH=.:gen python bench/llm_false_claims.py [--scale 1.0] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import pickle
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from liftos.v1 import causal_pb2 as causal_pb  # noqa: E402

from bench._figures import figure  # noqa: E402
from bench.llm_worlds import Case, build_case_args, plan  # noqa: E402
from llm_svc.claims.extract import Claim, ClaimKind, extract_claims  # noqa: E402
from llm_svc.claims.judge import subject_patterns  # noqa: E402
from llm_svc.convert import analysis_from_proto  # noqa: E402
from llm_svc.evidence import Analysis, Audience, Effect  # noqa: E402
from llm_svc.explain import Done, explain_grounded  # noqa: E402
from llm_svc.numbers import QuantityKind  # noqa: E402
from llm_svc.vocabulary import capitalised, label  # noqa: E402

BARE_SIZE_TOLERANCE = 0.5


def correlation_report(case: Case) -> str:
    """What a dashboard says: platform ROAS and a naive lift, as causes."""
    channel = capitalised(label(case.channel))
    start, end = case.window
    lift = case.naive_effect
    verb = "lifted" if lift >= 0 else "cut"
    rel = lift / case.baseline if case.baseline else 0.0
    return " ".join(
        [
            f"{channel} drove a {case.platform_roas:.2f}x ROAS from {start} to {end}.",
            f"{channel} {verb} revenue by {abs(lift):.2f} per 1,000 residents in the regions where it ran.",
            f"That is a {abs(rel):.1%} {'increase' if lift >= 0 else 'decrease'} in revenue driven by {channel}.",
        ]
    )


def explanation(analysis: Analysis, audience: Audience) -> str:
    async def run() -> str:
        async for event in explain_grounded([analysis], audience):
            if isinstance(event, Done):
                return event.text
        raise AssertionError("no done")

    return asyncio.run(run())


def is_false(claim: Claim, case: Case, baseline: float | None) -> bool:
    """Whether the claim states an effect the simulated truth does not have."""
    q = claim.magnitude
    percent = q is not None and q.kind is QuantityKind.PERCENT
    if claim.roas:
        truth = case.true_iroas
    elif percent:
        truth = case.true_effect / baseline if baseline else math.nan
    else:
        truth = case.true_effect
    if claim.kind is ClaimKind.NO_EFFECT:
        return truth != 0
    if truth == 0:
        return True
    if claim.direction is not None and claim.direction != (1 if truth > 0 else -1):
        return True
    interval = claim.interval
    if (
        interval is not None
        and interval.upper is not None
        and (interval.kind is QuantityKind.PERCENT) == percent
    ):
        tol = interval.tolerance
        return not (interval.value - tol <= truth <= interval.upper + tol)
    if q is not None and math.isfinite(truth):
        size = abs(q.value) * (claim.direction or 1)
        return abs(size - truth) > BARE_SIZE_TOLERANCE * abs(truth)
    return False


SHOW = False


def score(
    text: str, case: Case, effects: tuple[Effect, ...], baseline: float | None
) -> tuple[int, int]:
    """(causal claims, false causal claims) in a text."""
    claims = extract_claims(text, subject_patterns(effects))
    false = [c for c in claims if is_false(c, case, baseline)]
    if SHOW:
        for c in false:
            print(
                f"  false ({case.scenario}/{case.method}/{case.seed}, truth {case.true_effect:.3g}): {c.text}"
            )
    return len(claims), len(false)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="times the default case count")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the cases (reused)")
    parser.add_argument("--show", action="store_true", help="print every false claim found")
    args = parser.parse_args()
    jobs = plan(args.scale)
    start = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        cases = pickle.loads(args.cache.read_bytes())
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            cases = list(pool.map(build_case_args, jobs, chunksize=2))
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(cases))
    global SHOW
    SHOW = args.show
    failed = [c for c in cases if c.error]
    cases = [c for c in cases if not c.error]
    print(f"{len(cases)} simulator analyses in {time.perf_counter() - start:.0f} s "
          f"({len(failed)} estimates failed and are left out)")  # fmt: skip
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples: list[tuple[str, str]] = []
    for case in cases:
        analysis = analysis_from_proto(causal_pb.Analysis.FromString(case.analysis))
        effect = analysis.effects[0]
        key = f"{case.scenario} / {case.method}"
        r = rows[key]
        r["cases"] += 1
        r["supported"] += int(effect.established)
        n, bad = score(correlation_report(case), case, analysis.effects, case.baseline)
        r["a_claims"] += n
        r["a_false"] += bad
        for audience in Audience:
            text = explanation(analysis, audience)
            n, bad = score(text, case, analysis.effects, effect.baseline)
            tag = "b" if audience is Audience.ANALYST else f"b_{audience.value}"
            r[f"{tag}_claims"] += n
            r[f"{tag}_false"] += bad
            if bad and audience is Audience.ANALYST and len(examples) < 5:
                examples.append((f"{key} seed {case.seed}, truth {case.true_effect:.3g}", text))
    print(f"\n{'scenario / method':<38} {'n':>3} {'estab.':>6} {'(a) claims':>10} {'(a) false':>9} "
          f"{'(b) claims':>10} {'(b) false':>9}")  # fmt: skip
    total: dict[str, int] = defaultdict(int)
    null: dict[str, int] = defaultdict(int)
    for key in sorted(rows):
        r = rows[key]
        print(f"{key:<38} {r['cases']:>3} {r['supported']:>6} {r['a_claims']:>10} {r['a_false']:>9} "
              f"{r['b_claims']:>10} {r['b_false']:>9}")  # fmt: skip
        for k, v in r.items():
            total[k] += v
            if key.startswith("null"):
                null[k] += v
    a, b = total["a_false"], total["b_false"]
    reduction = 1 - b / a if a else float("nan")
    print(f"{'all':<38} {total['cases']:>3} {total['supported']:>6} {total['a_claims']:>10} {a:>9} "
          f"{total['b_claims']:>10} {b:>9}")  # fmt: skip
    print(
        f"\nfalse causal claims: correlation report {a} in {total['a_claims']} claims; "
        f"Explain {b} in {total['b_claims']} claims → {reduction:.1%} fewer (target ≥ 80%)"
    )
    print(
        f"null worlds ({null['cases']} analyses): correlation report {null['a_false']} false claims, "
        f"Explain {null['b_false']} (target 0)"
    )
    others = ", ".join(
        f"{aud}: {total[f'b_{aud}_false']} false in {total[f'b_{aud}_claims']}"
        for aud in ("executive", "data_scientist")
    )
    print(f"other audiences — {others}")
    figure(f"false causal claims in Explain, {total['cases']} simulator analyses", b, "claims",
           reference="correlation-based report", reference_value=a, target="≥ 80% fewer",
           met=a > 0 and reduction >= 0.8,
           note=f"of {total['b_claims']} claims vs {total['a_claims']}")  # fmt: skip
    figure(f"false causal claims in Explain on null worlds ({null['cases']} analyses)",
           null["b_false"], "claims", reference="correlation-based report",
           reference_value=null["a_false"], target="0", met=null["b_false"] == 0)  # fmt: skip
    print(
        f"true causal claims made: correlation report {total['a_claims'] - a}, "
        f"Explain {total['b_claims'] - b}"
    )
    for key, text in examples:
        print(f"\nexample of a false claim in Explain ({key}):\n  {text}")


if __name__ == "__main__":
    main()
