"""Data subsets: re-estimate on random subsets of units (or clusters); the estimates should
agree with the full one within the sampling error a subset has."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator

from ._reestimate import (
    DEFAULT_SIMULATIONS,
    first_error,
    is_single_series,
    not_applicable,
    reestimate,
)
from .verdicts import subset_verdict


def data_subset_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    rng: np.random.Generator,
    fraction: float = 0.8,
) -> Check:
    """Re-estimate on random subsets; they should agree with the full estimate within sampling error.

    Units (panel) or clusters are sampled whole, stratified by treatment so each subset keeps
    treated and control. A subset of share f differs from the full-sample estimate with SD
    ``SE·√(1/f − 1)``, and independent subsets' deviations are nearly uncorrelated, so the mean
    subset estimate should lie within sampling error of the full one, and the subset estimates
    should scatter no more than ``MAX_SUBSET_DISPERSION`` times that SD.
    """
    name = "Data subsets"
    kind = CheckKind.DATA_SUBSET
    if (skipped := not_applicable(name, kind, estimate)) is not None:
        return skipped
    if is_single_series(frame, spec):
        return Check(
            name,
            kind,
            CheckOutcome.SKIPPED,
            "A single time series cannot lose random periods without breaking the series.",
        )
    if not (np.isfinite(estimate.stderr) and estimate.stderr > 0):
        return Check(name, kind, CheckOutcome.SKIPPED, "The estimate has no finite standard error.")
    group = spec.unit or spec.cluster
    keys = (
        frame[group] if group is not None else pd.Series(np.arange(len(frame)), index=frame.index)
    )
    treated_any = frame[spec.treatment].groupby(keys.to_numpy()).max()
    strata = [treated_any.index[treated_any.to_numpy() == v] for v in pd.unique(treated_any)]
    if treated_any.nunique() > 2:  # continuous treatment: no strata
        strata = [treated_any.index]
    effects = []
    errors: list[str] = []
    for _ in range(n_simulations):
        kept = np.concatenate(
            [rng.choice(s, max(1, round(fraction * len(s))), replace=False) for s in strata]
        )
        result = reestimate(estimator, frame[keys.isin(kept).to_numpy()], spec, errors)
        if result is not None:
            effects.append(result.point_estimate)
    return subset_verdict(name, estimate, effects, n_simulations, fraction, first_error(errors))
