"""Calibration by the registry's recorded experiment (issue 15): on `demo` worlds, the
calibrated channel's iROAS error against the simulator's truth without the experiment, with the
result the mesh records for it (EstimateEffect's record_experiment_result: the estimate the
demo asks for, converted by ``causal_svc.experiment_result`` and read back from the wire by
``convert.lift_test``, as AnalyzeAttribution reads the registry), and with the benches'
analyst's lift test (``tests/causal/attribution/world.py::experiment_lift``) for comparison.

The estimate runs as the demo asks it (AUTO on the randomised geo panel, 10 refutations); one
that fails a check is recorded with a warning (the service's behaviour since 9820feb), marked.
Beside it, "withhold" scores the earlier policy (nothing recorded when a check failed: that
world stays uncalibrated), and ``--also-withhold SEEDS`` withholding on those seeds (e.g. the
ones an earlier check failed). The
attribution fit is the service's (``analyze`` with the default ModelSpec) on the world's panel.

``--placebo-study SCENARIO[:GEOS]`` measures the checks instead (no attribution fit): per world
the default estimate (as above), its 95% coverage of the true ATT, the placebo spread against
its standard error, and how often each check fails — on ``demo`` (a real effect in every world)
and on ``null`` (none; ``null:20`` for 20 states), where a check should fail at about its level.

Run: PYTHONPATH=.:gen python bench/calibration_registry.py [--seeds 10] [--first-seed 0]
     [--workers 2] [--also-withhold 2 3 8] [--placebo-study demo] [--carryover geometric|chosen]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from liftos.v1 import causal_pb2 as pb

import sim
from bench._figures import figure
from causal_svc import convert
from causal_svc.attribution import AdstockKind, ModelSpec, analyze
from causal_svc.convert.experiment_results import experiment_result
from causal_svc.errors import InsufficientData
from causal_svc.estimators.result import CheckKind, CheckOutcome
from causal_svc.experiment_result import GeoExperiment, lift_from_records
from causal_svc.jobs import RecordsData, run_estimate
from causal_svc.pipeline import EffectAnalysis
from causal_svc.record_tables import Aggregation, ExperimentDesign
from mesh.runtime.frames import records_to_frame
from tests.causal.attribution.records import world_records
from tests.causal.attribution.world import world


@dataclass(frozen=True)
class Row:
    seed: int
    channel: str
    truth: float
    uncalibrated: float
    recorded: float  # calibrated by the mesh's recorded result (uncalibrated if none recorded)
    withhold: float  # the policy before 9820feb: nothing recorded when a check failed
    analyst: float
    recorded_ok: bool
    all_policy: float  # calibrated by the mesh's estimate whatever its checks said
    failed: str  # the checks the estimate failed (recorded with a warning)
    lift_ours: float
    se_ours: float
    lift_analyst: float
    se_analyst: float
    lift_truth: float
    seconds: float


def _analysis(frame: pd.DataFrame, e: GeoExperiment) -> EffectAnalysis:
    """EstimateEffect as the demo asks it: AUTO on the registered geo panel, 10 refutations."""
    request = pb.EstimateEffectRequest(
        org_id="o", method=pb.ESTIMATION_METHOD_AUTO, randomized=True,
        records=pb.RecordQuery(experiment_id=e.experiment_id),
        roles=pb.EffectRoles(outcome="revenue", treatment="treated_post", unit="geo", time="day"),
        options=pb.EstimationOptions(refutation_simulations=10),
    )  # fmt: skip
    job = convert.estimate_question(request).job
    design = ExperimentDesign(e.experiment_id, e.start, e.end, e.treatment_units,
                              e.control_units)  # fmt: skip
    return run_estimate(job, RecordsData(frame, Aggregation.GEO_DAY, e.experiment_id, design))


def _estimate(
    frame: pd.DataFrame, e: GeoExperiment
) -> tuple[float, float, float, float, bool, str]:
    x = _analysis(frame, e).estimate
    failed = ", ".join(c.name for c in x.checks if c.outcome.value == "failed")
    return x.point_estimate, x.stderr, x.alpha, x.pvalue, x.supported, failed


def _experiment_frame(r: sim.SimResult) -> tuple[GeoExperiment, pd.DataFrame]:
    """The registry's geo experiment and the records EstimateEffect reads for it."""
    entry = r.experiments[0]
    day = dt.date.fromisoformat
    e = GeoExperiment(
        entry["experiment_id"], entry["channel"], day(entry["start_date"]), day(entry["end_date"]),
        tuple(entry["treatment_units"]), tuple(entry["control_units"]),
    )  # fmt: skip
    frame = records_to_frame(list(world_records(r, "o")), groups=("core", "external"))
    d = pd.to_datetime(frame["local_date"])
    frame = frame.loc[(d >= pd.Timestamp(entry["pre_period_start"]))
                      & (d <= pd.Timestamp(entry["end_date"]))].reset_index(drop=True)  # fmt: skip
    return e, frame


