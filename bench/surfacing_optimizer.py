"""OptimizeBudget against the simulator's truth (issue 17): does following the allocation raise
the *true* incremental revenue at equal budget, and how close does it land to the true optimum?

Per seed, one simulated world; its first-party outcome and spend go through the attribution
model (``causal_svc.attribution.analyze``, as the causal service runs it) and the planner reads
it as the service does (``bench.surfacing_worlds.planning_model``: the stored
AttributionResult's response models, read by ``surfacing_svc.convert``), and the service's own
``answer_optimize`` allocates the paid channels' total spend — with its defaults (no channel
without a constraint moves more than ±30%; the lower confidence bound ``mean − 1 sd`` of the
gain over the model's draws is maximised, ``risk``), and beside it the same optimiser on the
posterior mean alone (``risk=0``: the plan before the risk adjustment), without the bound
(``max_change=0``), and the risk adjustment with a wider bound or none (``VARIANTS``).
Scored with the DGP's own curves (``true_curves``):

- **end to end**: true incremental revenue of the allocation vs the current mix (gain) and vs
  the true optimum (ratio; the issue asks ≥ 0.95), printed two ways, both kept:

  - *like for like* (the issue's figure for the default plan): the default plan against the
    true optimum of the **same question** — same total, the same ±30% bound per channel
    (``bounded_optimum``, solved on the true curves). The ±30% bound is part of the question
    the service answers by default; the channels the service holds at or below current spend
    because the analysis did not establish them are **not** held in this optimum: holding
    them is the service's choice, and what it costs counts against the plan. Beside it, the
    optimum within the plan's own bounds, those holds included (``own_bounds_optimum``): the
    optimiser's regret over its own feasible set, a smaller question, never the issue's figure;
  - *unbounded*: the service's answer without a bound (``max_change`` 0, risk-adjusted)
    against the unbounded true optimum, and the default plan against it too — what the bound
    leaves on the table. Reporting only the first would hide that the misallocated worlds
    need moves beyond ±30%.
- **optimiser alone**: ``optimize_budget`` on the true curves vs a reference solver measured in
  the same run (scipy trust-constr from 16 random starts and the current mix, best kept) —
  what is left when the curves are right;
- the model's marginal ROAS at current spend against the truth's (rank correlation): what
  the end-to-end figure rests on.

Worlds: ``misallocated`` (a year, 40 states; TikTok and PMax far more effective than their
budgets say, retargeting and SMS far less — a mix worth moving) and ``confounded`` (budgets
chase demand, elasticity 2; its mix is near-optimal already, so a model error shows as a
loss).

A trust region scaled to each channel's marginal-ROAS interval (``trust_bounds``, posterior
mean) is scored too. Diagnostics of where a shortfall comes from: the default plan made on
the model's curves with each channel's mean marginal ROAS at current spend set to the truth's
(its draws rescaled: the model's spread and shapes kept); the default plan with no channel
held (what the holds of unestablished channels cost); how often the truth's marginal ROAS lies
inside the model's 90% interval, and the model's mean marginal ROAS less the truth's, per
channel. How far the model's channel returns are pulled toward each other (``squeeze``): the
slope of its marginal ROAS at current spend on the truth's, over channel-worlds, for the
draws' mean (what the plans read) and the analysis table's point estimate (R13-F3: the draws
clip each effect at zero, which lifts an unsure channel's mean). Develop on one seed range
and report on another (``--first-seed``).

A world whose attribution fails its health checks gets no plan (the service refuses one): it
keeps its current mix and is scored as such against its true optimum; the room at the optimum
is the truth's, whatever the model did, and the number of failed fits is printed beside it.

Run: PYTHONPATH=.:gen python bench/surfacing_optimizer.py [--seeds 10] [--first-seed 0]
[--workers 2] [--carryover geometric|chosen] [--identification national|geo|auto] [--cache DIR] (keeps each world's fit in DIR, so a rerun rescoring the planner
is fast; a fit is reused only by the code that made it: its file name carries a fingerprint of
the sources behind the fit and the truth, ``fit_fingerprint``)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy
from scipy.optimize import LinearConstraint, minimize
from scipy.stats import spearmanr

import sim
from bench._figures import figure
from bench.surfacing_worlds import planning_model, true_curves, true_inputs
from causal_svc.attribution import AdstockKind, Identification, LiftTest, ModelSpec, analyze
from sim.outcomes import channel_lambda
from sim.scenarios import Scenario
from surfacing_svc.curves import HillCurve
from surfacing_svc.optimizer import (
    DEFAULT_MAX_CHANGE,
    DEFAULT_RISK,
    BudgetPlan,
    ChannelBounds,
    Objective,
    change_bounds,
    optimize_budget,
)
from surfacing_svc.planning import BoundRequest, OptimizeQuestion, PlanningModel, answer_optimize
from tests.causal.attribution.world import World, world

MISALLOCATED = Scenario(
    "misallocated",
    "a year, 40 states, 21 campaigns; TikTok ×2.5 and PMax ×2 the default effect, retargeting "
    "×0.3 and SMS ×0.4: budgets far from where the returns are",
    days=365, start=date(2023, 7, 1), n_geos=40, n_campaigns=21, confounding=0.8,
    dirt_rate=0.0,
    effect_scale={"tiktok": 2.5, "google_pmax": 2.0, "meta_retargeting": 0.3, "klaviyo_sms": 0.4},
)  # fmt: skip
sim.SCENARIOS.setdefault(MISALLOCATED.name, MISALLOCATED)
SCENARIOS = ("misallocated", "confounded")


@dataclass(frozen=True)
class Row:
    scenario: str
    seed: int
    current: float
    ours: float  # the service's default: risk-adjusted, no channel moves more than ±30%
    unbounded: float  # max_change = 0, posterior mean (risk 0)
    optimum: float  # the true optimum at the same total, no per-channel bound
    # The true optimum at the same total within ±30% per channel, none held (the like-for-like
    # reference of the default plan: the issue's question at the service's default bound).
    bounded_optimum: float
    free_risk: float  # max_change = 0 with the service's risk adjustment: the unbounded answer
    optimiser_on_truth: float
    reference_on_truth: float
    rank_corr: float
    seconds_fit: float
    seconds_opt: float
    verdict: str
    trust: float  # bounds scaled to each channel's marginal-ROAS interval (trust_bounds)
    variants: dict[str, float]  # the service's optimiser with other settings (VARIANTS)
    # Diagnostic: the default plan on the model's curves with each channel's draws rescaled so
    # that its mean marginal ROAS at current spend is the truth's (the model's spread and
    # shapes kept): what the planner reaches when the model ranks channels right.
    oracle_means: float = float("nan")
    # Per channel, whether the truth's marginal ROAS at current spend lies inside the model's
    # 90% interval of it (what the risk adjustment relies on).
    covered: dict[str, bool] | None = None
    # The true optimum over the default plan's own feasible set: the ±30% bounds and the
    # unestablished channels held at or below current spend (the optimiser's own question).
    own_bounds_optimum: float = float("nan")
    # Diagnostic: the default plan with no channel held (the model's effects table left out,
    # so no channel counts as unestablished): what the holds cost, on the same fit.
    no_holds: float = float("nan")
    # Per channel, the model's mean marginal ROAS at current spend less the truth's.
    bias: dict[str, float] | None = None
    # Per channel, marginal ROAS at current spend: the draws' mean, the analysis table's point
    # estimate (NaN where it shows none) and the truth's.
    returns: dict[str, tuple[float, float, float]] | None = None


def _reference(
    curves: list[HillCurve],
    budget: float,
    seed: int,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> float:
    """Best true outcome trust-constr finds from 16 random starts and the current mix (each
    moved into the bounds ``lo``/``hi`` on spend, when given; a channel whose bounds meet is
    held there)."""
    rng = np.random.default_rng(seed)
    lo = np.zeros(len(curves)) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.full(len(curves), budget) if hi is None else np.minimum(hi, budget)
    fixed = hi - lo <= 1e-9 * budget
    held = sum(float(c.mean_outcome(lo[i])) for i, c in enumerate(curves) if fixed[i])
    free = [c for i, c in enumerate(curves) if not fixed[i]]
    room = budget - float(lo[fixed].sum())
    lo_x, hi_x = lo[~fixed] / room, np.minimum(hi[~fixed] / room, 1.0)
    n = len(free)

    def value(x: np.ndarray) -> tuple[float, np.ndarray]:
        s = x * room
        v = sum(float(c.mean_outcome(s[i])) for i, c in enumerate(free))
        g = np.array([float(c.mean_marginal(max(s[i], 1e-9 * room))) for i, c in enumerate(free)])
        return -v / room, -g

    current = np.array([c.reference_spend for c in free]) / room
    starts = [current, *rng.dirichlet(np.ones(n), 16)]
    best = -np.inf
    for x0 in starts:
        res = minimize(value, _into(x0, lo_x, hi_x), jac=True, method="trust-constr",
                       constraints=[LinearConstraint(np.ones((1, n)), 1.0, 1.0)],
                       bounds=list(zip(lo_x, hi_x, strict=True)),
                       options={"maxiter": 400, "gtol": 1e-10})  # fmt: skip
        x = _into(np.clip(res.x, lo_x, hi_x), lo_x, hi_x)
        best = max(best, sum(float(c.mean_outcome(x[i] * room)) for i, c in enumerate(free)))
    return best + held


def _into(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``x`` shifted evenly into ``{lo ≤ x ≤ hi, Σ x = 1}`` (bisection on the shift)."""
    left, right = -2.0, 2.0
    for _ in range(100):
        mid = (left + right) / 2
        left, right = (mid, right) if np.clip(x + mid, lo, hi).sum() < 1.0 else (left, mid)
    return np.clip(x + right, lo, hi)


