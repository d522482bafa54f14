"""Method → estimator, with the request's options bound. Imports are lazy: econml and
statsmodels' state-space code load only when a method that needs them is asked for."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import EffectEstimate, EffectSpec, Estimand, Method

Estimator = Callable[[pd.DataFrame, EffectSpec], EffectEstimate]

_FUNCTIONS: dict[Method, tuple[str, str]] = {
    Method.DIFFERENCE_IN_MEANS: ("difference_in_means", "estimate_difference_in_means"),
    Method.DID: ("did", "estimate_did"),
    Method.EVENT_STUDY: ("event_study", "estimate_event_study"),
    Method.STAGGERED_DID: ("staggered_did", "estimate_staggered_did"),
    Method.IV: ("iv", "estimate_iv"),
    Method.RDD: ("rdd", "estimate_rdd"),
    Method.MATCHING: ("matching", "estimate_matching"),
    Method.IPW: ("weighting", "estimate_ipw"),
    Method.AIPW: ("weighting", "estimate_aipw"),
    Method.SYNTHETIC_CONTROL: ("synthetic_control", "estimate_synthetic_control"),
    Method.DML: ("dml", "estimate_dml"),
    Method.BSTS: ("bsts", "estimate_bsts"),
    Method.NAIVE_REGRESSION: ("naive", "estimate_naive_regression"),
}


@dataclass(frozen=True, slots=True)
class EstimationOptions:
    """The request's tuning knobs; None/0 means the method's default."""

    alpha: float = 0.05
    estimand: Estimand | None = None
    seed: int = 0
    event_study_leads: int | None = None
    event_study_lags: int | None = None
    caliper: float | None = None
    bandwidth: float | None = None
    dml_forest: bool = False
    propensity_trim: float | None = None


def _kwargs(method: Method, options: EstimationOptions) -> dict[str, object]:
    kw: dict[str, object] = {"alpha": options.alpha}
    if method is Method.EVENT_STUDY:
        kw["leads"], kw["lags"] = options.event_study_leads, options.event_study_lags
    elif method is Method.STAGGERED_DID:
        kw["seed"] = options.seed
    elif method is Method.RDD and options.bandwidth is not None:
        kw["bandwidth"] = options.bandwidth
    elif method is Method.MATCHING:
        kw["estimand"] = options.estimand
        if options.caliper is not None:
            kw["caliper"] = options.caliper
    elif method in (Method.IPW, Method.AIPW):
        kw["estimand"] = options.estimand
        if options.propensity_trim is not None:
            t = options.propensity_trim
            if not 0 < t < 0.5:
                raise InvalidSpec(
                    f"propensity_trim {t} must be in (0, 0.5)", field="options.propensity_trim"
                )
            kw["trimming"], kw["clip_bounds"] = "clip", (t, 1 - t)
        if method is Method.AIPW:
            kw["random_state"] = options.seed
    elif method is Method.DML:
        kw["random_state"] = options.seed
        if options.dml_forest:
            kw["model_y"] = kw["model_t"] = "forest"
    return kw


def estimator_for(method: Method, options: EstimationOptions) -> Estimator:
    """The estimator for ``method`` with options bound; AUTO must be resolved first."""
    if method not in _FUNCTIONS:
        raise InvalidSpec(
            f"method {method.value} has no estimator; choose one or use auto", field="method"
        )
    module, name = _FUNCTIONS[method]
    fn = getattr(importlib.import_module(f"causal_svc.estimators.{module}"), name)
    return functools.partial(fn, **_kwargs(method, options))