def one(seed: int) -> Row:
    t0 = time.perf_counter()
    w = world("demo", seed)
    assert w.experiment is not None and w.experiment_truth is not None
    e, frame = _experiment_frame(w.result)
    effect, se, alpha, p, supported, failed = _estimate(frame, e)
    ours = None  # converted whatever the checks said; the policy decides what is recorded
    try:
        lift, currency = lift_from_records(e, frame, effect=effect, stderr=se, alpha=alpha,
                                           p_value=p, outcome="revenue", analysis_id="an-b")  # fmt: skip
        wire = experiment_result(lift, currency)  # what RecordExperimentResult stores
        ours = convert.lift_test(wire, f"registry:{e.experiment_id}", e.treatment_units)
    except InsufficientData:
        ours = None
    spec = ModelSpec()
    if CARRYOVER:  # every channel geometric, or each channel's shape left to the data
        spec = ModelSpec(adstock=None if CARRYOVER == "chosen" else AdstockKind.GEOMETRIC)
    channel = e.channel
    rep_analyst = analyze(w.panel, spec, [w.experiment])
    score_a = next(s for s in rep_analyst.channels if s.channel == channel)
    assert score_a.iroas is not None and score_a.uncalibrated_iroas is not None
    uncal = score_a.uncalibrated_iroas
    all_policy = uncal
    if ours is not None:
        rep = analyze(w.panel, spec, [ours])
        score = next(s for s in rep.channels if s.channel == channel)
        assert score.iroas is not None
        all_policy = score.iroas.estimate
    # EstimateEffect records every estimate it can convert, a failed check as a warning.
    withhold = all_policy if supported else uncal
    return Row(
        seed, channel, w.true_iroas[channel], uncal, all_policy, withhold,
        score_a.iroas.estimate, ours is not None, all_policy, failed,
        ours.lift if ours else float("nan"), ours.stderr if ours else float("nan"),
        w.experiment.lift, w.experiment.stderr, w.experiment_truth, time.perf_counter() - t0,
    )  # fmt: skip


@dataclass(frozen=True)
class CheckRow:
    seed: int
    point: float
    se: float
    lo: float
    hi: float
    pvalue: float
    truth: float
    placebo: str  # the placebo check's outcome
    placebo_spread: float  # the placebo effects' sd ÷ the estimate's SE
    failed: tuple[str, ...]


def checked(job: tuple[str, int]) -> CheckRow:
    """The default estimate of one world's geo holdout and what its checks said."""
    scenario, seed = job
    name, _, geos = scenario.partition(":")
    r = sim.simulate(name, seed=seed, dirt=False, n_geos=int(geos) if geos else None)
    e, frame = _experiment_frame(r)
    x = _analysis(frame, e).estimate
    placebo = next(c for c in x.checks if c.kind is CheckKind.PLACEBO_TREATMENT)
    spread = re.search(r"spread ([-0-9.e+]+)", placebo.interpretation)
    return CheckRow(
        seed, x.point_estimate, x.stderr, x.ci_lower, x.ci_upper, x.pvalue,
        float(r.truth["experiments"][0]["att_revenue_per_geo_day"]), placebo.outcome.value,
        float(spread.group(1)) / x.stderr if spread else math.nan,
        tuple(c.name for c in x.checks if c.outcome is CheckOutcome.FAILED),
    )  # fmt: skip


