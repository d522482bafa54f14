"""Attribution accuracy against the simulator's truth (issue 15), with the naive regression and
the platforms' own claims measured on the same worlds.

For each scenario and seed the simulator draws a world; the attribution analysis runs as the
service runs it (the registry's experiment, where the world has one, as calibration) and its
channel iROAS are scored against the truth's expected incremental revenue over spend:

- coverage of the 90% intervals over channel-seeds (paid channels);
- mean absolute error of iROAS, ours / naive regression / platform-reported, and the ratio;
- bias reduction: 1 − |mean signed error, ours| / |mean signed error, naive|;
- counterfactual "without channel X" for every channel with ≥ 5% of spend: the predicted total
  outcome against the simulator's realised total without X (relative error), and the predicted
  loss against the true loss;
- calibration: the calibrated channel's |error| with and without the experiment;
- incremental outcome (revenue) of every scored channel against the truth's expected
  incremental revenue: coverage of its 90% interval and mean signed error relative to the
  truth, for channels without spend (email sends: no iROAS, so the lines above never score
  them) beside the paid channels;
- health verdicts and seconds per analysis.

Run: PYTHONPATH=.:gen python bench/attribution_accuracy.py [--seeds 20] [--workers 2] [--geos N]
     [--without-national promo,macro_index,competitor_intensity|all]
     [--identification national|geo|pacing|instrumented|geo_demand|auto]
     [--carryover geometric|chosen|weibull] [--effect-df NU] [--variant V]

``--identification auto`` lets each world's data choose GEO or NATIONAL as the service's AUTO
does (:func:`auto_choice`: the budget-response detector on the world's sums, and the panel's
cross-geo spend share) and prints what it picked per scenario.

``--variant V`` runs a model variant of ``bench/attribution_identification.py`` (its model and
panel, e.g. ``geo+gqv:0.05+weibull``) instead of the model the other options build.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bench._figures import figure
from bench.attribution_identification import variant_panel, variant_spec
from causal_svc.attribution import (
    Evaluator,
    Identification,
    IdentificationChoice,
    ModelSpec,
    SpendChange,
    analyze,
    choose_identification,
    counterfactual,
    restore_fit,
)
from causal_svc.attribution.scores import naive_roas
from causal_svc.attribution.transforms import AdstockKind
from tests.causal.attribution.world import EXTERNAL, World, world

SCENARIOS = ("demo", "confounded")


@dataclass(frozen=True)
class ChannelRow:
    scenario: str
    seed: int
    channel: str
    truth: float
    ours: float
    lower: float
    upper: float
    naive: float
    platform: float
    uncalibrated: float | None
    calibrated_channel: bool


@dataclass(frozen=True)
class OutcomeRow:
    """A channel's incremental outcome (revenue) against the truth's, paid or not."""

    scenario: str
    seed: int
    channel: str
    paid: bool
    truth: float
    ours: float
    lower: float
    upper: float


@dataclass(frozen=True)
class CounterfactualRow:
    scenario: str
    seed: int
    channel: str
    total_error: float  # |predicted total without X − true| / true
    loss_error: float  # |predicted loss − true loss| / true loss


@dataclass(frozen=True)
class Run:
    channels: list[ChannelRow]
    counterfactuals: list[CounterfactualRow]
    verdict: str
    seconds: float
    outcomes: list[OutcomeRow]
    picked: str = ""  # --identification auto: what the world's data chose


IDENTIFICATION = Identification.NATIONAL
# --identification auto: each world's data choose (IDENTIFICATION is then the fallback).
AUTO = False
# Model variants to compare against the default in one run (--carryover, --effect-df).
OVERRIDES: dict[str, str | float] = {}
# --variant: a variant of bench/attribution_identification.py (its model and panel; "": none).
VARIANT = ""


def spec() -> ModelSpec:
    if VARIANT:
        return variant_spec(VARIANT)
    base = ModelSpec(identification=IDENTIFICATION)
    if "carryover" in OVERRIDES:
        kinds = {"chosen": None, "geometric": AdstockKind.GEOMETRIC, "weibull": AdstockKind.WEIBULL}
        base = replace(base, adstock=kinds[str(OVERRIDES["carryover"])])
    if "effect_df" in OVERRIDES:
        base = replace(base, priors=replace(base.priors, effect_df=float(OVERRIDES["effect_df"])))
    return base


def auto_choice(w: World) -> IdentificationChoice:
    """What the service's AUTO picks on a simulated world: the budget-response detector on the
    world's sums as memory answers them, then :func:`choose_identification` on the panel."""
    from bench.confounder_detection import campaign_geo_sums, simulated_sums
    from causal_svc.confounders_retro import budget_response_finding

    geo_days, campaign_days = simulated_sums(w.result)
    _, share = budget_response_finding(geo_days, campaign_days, campaign_geo_sums(w.result))
    return choose_identification(w.panel, share)


