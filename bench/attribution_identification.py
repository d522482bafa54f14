"""Why the attribution model underestimates one channel in a world: per channel, the model's
marginal ROAS at current spend against the truth's under model variants, and what the data
alone say when the model is given the truth's own curves (issue 17's shortfall, traced in the
attribution model; diagnostic only, nothing here is a default).

Variants (``--variants``, comma-separated; ``default`` is ``ModelSpec()``):

- ``geometric``: every channel's carry-over geometric; ``chosen``: every channel's shape left
  to the data (``ModelSpec(adstock=None)``: a Weibull family centred on geometric);
- ``normal``: the half-normal effect prior (``effect_df`` inf); ``t:NU``: a half Student-t
  with NU degrees of freedom (``geometric+normal`` is the model before either change);
- ``weibull:CH``: channel ``CH`` fitted with a Weibull carry-over (the others geometric) — an
  oracle: it tells the model which channel's response peaks days after the spend;
- ``weibull``: every channel Weibull (no oracle);
- ``roi:S``: the effect prior's scale ``roi_scale`` = S (default 0.25);
- ``lift:CH:R``: a lift test of channel ``CH`` over the whole window, its lift the truth's
  expected incremental revenue, standard error R times it (what a test of ``CH`` would add);
- ``geo``: geo-day rows with day effects (``Identification.GEO``, Meridian's geo model);
- ``oracle``: the simulator's true log demand index per geo-day as a control in the panel (an
  oracle for the local demand budgets chase; with ``geo`` it removes that confounding from the
  cross-geo variation, see docs/performance.md "Controlling for local demand");
- ``proxy``: as ``oracle``, the local demand read from the paid channels' common log spend
  move per geo-day (:func:`causal_svc.attribution.demand_proxy.demand_controls`) as the
  control instead of the truth;
- ``gqv:S``: as ``oracle``, a noisy reading of it: the true log demand index plus iid
  N(0, S) noise per geo-day (seeded by the world's seed; one standard normal draw per geo-day,
  scaled by S, so levels of S share their draws) — what category search volume by region
  (Meridian's "GQV" controls) would give; ``gqvn:S``: its geo mean per day in every geo (a
  national-only reading; under day effects it is absorbed, so for the national rows);
- ``retro`` / ``retro_campaign``: the budget-response detector's demand move per geo-day
  (``causal_svc.confounders_retro``: first-party orders and paid spend; ``retro_campaign``
  reads the spend per campaign × geo) as the control;
- ``geo_demand``: ``Identification.GEO_DEMAND``: geo rows with day effects, each channel
  instrumented by its input with the other channels' read of the chase taken out;
- ``+`` joins variants (``weibull:tiktok+roi:0.5``, ``geo+oracle``).

And without the model's priors or curve fits: ordinary least squares of the national rows'
projected log outcome (as the fit sees them) on the projected *true* media terms (each
channel's true carry-over and Hill curve times demand^(ε−1)), coefficient over the truth's β
(a common scale for every channel; a channel measured without bias reads the same ratio as the
others), with week-cluster standard errors; ``--geometric CH:D,...`` replaces those channels'
true carry-over by a geometric one with decay D (the model's family at its best decay).

Run: PYTHONPATH=.:gen python bench/attribution_identification.py [--scenario misallocated]
[--first-seed 300] [--seeds 20] [--variants default,weibull:tiktok,roi:0.5]
[--geometric tiktok:0.85,meta_prospecting:0.8] [--no-ols]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Mapping

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import bench.surfacing_optimizer  # noqa: F401  (registers the misallocated scenario)
from bench.surfacing_worlds import planning_model, true_curves, true_inputs
from causal_svc.attribution import Identification, MediaPanel, ModelSpec, analyze
from causal_svc.attribution.calibration import LiftTest
from causal_svc.attribution.demand_proxy import demand_controls
from causal_svc.attribution.fit import fit_mmm
from causal_svc.attribution.transforms import AdstockKind
from sim.media import adstock
from tests.causal.attribution.world import World, world


def true_demand(w: World) -> np.ndarray:
    """(G, T) the simulator's log demand index per geo-day, in the panel's geo order: what
    the marketers' budgets chase (``sim.spend.plan_inputs``) and what drives baseline sales."""
    _, _, log_index, _ = true_inputs(w.result)
    codes = [g["code"] for g in w.result.truth["geos"]]
    return log_index[[codes.index(g) for g in w.panel.geos]]


