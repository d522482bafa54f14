"""Random common cause: add a pure-noise covariate; a sound estimate barely moves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator

from ._reestimate import (
    DEFAULT_SIMULATIONS,
    first_error,
    fresh_name,
    not_applicable,
    reestimate,
)


def random_common_cause_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    rng: np.random.Generator,
    tolerance: float = 0.5,
) -> Check:
    """Add a pure-noise covariate; a sound estimate barely moves.

    ``statistic`` is the systematic move in standard errors: how far the re-estimates' mean lies
    from the estimate beyond what their own scatter explains,
    ``max(0, |mean(d)| - 2·sd(d)·√(1 + 1/K))`` over the K draws' signed moves ``d``. PASSED up to ``tolerance``, WARNING up to twice that,
    FAILED beyond.

    Why not the mean absolute move: the check's null is "noise cannot confound, so each
    re-estimate is the estimate plus whatever the noise injects". For regressions that scatter is
    ~SE/√n and either statistic works; nearest-neighbour matching re-matches on the noisy
    propensity score, so every draw moves by about half an SE in a random direction, and the
    mean absolute move read 1.09 SE ("not supported") on a correctly specified problem. The
    refuter's own draws are its null distribution: their scatter is what the noise does to a
    sound estimate, and the estimate itself is one more such point (its matched sets are one
    configuration of a step function of the propensity model; any perturbation re-draws them),
    so under the null its distance from the draws' mean has sd ≈ sd(d)·√(1 + 1/K) (as DoWhy
    tests the estimate against the refutation distribution). Only a shift beyond ~2 of those
    says the estimate depends on which covariates are included.
    """
    name = "Random common cause"
    kind = CheckKind.RANDOM_COMMON_CAUSE
    if (skipped := not_applicable(name, kind, estimate)) is not None:
        return skipped
    if not (np.isfinite(estimate.stderr) and estimate.stderr > 0):
        return Check(name, kind, CheckOutcome.SKIPPED, "The estimate has no finite standard error.")
    column = fresh_name(frame, "random_common_cause")
    new_spec = replace(spec, covariates=(*spec.covariates, column))
    effects = []
    errors: list[str] = []
    for _ in range(n_simulations):
        noisy = frame.assign(**{column: rng.standard_normal(len(frame))})
        result = reestimate(estimator, noisy, new_spec, errors)
        if result is not None:
            effects.append(result.point_estimate)
    if not effects:
        return Check(
            name,
            kind,
            CheckOutcome.SKIPPED,
            f"Every re-estimate with an added covariate failed{first_error(errors)}.",
        )
    moves = (np.asarray(effects) - estimate.point_estimate) / estimate.stderr
    scatter = float(moves.std(ddof=1)) if len(moves) > 1 else 0.0
    systematic = abs(float(moves.mean()))
    shift = max(0.0, systematic - 2 * scatter * np.sqrt(1 + 1 / len(moves)))
    lead = (
        f"Adding a random covariate (pure noise, so it cannot be a confounder) moved the estimate "
        f"by {systematic:.2f} standard errors on average over {len(effects)} draws "
        f"(new estimates average {np.mean(effects):.4g} against {estimate.point_estimate:.4g}"
        + (
            f"; single draws scatter {scatter:.2f} SE around their mean, "
            f"{shift:.2f} SE of the shift is beyond what that scatter explains)."
            if scatter >= 0.05
            else ")."
        )
    )
    if shift <= tolerance:
        outcome = CheckOutcome.PASSED
        tail = (
            f" The move beyond the draws' own scatter, {shift:.2f} SE, is within the tolerance of "
            f"{tolerance:g} SE: small moves are good."
        )
    elif shift <= 2 * tolerance:
        outcome = CheckOutcome.WARNING
        tail = (
            f" That exceeds the tolerance of {tolerance:g} SE: the estimate is sensitive to which "
            "covariates are included, even irrelevant ones; read it with that in mind."
        )
    else:
        outcome = CheckOutcome.FAILED
        tail = (
            f" That is more than twice the tolerance of {tolerance:g} SE: the estimate depends on "
            "arbitrary modelling choices, not only on the data."
        )
    return Check(
        name,
        kind,
        outcome,
        lead + tail,
        statistic=shift,
        threshold=tolerance,
        new_effect=float(np.mean(effects)),
    )
