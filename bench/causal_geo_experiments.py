"""Geo experiments: synthetic DiD against the published Prop 99 estimate and the reference
implementation, then SDID and the precision options on the simulator's geo holdouts.

1. Prop 99 (Arkhangelsky et al. 2021, Table 1): our SDID beside the published figure and
   synthdid-py's (the R package's port), with the time of each.
2. The ``geo_experiment`` scenario (50 states, 25 keep Meta prospecting on for the last 28 days,
   56 pre-period days), one world per seed: bias, RMSE, 95% coverage and mean interval width
   of TWFE DiD (cluster-robust, today's estimate) and SDID against the true ATT per treated
   geo-day.
3. The ``demo`` world (20 states), one world per seed: the same figures for every option the
   causal service has for a registered geo experiment — TWFE DiD, per-capita outcomes,
   CUPED/ANCOVA on the pre-period mean, SDID and their combinations — with each interval's
   width as a share of TWFE's, and the one ``auto`` picks for a randomised geo panel.

The geo × day panel is the first-party revenue per state and day from the simulated outcomes,
the registry's pre-period start to the end of the test (the frame `liftos demo` reads back from
memory, without the injected dirt).

Run: PYTHONPATH=.:gen python bench/causal_geo_experiments.py [--seeds 50] [--demo-seeds 20]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

import sim
from bench._figures import figure
from causal_svc.estimators.did import estimate_did
from causal_svc.estimators.result import EffectEstimate, EffectSpec, Method
from causal_svc.estimators.sdid import estimate_sdid
from causal_svc.identification import choose_strategy
from causal_svc.methods import EstimationOptions, estimator_for

PANEL = EffectSpec(outcome="revenue", treatment="treated_post", unit="geo", time="day")


def geo_panel(scenario: str, seed: int) -> tuple[pd.DataFrame, float]:
    """(geo × day first-party revenue of the registered holdout, true ATT per treated geo-day)."""
    r = sim.simulate(scenario, seed=seed, dirt=False)
    entry, truth = r.experiments[0], r.truth["experiments"][0]
    o = r.outcomes.assign(
        date=pd.to_datetime(r.outcomes["date"]), geo=r.outcomes["region"].astype(str)
    )
    lo, start, end = (
        pd.Timestamp(entry[k]) for k in ("pre_period_start", "start_date", "end_date")
    )
    o = o[(o["date"] >= lo) & (o["date"] <= end)].copy()
    population = {g["code"]: g["population_m"] for g in r.truth["geos"]}
    o["population"] = o["geo"].map(population).astype(float)
    o["treated"] = o["geo"].isin(entry["treatment_units"]).astype(int)
    o["treated_post"] = o["treated"] * (o["date"] >= start).astype(int)
    o["day"] = (o["date"] - lo).dt.days
    frame = o[["geo", "day", "population", "treated", "treated_post", "revenue"]]
    return frame.reset_index(drop=True), float(truth["att_revenue_per_geo_day"])


def _per_capita(frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Revenue per resident, and the mean treated population that scales an effect back."""
    scale = float(frame.loc[frame["treated"] == 1].groupby("geo")["population"].first().mean())
    return frame.assign(revenue=frame["revenue"] / frame["population"]), scale


def _scaled(e: EffectEstimate, scale: float) -> tuple[float, float, float]:
    return e.point_estimate * scale, e.ci_lower * scale, e.ci_upper * scale


def _triple(e: EffectEstimate) -> tuple[float, float, float]:
    return e.point_estimate, e.ci_lower, e.ci_upper


def _ancova(frame: pd.DataFrame) -> EffectEstimate:
    """CUPED/ANCOVA: each geo's post-period mean against its pre-period mean."""
    spec = EffectSpec(outcome="revenue", treatment="treated_post", unit="geo", time="day")
    return estimator_for(Method.DIFFERENCE_IN_MEANS, EstimationOptions())(frame, spec)


def _auto(frame: pd.DataFrame) -> EffectEstimate:
    strategy = choose_strategy(frame, PANEL, None, randomised=True)
    return estimator_for(strategy.method, EstimationOptions())(frame, strategy.apply(PANEL))


OPTIONS: dict[str, Callable[[pd.DataFrame], tuple[float, float, float]]] = {
    "TWFE DiD (today)": lambda f: _triple(estimate_did(f, PANEL)),
    "per-capita DiD": lambda f: _scaled(estimate_did(_per_capita(f)[0], PANEL), _per_capita(f)[1]),
    "CUPED/ANCOVA": lambda f: _triple(_ancova(f)),
    "per-capita CUPED": lambda f: _scaled(_ancova(_per_capita(f)[0]), _per_capita(f)[1]),
    "SDID": lambda f: _triple(estimate_sdid(f, PANEL)),
    "per-capita SDID": lambda f: _scaled(
        estimate_sdid(_per_capita(f)[0], PANEL), _per_capita(f)[1]
    ),
    "auto (randomised)": lambda f: _triple(_auto(f)),
}


