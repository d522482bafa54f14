"""What every refuter shares: re-running the estimator on perturbed data, and reading the data's
shape (a single series) the way the estimators do."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator, method_info
from mesh.runtime.exceptions import LiftosError

# Re-estimates per refuter when the caller does not say: each costs one estimator call.
DEFAULT_SIMULATIONS = 10


def not_applicable(name: str, kind: CheckKind, estimate: EffectEstimate) -> Check | None:
    """A SKIPPED check when the method table says this refuter says nothing about the method."""
    reason = method_info(estimate.method).not_applicable.get(kind)
    return None if reason is None else Check(name, kind, CheckOutcome.SKIPPED, reason)


def reestimate(
    estimator: Estimator, frame: pd.DataFrame, spec: EffectSpec, errors: list[str]
) -> EffectEstimate | None:
    """The estimator's result, or None (the reason appended to ``errors``) when it refuses this
    perturbed data with a domain error or gives a non-finite estimate."""
    try:
        result = estimator(frame, spec)
    except (LiftosError, np.linalg.LinAlgError) as exc:
        errors.append(str(exc))
        return None
    if not np.isfinite(result.point_estimate):
        errors.append("the estimate was not finite")
        return None
    return result


def first_error(errors: list[str]) -> str:
    return f" (first error: {errors[0]})" if errors else ""


def is_single_series(frame: pd.DataFrame, spec: EffectSpec) -> bool:
    """One series over time: no unit, and the treatment is the same for every row of a period."""
    return (
        spec.unit is None
        and spec.time is not None
        and bool((frame.groupby(spec.time)[spec.treatment].nunique() <= 1).all())
    )


def fresh_name(frame: pd.DataFrame, base: str) -> str:
    name = f"_{base}"
    while name in frame.columns:
        name = f"_{name}"
    return name


def like(values: np.ndarray | pd.Series, column: pd.Series) -> pd.Series:
    """``values`` as a column aligned with, and of the same dtype as, ``column``."""
    return pd.Series(np.asarray(values), index=column.index).astype(column.dtype)
