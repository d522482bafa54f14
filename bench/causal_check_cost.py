"""Checks at the cost of the fit: the refuters' time against the estimate's own, for the
cross-fitted estimators (DML, AIPW), on 3,000 rows of the simulator's observational scenario.

Per method: the fit alone (``skip_refutation``), the fit with the default checks (placebo
treatment, random common cause, data subsets, sensitivity; 10 re-estimates each), and, as the
reference in the same run, the checks as they ran before (every re-estimate a full refit,
every check at 10 draws). Target (issue 19): checks add at most 2x the fit's time.

Also AIPW with a learner (a cross-fitted gradient-boosting outcome model, a domain option).

Run: PYTHONPATH=.:gen python bench/causal_check_cost.py [--rows 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor

import sim
from bench._figures import figure
from causal_svc.estimators import weighting
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.methods import EstimationOptions, method_info
from causal_svc.refuters import run_checks


def _data(rows: int) -> tuple[pd.DataFrame, EffectSpec]:
    study = sim.study_table(sim.simulate("observational", seed=1, dirt=False))
    frame = study.frame.sample(rows, random_state=0).reset_index(drop=True)
    roles = study.roles
    spec = EffectSpec(
        outcome=roles["outcome"],
        treatment=roles["treatment"],
        covariates=tuple(roles["covariates"]),
    )
    return frame, spec


def _seconds(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _row(name: str, fit_with_reuse: Any, full: Any, caps: Any, frame: pd.DataFrame,
         spec: EffectSpec, repeats: int) -> None:  # fmt: skip
    fit_with_reuse(frame, spec)  # warm: imports, compiled code

    def fit() -> None:
        fit_with_reuse(frame, spec)

    def checked() -> None:
        estimate, refit = fit_with_reuse(frame, spec)
        run_checks(refit, frame, spec, estimate, random_state=0, draws=caps)

    estimate = full(frame, spec)

    def before() -> None:
        run_checks(full, frame, spec, estimate, random_state=0)

    t_fit = _seconds(fit, repeats)
    t_checks = _seconds(checked, repeats) - t_fit
    t_before = _seconds(before, 1)
    print(f"  {name:<34}{t_fit:>8.2f}{t_checks:>10.2f}{t_checks / t_fit:>7.2f}   "
          f"{t_before:>9.2f}{t_before / t_fit:>7.1f}   {t_before / t_checks:>6.1f}x")  # fmt: skip
    figure(f"checks, {name}", t_checks, "s", reference="the fit alone", reference_value=t_fit,
           note=f"before reuse: checks took {t_before:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame, spec = _data(args.rows)
    options = EstimationOptions()
    print(f"== checks vs fit, {len(frame):,} rows, {len(spec.covariates)} covariates, "
          f"median of {args.repeats} (before: every re-estimate a full refit, 10 draws a check)")  # fmt: skip
    print(f"  {'method':<34}{'fit s':>8}{'checks s':>10}{'ratio':>7}   {'before s':>9}"
          f"{'ratio':>7}   speed-up")  # fmt: skip
    for method in (Method.DML, Method.AIPW):
        info = method_info(method)
        label = {Method.DML: "dml (GBM nuisances, 5 folds)",
                 Method.AIPW: "aipw (logit + OLS, the default)"}[method]  # fmt: skip
        with_reuse = info.fit_with_reuse(options)
        _row(label, with_reuse, info.estimator(options), info.check_draws, frame, spec,
             args.repeats)  # fmt: skip
    # AIPW with a learner: a cross-fitted gradient-boosting outcome model (domain option).
    learner = GradientBoostingRegressor(n_estimators=100, max_depth=2, learning_rate=0.05,
                                        subsample=0.8, random_state=0)  # fmt: skip
    aipw = method_info(Method.AIPW)
    _row("aipw (GBM outcome, cross-fitted)",
         functools.partial(weighting.fit_with_reuse, outcome_model=learner),
         functools.partial(weighting.estimate_aipw, outcome_model=learner),
         aipw.check_draws, frame, spec, args.repeats)  # fmt: skip


if __name__ == "__main__":
    main()
