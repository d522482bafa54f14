"""Product budget moves on simulator worlds: are the marginal-return intervals honest, and do
the moves Recommend makes between a channel's category campaigns truly gain margin?

For each seed: simulate the ``products`` scenario, estimate with
:func:`causal_svc.products.estimate_products`, and score each channel x category cell with
spend against the simulator's truth:

1. the 90% interval of the cell's marginal return (revenue of the next unit of spend at the
   period's spend) covers the true one. The truth is the simulator's own response
   (``sim/products/response.py``: ``roas K hill(A/K)`` on the adstocked spend with the true
   decay and ``K``) differentiated along the period's spend, ``roas sum_t A_t / (1 + A_t/K)^2
   / sum_t s_t``, times the cell's net-to-direct ratio (halo and cannibalisation move with
   the direct lift). *Before*: the interval Recommend used until issue 20's F13 fix, the
   cell's revenue interval rescaled by the point ratio marginal / average with the
   steady-state slope at the mean daily spend; *after*: the estimator's interval, drawn over
   the curve's slope, saturation and decay (``CellEffect.marginal_low/high``).
2. the moves each rule recommends (``surfacing_svc.products``: the receiver's lower bound
   above the giver's upper bound; 20% of the giver's spend) and their true margin change:
   the simulator's response re-evaluated with the giver's spend scaled by 0.8 and the
   receiver's raised by the same amount (every day alike), times the truth's net margin per
   unit of direct revenue, summed over the two cells. Also whether the move's claimed margin
   interval covers that true change.

3. the promotions each rule says to stop ("mostly cannibalises": the category keeps less than
   half of the promoted product's lift). A stop is right when the truth's net category lift
   (the promoted lift plus its true effects on every sibling) is below half its true lift.
   *Before*: the rule until issue 20's false-stop fix (the claimed pairs' point estimates
   against half the lift); *summed*: the net over every pair, its upper bound at the claim
   level with the pairs' sds summed (the rule until the joint net, and today's on an analysis
   stored without it); *after*: ``surfacing_svc.products`` reading the estimator's joint
   intervals of the lift, the sibling changes and the net (``PromotionNet``). Also printed:
   how often the net's 90% interval covers the truth's net, and its joint sd over the pairs'
   sds summed. ``--no-cannibalisation`` zeroes every planted
   cannibalisation (the catalogue's draws are unchanged, so the world is otherwise the same):
   there, every stop is false.

    .venv/bin/python bench/products_moves.py --seeds 20 --first-seed 20
    .venv/bin/python bench/products_moves.py --seeds 20 --first-seed 0 --days 120
    .venv/bin/python bench/products_moves.py --seeds 100 --days 120 --categories 4 \
        --orders-per-day 200 --no-cannibalisation
    .venv/bin/python bench/products_moves.py --seeds 20 --first-seed 20 --cannibalisation-scale 1.5
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import sim
import sim.products.world as product_world
from bench._figures import figure
from causal_svc.products import (
    CellEffect,
    PairEffect,
    ProductEffects,
    PromotionNet,
    estimate_products,
)
from sim.products import PRODUCT_CHANNELS
from sim.products.catalogue import Catalogue
from sim.products.response import geometric_adstock
from surfacing_svc.products import (
    CANNIBAL_SHARE,
    SHIFT_SHARE,
    CategoryCell,
    NetCell,
    PairCell,
    ProductCell,
    ProductEvidence,
    Span,
    product_actions,
)


@dataclass(frozen=True, slots=True)
class Move:
    channel: str
    giver: str
    receiver: str
    moved: float
    claimed: Span  # margin over the period


def _category_spend(panel: pd.DataFrame, channel: str, category: str) -> np.ndarray:
    """(P, T) the channel's daily spend on the category's products."""
    g = panel[panel["category"] == category].pivot_table(
        index="product_id", columns="date", values=f"spend_{channel}", aggfunc="sum"
    )
    return g.fillna(0.0).to_numpy(np.float64)


def _direct(truth: dict[str, Any], spend: np.ndarray, channel: str, category: str) -> float:
    """The simulator's direct revenue of a channel in a category over the period."""
    r = truth["response"][channel][category]
    a = geometric_adstock(spend, r["decay"]).sum(axis=0)
    k = r["half_saturation"]
    return float(r["roas"] * (a / (1.0 + a / k)).sum())


