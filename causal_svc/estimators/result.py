"""The one result type every estimator returns, and the role spec every estimator takes.

Vocabulary follows statsmodels' results (``point_estimate``, ``stderr``, ``conf_int``, ``pvalue``,
``nobs``) so a user moving from statsmodels/linearmodels reads it without a glossary; estimates,
checks and coefficient rows all spell it ``pvalue``.
Method-specific output goes in four typed containers rather than a free dict of anything:

- ``statistics``: named scalars (``bandwidth_left``, ``first_stage_f``, ``pre_rmspe`` …),
- ``coefficients``: tables of estimates (event-study leads/lags, group-time ATTs, CATE segments),
- ``series``: time series with optional bands (BSTS pointwise effect, synthetic-control gap),
- ``weights``: named weight vectors (donor weights, predictor weights),
- ``balance``: covariate balance rows (standardised mean differences before/after).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import pandas as pd


class Method(enum.StrEnum):
    """Estimation methods; values match the CLI's ``--method`` names."""

    AUTO = "auto"
    DIFFERENCE_IN_MEANS = "difference_in_means"
    DID = "did"
    EVENT_STUDY = "event_study"
    STAGGERED_DID = "staggered_did"
    IV = "iv"
    RDD = "rdd"
    MATCHING = "matching"
    IPW = "ipw"
    AIPW = "aipw"
    SYNTHETIC_CONTROL = "synthetic_control"
    SDID = "sdid"
    DML = "dml"
    BSTS = "bsts"
    NAIVE_REGRESSION = "naive_regression"


class Estimand(enum.StrEnum):
    ATE = "ate"
    ATT = "att"
    LATE = "late"
    CATE = "cate"


class CheckKind(enum.StrEnum):
    PLACEBO_TREATMENT = "placebo_treatment"
    RANDOM_COMMON_CAUSE = "random_common_cause"
    DATA_SUBSET = "data_subset"
    PRE_TREND = "pre_trend"
    BALANCE = "balance"
    OVERLAP = "overlap"
    SENSITIVITY = "sensitivity"
    WEAK_INSTRUMENT = "weak_instrument"
    OVERIDENTIFICATION = "overidentification"
    DENSITY = "density"
    PRE_PERIOD_FIT = "pre_period_fit"
    PERMUTATION = "permutation"
    CONVERGENCE = "convergence"


class CheckOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the estimate is not supported
    WARNING = "warning"  # worth reading, does not by itself withdraw support
    SKIPPED = "skipped"  # could not run here (says why in ``interpretation``)


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """Which column plays which role. Column names, not data.

    ``treatment`` is a 0/1 (or continuous, for DML/IV) column. For panel methods it marks
    treated unit-periods (1 from the unit's first treated period on). ``pre_outcome`` is the
    CUPED covariate (the outcome before the experiment).
    """

    outcome: str
    treatment: str
    unit: str | None = None
    time: str | None = None
    covariates: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    running_variable: str | None = None
    cutoff: float | None = None
    cluster: str | None = None
    weights: str | None = None
    effect_modifiers: tuple[str, ...] = ()
    pre_outcome: str | None = None
    estimand: Estimand = Estimand.ATE

    def columns(self) -> list[str]:
        """Every column the spec names, once, in a stable order."""
        named = [
            self.outcome,
            self.treatment,
            self.unit,
            self.time,
            *self.covariates,
            *self.instruments,
            self.running_variable,
            self.cluster,
            self.weights,
            *self.effect_modifiers,
            self.pre_outcome,
        ]
        return list(dict.fromkeys(c for c in named if c))


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnostic or refutation, with what its result means in words."""

    name: str
    kind: CheckKind
    outcome: CheckOutcome
    interpretation: str
    statistic: float | None = None
    pvalue: float | None = None
    threshold: float | None = None
    new_effect: float | None = None  # refuters: the effect re-estimated under the perturbation


@dataclass(frozen=True, slots=True)
class Coefficient:
    """One row of a coefficient table (an event-time lead/lag, a group-time ATT, a segment)."""

    name: str
    estimate: float
    stderr: float
    ci_lower: float
    ci_upper: float
    pvalue: float
    nobs: int | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A named series over an index (dates as ISO strings or event times as numbers).

    ``positions`` places the points on a continuous axis (running-variable values, propensity
    scores) when the index only labels them."""

    name: str
    index: tuple[str, ...]
    values: tuple[float, ...]
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None
    positions: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """Covariate balance: standardised mean difference before and after adjustment."""

    covariate: str
    smd_before: float
    smd_after: float
    mean_treated: float
    mean_control: float
    variance_ratio: float | None = None


