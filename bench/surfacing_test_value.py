"""Recommend's value of testing each channel (``surfacing_svc.test_value``) against the
simulator's truth: does the channel the model's draws value most have the test that pays most?

Per seed, one simulated world fitted as ``bench/surfacing_optimizer.py`` fits it (its ``_fit``,
with its ``--cache``), on the paid channels. Recommend's reallocation is made as the service
makes it (``equal_budget_plan``: the current total, OptimizeBudget's default ±30% bound, the
risk weight 1, the channels not established or at risk held at or below current spend), and
each identified channel is valued by ``information_values`` (the expected value of partial
perfect information of its response, over the model's draws).

The **oracle** value of a channel is what knowing its response truly buys in this world: the
true revenue of the plan made by the same rule with the channel's TRUE curve in place of its
draws (every draw the truth; its cap lifted, as the valuation lifts it; the others the
model's), less the true revenue of the reallocation. The true curve enters the plan with its
geo-day nodes grouped into 256 weighted quantile nodes (it has one node per geo-day; the
largest relative error this grouping makes in its outcome at 0.7, 1 and 1.3 × current spend
is printed); both plans are scored on the full true curves.

Printed per scenario: the share of worlds whose top-valued channel is the oracle's top (over
all identified paid channels, and over those Recommend itself values: the ones a test would
measure), the Spearman rank correlation of values and oracle values within a world (mean over
worlds), the mean value beside the mean oracle value per channel, the oracle value of the
model's top pick over the best oracle value (what following the ranking captures), and the
cost of the valuation per Recommend call (ms, all identified channels) beside the
reallocation's own solve, measured in the same run.

Run: PYTHONPATH=.:gen python bench/surfacing_test_value.py [--seeds 10] [--first-seed 0]
[--scenario misallocated|confounded ...] [--workers 1] [--cache DIR] [--channels]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy.stats import spearmanr

from bench._figures import figure
from bench.surfacing_optimizer import SCENARIOS, _fit, fit_fingerprint
from surfacing_svc.curves import HillCurve
from surfacing_svc.optimizer import DEFAULT_MAX_CHANGE, DEFAULT_RISK, BudgetPlan
from surfacing_svc.recommend import equal_budget_plan, unproven_channels
from surfacing_svc.test_value import information_values

# Quantile nodes a true curve is grouped into to enter a plan (see the docstring).
TRUE_NODES = 256
LEVEL = 0.9


@dataclass(frozen=True)
class Row:
    scenario: str
    seed: int
    verdict: str
    value: dict[str, float]  # channel -> the model's value of testing it
    noise: dict[str, float]
    oracle: dict[str, float]  # channel -> its oracle value
    tested: tuple[str, ...]  # the channels Recommend values (not established or at risk)
    value_ms: float  # information_values over every identified paid channel (wall clock)
    solve_ms: float  # the reallocation's own solve (equal_budget_plan)
    grouping_error: float  # the largest relative error of the grouped true curves
    draws: int = 0
    # Per channel, the width of its 90% interval of the marginal return at current spend ×
    # its spend: the money the draws are unsure about (the heuristic ranking compared).
    spread: dict[str, float] = field(default_factory=dict)
    value_cpu_ms: float = float("nan")  # the same two in this process's CPU time (the machine
    solve_cpu_ms: float = float("nan")  # may be shared: wall clock then counts others' work)


def grouped(c: HillCurve, k: int = TRUE_NODES) -> HillCurve:
    """``c`` with its nodes grouped into ``k`` weighted quantile nodes (the nodes without input
    kept apart, as they add nothing at any spend)."""
    nodes, weights = np.asarray(c.nodes), np.asarray(c.node_weights)
    zero = nodes <= 0
    order = np.argsort(nodes[~zero])
    n, w = nodes[~zero][order], weights[~zero][order]
    cum = np.cumsum(w) / w.sum()
    group = np.minimum((cum - w / w.sum() / 2) * k, k - 1).astype(np.int64)
    gw = np.bincount(group, w, k)
    keep = gw > 0
    gn = np.bincount(group, w * n, k)[keep] / gw[keep]
    out_n = np.concatenate([gn, [0.0] if zero.any() else []])
    out_w = np.concatenate([gw[keep], [weights[zero].sum()] if zero.any() else []])
    return replace(c, nodes=out_n, node_weights=out_w)


def tiled(c: HillCurve, draws: int) -> HillCurve:
    """A one-draw curve as ``draws`` identical draws (a plan's draws are paired over channels)."""
    return replace(c, scale=np.full(draws, float(np.asarray(c.scale)[0])),
                   half_saturation=np.full(draws, float(np.asarray(c.half_saturation)[0])),
                   shape=np.full(draws, float(np.asarray(c.shape)[0])))  # fmt: skip


def one(args: tuple[str, int, str, str]) -> Row:
    scenario, seed, cache, fingerprint = args
    verdict, model, truth, _ = _fit(scenario, seed, cache, fingerprint)
    if model is None:  # a failed analysis gives no plan, so nothing to value
        return Row(scenario, seed, verdict, {}, {}, {}, (), float("nan"), float("nan"), 0.0)  # fmt: skip
    paid = tuple(c for c in model.curves if c.channel in truth)
    effects = {e.channel: e for e in model.effects}
    at_risk = {k: v for k, v in model.at_risk().items() if k in truth}
    unproven = tuple(c for c in unproven_channels(paid, effects) if c not in at_risk)
    capped = (*at_risk, *unproven)
    t0, c0 = time.perf_counter(), time.process_time()
    plan = equal_budget_plan(paid, LEVEL, DEFAULT_MAX_CHANGE, DEFAULT_RISK, capped=capped)
    solve_ms, solve_cpu = 1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0)
    identified = [c.channel for c in paid if c.identified]
    t0, c0 = time.perf_counter(), time.process_time()
    values = information_values(paid, plan, identified)
    value_ms, value_cpu = 1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0)

    spread = {c.channel: float(np.ptp(np.quantile(c.marginal(c.reference_spend), [0.05, 0.95])))
              * c.reference_spend for c in paid if c.identified}  # fmt: skip

    def true_revenue(p: BudgetPlan) -> float:
        return sum(float(truth[c.channel].mean_outcome(c.optimal_spend)) for c in p.channels)

    base = true_revenue(plan)
    draws = paid[0].n_draws
    oracle, error = {}, 0.0
    for ch in identified:
        t = truth[ch]
        g = grouped(t)
        spends = t.reference_spend * np.array([0.7, 1.0, 1.3])
        exact = t.mean_outcome(spends)
        error = max(error, float(np.max(np.abs(g.mean_outcome(spends) / exact - 1))))
        known = tuple(tiled(g, draws) if c.channel == ch else c for c in paid)
        p = equal_budget_plan(known, LEVEL, DEFAULT_MAX_CHANGE, DEFAULT_RISK,
                              capped=[k for k in capped if k != ch])  # fmt: skip
        oracle[ch] = true_revenue(p) - base
    return Row(scenario, seed, verdict, {k: v.value for k, v in values.items()},
               {k: v.noise for k, v in values.items()}, oracle,
               tuple(c for c in capped if c in identified), value_ms, solve_ms, error,
               draws, spread, value_cpu, solve_cpu)  # fmt: skip


