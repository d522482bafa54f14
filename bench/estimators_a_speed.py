"""Speed of the experiment / DiD-family estimators against their reference libraries.

Run: ``python bench/estimators_a_speed.py`` (CI does not run it). BLAS is pinned to one thread so
the comparison is not a thread-count lottery on a 2-core box. Each line prints our median time,
the reference's median time on the same data, and the ratio (ours / reference; < 1 is faster).
The reference timings include what a user of that library has to do for the same answer
(building dummies, the per-cell regression loop), as noted on each line.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from causaldata import castle, thornton_hiv
from linearmodels import PanelOLS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._figures import figure
from causal_svc.estimators.did import estimate_did
from causal_svc.estimators.difference_in_means import (
    estimate_difference_in_means,
)
from causal_svc.estimators.event_study import estimate_event_study
from causal_svc.estimators.naive import estimate_naive_regression
from causal_svc.estimators.result import EffectSpec
from causal_svc.estimators.staggered_did import estimate_staggered_did


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm caches and imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def report(label: str, ours: Callable[[], object], ref: Callable[[], object], repeats: int) -> None:
    a, b = median_ms(ours, repeats), median_ms(ref, repeats)
    print(f"{label:<58} ours {a:9.2f} ms   ref {b:9.2f} ms   ratio {a / b:6.2f}")
    figure(label, a, "ms", reference="reference library, same data", reference_value=b)


def experiment(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 50.0, n)
    treat = rng.integers(0, 2, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = 20 + 0.9 * pre + 3 * treat + x1 + rng.normal(0, 15, n)
    return pd.DataFrame({"y": y, "t": treat, "pre": pre, "x1": x1, "x2": x2})


def staggered_panel(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = rng.choice([n_periods // 3, n_periods // 2, 2 * n_periods // 3, np.inf], n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(n_periods), n_units)
    g = cohorts[unit]
    on = t >= g
    y = rng.normal(size=n_units)[unit] + 0.1 * t + np.where(on, 1 + 0.1 * (t - g), 0)
    y = y + rng.normal(size=len(t))
    return pd.DataFrame({"unit": unit, "time": t, "d": on.astype(int), "y": y})


def bench_experiments() -> None:
    hiv = thornton_hiv.load_pandas().data.dropna(subset=["got", "any", "villnum", "age"])
    hiv = hiv.reset_index(drop=True)
    spec = EffectSpec(outcome="got", treatment="any")
    x = sm.add_constant(hiv[["any"]].to_numpy(float))
    report(
        f"difference_in_means thornton_hiv n={len(hiv)} vs sm.OLS HC2",
        lambda: estimate_difference_in_means(hiv, spec),
        lambda: sm.OLS(hiv.got.to_numpy(float), x).fit(cov_type="HC2"),
        200,
    )
    big = experiment(200_000)
    spec = EffectSpec(outcome="y", treatment="t", pre_outcome="pre")
    centred = sm.add_constant(np.column_stack([big.t, big.pre - big.pre.mean()]))
    report(
        "difference_in_means CUPED n=200k vs sm.OLS HC2 + centred pre",
        lambda: estimate_difference_in_means(big, spec),
        lambda: sm.OLS(big.y.to_numpy(), centred).fit(cov_type="HC2"),
        10,
    )
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    xc = big[["x1", "x2"]].to_numpy() - big[["x1", "x2"]].to_numpy().mean(axis=0)
    lin = sm.add_constant(np.column_stack([big.t, xc, big.t.to_numpy()[:, None] * xc]))
    report(
        "difference_in_means Lin n=200k vs sm.OLS HC2 interacted",
        lambda: estimate_difference_in_means(big, spec),
        lambda: sm.OLS(big.y.to_numpy(), lin).fit(cov_type="HC2"),
        10,
    )
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2", "pre"))
    xn = sm.add_constant(big[["t", "x1", "x2", "pre"]].to_numpy(float))
    report(
        "naive_regression n=200k, 3 covariates vs sm.OLS HC1",
        lambda: estimate_naive_regression(big, spec),
        lambda: sm.OLS(big.y.to_numpy(), xn).fit(cov_type="HC1"),
        10,
    )


def _lm_twfe(frame: pd.DataFrame, regressors: pd.DataFrame) -> object:
    indexed = frame.set_index(["unit", "time"])
    regressors.index = indexed.index
    return PanelOLS(indexed.y, regressors, entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )


def bench_panels() -> None:
    data = (
        castle.load_pandas()
        .data[["sid", "year", "post", "l_homicide"]]
        .astype({"l_homicide": float})
    )
    data = data.rename(columns={"sid": "unit", "year": "time", "post": "d", "l_homicide": "y"})
    spec = EffectSpec(outcome="y", treatment="d", unit="unit", time="time")
    for name, frame, repeats in [
        ("castle 50x11", data, 50),
        ("sim 2000x40", staggered_panel(2000, 40), 5),
    ]:
        report(
            f"did TWFE {name} vs PanelOLS two-way clustered",
            partial(estimate_did, frame, spec),
            partial(_lm_twfe, frame, frame[["d"]].astype(float)),
            repeats,
        )

        def lead_lag_reference(frame: pd.DataFrame = frame) -> object:
            first = frame[frame.d == 1].groupby("unit").time.min()
            rel = (frame.time - frame.unit.map(first)).clip(-4, 4)
            dummies = pd.DataFrame(
                {f"e{e}": (rel == e).astype(float) for e in range(-4, 5) if e != -1}
            )
            return _lm_twfe(frame, dummies)

        report(
            f"event_study {name} ±4 vs dummies + PanelOLS",
            partial(estimate_event_study, frame, spec, leads=4, lags=4),
            lead_lag_reference,
            repeats,
        )

        def cell_loop(frame: pd.DataFrame = frame) -> list[float]:
            """What a user without R's did writes: one clustered 2×2 OLS per (g, t) cell."""
            first = frame[frame.d == 1].groupby("unit").time.min()
            cohort = frame.unit.map(first)
            out = []
            for g in sorted(first.unique()):
                for t in sorted(frame.time.unique()):
                    base = g - 1 if t >= g else t - 1
                    if base < frame.time.min():
                        continue
                    keep = (cohort.isna() | (cohort == g)) & frame.time.isin([base, t])
                    sub = frame[keep]
                    grp = (cohort[keep] == g).to_numpy(float)
                    post = (sub.time == t).to_numpy(float)
                    x = np.column_stack([np.ones_like(grp), grp, post, grp * post])
                    fit = sm.OLS(sub.y.to_numpy(), x).fit(
                        cov_type="cluster", cov_kwds={"groups": sub.unit.to_numpy()}
                    )
                    out.append(fit.params[3])
            return out

        report(
            f"staggered_did {name} vs per-cell clustered sm.OLS loop",
            partial(estimate_staggered_did, frame, spec),
            cell_loop,
            max(repeats // 5, 3),
        )


if __name__ == "__main__":
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    bench_experiments()
    bench_panels()
