"""Simulator study: bias, RMSE and 95% CI coverage of each estimator against the known truth,
with the naive correlation estimate's bias beside it (issue 6).

For each design the simulator draws a fresh world per seed (its own potential outcomes, so the
truth varies by replicate); the estimator runs on the study table and is compared with that
replicate's true effect. The naive estimate is OLS of the outcome on the treatment alone.
A null-effect design also reports the false-claim rate: the share of replicates where the full
pipeline (with refuters) calls an effect supported and its interval excludes zero.

Run: PYTHONPATH=.:gen python bench/causal_sim_study.py [--replicates 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

import sim
from bench._figures import figure
from causal_svc.estimators.result import EffectSpec, Estimand, Method
from causal_svc.methods import EstimationOptions, estimator_for

# (label, scenario, method, replicates cap or None)
DESIGNS: list[tuple[str, str, Method, int | None]] = [
    ("geo experiment / diff in means (CUPED)", "geo_experiment", Method.DIFFERENCE_IN_MEANS, None),
    ("small effect / diff in means (CUPED)", "small_effect", Method.DIFFERENCE_IN_MEANS, None),
    ("staggered rollout / Callaway-Sant'Anna", "staggered", Method.STAGGERED_DID, None),
    ("staggered rollout / TWFE DiD", "staggered", Method.DID, None),
    ("staggered rollout / event study", "staggered", Method.EVENT_STUDY, None),
    ("budget cutoff / RDD", "rdd", Method.RDD, None),
    ("cost shock / IV 2SLS", "instrument", Method.IV, None),
    ("observational / AIPW", "observational", Method.AIPW, None),
    ("observational / IPW", "observational", Method.IPW, None),
    ("observational / PS matching", "observational", Method.MATCHING, None),
    ("observational / DML", "observational", Method.DML, 60),
    ("one geo launches / synthetic control", "synthetic_control", Method.SYNTHETIC_CONTROL, 40),
    ("one geo launches / BSTS (5 control series)", "synthetic_control", Method.BSTS, None),
]
N_BSTS_CONTROLS = 5


def _bsts_frame(frame: pd.DataFrame, roles: dict) -> tuple[pd.DataFrame, EffectSpec]:
    """The treated geo's series with the donors most correlated before launch as controls."""
    unit, time, y, t = roles["unit"], roles["time"], roles["outcome"], roles["treatment"]
    wide = frame.pivot(index=time, columns=unit, values=y)
    treated_unit = frame.loc[frame[t] == 1, unit].iloc[0]
    post = frame.loc[frame[unit] == treated_unit].set_index(time)[t].reindex(wide.index)
    pre = post == 0
    corr = wide.loc[pre].corr()[treated_unit].drop(treated_unit)
    controls = list(corr.sort_values(ascending=False).index[:N_BSTS_CONTROLS])
    out = pd.DataFrame(
        {"time": wide.index, "y": wide[treated_unit].to_numpy(), "post": post.to_numpy()}
    )
    for c in controls:
        out[f"control_{c}"] = wide[c].to_numpy()
    spec = EffectSpec(outcome="y", treatment="post", time="time",
                      covariates=tuple(f"control_{c}" for c in controls), estimand=Estimand.ATT)  # fmt: skip
    return out, spec


_MODULES = {
    Method.DIFFERENCE_IN_MEANS: "difference_in_means", Method.STAGGERED_DID: "staggered_did",
    Method.DID: "did", Method.EVENT_STUDY: "event_study", Method.RDD: "rdd", Method.IV: "iv",
    Method.AIPW: "weighting", Method.IPW: "weighting", Method.MATCHING: "matching",
    Method.DML: "dml", Method.SYNTHETIC_CONTROL: "synthetic_control", Method.BSTS: "bsts",
}  # fmt: skip


def _spec(roles: dict, estimand: str, method: Method) -> EffectSpec:
    keep = {k: v for k, v in roles.items() if k in EffectSpec.__slots__}
    for key in ("covariates", "instruments", "effect_modifiers"):
        if key in keep:
            keep[key] = tuple(keep[key])
    if method in (Method.STAGGERED_DID, Method.SYNTHETIC_CONTROL):
        keep.pop("covariates", None)
    if method in (Method.MATCHING, Method.DML):
        # neither has a cluster-robust variance: they report i.i.d. standard errors
        keep.pop("cluster", None)
    return EffectSpec(**keep, estimand=Estimand(estimand))


@dataclass(frozen=True)
class Replicate:
    truth: float
    estimate: float
    ci_lower: float
    ci_upper: float
    naive: float
    seconds: float
    error: str = ""


def _naive(frame: pd.DataFrame, outcome: str, treatment: str) -> float:
    y, t = frame[outcome].to_numpy(float), frame[treatment].to_numpy(float)
    t = t - t.mean()
    return float((t * (y - y.mean())).sum() / (t * t).sum())