ROOT = Path(__file__).resolve().parent.parent
# What a cached fit depends on: the simulator (the world and its truth), the attribution model,
# the causal service's converter and the surfacing service's reader of its result (the planning
# model is built before caching), and the bench's world helpers.
FIT_SOURCES = ("sim", "causal_svc", "surfacing_svc/convert", "surfacing_svc/curves.py",
               "surfacing_svc/planning.py", "bench/surfacing_worlds.py",
               "tests/causal/attribution/world.py", "gen/liftos")  # fmt: skip


def fit_fingerprint() -> str:
    """A digest of the sources a cached fit depends on (``FIT_SOURCES``), this bench's own
    scenario, and numpy's and scipy's versions. A cache keyed on the seed alone silently kept
    fits of an older attribution model: rerun on a newer tree, the same seeds gave other
    verdicts (a failed fit has no plan) and another summary."""
    h = hashlib.sha256(f"{np.__version__} {scipy.__version__} {MISALLOCATED!r}".encode())
    for src in FIT_SOURCES:
        root = ROOT / src
        for f in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


# --identification: "" the model's default, "geo", or "auto" (each world's data choose, as
# the service's AUTO: bench/attribution_accuracy.py auto_choice).
IDENTIFICATION = ""
# --lift CHANNEL:SE[:DAYS] (repeatable; a diagnostic, not the issue's figure): the analysis
# calibrated by a go-dark lift test of CHANNEL. Without DAYS it covers the whole window in every
# geo, which shows what the information a test brings is worth but is not a practical design.
# With DAYS it covers the window's last DAYS days in a third of the geos (drawn per world), the
# shape of the test DesignExperiment proposes. Its lift is the DGP's expected outcome as run
# less that with the channel dark in the test's cells (carry-over included), times
# (1 + SE · N(0, 1)) drawn per world; its standard error is SE times the truth's. The panel
# stays as observed: the test's result is information added to it.
LIFTS: tuple[tuple[str, float, int], ...] = ()