def _top(d: dict[str, float], among: tuple[str, ...] | list[str]) -> str:
    return max(among, key=lambda c: d[c])


def report(rows: list[Row], per_world: bool) -> None:
    for scenario in SCENARIOS:
        sel = [r for r in rows if r.scenario == scenario]
        if not sel:
            continue
        fitted = [r for r in sel if r.value]
        print(f"== {scenario}: {len(sel)} worlds, {len(sel) - len(fitted)} failed fit(s) (no "
              "plan, nothing valued)")  # fmt: skip
        if not fitted:
            continue
        if per_world:
            for r in fitted:
                print(f"  seed {r.seed}: " + ", ".join(
                    f"{c}{'*' if c in r.tested else ''} {r.value[c] / 1e3:+,.0f}k "
                    f"(oracle {r.oracle[c] / 1e3:+,.0f}k)" for c in sorted(r.value)))  # fmt: skip
        for label, among in (("all identified paid channels", None),
                             ("the channels Recommend values (* : not established or at risk)",
                              "tested")):  # fmt: skip
            worlds = [(r, list(r.value) if among is None else list(r.tested)) for r in fitted]
            worlds = [(r, cs) for r, cs in worlds if len(cs) >= 2]
            if not worlds:
                print(f"  {label}: no world with two or more")
                continue
            print(f"  {label} ({len(worlds)} worlds):")
            best = np.array([max(r.oracle[c] for c in cs) for r, cs in worlds])
            for name, rank in (("value of testing", lambda r: r.value),
                               ("[baseline] widest mROAS interval × spend", lambda r: r.spread),
                               ("[baseline] a channel at random", None)):  # fmt: skip
                if rank is None:
                    top = np.mean([1.0 / len(cs) for _, cs in worlds])
                    pick = np.array([np.mean([r.oracle[c] for c in cs]) for r, cs in worlds])
                    print(f"    {name}: the oracle's top in {top:.0%} (expected); oracle value "
                          f"{pick.mean() / 1e3:+,.0f}k against the best {best.mean() / 1e3:+,.0f}k "
                          f"({pick.sum() / best.sum():.0%})")  # fmt: skip
                    continue
                top = np.mean([_top(rank(r), cs) == _top(r.oracle, cs) for r, cs in worlds])
                rho = [float(spearmanr([rank(r)[c] for c in cs],
                                       [r.oracle[c] for c in cs]).statistic)
                       for r, cs in worlds]  # fmt: skip
                pick = np.array([r.oracle[_top(rank(r), cs)] for r, cs in worlds])
                print(f"    {name}: top-ranked channel is the oracle's top in {top:.0%}; "
                      f"Spearman ρ mean {np.nanmean(rho):.2f} (median {np.nanmedian(rho):.2f}); "
                      f"oracle value of the top pick {pick.mean() / 1e3:+,.0f}k against the best "
                      f"{best.mean() / 1e3:+,.0f}k ({pick.sum() / best.sum():.0%})")  # fmt: skip
                if name == "value of testing":
                    figure(f"value of testing: top channel is the oracle's top ({scenario}, "
                           f"{label})", top, "share of worlds",
                           note=f"Spearman ρ mean {np.nanmean(rho):.2f}; top pick's oracle value "
                           f"{pick.sum() / best.sum():.0%} of the best")  # fmt: skip
        channels = sorted({c for r in fitted for c in r.value})
        print("  mean value (model) vs mean oracle value, per channel, k: " + ", ".join(
            f"{c} {np.mean([r.value[c] for r in fitted if c in r.value]) / 1e3:+,.0f} vs "
            f"{np.mean([r.oracle[c] for r in fitted if c in r.oracle]) / 1e3:+,.0f}"
            for c in channels))  # fmt: skip
        values = np.array([v for r in fitted for v in r.value.values()])
        oracles = np.array([r.oracle[c] for r in fitted for c in r.value])
        print(f"  over channel-worlds: mean value {values.mean() / 1e3:+,.0f}k, mean oracle "
              f"{oracles.mean() / 1e3:+,.0f}k; oracle top channel: " + ", ".join(
                  f"{c} {sum(_top(r.oracle, list(r.oracle)) == c for r in fitted)}"
                  for c in channels) + "; model's top: " + ", ".join(
                  f"{c} {sum(_top(r.value, list(r.value)) == c for r in fitted)}"
                  for c in channels))  # fmt: skip
        value_ms = np.array([r.value_ms for r in fitted])
        solve_ms = np.array([r.solve_ms for r in fitted])
        print(f"  cost per Recommend call: the valuation of {np.mean([len(r.value) for r in fitted]):.1f} "
              f"channels × {fitted[0].draws} draws {np.mean(value_ms):.0f} ms (median {np.median(value_ms):.0f}, "
              f"max {value_ms.max():.0f}) against the reallocation's own solve "
              f"{np.mean(solve_ms):.0f} ms (median {np.median(solve_ms):.0f}), same run; in CPU "
              f"time {np.mean([r.value_cpu_ms for r in fitted]):.0f} against "
              f"{np.mean([r.solve_cpu_ms for r in fitted]):.0f} ms; grouped "
              f"true curves' largest relative error {max(r.grouping_error for r in fitted):.1e}")  # fmt: skip
        figure(f"value of testing: cost per Recommend call ({scenario})", np.mean(value_ms),
               "ms", reference="the reallocation's own solve (equal_budget_plan)",
               reference_value=np.mean(solve_ms))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first..first+seeds-1 (develop on one range, report another)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--cache", default="", help="folder keeping each world's fit "
                        "(bench/surfacing_optimizer.py's: the same fits are reused)")  # fmt: skip
    parser.add_argument(
        "--channels",
        action="store_true",
        help="print every world's values beside their oracle values",
    )
    args = parser.parse_args()
    fingerprint = fit_fingerprint() if args.cache else ""
    jobs = [(s, k, args.cache, fingerprint) for s in (args.scenario or SCENARIOS)
            for k in range(args.first_seed, args.first_seed + args.seeds)]  # fmt: skip
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, jobs))
    report(rows, args.channels)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