def placebo_study(scenario: str, seeds: range, workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(checked, [(scenario, s) for s in seeds]))
    err = np.array([r.point - r.truth for r in rows])
    se = np.array([r.se for r in rows])
    covered = np.mean([r.lo <= r.truth <= r.hi for r in rows])
    n = len(rows)
    print(f"{scenario}, seeds {seeds.start}-{seeds.stop - 1}: the default estimate of the geo "
          "holdout (AUTO, randomised, 10 refutations)")  # fmt: skip
    print(f"  true ATT per treated geo-day: mean {np.mean([r.truth for r in rows]):,.0f}; bias "
          f"{err.mean():+,.0f}; error sd {err.std(ddof=1):,.0f} against RMS standard error "
          f"{math.sqrt(np.mean(se**2)):,.0f} (ratio {math.sqrt(np.mean(se**2)) / err.std(ddof=1):.2f});"
          f" 95% coverage {covered:.1%} ({round(covered * n)}/{n}); own test significant in "
          f"{np.mean([r.pvalue < 0.05 for r in rows]):.0%}")  # fmt: skip
    ratio = np.array([r.placebo_spread for r in rows])
    print(f"  placebo spread / standard error: median {np.nanmedian(ratio):.2f}, mean "
          f"{np.nanmean(ratio):.2f}")  # fmt: skip
    for outcome in ("passed", "warning", "failed"):
        k = sum(r.placebo == outcome for r in rows)
        print(f"  placebo {outcome}: {k}/{n} ({k / n:.0%})")
    names = sorted({c for r in rows for c in r.failed})
    for c in names:
        seeds_failed = [r.seed for r in rows if c in r.failed]
        print(f"  {c} failed: {len(seeds_failed)}/{n} (seeds {' '.join(map(str, seeds_failed))})")
    print(f"  any check failed: {sum(bool(r.failed) for r in rows)}/{n}")