def variant_spec(variant: str) -> ModelSpec:
    """The model of a variant (its panel and lift-test parts are :func:`variant_panel`'s and
    :func:`_variant`'s)."""
    base = ModelSpec()
    identification = base.identification
    adstock_kind: AdstockKind | Mapping[str, AdstockKind] | None = base.adstock
    priors = base.priors
    for part in variant.split("+"):
        name, *args = part.split(":")
        if name in ("default", "oracle", "proxy", "retro", "retro_campaign", "lift", "gqv", "gqvn"):
            continue
        if name == "geometric":
            adstock_kind = AdstockKind.GEOMETRIC
        elif name == "chosen":
            adstock_kind = None
        elif name == "normal":
            priors = dataclasses.replace(priors, effect_df=float("inf"))
        elif name == "t":
            priors = dataclasses.replace(priors, effect_df=float(args[0]))
        elif name == "weibull":
            adstock_kind = {args[0]: AdstockKind.WEIBULL} if args else AdstockKind.WEIBULL
        elif name == "geo":
            identification = Identification.GEO
        elif name == "geo_demand":
            identification = Identification.GEO_DEMAND
        elif name == "roi":
            priors = dataclasses.replace(priors, roi_scale=float(args[0]))
        else:
            raise SystemExit(f"--variants: unknown variant {part!r}")
    return ModelSpec(adstock=adstock_kind, priors=priors, identification=identification)


def noisy_demand(w: World, sd: float, national: bool) -> np.ndarray:
    """(G, T) the true log demand index plus iid N(0, ``sd``) per geo-day (a search-volume
    reading); its geo mean per day in every geo where ``national``. Deterministic per world."""
    truth = true_demand(w)
    z = np.random.default_rng([w.result.seed, 0x677176]).standard_normal(truth.shape)
    reading = truth + sd * z
    return np.broadcast_to(reading.mean(axis=0), truth.shape).copy() if national else reading


def demand_scale(scenario: str, seeds: range) -> None:
    """How much the true log demand index moves, to read ``gqv:S``'s S as a noise-to-signal."""
    within, national, cross = [], [], []
    for seed in seeds:
        d = true_demand(world(scenario, seed))
        within.append(d.std(axis=1).mean())  # over days within a geo
        national.append(d.mean(axis=0).std())  # the geo mean's over days
        # What day effects leave: the geo-day deviation from the day's geo mean, less its geo's
        # mean (the variation that geo rows with day effects use).
        r = d - d.mean(axis=0) - d.mean(axis=1, keepdims=True) + d.mean()
        cross.append(r.std())
    print(f"log demand index ({scenario}, seeds {seeds.start}-{seeds.stop - 1}): sd over days "
          f"within a geo {np.mean(within):.3f}; the geo mean's sd over days "
          f"{np.mean(national):.3f}; two-way residual (geo and day effects out) sd "
          f"{np.mean(cross):.3f}")  # fmt: skip


def retro_demand(w: World, campaign_grain: bool) -> np.ndarray:
    """(G, T) the budget-response detector's demand move per geo-day
    (:func:`causal_svc.confounders_retro.detect_budget_response`: the orders' and the paid
    spend's common moves; per campaign × geo where ``campaign_grain``), in the panel's order."""
    from bench.confounder_detection import campaign_geo_sums, simulated_sums
    from causal_svc.confounders_retro import detect_budget_response

    extra = campaign_geo_sums(w.result) if campaign_grain else None
    found = detect_budget_response(*simulated_sums(w.result), campaign_geo_days=extra)
    gd = found.geo_days
    grid = gd.pivot_table(index="geo", columns="date", values="demand_move")
    grid = grid.reindex(index=[f"US-{g}" for g in w.panel.geos], columns=w.panel.dates)
    return np.nan_to_num(grid.to_numpy(np.float64))


def variant_panel(variant: str, w: World) -> MediaPanel:
    """The world's panel with a variant's controls (``oracle``, ``gqv``, ``proxy``, ...)."""
    panel = w.panel
    for part in variant.split("+"):
        if part == "proxy":
            controls = {**panel.controls, **demand_controls(panel.spend)}
            panel = dataclasses.replace(panel, controls=controls)
        elif part == "oracle":
            controls = {**panel.controls, "true_log_demand": true_demand(w)}
            panel = dataclasses.replace(panel, controls=controls)
        elif part.split(":")[0] in ("gqv", "gqvn"):
            name, sd = part.split(":")
            reading = noisy_demand(w, float(sd), national=name == "gqvn")
            panel = dataclasses.replace(panel, controls={**panel.controls, name: reading})
        elif part in ("retro", "retro_campaign"):
            move = retro_demand(w, part == "retro_campaign")
            panel = dataclasses.replace(panel, controls={**panel.controls, part: move})
    return panel


def _variant(variant: str, w: World) -> tuple[ModelSpec, list[LiftTest], MediaPanel]:
    tests = [w.experiment] if w.experiment is not None else []
    for part in variant.split("+"):
        name, *args = part.split(":")
        if name == "lift":
            curve = true_curves(w.result)[args[0]]
            lift = float(curve.mean_outcome(curve.reference_spend))
            d = w.panel.dates
            tests.append(LiftTest(args[0], d[0].astype(object), d[-1].astype(object), lift,
                                  float(args[1]) * lift, name="truth"))  # fmt: skip
    return variant_spec(variant), tests, variant_panel(variant, w)