def picked_line(picks: list[str]) -> str:
    """``--identification auto``: how often it picked each identification."""
    counts = {p: picks.count(p) for p in dict.fromkeys(picks)}
    return "AUTO picked " + ", ".join(f"{k} {v}" for k, v in counts.items())


def one(args: tuple[str, int, int | None, tuple[str, ...]]) -> Run:
    scenario, seed, geos, unregistered = args
    # (geos and series in the task, not globals: a worker need not inherit main's globals)
    w = world(scenario, seed) if geos is None else world(scenario, seed, n_geos=geos)
    if unregistered:
        # An org that never registered these external series: the model does not see them.
        national = {k: v for k, v in w.panel.national.items() if k not in unregistered}
        w = replace(w, panel=replace(w.panel, national=national))
    if VARIANT:
        w = replace(w, panel=variant_panel(VARIANT, w))
    tests = [w.experiment] if w.experiment is not None else []
    t0 = time.perf_counter()
    choice = auto_choice(w) if AUTO else None
    rep = analyze(w.panel, spec(), tests, choice=choice)
    seconds = time.perf_counter() - t0
    naive = naive_roas(w.panel)
    # Every scored channel's incremental revenue: the only score a channel without spend gets.
    outcomes = [
        OutcomeRow(
            scenario, seed, s.channel, s.spend > 0, w.true_incremental[s.channel],
            s.incremental.estimate, s.incremental.lower, s.incremental.upper,
        )
        for s in rep.channels
        if s.channel in w.true_incremental
    ]  # fmt: skip
    rows = []
    for c, score in enumerate(rep.channels):
        if score.iroas is None:
            continue
        rows.append(
            ChannelRow(
                scenario, seed, score.channel, w.true_iroas[score.channel], score.iroas.estimate,
                score.iroas.lower, score.iroas.upper, float(naive[c]),
                float(score.platform_roas or 0.0), score.uncalibrated_iroas,
                bool(tests) and score.channel == tests[0].channel,
            )
        )  # fmt: skip
    cfs = []
    if rep.channels and rep.state is not None:
        ev = Evaluator(restore_fit(rep.state))
        spend = w.panel.spend.sum(axis=(1, 2))
        for c, name in enumerate(w.panel.channels):
            if spend[c] < 0.05 * spend.sum():
                continue
            r = counterfactual(ev, [SpendChange(name, multiplier=0.0)])
            true_total = w.true_without[name]
            true_loss = w.total_outcome - true_total
            pred_loss = -r.delta.estimate
            cfs.append(
                CounterfactualRow(
                    scenario, seed, name,
                    abs(r.counterfactual_outcome.estimate - true_total) / true_total,
                    abs(pred_loss - true_loss) / true_loss,
                )
            )  # fmt: skip
    picked = choice.identification.value if choice is not None else ""
    return Run(rows, cfs, rep.verdict.value, seconds, outcomes, picked)


