"""Refutation checks run on every estimate: try to break it, and say in words whether it broke.

DoWhy's refuters (placebo treatment, random common cause, data subset) plus the sensitivity
check, one module each, with three changes:

- every interpretation says which direction of its p-value is good;
- every perturbation respects the design the method rests on (:mod:`causal_svc.methods` says
  which placebo a method takes and which checks say nothing about it);
- the verdicts are tests with stated levels (:mod:`.verdicts`).

Refuters re-run the estimator (``n_simulations`` times each), so they cost a multiple of one
estimate; the default is small, and every draw is seeded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import Check, CheckKind, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator, Placebo, method_info
from causal_svc.sensitivity import sensitivity_figures

from ._reestimate import DEFAULT_SIMULATIONS
from .data_subset import data_subset_check
from .placebo import placebo_check
from .placebo_cutoff import placebo_cutoff_check
from .random_common_cause import random_common_cause_check
from .sensitivity import sensitivity_check

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_SIMULATIONS",
    "REFUTERS",
    "Estimator",
    "Refutation",
    "data_subset_check",
    "placebo_check",
    "placebo_cutoff_check",
    "random_common_cause_check",
    "run_checks",
    "sensitivity_check",
]

DEFAULT_KINDS = (
    CheckKind.PLACEBO_TREATMENT,
    CheckKind.RANDOM_COMMON_CAUSE,
    CheckKind.DATA_SUBSET,
    CheckKind.SENSITIVITY,
)


@dataclass(frozen=True, slots=True)
class Refutation:
    """One estimate under test, and how hard to push it."""

    estimator: Estimator
    frame: pd.DataFrame
    spec: EffectSpec
    estimate: EffectEstimate
    n_simulations: int
    subset_fraction: float
    rcc_tolerance: float

    @property
    def subject(self) -> tuple[Estimator, pd.DataFrame, EffectSpec, EffectEstimate]:
        """The leading arguments every refuter takes."""
        return self.estimator, self.frame, self.spec, self.estimate


def _placebo(r: Refutation, rng: np.random.Generator) -> tuple[Check, dict[str, float]]:
    if r.spec.running_variable is not None or (
        method_info(r.estimate.method).placebo is Placebo.FAKE_CUTOFFS
    ):
        return placebo_cutoff_check(*r.subject, n_simulations=r.n_simulations), {}
    return placebo_check(*r.subject, n_simulations=r.n_simulations, rng=rng), {}


def _random_common_cause(r: Refutation, rng: np.random.Generator) -> tuple[Check, dict[str, float]]:
    n, tolerance = r.n_simulations, r.rcc_tolerance
    return random_common_cause_check(*r.subject, n_simulations=n, rng=rng, tolerance=tolerance), {}


def _data_subset(r: Refutation, rng: np.random.Generator) -> tuple[Check, dict[str, float]]:
    n, fraction = r.n_simulations, r.subset_fraction
    return data_subset_check(*r.subject, n_simulations=n, rng=rng, fraction=fraction), {}


def _sensitivity(r: Refutation, rng: np.random.Generator) -> tuple[Check, dict[str, float]]:
    """The check, and the figures themselves for estimates that rest on no unmeasured
    confounding (they are meaningless for design-based methods)."""
    if method_info(r.estimate.method).design_based:
        return sensitivity_check(r.estimate, frame=r.frame, spec=r.spec), {}
    figures = sensitivity_figures(r.estimate, frame=r.frame, spec=r.spec)
    check = sensitivity_check(r.estimate, frame=r.frame, spec=r.spec, figures=figures)
    return check, figures.as_statistics()


# Check kind → refuter: the check, and statistics it adds to the estimate.
REFUTERS: Mapping[
    CheckKind, Callable[[Refutation, np.random.Generator], tuple[Check, dict[str, float]]]
] = {
    CheckKind.PLACEBO_TREATMENT: _placebo,
    CheckKind.RANDOM_COMMON_CAUSE: _random_common_cause,
    CheckKind.DATA_SUBSET: _data_subset,
    CheckKind.SENSITIVITY: _sensitivity,
}


def run_checks(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    random_state: int = 0,
    kinds: Collection[CheckKind] = DEFAULT_KINDS,
    subset_fraction: float = 0.8,
    rcc_tolerance: float = 0.5,
    draws: Mapping[CheckKind, int] | None = None,
) -> EffectEstimate:
    """``estimate`` with the requested refutation and sensitivity checks appended.

    Parameters
    ----------
    estimator : callable ``(frame, spec) -> EffectEstimate``
        The estimator that produced ``estimate`` (options bound, e.g. with ``functools.partial``).
    frame : DataFrame, shape (n_rows, n_columns)
    spec : EffectSpec
    estimate : EffectEstimate
    n_simulations : int
        Re-estimates per refuter (cost: up to 3 × ``n_simulations`` estimator calls).
    random_state : int
        Each check draws from its own stream derived from ``random_state``, so adding a check
        does not change another's draws.
    kinds : collection of CheckKind
        Any of PLACEBO_TREATMENT, RANDOM_COMMON_CAUSE, DATA_SUBSET, SENSITIVITY.
    subset_fraction : float
        Share of rows (units, clusters) kept in each data subset.
    rcc_tolerance : float
        Largest mean move, in standard errors, allowed when a random covariate is added.
    draws : mapping of CheckKind to int, optional
        Caps on ``n_simulations`` per check (the method table's ``check_draws``: checks whose
        every re-estimate refits a cross-fitted model).

    Returns
    -------
    EffectEstimate
        With the checks appended and the sensitivity figures in ``statistics``.
    """
    if n_simulations < 1:
        raise InvalidSpec("n_simulations must be at least 1", field="n_simulations")
    if not 0 < subset_fraction < 1:
        raise InvalidSpec("subset_fraction must lie in (0, 1)", field="subset_fraction")
    refutation = Refutation(
        estimator, frame, spec, estimate, n_simulations, subset_fraction, rcc_tolerance
    )
    checks: list[Check] = []
    statistics = dict(estimate.statistics)
    for kind in kinds:
        if kind not in REFUTERS:
            raise InvalidSpec(f"{kind.value} is not a refutation check", field="checks")
        rng = np.random.default_rng([random_state, list(CheckKind).index(kind)])
        cap = (draws or {}).get(kind)
        this = (
            refutation
            if cap is None
            else replace(refutation, n_simulations=min(cap, n_simulations))
        )
        check, added = REFUTERS[kind](this, rng)
        checks.append(check)
        statistics.update(added)
    return replace(estimate.with_checks(checks), statistics=statistics)