class IntervalReference(Protocol):
    """A reference distribution that is not t or the normal, kept on the estimate so that
    ``conf_int`` at another level inverts the same test (a permutation test's draws). It must
    compare by value and pickle, as the estimate does (a frozen dataclass)."""

    def interval(self, point: float, alpha: float) -> tuple[float, float]:
        """The interval around ``point`` at level ``alpha``."""
        ...


@dataclass(frozen=True, slots=True)
class EffectEstimate:
    """One causal estimate. Immutable; ``checks`` are appended with :meth:`with_checks`.

    ``df`` names the reference distribution of the estimate's statistic: Student's t with
    ``df`` degrees of freedom, or the standard normal when None (statsmodels' ``use_t``);
    ``reference`` replaces both where the interval inverts another test.
    """

    method: Method
    estimand: Estimand
    point_estimate: float
    stderr: float
    ci_lower: float
    ci_upper: float
    pvalue: float
    nobs: int
    alpha: float = 0.05
    df: float | None = None
    n_treated: int | None = None
    n_control: int | None = None
    assumptions: tuple[str, ...] = ()
    statistics: Mapping[str, float] = field(default_factory=dict)
    coefficients: tuple[Coefficient, ...] = ()
    series: tuple[Series, ...] = ()
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    balance: tuple[BalanceRow, ...] = ()
    warnings: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    reference: IntervalReference | None = None

    @property
    def supported(self) -> bool:
        """False when any check failed or the interval is unbounded (or undefined): the
        estimate must then be reported as not supported. An interval like [-inf, inf] bounds
        nothing, so "supported" beside it read as a claim the data cannot make."""
        bounded = math.isfinite(self.ci_lower) and math.isfinite(self.ci_upper)
        return bounded and not any(c.outcome is CheckOutcome.FAILED for c in self.checks)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is CheckOutcome.FAILED)

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """Interval at ``alpha``: the stored one when alpha matches, else the estimator's
        ``reference`` at ``alpha`` when it left one, else point ± critical value of the
        estimate's reference distribution (t with ``df``, or normal) × stderr."""
        if alpha is None or np.isclose(alpha, self.alpha):
            return (self.ci_lower, self.ci_upper)
        if self.reference is not None:
            return self.reference.interval(self.point_estimate, alpha)
        from ._inference import critical_value  # _inference builds results: import it late

        q = critical_value(alpha, self.df)
        return (self.point_estimate - q * self.stderr, self.point_estimate + q * self.stderr)

    def with_checks(self, checks: Sequence[Check]) -> EffectEstimate:
        return replace(self, checks=(*self.checks, *checks))

    def with_warnings(self, warnings: Sequence[str]) -> EffectEstimate:
        return replace(self, warnings=(*self.warnings, *warnings))

    def summary_frame(self) -> pd.DataFrame:
        """One-row table: estimate, SE, CI, p, n, method, supported."""
        return pd.DataFrame(
            [
                {
                    "method": self.method.value,
                    "estimand": self.estimand.value,
                    "estimate": self.point_estimate,
                    "std_error": self.stderr,
                    "ci_lower": self.ci_lower,
                    "ci_upper": self.ci_upper,
                    "p_value": self.pvalue,
                    "n": self.nobs,
                    "supported": self.supported,
                }
            ]
        )