def true_marginal(truth: dict[str, Any], spend: np.ndarray, channel: str, category: str) -> float:
    """The cell's true net revenue of the next unit of spend along the period's spend."""
    r = truth["response"][channel][category]
    cell = truth["incremental"][channel]["categories"][category]
    a = geometric_adstock(spend, r["decay"]).sum(axis=0)
    k = r["half_saturation"]
    slope = r["roas"] * float((a / (1.0 + a / k) ** 2).sum()) / float(spend.sum())
    return slope * cell["incremental_revenue"] / cell["direct_revenue"]


def true_margin_change(truth: dict[str, Any], panel: pd.DataFrame, move: Move) -> float:
    """The simulator's net margin change over the period of moving ``move.moved`` of spend
    from the giver's category campaign to the receiver's (every day scaled alike)."""
    total = 0.0
    for category, sign in ((move.giver, -1.0), (move.receiver, 1.0)):
        spend = _category_spend(panel, move.channel, category)
        scale = 1.0 + sign * move.moved / float(spend.sum())
        cell = truth["incremental"][move.channel]["categories"][category]
        per_direct = cell["incremental_margin"] / cell["direct_revenue"]
        change = _direct(truth, spend * scale, move.channel, category) - _direct(
            truth, spend, move.channel, category
        )
        total += change * per_direct
    return total


def before_marginal(c: CellEffect, days: int) -> Span:
    """The marginal return's interval as Recommend built it before issue 20's F13 fix: the
    cell's revenue interval over its spend, times the steady-state slope ratio at the mean
    daily spend (the estimator then reported the average return as ``roas``)."""
    k = c.half_saturation
    slope = 1.0 / (1.0 + c.spend / days / k) ** 2 if math.isfinite(k) and k > 0 else 1.0
    average = c.incremental_revenue / c.spend
    low, high = sorted((c.conf_low / c.spend * slope, c.conf_high / c.spend * slope))
    return Span(average * slope, low, high)


def _rate(c: CellEffect) -> float:
    return c.incremental_margin / c.incremental_revenue if c.incremental_revenue else 1.0


def before_moves(cells: list[CellEffect], days: int) -> list[Move]:
    """The shift rule before the fix: per channel, the cells with the highest and lowest
    point marginal margin; a move when the former's lower bound passes the latter's upper."""
    out = []
    for channel in PRODUCT_CHANNELS:
        mine = [c for c in cells if c.channel == channel and c.spend > 0]
        if len(mine) < 2:
            continue
        marg = {}
        for c in mine:
            m = before_marginal(c, days)
            r = _rate(c)
            marg[c.category] = Span(m.estimate * r, m.lower * r, m.upper * r)
        best = max(mine, key=lambda c: marg[c.category].estimate)
        worst = min(mine, key=lambda c: marg[c.category].estimate)
        hi, lo = marg[best.category], marg[worst.category]
        if best is worst or hi.lower <= lo.upper:
            continue
        moved = SHIFT_SHARE * worst.spend
        claimed = Span(moved * (hi.estimate - lo.estimate), moved * (hi.lower - lo.upper),
                       moved * (hi.upper - lo.lower))  # fmt: skip
        out.append(Move(channel, worst.category, best.category, moved, claimed))
    return out


def after_moves(cells: list[CellEffect], days: int, level: float) -> list[Move]:
    """The moves today's Recommend makes on the same cells (``surfacing_svc.products``)."""
    evidence = ProductEvidence(
        "bench", "USD", days, level, 0.95,
        tuple(
            CategoryCell(c.channel, c.category, c.spend,
                         Span(c.incremental_revenue, c.conf_low, c.conf_high), c.roas,
                         c.half_saturation, _rate(c),
                         Span(c.marginal_roas, c.marginal_low, c.marginal_high))
            for c in cells if c.spend > 0
        ),
        (), (),
    )  # fmt: skip
    return [
        Move(a.channel, a.category, a.target_category, SHIFT_SHARE * _spend(cells, a), a.impact)
        for a in product_actions(evidence)
        if a.kind == "shift_product_spend"
    ]