def report(scenario: str, runs: list[Run]) -> None:
    rows = [r for run in runs for r in run.channels]
    truth = np.array([r.truth for r in rows])
    ours = np.array([r.ours for r in rows])
    naive = np.array([r.naive for r in rows])
    platform = np.array([r.platform for r in rows])
    covered = np.array([r.lower <= r.truth <= r.upper for r in rows])
    mae = np.abs(ours - truth).mean()
    mae_naive = np.abs(naive - truth).mean()
    mae_platform = np.abs(platform - truth).mean()
    bias, bias_naive = (ours - truth).mean(), (naive - truth).mean()
    verdicts = {v: sum(run.verdict == v for run in runs) for v in ("pass", "review", "fail")}
    print(f"\n== {scenario}: {len(runs)} seeds, {len(rows)} channel-seeds "
          f"(verdicts {verdicts}; {np.mean([r.seconds for r in runs]):.2f} s per analysis)")  # fmt: skip
    print(f"  90% interval coverage of true iROAS: {covered.mean():.1%} "
          f"(target >= 85%); mean width {np.mean([r.upper - r.lower for r in rows]):.2f}")  # fmt: skip
    print(f"  MAE of iROAS: ours {mae:.3f} | naive regression {mae_naive:.3f} | platform "
          f"{mae_platform:.3f}; ours / naive = {mae / mae_naive:.1%} (target <= 25%)")  # fmt: skip
    size = f"{scenario} world, {len(runs)} seeds"
    figure(f"attribution iROAS 90% interval coverage, {size}", 100 * covered.mean(), "%",
           target="≥ 85%", met=covered.mean() >= 0.85)  # fmt: skip
    figure(f"attribution iROAS MAE, {size}", mae, "", reference="naive regression",
           reference_value=mae_naive, target="≤ 0.25× naive", met=mae <= 0.25 * mae_naive,
           note=f"platform-reported MAE {mae_platform:.3f}")  # fmt: skip
    print(f"  mean signed error: ours {bias:+.3f}, naive {bias_naive:+.3f}: bias reduction "
          f"{1 - abs(bias) / abs(bias_naive):.1%} (promise: 95%)")  # fmt: skip
    for name in sorted({r.channel for r in rows}):
        sel = [r for r in rows if r.channel == name]
        print(f"    {name:18s} truth {np.mean([r.truth for r in sel]):5.2f}  ours "
              f"{np.mean([r.ours for r in sel]):5.2f} (MAE {np.mean([abs(r.ours - r.truth) for r in sel]):.2f}, "
              f"cover {np.mean([r.lower <= r.truth <= r.upper for r in sel]):.0%})  naive "
              f"{np.mean([r.naive for r in sel]):6.2f}  platform {np.mean([r.platform for r in sel]):5.2f}")  # fmt: skip
    cfs = [c for run in runs for c in run.counterfactuals]
    if cfs:
        tot = np.array([c.total_error for c in cfs])
        loss = np.array([c.loss_error for c in cfs])
        print(f"  counterfactual without X (channels with >= 5% of spend, {len(cfs)} cases): "
              f"total within 10% of truth in {np.mean(tot <= 0.10):.1%} (max error {tot.max():.1%}); "
              f"the lost outcome itself: median error {np.median(loss):.0%}, within 25% in "
              f"{np.mean(loss <= 0.25):.0%}")  # fmt: skip
    cal = [r for r in rows if r.calibrated_channel and r.uncalibrated is not None]
    if cal:
        with_exp = np.mean([abs(r.ours - r.truth) for r in cal])
        without = np.mean([abs(r.uncalibrated - r.truth) for r in cal])  # type: ignore[operator]
        print(f"  calibration ({cal[0].channel}, {len(cal)} seeds): mean |error| with the "
              f"experiment {with_exp:.3f}, without {without:.3f} "
              f"({'helps' if with_exp < without else 'does NOT help'})")  # fmt: skip
    report_outcomes(scenario, runs)