def lift_tests(w: World, seed: int) -> list[LiftTest]:
    """The ``LIFTS`` tests of world ``w`` (seed ``seed``)."""
    if not LIFTS:
        return []
    x, pop, log_index, t = true_inputs(w.result)
    codes = [g["code"] for g in w.result.truth["geos"]]
    rng = np.random.default_rng([seed, 17])
    d = w.panel.dates
    out = []
    for channel, se, days in LIFTS:
        cells = np.ones_like(x[channel], dtype=bool)
        geos: tuple[str, ...] = ()
        if days:
            treated = np.sort(rng.choice(len(codes), size=max(len(codes) // 3, 1), replace=False))
            cells[:] = False
            cells[treated, -days:] = True
            geos = tuple(codes[i] for i in treated)
        truth = _dark_lift(x[channel], cells, pop, log_index, t["aov"], t["media"][channel])
        lift = truth * (1.0 + se * float(rng.standard_normal()))
        start = d[-days] if days else d[0]
        out.append(LiftTest(channel, start.astype(object), d[-1].astype(object), lift,
                            se * truth, geos=geos, name=f"lift-{channel}"))  # fmt: skip
    return out


def _dark_lift(
    x: np.ndarray, cells: np.ndarray, pop: np.ndarray, log_index: np.ndarray, aov: float,
    params: dict,
) -> float:  # fmt: skip
    """The DGP's expected outcome over ``cells`` (G, T) with the input ``x`` as run, less that
    with it zero in those cells (``sim.outcomes.channel_lambda`` × the order value)."""
    dark = np.where(cells, 0.0, x)
    gap = channel_lambda(x, pop, log_index, params) - channel_lambda(dark, pop, log_index, params)
    return aov * float(gap[cells].sum())


def spec(carryover: str = "") -> ModelSpec:
    """The model's default, or every channel geometric / each channel's carry-over shape left
    to the data (``carryover``), to compare the two in one tree; GEO rows where
    ``--identification geo``."""
    base = ModelSpec()
    if IDENTIFICATION == "geo":
        base = replace(base, identification=Identification.GEO)
    if not carryover:
        return base
    return replace(base, adstock=None if carryover == "chosen" else AdstockKind.GEOMETRIC)


def _fit(
    scenario: str, seed: int, cache: str, fingerprint: str = "", carryover: str = ""
) -> tuple[str, PlanningModel | None, dict, float]:
    """The world's attribution (verdict, planning model or None when it failed), its true
    curves and the fit's seconds; kept in ``cache`` (a folder) when given, under the sources'
    ``fingerprint`` and the ``carryover`` asked for, so the planner's variants can be rescored
    without refitting."""
    name = f"{scenario}-{seed}-{fingerprint}" + (f"-{carryover}" if carryover else "")
    name += f"-{IDENTIFICATION}" if IDENTIFICATION else ""
    name += "".join(f"-lift-{c}-{se:g}" + (f"-{n}d" if n else "") for c, se, n in LIFTS)
    path = os.path.join(cache, f"{name}.pkl") if cache else ""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    w = world(scenario, seed)
    tests = [w.experiment] if w.experiment is not None else []
    tests += lift_tests(w, seed)
    t0 = time.perf_counter()
    # (imported here: bench.attribution_accuracy imports this module through
    # bench.attribution_identification)
    from bench.attribution_accuracy import auto_choice

    choice = auto_choice(w) if IDENTIFICATION == "auto" else None
    if choice is not None:
        print(f"{scenario} {seed}: {choice.reason}", flush=True)
    rep = analyze(w.panel, spec(carryover), tests, choice=choice)
    fit_s = time.perf_counter() - t0
    model = planning_model(rep) if rep.verdict.value != "fail" else None
    out = (rep.verdict.value, model, true_curves(w.result), fit_s)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(out, f)
    return out


def trust_bounds(model: PlanningModel, budget: float) -> tuple[BoundRequest, ...]:
    """A trust region scaled to each channel's marginal-ROAS interval at current spend:
    ±(0.3 × 0.5 / relative half-width), clipped to [0.1, 0.9] — a precisely measured channel
    may move up to ±90%, one whose marginal return is unsure ±10% (the variant scored beside the
    service's flat ±30%)."""
    scale = budget / sum(c.reference_spend for c in model.curves)
    out = []
    for i, c in enumerate(model.curves):
        m = c.marginal(c.reference_spend)
        lo, hi = np.quantile(m, [0.05, 0.95])
        rel = (hi - lo) / 2 / max(abs(float(m.mean())), 1e-12)
        width = float(np.clip(0.3 * 0.5 / max(rel, 1e-12), 0.1, 0.9))
        out.append(BoundRequest(c.channel, f"constraints[{i}]", min_ratio=scale * (1 - width),
                                max_ratio=scale * (1 + width)))  # fmt: skip
    return tuple(out)


# Variants of the service's own optimiser scored beside its default: (label, risk z,
# max_change). The default is risk DEFAULT_RISK (1) within ±30%; "mean ±30%" is the plan
# before the risk adjustment (the posterior mean alone).
VARIANTS = (("mean ±30% (before)", 0.0, 0.3), ("risk-adj. ±60%", DEFAULT_RISK, 0.6))


def _true_optimum(
    tc: list[HillCurve],
    budget: float,
    seed: int,
    plan: BudgetPlan | None = None,
    bounds: list[ChannelBounds] | None = None,
) -> tuple[float, float, float]:
    """The true optimum at ``budget`` (over ``plan``'s own bounds, held channels included,
    or over ``bounds`` (one per channel), when given): the best of the service's optimiser and
    the reference on the true curves, and each of the two."""
    if plan is not None:
        bounds = [ChannelBounds(c.channel, c.lower_bound, c.upper_bound) for c in plan.channels]
    bounds = bounds or []
    on_truth = optimize_budget(tc, objective=Objective.REVENUE, budget=budget, bounds=bounds)
    lo = np.array([b.lower for b in bounds]) if bounds else None
    hi = np.array([b.upper for b in bounds]) if bounds else None
    reference = _reference(tc, budget, seed, lo, hi)
    ours = on_truth.optimal_outcome.estimate
    return max(ours, reference), ours, reference


def _failed(scenario: str, seed: int, verdict: str, truth: dict, fit_s: float) -> Row:
    """A world whose model failed: the service gives no plan, so every answer is the current
    mix, scored against the truth's own optima (the room is the world's, not the model's)."""
    tc = list(truth.values())
    budget = sum(t.reference_spend for t in tc)
    cur = sum(float(t.mean_outcome(t.reference_spend)) for t in tc)
    optimum, on_truth, reference = _true_optimum(tc, budget, seed)
    held = change_bounds(tc, DEFAULT_MAX_CHANGE, budget)
    bounded = _true_optimum(tc, budget, seed, bounds=held)[0]
    return Row(scenario, seed, cur, cur, cur, optimum, bounded, cur, on_truth, reference,
               float("nan"), fit_s, 0.0, verdict, cur, {v[0]: cur for v in VARIANTS},
               own_bounds_optimum=bounded)  # fmt: skip


def one(args: tuple[str, int, str, str, str]) -> Row:
    scenario, seed, cache, fingerprint, carryover = args
    verdict, model, truth, fit_s = _fit(scenario, seed, cache, fingerprint, carryover)
    if model is None:  # a failed model reports no curves: nothing to move
        return _failed(scenario, seed, verdict, truth, fit_s)
    paid = [c for c in model.curves if c.channel in truth]
    model = replace(model, curves=tuple(paid))
    tc = [truth[c.channel] for c in paid]
    budget = sum(c.reference_spend for c in paid)
    question = OptimizeQuestion("bench", "bench", budget, 0, Objective.REVENUE, None)
    t0 = time.perf_counter()
    plan, _ = answer_optimize(model, question)
    opt_s = time.perf_counter() - t0
    free, _ = answer_optimize(model, replace(question, max_change=0.0, risk=0.0))
    free_risk, _ = answer_optimize(model, replace(question, max_change=0.0))
    trusted, _ = answer_optimize(
        model, replace(question, bounds=trust_bounds(model, budget), risk=0.0)
    )

    def true_value(p: BudgetPlan) -> float:
        return sum(
            float(t.mean_outcome(c.optimal_spend)) for t, c in zip(tc, p.channels, strict=True)
        )

    current = sum(float(t.mean_outcome(t.reference_spend)) for t in tc)
    optimum, on_truth, reference = _true_optimum(tc, budget, seed)
    plain = change_bounds(tc, DEFAULT_MAX_CHANGE, budget)
    bounded_optimum, _, _ = _true_optimum(tc, budget, seed, bounds=plain)
    own_bounds_optimum, _, _ = _true_optimum(tc, budget, seed, plan)
    model_m = [float(c.mean_marginal(c.reference_spend)) for c in paid]
    true_m = [float(t.mean_marginal(t.reference_spend)) for t in tc]
    rho = float(spearmanr(model_m, true_m).statistic)
    variants = {
        label: true_value(answer_optimize(model, replace(question, risk=z, max_change=m))[0])
        for label, z, m in VARIANTS
    }
    right = tuple(replace(c, scale=np.asarray(c.scale) * tm / max(mm, 1e-12))
                  for c, mm, tm in zip(paid, model_m, true_m, strict=True))  # fmt: skip
    oracle, _ = answer_optimize(replace(model, curves=right), question)
    unheld, _ = answer_optimize(replace(model, effects=()), question)
    bias = {c.channel: mm - tm for c, mm, tm in zip(paid, model_m, true_m, strict=True)}
    table = {e.channel: e.marginal.estimate for e in model.effects if e.marginal is not None}
    returns = {c.channel: (mm, table.get(c.channel, float("nan")), tm)
               for c, mm, tm in zip(paid, model_m, true_m, strict=True)}  # fmt: skip
    covered = {}
    for c, tm in zip(paid, true_m, strict=True):
        lo, hi = np.quantile(c.marginal(c.reference_spend), [0.05, 0.95])
        covered[c.channel] = bool(lo <= tm <= hi)
    return Row(scenario, seed, current, true_value(plan), true_value(free), optimum,
               bounded_optimum, true_value(free_risk), on_truth, reference, rho, fit_s, opt_s,
               verdict, true_value(trusted), variants, true_value(oracle), covered,
               own_bounds_optimum, true_value(unheld), bias, returns)  # fmt: skip


def _summary(label: str, values: np.ndarray, current: np.ndarray, optimum: np.ndarray) -> None:
    gain = values / current - 1
    ratio = values / optimum
    print(f"  {label}: true revenue vs current {np.mean(gain):+.1%} (raised in "
          f"{np.mean(gain > 0):.0%} of seeds, worst {gain.min():+.1%}); vs its true optimum: "
          f"mean shortfall {1 - ratio.mean():.1%} (ratio {ratio.mean():.3f}, min "
          f"{ratio.min():.3f}), within 5% in {int(np.sum(ratio >= 0.95))}/{ratio.size}")  # fmt: skip


def squeeze(rows: list[Row]) -> None:
    """How far the model's channel returns are pulled toward each other: over channel-worlds,
    the slope (and correlation) of its marginal ROAS at current spend on the truth's, for the
    draws' mean and the analysis table's point estimate (1: no squeeze)."""
    cells = np.array([v for r in rows for v in (r.returns or {}).values()])
    if not cells.size:
        return
    truth = cells[:, 2]
    parts = []
    for k, label in ((0, "draws' mean (planned)"), (1, "table's point estimate")):
        ok = np.isfinite(cells[:, k])
        slope = np.polyfit(truth[ok], cells[ok, k], 1)[0]
        corr = np.corrcoef(truth[ok], cells[ok, k])[0, 1]
        parts.append(f"{label} {slope:.3f} (corr {corr:.2f})")
    print(f"  slope of the model's marginal ROAS at current spend on the truth's over "
          f"{len(cells)} channel-worlds (1: no squeeze): " + ", ".join(parts))  # fmt: skip


def report(rows: list[Row]) -> None:
    print(
        "ratio: true revenue of the plan / the true optimum of the same question (±30%: the "
        "default plan vs the truth under the same ±30% bound, no channel held; 'own': vs the "
        "truth within the plan's own bounds, its held channels included; unbounded: the "
        "answer without a bound vs the unbounded truth); 'vs unbnd': the default plan vs the "
        "unbounded truth"
    )
    print(f"{'scenario':<14}{'seed':>5}{'current':>14}{'ours':>14}{'opt ±30%':>14}"
          f"{'optimum':>14}{'gain':>8}{'±30% ratio':>11}{'own':>7}{'vs unbnd':>9}{'unbnd gain':>11}"
          f"{'unbnd ratio':>12}{'opt/ref':>10}{'rank ρ':>8}{'verdict':>9}")  # fmt: skip
    for r in rows:
        print(f"{r.scenario:<14}{r.seed:>5}{r.current:>14,.0f}{r.ours:>14,.0f}"
              f"{r.bounded_optimum:>14,.0f}{r.optimum:>14,.0f}"
              f"{r.ours / r.current - 1:>+8.1%}{r.ours / r.bounded_optimum:>11.3f}"
              f"{r.ours / r.own_bounds_optimum:>7.3f}"
              f"{r.ours / r.optimum:>9.3f}"
              f"{r.free_risk / r.current - 1:>+11.1%}{r.free_risk / r.optimum:>12.3f}"
              f"{r.optimiser_on_truth / r.reference_on_truth:>10.5f}{r.rank_corr:>8.2f}"
              f"{r.verdict:>9}")  # fmt: skip
    for scenario in SCENARIOS:
        sel = [r for r in rows if r.scenario == scenario]
        if not sel:
            continue
        current = np.array([r.current for r in sel])
        optimum = np.array([r.optimum for r in sel])
        bounded = np.array([r.bounded_optimum for r in sel])
        opt_ref = np.array([r.optimiser_on_truth / r.reference_on_truth for r in sel])
        ours = np.array([r.ours for r in sel])
        free_risk = np.array([r.free_risk for r in sel])
        failed = sum(r.verdict == "fail" for r in sel)
        print(f"== {scenario}: {len(sel)} seeds; room at the true optimum over the current mix "
              f"{np.mean(optimum / current - 1):+.1%} unbounded, "
              f"{np.mean(bounded / current - 1):+.1%} within ±30%; {failed} failed fit(s) "
              "(no plan: the current mix kept)")  # fmt: skip
        _summary("default plan (risk-adj., ±30%) vs the true optimum within the same ±30%, "
                 "no channel held [like for like: the issue's figure]", ours, current,
                 bounded)  # fmt: skip
        _summary("default plan vs the true optimum within its own bounds (unestablished "
                 "channels held at most current; a smaller question)", ours, current,
                 np.array([r.own_bounds_optimum for r in sel]))  # fmt: skip
        _summary("default plan (risk-adj., ±30%) vs the UNBOUNDED true optimum", ours, current,
                 optimum)  # fmt: skip
        _summary("unbounded answer (risk-adj., max_change 0) vs the unbounded true optimum",
                 free_risk, current, optimum)  # fmt: skip
        _summary("unbounded (posterior mean) vs the unbounded true optimum",
                 np.array([r.unbounded for r in sel]), current, optimum)  # fmt: skip
        _summary("trust region (mean) vs the unbounded true optimum",
                 np.array([r.trust for r in sel]), current, optimum)  # fmt: skip
        for label, _, _ in VARIANTS:
            _summary(f"{label} vs the unbounded true optimum",
                     np.array([r.variants[label] for r in sel]), current, optimum)  # fmt: skip
        fitted = [r for r in sel if r.covered is not None]
        if fitted:
            _summary("[diagnostic] default plan, each channel's mean marginal ROAS set to the "
                     "truth's, vs the same ±30% optimum",
                     np.array([r.oracle_means for r in fitted]),
                     np.array([r.current for r in fitted]),
                     np.array([r.bounded_optimum for r in fitted]))  # fmt: skip
            _summary("[diagnostic] default plan with no channel held (unestablished ones "
                     "free to rise), vs the same ±30% optimum",
                     np.array([r.no_holds for r in fitted]),
                     np.array([r.current for r in fitted]),
                     np.array([r.bounded_optimum for r in fitted]))  # fmt: skip
            channels = sorted({c for r in fitted for c in r.covered or {}})
            squeeze(fitted)
            print("  model's mean marginal ROAS at current spend less the truth's (mean over "
                  "seeds): " + ", ".join(
                      f"{c} {np.mean([r.bias[c] for r in fitted if r.bias and c in r.bias]):+.2f}"
                      for c in channels))  # fmt: skip
            print("  truth's marginal ROAS at current spend inside the model's 90% interval: "
                  + ", ".join(f"{c} {np.mean([r.covered[c] for r in fitted if r.covered and c in r.covered]):.0%}"
                              for c in channels))  # fmt: skip
        print(
            f"  optimiser alone on the true curves / reference solver: mean {opt_ref.mean():.6f}, "
            f"min {opt_ref.min():.6f}"
        )
        print(
            f"  model vs true marginal ROAS rank correlation: mean "
            f"{np.nanmean([r.rank_corr for r in sel]):.2f}"
        )
        print(
            f"  seconds: attribution fit {np.mean([r.seconds_fit for r in sel]):.1f}, "
            f"optimiser {np.mean([r.seconds_opt for r in sel]):.3f}"
        )
        figure(f"OptimizeBudget plan time ({scenario})", np.mean([r.seconds_opt for r in sel]),
               "s", reference="the attribution fit it plans on",
               reference_value=np.mean([r.seconds_fit for r in sel]))  # fmt: skip
        # Issue 17's bar is per plan ("within 5% of the optimum"), so it is met only when every
        # seed's plan is: a share below 1 is a miss the table must mark, not a neutral number.
        within = np.mean(ours / bounded >= 0.95)
        figure(f"plans within 5% of the true optimum under the same ±30% bound ({scenario}, end "
               "to end)", within, "share of seeds",
               target="every plan ≥ 0.95 of the optimum", met=bool(within >= 1.0),
               note=f"the optimiser alone on the true curves reaches {opt_ref.mean():.5f} of a "
               "16-start trust-constr")  # fmt: skip
        within = np.mean(free_risk / optimum >= 0.95)
        figure(f"unbounded plans within 5% of the unbounded true optimum ({scenario}, end to "
               "end)", within, "share of seeds",
               target="every plan ≥ 0.95 of the optimum", met=bool(within >= 1.0))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first..first+seeds-1 (develop on one range, report another)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--cache", default="", help="folder keeping each world's fit")
    parser.add_argument("--carryover", choices=["geometric", "chosen"], default="",
                        help="every channel geometric, or each channel's shape left to the data "
                        "(default: the model's default)")  # fmt: skip
    parser.add_argument("--identification", choices=["national", "geo", "auto"],
                        default="national", help="which spend variation identifies the "
                        "channels (auto: each world's data choose, as the service's AUTO)")  # fmt: skip
    parser.add_argument("--lift", action="append", default=[], metavar="CHANNEL:SE[:DAYS]",
                        help="diagnostic: calibrate each world's analysis with a go-dark lift "
                        "test of CHANNEL (the whole window, or its last DAYS days in a third of "
                        "the geos), standard error SE times the truth's lift")  # fmt: skip
    args = parser.parse_args()
    global IDENTIFICATION, LIFTS
    IDENTIFICATION = "" if args.identification == "national" else args.identification
    LIFTS = tuple((c, float(se), int(n[0]) if n else 0)
                  for c, se, *n in (x.split(":") for x in args.lift))  # fmt: skip
    fingerprint = fit_fingerprint() if args.cache else ""
    print(f"model: {spec(args.carryover).adstock!r} carry-over (None: chosen by the data), "
          f"identification {args.identification}"
          + "".join(f"; calibrated by a go-dark lift test of {c} (SE {se:.0%}, "
                    + (f"the last {n} days in a third of the geos" if n else "the whole window")
                    + "): a diagnostic, not the issue's figure" for c, se, n in LIFTS))  # fmt: skip
    jobs = [
        (s, k, args.cache, fingerprint, args.carryover)
        for s in (args.scenario or SCENARIOS)
        for k in range(args.first_seed, args.first_seed + args.seeds)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, jobs))
    report(rows)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