def model_rows(scenario: str, seeds: range, variant: str) -> None:
    """Per channel: mean model and true marginal ROAS, bias, MAE and 90% coverage (over the
    worlds whose model passes its health checks)."""
    rows: list[dict[str, tuple[float, float, bool]]] = []
    failed = 0
    seconds: list[float] = []
    for seed in seeds:
        w = world(scenario, seed)
        spec, tests, panel = _variant(variant, w)
        t0 = time.perf_counter()
        report = analyze(panel, spec, tests)
        seconds.append(time.perf_counter() - t0)
        if report.verdict.value == "fail":  # a failed model reports no curves (as the service)
            failed += 1
            continue
        model = planning_model(report)
        truth = true_curves(w.result)
        row = {}
        for c in model.curves:
            if c.channel not in truth:
                continue
            t = truth[c.channel]
            m = c.marginal(c.reference_spend)
            lo, hi = np.quantile(m, [0.05, 0.95])
            tm = float(t.mean_marginal(t.reference_spend))
            row[c.channel] = (float(m.mean()), tm, bool(lo <= tm <= hi))
        rows.append(row)
    if not rows:
        print(f"{variant:28s} all {len(seeds)} models failed their health checks")
        return
    for ch in sorted(rows[0]):
        est = np.array([r[ch][0] for r in rows])
        tru = np.array([r[ch][1] for r in rows])
        cov = np.mean([r[ch][2] for r in rows])
        print(f"{variant:28s} {ch:18s} model {est.mean():.2f} truth {tru.mean():.2f} "
              f"bias {np.mean(est - tru):+.2f} MAE {np.mean(abs(est - tru)):.2f} "
              f"90% coverage {cov:.0%}")  # fmt: skip
    print(f"{variant:28s} {np.mean(seconds):.1f} s per analysis")
    if failed:
        print(
            f"{variant:28s} {failed} of {len(seeds)} models failed their health checks (left out)"
        )


def true_term_ols(scenario: str, seeds: range, geometric: dict[str, float]) -> None:
    """OLS of the projected national log outcome on the projected true media terms."""
    ratios, ses, names = [], [], []
    for seed in seeds:
        w = world(scenario, seed)
        fit = fit_mmm(w.panel, ModelSpec(), [w.experiment] if w.experiment is not None else [])
        x, pop, log_index, t = true_inputs(w.result)
        names = [c for c in x if x[c].sum() > 0]
        cols, beta = [], []
        for ch in names:
            m = t["media"][ch]
            kern: dict[str, float | str] = (
                {"type": "geometric", "decay": geometric[ch]} if ch in geometric else m["adstock"]
            )
            u = adstock(x[ch], kern) / pop[:, None]
            h = m["hill"]
            hill = 1.0 / (1.0 + (h["half_saturation"] / np.maximum(u, 1e-12)) ** h["shape"])
            term = hill * np.exp((m["demand_elasticity"] - 1.0) * log_index)
            cols.append(fit.projection.national(term))
            beta.append(m["beta"])
        xm, y = np.array(cols).T, fit.objective.y_proj
        b, *_ = np.linalg.lstsq(xm, y, rcond=None)
        e = y - xm @ b
        inv = np.linalg.inv(xm.T @ xm)
        week = np.arange(len(y)) // 7
        scores = [xm[week == k].T @ e[week == k] for k in np.unique(week)]
        meat = sum(np.outer(s, s) for s in scores)
        ratios.append(b / np.array(beta))
        ses.append(np.sqrt(np.diag(inv @ meat @ inv)) / np.array(beta))
    r, s = np.array(ratios), np.array(ses)
    label = ", ".join(f"{c} geometric {d}" for c, d in geometric.items()) or "true curves"
    for i, ch in enumerate(names):
        print(f"OLS on true terms ({label}) {ch:18s} coef/true β {np.median(r[:, i]):.4f} "
              f"(mean {r[:, i].mean():.4f}) se {np.median(s[:, i]):.4f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="misallocated")
    ap.add_argument("--first-seed", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--variants", default="default,weibull:tiktok,roi:0.5,weibull:tiktok+roi:0.5")
    ap.add_argument("--geometric", default="tiktok:0.85,meta_prospecting:0.8")
    ap.add_argument("--no-ols", action="store_true", help="skip the OLS on the true terms")
    a = ap.parse_args()
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    if "gqv" in a.variants:
        demand_scale(a.scenario, seeds)
    for v in a.variants.split(","):
        model_rows(a.scenario, seeds, v)
    if a.no_ols:
        return
    true_term_ols(a.scenario, seeds, {})
    if a.geometric:
        geo = {c: float(d) for c, d in (p.split(":") for p in a.geometric.split(","))}
        true_term_ols(a.scenario, seeds, geo)


if __name__ == "__main__":
    main()