CARRYOVER = ""  # --carryover ("": the model's default)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--also-withhold",
        type=int,
        nargs="*",
        default=[],
        help="seeds to score a withholding policy on (e.g. those a check failed)",
    )
    ap.add_argument(
        "--placebo-study",
        metavar="SCENARIO[:GEOS]",
        help="measure the checks' failure rates and the estimate's coverage instead",
    )
    ap.add_argument("--carryover", choices=["geometric", "chosen"], default="",
                    help="every channel geometric, or each channel's shape left to the data "
                    "(default: the model's default)")  # fmt: skip
    args = ap.parse_args()
    global CARRYOVER
    CARRYOVER = args.carryover
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    t0 = time.perf_counter()
    if args.placebo_study:
        placebo_study(args.placebo_study, seeds, args.workers)
        print(f"({time.perf_counter() - t0:.0f} s)")
        return
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, seeds))
    print(f"demo, seeds {seeds.start}-{seeds.stop - 1}: the calibrated channel's iROAS against "
          "the truth (|error|)")  # fmt: skip
    print(f"{'seed':>4} {'channel':<17}{'truth':>6} {'uncalibrated':>15} {'recorded (mesh)':>17} "
          f"{'analyst':>14}   lift mesh / analyst / truth (thousands)")  # fmt: skip
    for r in rows:
        mark = (" (not recorded)" if not r.recorded_ok
                else f" (recorded with a warning: failed {r.failed})" if r.failed else "")  # fmt: skip
        print(f"{r.seed:>4} {r.channel:<17}{r.truth:>6.2f} {r.uncalibrated:>6.2f} "
              f"({abs(r.uncalibrated - r.truth):.2f}) {r.recorded:>8.2f} "
              f"({abs(r.recorded - r.truth):.2f}) {r.analyst:>6.2f} ({abs(r.analyst - r.truth):.2f})"
              f"   {r.lift_ours / 1e3:,.0f}±{r.se_ours / 1e3:,.0f} / "
              f"{r.lift_analyst / 1e3:,.0f}±{r.se_analyst / 1e3:,.0f} / {r.lift_truth / 1e3:,.0f}"
              f"{mark}")  # fmt: skip
    err = {k: np.array([abs(getattr(r, k) - r.truth) for r in rows])
           for k in ("uncalibrated", "recorded", "withhold", "all_policy", "analyst")}  # fmt: skip
    print(f"mean |error|: uncalibrated {err['uncalibrated'].mean():.3f}, with the recorded "
          f"result {err['recorded'].mean():.3f}, with the analyst's lift test "
          f"{err['analyst'].mean():.3f}")  # fmt: skip
    ok_mask = np.array([r.recorded_ok for r in rows])
    if ok_mask.any():
        print(f"  on the {int(ok_mask.sum())} seeds with a recorded result: uncalibrated "
              f"{err['uncalibrated'][ok_mask].mean():.3f}, recorded "
              f"{err['recorded'][ok_mask].mean():.3f}, analyst {err['analyst'][ok_mask].mean():.3f}")  # fmt: skip
    ok_all = np.array([math.isfinite(r.lift_ours) for r in rows])
    lift_err = np.array([(r.lift_ours - r.lift_truth) / r.lift_truth for r in rows])
    print("recording policy (mean |iROAS error|; the recorded lifts' mean error against the true "
          "lift, the winner's curse of selecting on a check):")  # fmt: skip
    print(f"  record every estimate, failures carried as warnings: {err['all_policy'].mean():.3f}; "
          f"lifts {np.mean(lift_err[ok_all]):+.1%} over {int(ok_all.sum())}")  # fmt: skip
    passed = ok_mask & np.array([not r.failed for r in rows])
    print(f"  withhold what failed a check (before 9820feb): {err['withhold'].mean():.3f}; lifts "
          f"{np.mean(lift_err[passed]) if passed.any() else math.nan:+.1%} over "
          f"{int(passed.sum())}")  # fmt: skip
    if args.also_withhold:
        held = np.array([r.seed in set(args.also_withhold) for r in rows])
        policy = np.where(held, err["uncalibrated"], err["all_policy"])
        print(f"  withhold seeds {' '.join(map(str, args.also_withhold))}: {policy.mean():.3f}; "
              f"lifts {np.mean(lift_err[ok_all & ~held]):+.1%} over {int((ok_all & ~held).sum())}"
              f" (withheld lifts {np.mean(lift_err[ok_all & held]):+.1%})")  # fmt: skip
    better = int((err["recorded"] < err["uncalibrated"]).sum())
    print(f"the recorded result lowers the error on {better} of {len(rows)} seeds; "
          f"recorded on {sum(r.recorded_ok for r in rows)} of {len(rows)}, "
          f"{sum(bool(r.failed) for r in rows)} of them with a failed check")  # fmt: skip
    figure(f"calibrated channel's mean absolute iROAS error, recorded registry result, {len(rows)} seeds",
           err["recorded"].mean(), "iROAS", reference="uncalibrated",
           reference_value=err["uncalibrated"].mean(), target="lower than uncalibrated",
           met=err["recorded"].mean() < err["uncalibrated"].mean(),
           note=f"analyst's lift test {err['analyst'].mean():.3f}")  # fmt: skip
    ok = [r for r in rows if r.recorded_ok]
    if ok:
        z = np.array([(r.lift_ours - r.lift_analyst) / r.se_analyst for r in ok])
        ratio = np.array([r.se_ours / r.se_analyst for r in ok])
        cover = np.mean([abs(r.lift_ours - r.lift_truth) <= 1.96 * r.se_ours for r in ok])
        cover_a = np.mean([abs(r.lift_analyst - r.lift_truth) <= 1.96 * r.se_analyst for r in ok])
        print(f"lift, mesh vs analyst: mean z {z.mean():+.2f} (sd {z.std(ddof=1) if len(z) > 1 else 0:.2f}), "
              f"standard error ratio {np.median(ratio):.2f} (median); 95% coverage of the true "
              f"lift: mesh {cover:.0%}, analyst {cover_a:.0%}")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