def report_outcomes(scenario: str, runs: list[Run]) -> None:
    """Incremental revenue against the truth's: channels without spend (no iROAS to score)
    beside the paid ones, whose iROAS lines above are the same score per unit of spend."""
    rows = [o for run in runs for o in run.outcomes]
    if not rows:
        return
    print("  incremental revenue vs the truth's expected incremental revenue (90% intervals):")
    for label, sel in (("without spend", [o for o in rows if not o.paid]),
                       ("paid", [o for o in rows if o.paid])):  # fmt: skip
        if not sel:
            print(f"    {label}: no channel")
            continue
        covered = np.array([o.lower <= o.truth <= o.upper for o in sel])
        rel = np.array([(o.ours - o.truth) / o.truth for o in sel if o.truth > 0])
        below = np.mean([o.upper < o.truth for o in sel])
        print(f"    {label} ({len(sel)} channel-seeds): coverage {covered.mean():.1%} "
              f"(interval below the truth {below:.0%}, above it {np.mean([o.lower > o.truth for o in sel]):.0%}); "
              f"mean signed error / truth {rel.mean():+.1%}, median {np.median(rel):+.1%}, "
              f"mean |error| / truth {np.abs(rel).mean():.1%}")  # fmt: skip
    for name in sorted({o.channel for o in rows if not o.paid}):
        sel = [o for o in rows if o.channel == name]
        rel = np.array([(o.ours - o.truth) / o.truth for o in sel if o.truth > 0])
        misses = [f"{o.seed}: {o.ours / 1e6:.2f}M [{o.lower / 1e6:.2f}, {o.upper / 1e6:.2f}] vs "
                  f"{o.truth / 1e6:.2f}M" for o in sel if not o.lower <= o.truth <= o.upper]  # fmt: skip
        print(f"      {name} (no spend; scored in {len(sel)} of {len(runs)} seeds): truth {np.mean([o.truth for o in sel]) / 1e6:.2f}M, ours "
              f"{np.mean([o.ours for o in sel]) / 1e6:.2f}M; cover "
              f"{np.mean([o.lower <= o.truth <= o.upper for o in sel]):.0%}; signed error / truth "
              f"{rel.mean():+.1%} (seeds from {rel.min():+.0%} to {rel.max():+.0%}); ratio ours / "
              f"truth >= 2 in {np.mean(rel >= 1.0):.0%}")  # fmt: skip
        for m in misses:
            print(f"        missed, seed {m}")
    unpaid = [o for o in rows if not o.paid]
    if unpaid:
        share = np.mean([o.lower <= o.truth <= o.upper for o in unpaid])
        paid = [o for o in rows if o.paid]
        note = f"{len(unpaid)} channel-seeds"
        if paid:
            note += (f"; paid channels' incremental revenue: "
                     f"{np.mean([o.lower <= o.truth <= o.upper for o in paid]):.1%}")  # fmt: skip
        # One channel-seed per seed: at the suite's 5 seeds one miss reads 80%, and a channel
        # with the nominal 90% coverage misses at least once in 41% (1 − 0.9⁵) of such runs:
        # held to the target from 20 channel-seeds.
        enough = len(unpaid) >= 20
        if not enough:
            note += f"; under 20 channel-seeds: not held to the target (one miss = {1 / len(unpaid):.0%})"
        figure(f"attribution incremental revenue 90% interval coverage, channels without spend "
               f"(sends), {scenario} world, {len(runs)} seeds", 100 * share, "%",
               target="≥ 85%", met=share >= 0.85 if enough else None, note=note)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed .. first-seed + seeds - 1 (hold-out seed ranges)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--geos", type=int,
                    help="simulate each world with this many geos (default: the scenario's)")  # fmt: skip
    ap.add_argument("--without-national", default="",
                    help="leave these registered national series out of the panel, comma-separated "
                    f"({', '.join(EXTERNAL)}) or 'all': what an org that never registered them "
                    "gets")  # fmt: skip
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument(
        "--identification", default="national",
        choices=[*(i.value for i in Identification), "auto"],
    )  # fmt: skip
    ap.add_argument("--carryover", choices=["geometric", "chosen", "weibull"],
                    help="every channel geometric, each channel's shape left to the data, or "
                    "every channel Weibull (default: the model's default)")  # fmt: skip
    ap.add_argument("--effect-df", type=float,
                    help="the effect prior's Student-t df (inf: half-normal; default: the model's)")  # fmt: skip
    ap.add_argument("--variant", default="",
                    help="a model variant of bench/attribution_identification.py (overrides "
                    "--identification, --carryover and --effect-df)")  # fmt: skip
    args = ap.parse_args()
    global IDENTIFICATION, VARIANT, AUTO
    AUTO = args.identification == "auto"
    IDENTIFICATION = Identification.NATIONAL if AUTO else Identification(args.identification)
    VARIANT = args.variant
    if args.carryover:
        OVERRIDES["carryover"] = args.carryover
    if args.effect_df is not None:
        OVERRIDES["effect_df"] = args.effect_df
    unregistered = (
        EXTERNAL
        if args.without_national == "all"
        else tuple(n for n in args.without_national.split(",") if n)
    )
    if unknown := set(unregistered) - set(EXTERNAL):
        ap.error(f"--without-national: no such series {sorted(unknown)}; the world has {EXTERNAL}")
    sp = spec()
    print(
        f"identification {'auto' if AUTO else sp.identification.value}, seeds {args.first_seed}-"
        f"{args.first_seed + args.seeds - 1}; carry-over "
        f"{'chosen per channel' if sp.adstock is None else sp.adstock}, effect prior df "
        f"{sp.priors.effect_df}{f', variant {VARIANT}' if VARIANT else ''}"
        f"{f', {args.geos} geos' if args.geos else ''}"
        f"{'; not registered: ' + ', '.join(unregistered) if unregistered else ''}"
    )
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        for scenario in args.scenarios.split(","):
            runs = list(
                pool.map(
                    one,
                    [
                        (scenario, s, args.geos, unregistered)
                        for s in range(args.first_seed, args.first_seed + args.seeds)
                    ],
                )
            )
            report(scenario, runs)
            if AUTO:
                print(picked_line([r.picked for r in runs]))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
