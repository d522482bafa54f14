"""Placebo cutoffs for a regression discontinuity: fake thresholds inside each side of the real
one should show no jump."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator

from ._reestimate import DEFAULT_SIMULATIONS, first_error, not_applicable, reestimate
from .verdicts import fixed_placebo_verdict


def placebo_cutoff_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
) -> Check:
    """RDD placebo: fake cutoffs inside each side of the real one should show no jump.

    Fake cutoffs sit at evenly spaced quantiles (25%–75%) of the running variable on each side,
    each estimated on that side's data only, so the real discontinuity never enters
    (Cattaneo, Idrobo & Titiunik 2020, §5.2). The treatment is set to the fake-cutoff indicator.
    FAILED when the placebo jumps are jointly significant (Simes' test at ``EXCESS_LEVEL``);
    PASSED when none stands out and the real jump is significant.
    """
    name = "Placebo cutoffs"
    if (skipped := not_applicable(name, CheckKind.PLACEBO_TREATMENT, estimate)) is not None:
        return skipped
    if spec.running_variable is None or spec.cutoff is None:
        return Check(
            name,
            CheckKind.PLACEBO_TREATMENT,
            CheckOutcome.SKIPPED,
            "No running variable and cutoff.",
        )
    running = spec.running_variable
    r = frame[running]
    per_side = max(1, math.ceil(n_simulations / 2))
    results: list[EffectEstimate] = []
    errors: list[str] = []
    tried = 0
    ranges: list[str] = []
    for side, where in ((frame[r < spec.cutoff], "below"), (frame[r >= spec.cutoff], "above")):
        values = side[running]
        cutoffs: np.ndarray = (
            np.unique(np.quantile(values, np.linspace(0.25, 0.75, per_side)))
            if len(side)
            else np.empty(0)
        )
        if len(cutoffs):
            ranges.append(f"{cutoffs[0]:.4g} to {cutoffs[-1]:.4g} {where} it")
        for c in cutoffs:
            tried += 1
            fake = side.assign(
                **{spec.treatment: (values >= c).astype(frame[spec.treatment].dtype)}
            )
            result = reestimate(estimator, fake, replace(spec, cutoff=float(c)), errors)
            if result is not None:
                results.append(result)
    how = (
        f"at placebo cutoffs of {running} inside each side of the real cutoff {spec.cutoff:g} "
        f"({'; '.join(ranges)}), each side's data only" + first_error(errors)
    )
    return fixed_placebo_verdict(name, estimate, results, how, tried, "fake cutoffs")