def _one(job: tuple[str, int, tuple[str, ...]]) -> list[dict[str, object]]:
    scenario, seed, names = job
    frame, truth = geo_panel(scenario, seed)
    rows = []
    for name in names:
        t0 = time.perf_counter()
        point, lo, hi = OPTIONS[name](frame)
        rows.append(
            {"option": name, "seed": seed, "truth": truth, "point": point, "lo": lo, "hi": hi,
             "seconds": time.perf_counter() - t0}
        )  # fmt: skip
    return rows


def _table(rows: list[dict[str, object]], reference: str) -> pd.DataFrame:
    r = pd.DataFrame(rows)
    r["error"] = r["point"] - r["truth"]
    r["width"] = r["hi"] - r["lo"]
    r["covered"] = (r["lo"] <= r["truth"]) & (r["truth"] <= r["hi"])
    g = r.groupby("option", sort=False)
    out = pd.DataFrame(
        {
            "seeds": g.size(),
            "mean truth": g["truth"].mean(),
            "bias": g["error"].mean(),
            "bias %": 100 * g["error"].mean() / g["truth"].mean(),
            "rmse": np.sqrt(g["error"].apply(lambda e: (e**2).mean())),
            "coverage": g["covered"].mean(),
            "mean width": g["width"].mean(),
            "s/estimate": g["seconds"].mean(),
        }
    )
    out["width vs " + reference] = out["mean width"] / out.loc[reference, "mean width"]
    return out


def prop99() -> None:
    from synthdid import load_california_prop99, panel_matrices, synthdid_estimate

    frame = load_california_prop99()
    spec = EffectSpec(outcome="PacksPerCapita", treatment="treated", unit="State", time="Year")
    estimate_sdid(frame, spec, variance="none")  # compile the solver outside the timing
    t0 = time.perf_counter()
    ours = estimate_sdid(frame, spec, random_state=0)
    t_ours = time.perf_counter() - t0
    p = panel_matrices(frame)
    t0 = time.perf_counter()
    ref = synthdid_estimate(p.Y, p.N0, p.T0)
    ref_se = ref.se(method="placebo", replications=200, random_state=0)
    t_ref = time.perf_counter() - t0
    print("== Prop 99 (California, 1989): SDID, placebo SE with 200 draws")
    print("  published (Arkhangelsky et al. 2021, Table 1)  -15.6  (SE 8.4)")
    print(
        f"  synthdid-py 0.1.0 (port of the R package)       {float(ref):.4f} (SE {ref_se:.4f})  {t_ref:.2f} s"
    )
    print(
        f"  LiftOS sdid                                     {ours.point_estimate:.4f} (SE {ours.stderr:.4f})  {t_ours:.2f} s"
    )
    print(f"  DiD on the same panel: ours {ours.statistics['did_estimate']:.2f}, published -27.3")
    print(f"  time ratio reference / ours: {t_ref / t_ours:.1f}x")
    figure("Prop 99 SDID estimate (published −15.6)", ours.point_estimate, "packs/capita",
           reference="synthdid-py", reference_value=float(ref),
           note=f"SE {ours.stderr:.2f} vs {ref_se:.2f}")  # fmt: skip
    figure("Prop 99 SDID with placebo SE (200 draws), time", t_ours, "s",
           reference="synthdid-py", reference_value=t_ref)  # fmt: skip


def _figures(t: pd.DataFrame, option: str, world: str) -> None:
    """One option's coverage and RMSE beside TWFE DiD's on the same worlds."""
    twfe, row = t.loc["TWFE DiD (today)"], t.loc[option]
    size = f"{world}, {int(row['seeds'])} worlds"
    figure(f"{option}: 95% interval coverage, {size}", 100 * row["coverage"], "%",
           reference="TWFE DiD", reference_value=100 * twfe["coverage"], target="≈ 95%",
           note=f"width {row['width vs TWFE DiD (today)']:.2f}× TWFE's")  # fmt: skip
    figure(f"{option}: RMSE of the ATT, {size}", row["rmse"], "revenue/geo-day",
           reference="TWFE DiD", reference_value=twfe["rmse"])  # fmt: skip


def study(scenario: str, seeds: int, names: tuple[str, ...], workers: int) -> pd.DataFrame:
    jobs = [(scenario, s, names) for s in range(1, seeds + 1)]
    with ProcessPoolExecutor(workers) as pool:
        rows = [row for part in pool.map(_one, jobs) for row in part]
    return _table(rows, "TWFE DiD (today)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--demo-seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    prop99()
    print(f"\n== geo_experiment scenario (50 states), {args.seeds} worlds")
    t = study("geo_experiment", args.seeds, ("TWFE DiD (today)", "SDID"), args.workers)
    print(t.round(3).to_string())
    _figures(t, "SDID", "geo_experiment (50 states)")
    print(f"\n== demo world (20 states), {args.demo_seeds} worlds: every option")
    t = study("demo", args.demo_seeds, tuple(OPTIONS), args.workers)
    print(t.round(3).to_string())
    _figures(t, "auto (randomised)", "demo (20 states)")


if __name__ == "__main__":
    main()