@contextmanager
def no_cannibalisation() -> Iterator[None]:
    """Simulate with every planted cannibalisation set to zero. The catalogue is drawn as
    before and only its ``cannibalisation`` shares are zeroed, so every other draw of the
    world (plan, demand, orders) is the same; the truth then plants none."""
    with scaled_cannibalisation(0.0):
        yield


@contextmanager
def scaled_cannibalisation(scale: float) -> Iterator[None]:
    """Simulate with every planted cannibalisation share times ``scale`` (at most 0.95 of
    the lift), the catalogue otherwise as drawn. The simulator plants shares of at most 0.6,
    so a promotion whose category truly keeps less than half its lift keeps 40-50% of it:
    too near the threshold for any claim; ``scale`` 1.5 plants up to 0.9."""
    build = product_world.build_catalogue

    def scaled(*a: Any, **kw: Any) -> Catalogue:
        cat = build(*a, **kw)
        products = tuple(
            dataclasses.replace(p, cannibalisation=min(p.cannibalisation * scale, 0.95))
            for p in cat.products
        )
        return dataclasses.replace(cat, products=products)

    with mock.patch.object(product_world, "build_catalogue", scaled):
        yield


def before_stops(pairs: tuple[PairEffect, ...]) -> set[str]:
    """The stop rule before the false-stop fix: the claimed cannibalisations' and halos'
    point estimates against half the promoted lift."""
    by: dict[str, list[PairEffect]] = defaultdict(list)
    for q in pairs:
        by[q.promoted].append(q)
    out = set()
    for promoted, ps in by.items():
        lift = ps[0].promoted_lift
        taken = [q for q in ps if q.verdict == "cannibalisation"]
        if not taken or lift <= 0:
            continue
        net = lift + sum(q.revenue for q in ps if q.verdict != "none")
        if net <= (1.0 - CANNIBAL_SHARE) * lift:
            out.add(promoted)
    return out


def _net_cell(n: PromotionNet, z: float) -> NetCell:
    def span(estimate: float, sd: float) -> Span:
        return Span(estimate, estimate - z * sd, estimate + z * sd)

    return NetCell(n.promoted, span(n.lift, n.lift_stderr), span(n.siblings, n.siblings_stderr),
                   span(n.net, n.stderr))  # fmt: skip


def after_stops(est: ProductEffects, days: int, *, joint: bool = True) -> set[str]:
    """The promotions today's Recommend says to stop (``surfacing_svc.products``); without
    ``joint``, as it does on an analysis stored before the joint intervals (the pairs' sds
    summed: the rule until issue 20's joint net)."""
    z = NormalDist().inv_cdf(1.0 - est.alpha / 2.0)
    evidence = ProductEvidence(
        "bench", "USD", days, 1.0 - est.alpha, 1.0 - est.claim_alpha, (),
        tuple(ProductCell(p.channel, p.category, p.product_id, p.spend) for p in est.products),
        tuple(PairCell(q.category, q.promoted, q.affected, Span(q.revenue, q.conf_low, q.conf_high),
                       q.promoted_lift, q.verdict) for q in est.pairs),
        tuple(_net_cell(n, z) for n in est.nets) if joint else (),
    )  # fmt: skip
    return {a.product_id for a in product_actions(evidence) if a.kind == "stop_promotion"}


def true_net(truth: dict[str, Any], promoted: str) -> tuple[float, float]:
    """``(net, lift)``: the truth's net category lift of promoting ``promoted``, and its lift."""
    pairs = [q for q in truth["pairs"] if q["promoted"] == promoted]
    lift = pairs[0]["promoted_lift"]
    return lift + sum(q["revenue"] for q in pairs), lift


def truly_mostly_cannibalises(truth: dict[str, Any], promoted: str) -> bool:
    """The truth's net category lift of promoting ``promoted`` is below half its lift."""
    net, lift = true_net(truth, promoted)
    return net < (1.0 - CANNIBAL_SHARE) * lift