def run_one(args: tuple[str, Method, int]) -> Replicate:
    scenario, method, seed = args
    study = sim.study_table(sim.simulate(scenario, seed=seed))
    spec = _spec(study.roles, study.estimand, method)
    frame = study.frame
    if method is Method.BSTS:
        frame, spec = _bsts_frame(frame, study.roles)
    estimator = estimator_for(
        method, EstimationOptions(estimand=Estimand(study.estimand), seed=seed)
    )
    naive = _naive(frame, spec.outcome, spec.treatment)
    start = time.perf_counter()
    try:
        e = estimator(frame, spec)
    except Exception as exc:  # a failed replicate is counted, not hidden
        return Replicate(
            study.true_effect, math.nan, math.nan, math.nan, naive, 0.0, type(exc).__name__
        )
    return Replicate(
        study.true_effect,
        e.point_estimate,
        e.ci_lower,
        e.ci_upper,
        naive,
        time.perf_counter() - start,
    )


def false_claims(args: tuple[int]) -> tuple[bool, bool]:
    """(claimed by the estimate alone, claimed after the checks) on a null world."""
    from causal_svc.pipeline import estimate_effect

    (seed,) = args
    study = sim.study_table(sim.simulate("null", seed=seed))
    spec = _spec(study.roles, study.estimand, Method.DIFFERENCE_IN_MEANS)
    result = estimate_effect(
        study.frame,
        spec,
        Method.DIFFERENCE_IN_MEANS,
        options=EstimationOptions(seed=seed),
        refutation_simulations=10,
    )
    e = result.estimate
    excludes_zero = not (e.ci_lower <= 0 <= e.ci_upper)
    return excludes_zero, excludes_zero and e.supported


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="substring of design labels to run")
    args = parser.parse_args()
    import importlib.util

    print(f"{'design / method':<42} {'reps':>4} {'fail':>4} {'truth':>8} {'bias':>9} {'rel.bias':>8} "
          f"{'RMSE':>8} {'cover95':>7} {'naive bias':>10} {'ms/fit':>7}")  # fmt: skip
    with ProcessPoolExecutor(args.workers) as pool:
        for label, scenario, method, cap in DESIGNS:
            if args.only and args.only not in label:
                continue
            if importlib.util.find_spec(f"causal_svc.estimators.{_MODULES[method]}") is None:
                print(f"{label:<42} (estimator not built yet)", flush=True)
                continue
            n = min(args.replicates, cap) if cap else args.replicates
            reps = list(
                pool.map(run_one, [(scenario, method, 1000 + s) for s in range(n)], chunksize=4)
            )
            ok = [r for r in reps if not r.error]
            if not ok:
                print(f"{label:<42} every replicate failed: {reps[0].error}", flush=True)
                continue
            truth = np.array([r.truth for r in ok])
            est = np.array([r.estimate for r in ok])
            err = est - truth
            cover = np.mean([r.ci_lower <= r.truth <= r.ci_upper for r in ok])
            naive_bias = np.mean([r.naive - r.truth for r in ok])
            rel = (
                np.mean(err) / np.mean(np.abs(truth))
                if np.mean(np.abs(truth)) > 0
                else float("nan")
            )
            ms = 1e3 * np.mean([r.seconds for r in ok])
            print(f"{label:<42} {len(ok):>4} {len(reps) - len(ok):>4} {truth.mean():>8.4f} {err.mean():>9.4f} "
                  f"{rel:>8.1%} {np.sqrt(np.mean(err**2)):>8.4f} {cover:>7.1%} {naive_bias:>10.4f} {ms:>7.1f}", flush=True)  # fmt: skip
            figure(f"sim study {label}: |bias|, {len(ok)} worlds", abs(err.mean()), "",
                   reference="naive OLS on the treatment", reference_value=abs(naive_bias),
                   note=f"truth {truth.mean():.4g}; {len(reps) - len(ok)} failed")  # fmt: skip
            figure(f"sim study {label}: 95% interval coverage", 100 * cover, "%",
                   target="≈ 95%", note=f"RMSE {np.sqrt(np.mean(err**2)):.4g}")  # fmt: skip
        n_null = min(args.replicates, 100)
        claims = list(pool.map(false_claims, [(2000 + s,) for s in range(n_null)], chunksize=4))
    raw = np.mean([c[0] for c in claims])
    checked = np.mean([c[1] for c in claims])
    print(
        f"\nnull effect, {n_null} worlds: interval excludes 0 in {raw:.1%} (nominal 5%); "
        f"claimed as supported after the checks in {checked:.1%}"
    )
    figure(f"null effect claimed supported after the checks, {n_null} worlds", 100 * checked, "%",
           reference="interval alone excludes 0", reference_value=100 * raw, target="≤ 5%",
           met=checked <= 0.05)  # fmt: skip


if __name__ == "__main__":
    main()
