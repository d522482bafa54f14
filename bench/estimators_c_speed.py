"""Speed of synthetic control, DML and BSTS against their reference libraries, same data.

    OPENBLAS_NUM_THREADS=1 python bench/estimators_c_speed.py [--full] [--placebo] [--coverage]

Each line prints our time, the reference's, the ratio (ours / reference) and the estimates.
``--full`` adds the 50-donor, 10-predictor Texas fit (pysyncon takes ~45 s);
``--placebo`` times pysyncon's PlaceboTest (one worker; ~5 min) against our estimator;
``--coverage`` runs replicate studies of interval coverage (~2 min).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._figures import figure
from causal_svc.estimators._dml_design import design_matrix
from causal_svc.estimators._synth_weights import fit_synth
from causal_svc.estimators.bsts import estimate_bsts
from causal_svc.estimators.dml import estimate_dml
from causal_svc.estimators.result import EffectSpec
from causal_svc.estimators.synthetic_control import estimate_synthetic_control

R = TypeVar("R")
PRE = list(range(1985, 1994))
POST = list(range(1994, 2001))


def timed(fn: Callable[[], R], repeat: int = 3) -> tuple[float, R]:
    """Median wall time in ms over ``repeat`` runs, and the last result."""
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), out


def line(label: str, ours_ms: float, ref_ms: float, extra: str = "") -> None:
    print(
        f"  {label:<44} ours {ours_ms:9.1f} ms  ref {ref_ms:9.1f} ms  "
        f"ratio {ours_ms / ref_ms:6.2f}  {extra}"
    )
    figure(label, ours_ms, "ms", reference="reference library, same data", reference_value=ref_ms)


# --- synthetic control -------------------------------------------------------------------


def texas_panel(n_donors: int) -> pd.DataFrame:
    from causaldata import texas

    data = texas.load_pandas().data
    means = data[data["year"].isin(PRE)].groupby("state")["bmprison"].mean()
    keep = means.sort_values(ascending=False).index[: n_donors + 1]
    panel = data[data["state"].isin(keep)].copy()
    panel["expansion"] = ((panel["state"] == "Texas") & (panel["year"] >= 1994)).astype(int)
    return panel.reset_index(drop=True)


def bench_scm(n_donors: int, covariates: list[str], lags: list[int], placebo: bool) -> None:
    from pysyncon import Dataprep, Synth

    panel = texas_panel(n_donors)
    donors = [s for s in panel["state"].unique() if s != "Texas"]
    prep = Dataprep(
        foo=panel,
        predictors=covariates,
        predictors_op="mean",
        dependent="bmprison",
        unit_variable="state",
        time_variable="year",
        treatment_identifier="Texas",
        controls_identifier=donors,
        time_predictors_prior=PRE,
        time_optimize_ssr=PRE,
        special_predictors=[("bmprison", [y], "mean") for y in lags],
    )
    wide = panel.pivot(index="year", columns="state", values="bmprison")
    X = pd.concat(
        [panel[panel["year"].isin(PRE)].groupby("state")[covariates].mean().T, wide.loc[lags]]
    )

    def ours_fit():
        return fit_synth(
            wide.loc[PRE, donors].to_numpy(),
            wide.loc[PRE, "Texas"].to_numpy(),
            X[donors].to_numpy(),
            X["Texas"].to_numpy(),
        )

    def ref_fit():
        synth = Synth()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synth.fit(prep)
        return synth

    ours_ms, fit = timed(ours_fit, repeat=5)
    ref_ms, synth = timed(ref_fit, repeat=1 if n_donors > 20 else 3)
    ours_att = float((wide["Texas"] - wide[donors].to_numpy() @ fit.weights).loc[POST].mean())
    ref_att = float(synth.att(POST)["att"])
    w_diff = float(np.abs(fit.weights - synth.W).max())
    line(
        f"SCM one nested fit, {n_donors} donors, {len(covariates) + len(lags)} predictors",
        ours_ms,
        ref_ms,
        f"ATT {ours_att:,.0f} vs {ref_att:,.0f} ({ours_att / ref_att - 1:+.1%}); "
        f"pre-MSPE {fit.pre_mspe:,.0f} vs {synth.loss_V:,.0f}; max|ΔW| {w_diff:.3f}",
    )
    spec = EffectSpec(
        outcome="bmprison",
        treatment="expansion",
        unit="state",
        time="year",
        covariates=tuple(covariates),
    )
    full_ms, est = timed(
        lambda: estimate_synthetic_control(panel, spec, alpha=0.1, lagged_outcomes=lags),
        repeat=1,
    )
    print(
        f"  {'  estimate_synthetic_control (+ placebos)':<44} ours {full_ms:9.1f} ms  "
        f"ATT {est.point_estimate:,.0f}  p {est.pvalue:.3f}  CI(90%) "
        f"[{est.ci_lower:,.0f}, {est.ci_upper:,.0f}]"
    )
    if placebo:
        from pysyncon.utils import PlaceboTest

        def ref_placebo():
            test = PlaceboTest()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                test.fit(prep, Synth(), max_workers=1, verbose=False)
            return test

        ref_ms, test = timed(ref_placebo, repeat=1)
        # pysyncon counts placebos only: p = #{ratio_j >= ratio_1} / J; ADH add the treated unit.
        ref_p = float(test.pvalue(treatment_time=POST[0]))
        line(
            "SCM placebo-in-space (pysyncon PlaceboTest)",
            full_ms,
            ref_ms,
            f"p ours {est.pvalue:.3f} (ADH, /(J+1)) vs pysyncon {ref_p:.3f} (/J)",
        )


# --- DML ---------------------------------------------------------------------------------


def bench_dml() -> None:
    from causaldata import nhefs_complete
    from econml.dml import CausalForestDML, LinearDML
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.model_selection import StratifiedKFold

    data = nhefs_complete.load_pandas().data
    covs = [
        "sex",
        "race",
        "age",
        "education",
        "smokeintensity",
        "smokeyrs",
        "exercise",
        "active",
        "wt71",
    ]
    # The same encoding as the estimator, so both sides see identical matrices.
    W, _ = design_matrix(data, covs, "covariates", drop_first=True)
    X, _ = design_matrix(data, ["sex", "age"], "effect_modifiers", drop_first=False)
    Y, T = data["wt82_71"].to_numpy(), data["qsmk"].to_numpy()
    gbm = {"n_estimators": 100, "max_depth": 2, "learning_rate": 0.05, "subsample": 0.8}

    def direct(with_forest: bool):
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        est = LinearDML(
            model_y=GradientBoostingRegressor(**gbm, random_state=0),
            model_t=GradientBoostingClassifier(**gbm, random_state=0),
            discrete_treatment=True,
            cv=folds,
            random_state=0,
        )
        est.fit(Y, T, X=None, W=W)
        ate = est.ate_inference(T0=0.0, T1=1.0)
        out = [float(ate.mean_point), float(ate.stderr_mean)]
        if with_forest:
            forest = CausalForestDML(
                model_y=GradientBoostingRegressor(**gbm, random_state=0),
                model_t=GradientBoostingClassifier(**gbm, random_state=0),
                discrete_treatment=True,
                cv=folds,
                n_estimators=200,
                random_state=0,
                n_jobs=1,
            )
            forest.fit(Y, T, X=X, W=W)
            for mask in (X[:, 0] == 1, X[:, 1] == 1):
                forest.ate_inference(X=X[mask], T0=0.0, T1=1.0)
        return out

    direct(False)  # warm econml's imports and numba caches for both sides
    spec = EffectSpec(outcome="wt82_71", treatment="qsmk", covariates=tuple(covs))
    ours_ms, est = timed(lambda: estimate_dml(data, spec))
    ref_ms, ref = timed(lambda: direct(False))
    line(
        "DML ATE, NHEFS n=1566 (LinearDML direct)",
        ours_ms,
        ref_ms,
        f"ATE {est.point_estimate:.3f} ({est.stderr:.3f}) vs {ref[0]:.3f} ({ref[1]:.3f})",
    )
    spec_x = EffectSpec(
        outcome="wt82_71",
        treatment="qsmk",
        covariates=tuple(covs),
        effect_modifiers=("sex", "age"),
    )
    ours_ms, est = timed(lambda: estimate_dml(data, spec_x), repeat=2)
    ref_ms, _ = timed(lambda: direct(True), repeat=2)
    line(
        "DML ATE + forest CATE by sex/age segments",
        ours_ms,
        ref_ms,
        f"{len(est.coefficients)} segments",
    )


# --- BSTS --------------------------------------------------------------------------------


def _daily(seed: int, effect: float, n_pre: int = 140, n_post: int = 28) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_pre + n_post
    c1 = 50 + np.cumsum(rng.normal(size=n))
    c2 = 20 + 3 * np.sin(np.arange(n) / 9) + rng.normal(scale=0.5, size=n)
    weekly = np.tile([0, 1.5, 2.0, 1.0, 0.5, -2.0, -3.0], n // 7 + 1)[:n]
    post = (np.arange(n) >= n_pre).astype(int)
    level = np.cumsum(rng.normal(scale=0.3, size=n))
    y = 10 + level + weekly + 0.8 * c1 + 1.5 * c2 + rng.normal(scale=0.7, size=n) + effect * post
    return pd.DataFrame({"t": np.arange(n), "y": y, "post": post, "c1": c1, "c2": c2})


def bench_bsts() -> None:
    import statsmodels.api as sm
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    m = sm.datasets.macrodata.load_pandas().data
    post = (np.arange(len(m)) >= len(m) - 20).astype(int)
    macro = pd.DataFrame(
        {
            "t": np.arange(len(m)),
            "y": np.log(m["realcons"]) + 0.03 * post,
            "post": post,
            "gdp": np.log(m["realgdp"]),
            "income": np.log(m["realdpi"]),
        }
    )
    cases = [
        ("BSTS macrodata, 2 controls, 183+20 q", macro, ("gdp", "income"), None),
        ("BSTS daily, weekly seasonal, 2 controls", _daily(1, 5.0), ("c1", "c2"), 7),
    ]
    for label, frame, controls, seasonal in cases:
        pre = frame["post"].to_numpy() == 0
        exog = frame[list(controls)].to_numpy()

        def raw(frame=frame, pre=pre, exog=exog, seasonal=seasonal):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = UnobservedComponents(
                    frame["y"].to_numpy()[pre],
                    exog=exog[pre],
                    irregular=True,
                    level=True,
                    stochastic_level=True,
                    seasonal=seasonal,
                    mle_regression=False,
                )
                res = model.fit(disp=False, maxiter=500)
                return res.get_forecast(int((~pre).sum()), exog=exog[~pre])

        spec = EffectSpec(outcome="y", treatment="post", time="t", covariates=controls)
        ours_ms, est = timed(partial(estimate_bsts, frame, spec, seasonal=seasonal))
        ref_ms, fc = timed(raw)
        ref_effect = float(np.mean(frame["y"].to_numpy()[~pre] - fc.predicted_mean))
        line(
            label,
            ours_ms,
            ref_ms,
            f"effect {est.point_estimate:.4g} (SE {est.stderr:.3g}) vs {ref_effect:.4g}",
        )


# --- coverage ----------------------------------------------------------------------------


def coverage() -> None:
    rng = np.random.default_rng(99)
    spec = EffectSpec(outcome="y", treatment="post", time="t")
    reps, covered = 200, 0
    for _ in range(reps):
        y = 100 + np.cumsum(rng.normal(scale=0.5, size=80)) + rng.normal(scale=1.0, size=80)
        frame = pd.DataFrame(
            {"t": np.arange(80), "y": y, "post": (np.arange(80) >= 60).astype(int)}
        )
        est = estimate_bsts(frame, spec)
        covered += est.ci_lower < 0 < est.ci_upper
    print(f"  BSTS local level, no effect: 95% CI covers 0 in {covered}/{reps}")

    spec = EffectSpec(
        outcome="y", treatment="t", covariates=("w1", "w2"), effect_modifiers=("region",)
    )
    hits, total, ate_hits, reps = 0, 0, 0, 20
    for seed in range(reps):
        r = np.random.default_rng(1000 + seed)
        n = 2000
        w1, w2 = r.normal(size=n), r.normal(size=n)
        region = r.choice(["north", "south", "west"], size=n)
        t = r.binomial(1, 1 / (1 + np.exp(-(0.8 * w1 - 0.5 * w2))))
        tau = pd.Series(region).map({"north": 1.0, "south": 2.0, "west": 4.0}).to_numpy()
        y = 2 * w1 + np.sin(w2) + w1 * w2 + tau * t + r.normal(size=n)
        frame = pd.DataFrame({"y": y, "t": t, "w1": w1, "w2": w2, "region": region})
        est = estimate_dml(frame, spec, n_trees=100)
        for row in est.coefficients:
            truth = {"region=north": 1.0, "region=south": 2.0, "region=west": 4.0}[row.name]
            hits += row.ci_lower < truth < row.ci_upper
            total += 1
        ate_hits += (
            est.statistics["forest_ate"] - 1.96 * est.statistics["forest_ate_stderr"]
            < tau.mean()
            < est.statistics["forest_ate"] + 1.96 * est.statistics["forest_ate_stderr"]
        )
    print(f"  DML segment CATE 95% CIs cover truth in {hits}/{total}; forest ATE {ate_hits}/{reps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--placebo", action="store_true")
    parser.add_argument("--coverage", action="store_true")
    args = parser.parse_args()
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; median of repeats")
    print("synthetic control vs pysyncon Synth (Texas prison expansion, Cunningham's Mixtape)")
    bench_scm(15, ["poverty", "income", "black"], [1988, 1990, 1992], placebo=args.placebo)
    if args.full:
        covariates = ["poverty", "income", "alcohol", "aidscapita", "black", "perc1519"]
        bench_scm(50, covariates, [1988, 1990, 1991, 1992], placebo=False)
    print("double ML vs EconML used directly (same learners, same folds)")
    bench_dml()
    print("BSTS vs raw statsmodels UnobservedComponents fit + forecast")
    bench_bsts()
    if args.coverage:
        print("coverage")
        coverage()


if __name__ == "__main__":
    main()