def _spend(cells: list[CellEffect], a: Any) -> float:
    return next(c.spend for c in cells if c.channel == a.channel and c.category == a.category)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--geos", type=int, default=5)
    ap.add_argument("--days", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--categories", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--orders-per-day", type=float, default=None, help="default: the scenario's")
    ap.add_argument("--no-cannibalisation", action="store_true",
                    help="zero every planted cannibalisation (every stop is then false)")  # fmt: skip
    ap.add_argument("--cannibalisation-scale", type=float, default=1.0,
                    help="every planted cannibalisation share times this (at most 0.95)")  # fmt: skip
    args = ap.parse_args()
    kw: dict[str, Any] = {} if args.days is None else {"days": args.days}
    if args.categories is not None:
        kw["products"] = args.categories
    if args.orders_per_day is not None:
        kw["product_orders_per_day"] = args.orders_per_day
    rules = ("before", "summed", "after")
    stops: dict[str, list[bool]] = {name: [] for name in rules}
    stop_seeds: dict[str, list[bool]] = {name: [] for name in rules}
    mostly: list[float] = []  # the truly mostly cannibalising: true net / true lift
    net_cover: list[bool] = []
    sd_ratio: list[float] = []  # the net's joint sd over the pairs' sds summed
    cov: dict[str, list[bool]] = {"before": [], "after": []}
    width: dict[str, list[float]] = {"before": [], "after": []}
    moves: dict[str, list[tuple[Move, float]]] = {"before": [], "after": []}
    t_est = 0.0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        scale = 0.0 if args.no_cannibalisation else args.cannibalisation_scale
        with scaled_cannibalisation(scale):
            r = sim.simulate("products", seed=seed, n_geos=args.geos, dirt=False, **kw)
        assert r.products is not None
        truth = r.products.truth["orgs"]["org_001"]
        panel = r.products.panel
        t0 = time.perf_counter()
        est = estimate_products(panel, channels=PRODUCT_CHANNELS)
        t_est += time.perf_counter() - t0
        days = est.nobs
        cells = [c for c in est.cells if c.spend > 0]
        line = []
        for c in cells:
            t = true_marginal(truth, _category_spend(panel, c.channel, c.category), c.channel,
                              c.category)  # fmt: skip
            for name, span in (
                ("before", before_marginal(c, days)),
                ("after", Span(c.marginal_roas, c.marginal_low, c.marginal_high)),
            ):
                cov[name].append(span.lower <= t <= span.upper)
                width[name].append((span.upper - span.lower) / abs(t))
        for name, made in (
            ("before", before_moves(cells, days)),
            ("after", after_moves(cells, days, 1.0 - est.alpha)),
        ):
            for m in made:
                true = true_margin_change(truth, panel, m)
                moves[name].append((m, true))
                line.append(
                    f"{name} {m.channel} {m.giver}->{m.receiver} {m.moved:,.0f}: claimed "
                    f"{m.claimed.estimate:+,.0f} [{m.claimed.lower:+,.0f}, "
                    f"{m.claimed.upper:+,.0f}], true {true:+,.0f}"
                )
        for p in {q.promoted for q in est.pairs}:
            if truly_mostly_cannibalises(truth, p):
                net, lift = true_net(truth, p)
                mostly.append(net / lift)
        z = NormalDist().inv_cdf(1.0 - est.alpha / 2.0)
        for n in est.nets:
            t, _ = true_net(truth, n.promoted)
            net_cover.append(abs(n.net - t) <= z * n.stderr)
            summed = sum((q.conf_high - q.conf_low) / (2 * z) for q in est.pairs
                         if q.promoted == n.promoted and math.isfinite(q.revenue))  # fmt: skip
            if summed > 0:
                sd_ratio.append(n.stderr / summed)
        for name, stopped in (("before", before_stops(est.pairs)),
                              ("summed", after_stops(est, days, joint=False)),
                              ("after", after_stops(est, days))):  # fmt: skip
            right = [truly_mostly_cannibalises(truth, p) for p in sorted(stopped)]
            stops[name] += right
            stop_seeds[name].append(not all(right))
            line += [f"{name} stop {p}: {'right' if ok else 'FALSE'}"
                     for p, ok in zip(sorted(stopped), right, strict=True)]  # fmt: skip
        n_b = sum(cov["before"][-len(cells) :])
        n_a = sum(cov["after"][-len(cells) :])
        print(f"seed {seed:3d}: marginal covered before {n_b}/{len(cells)}, after "
              f"{n_a}/{len(cells)}", flush=True)  # fmt: skip
        for text in line:
            print("   " + text)

    def pct(v: list[bool]) -> str:
        return f"{100 * np.mean(v):5.1f}% ({sum(v)}/{len(v)})" if v else "  n/a"

    n = args.seeds
    print(
        f"\n{n} seeds from {args.first_seed}, scenario 'products' ({args.geos}-state base world, "
        f"{args.days or 'default'} days), estimate {t_est / n:.2f}s/seed"
    )
    print("                                             before (rescaled)        after (drawn)")
    print(f"90% marginal interval covers the truth   {pct(cov['before']):>22} "
          f"{pct(cov['after']):>22}")  # fmt: skip
    print(f"   median width / |true marginal|        {np.median(width['before']):22.2f} "
          f"{np.median(width['after']):22.2f}")  # fmt: skip
    gain: dict[str, list[bool]] = {}
    for name in ("before", "after"):
        scored = moves[name]
        gain[name] = [t > 0 for _, t in scored]
        inside = [m.claimed.lower <= t <= m.claimed.upper for m, t in scored]
        total = sum(t for _, t in scored)
        print(f"{name:6s}: {len(scored)} moves, true margin change > 0 in {pct(gain[name])}, "
              f"claimed interval covers the true change in {pct(inside)}, "
              f"sum of true changes {total:+,.0f}")  # fmt: skip
    print(f"promoted products that truly mostly cannibalise: {len(mostly)} (true net / true "
          f"lift: median {np.median(mostly) if mostly else float('nan'):.2f}, "
          f"{sum(s < 0.4 for s in mostly)} below 0.4)")  # fmt: skip
    print(f"promoted products' nets: {len(net_cover)}; 90% interval covers the true net "
          f"{pct(net_cover)}; joint sd / pairs' sds summed: median "
          f"{np.median(sd_ratio) if sd_ratio else float('nan'):.2f}")  # fmt: skip
    for name in rules:
        right = stops[name]
        print(f"{name:6s}: {len(right)} stops, {sum(right)} right, {len(right) - sum(right)} "
              f"false; seeds with a false stop {pct(stop_seeds[name])}")  # fmt: skip
    size = f"{n} seeds"
    if args.days:
        size += f", {args.days} days"
    if args.cannibalisation_scale != 1.0 and not args.no_cannibalisation:
        size += f", cannibalisation x{args.cannibalisation_scale:g}"
    if args.no_cannibalisation:
        size += ", no cannibalisation planted"
        figure(f"worlds with a false 'stop promoting', {size}", 100 * np.mean(stop_seeds["after"]),
               "%", reference="the rule before", reference_value=100 * np.mean(stop_seeds["before"]))  # fmt: skip
    else:
        figure(f"right 'stop promoting' (of {len(mostly)} truly mostly cannibalising), {size}",
               sum(stops["after"]), "stops", reference="the pairs' sds summed",
               reference_value=sum(stops["summed"]))  # fmt: skip
    figure(f"product cells: 90% marginal-return interval covers the truth, {size}",
           100 * np.mean(cov["after"]), "%", reference="revenue interval rescaled (before)",
           reference_value=100 * np.mean(cov["before"]), target="≈ 90%")  # fmt: skip
    figure(f"product budget moves made, {size}", len(moves["after"]), "moves",
           reference="before", reference_value=len(moves["before"]))  # fmt: skip
    figure(f"product budget moves whose true margin change is positive, {size}",
           100 * np.mean(gain["after"]) if gain["after"] else float("nan"), "%",
           reference="before",
           reference_value=100 * np.mean(gain["before"]) if gain["before"] else None)  # fmt: skip


if __name__ == "__main__":
    # One BLAS thread: the fits are small matrices (as in products_accuracy).
    with threadpool_limits(1):
        main()
