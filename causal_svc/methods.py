"""Every estimation method in one table: its estimator, what it identifies and under which
assumptions, which checks say something about it, and the request options it takes.

Identification (:mod:`causal_svc.identification`), the refuters, the sensitivity check, the wire
conversion and the worker preload all read :data:`METHODS`. Adding a method is its estimator
(``estimators/<name>.py``), its :class:`~causal_svc.estimators.result.Method` member and one row
here (with an :class:`Options` subclass when it takes request options); a test fails when a
method has no row.

Estimators are imported on first use, so econml and statsmodels' state-space code load only when
a method that needs them is asked for.
"""

from __future__ import annotations

import enum
import functools
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

import pandas as pd

from causal_svc import limits
from causal_svc.errors import InvalidSpec
from causal_svc.estimators._inference import ClusterInference
from causal_svc.estimators.result import CheckKind, EffectEstimate, EffectSpec, Estimand, Method

__all__ = [
    "METHODS",
    "EstimationOptions",
    "Estimator",
    "Identification",
    "MethodInfo",
    "Options",
    "Placebo",
    "estimator_for",
    "method_info",
]

Estimator = Callable[[pd.DataFrame, EffectSpec], EffectEstimate]

# staggered_did's comparison units (the estimator's ControlGroup literal).
CONTROL_GROUPS = ("never_treated", "not_yet_treated")


class Identification(enum.StrEnum):
    """What licenses reading a method's estimate as causal (the wire's IdentificationKind)."""

    RANDOMIZED = "randomized"
    PARALLEL_TRENDS = "parallel_trends"
    INSTRUMENT = "instrument"
    DISCONTINUITY = "discontinuity"
    BACKDOOR = "backdoor"
    SYNTHETIC_COUNTERFACTUAL = "synthetic_counterfactual"
    NONE = "none"  # an association: nothing in the design rules out confounding


class Placebo(enum.StrEnum):
    """How the placebo-treatment refuter breaks the link between treatment and outcome."""

    REASSIGN_TREATMENT = "reassign_treatment"  # as the design assigned it (dates, clusters, rows)
    SHUFFLE_OUTCOME = "shuffle_outcome"  # IV: a shuffled treatment leaves 2SLS no first stage
    FAKE_CUTOFFS = "fake_cutoffs"  # RDD: placebo thresholds inside each side


# -- request options ---------------------------------------------------------------------------


def _require(ok: bool, message: str, field: str, reason: str | None = None) -> None:
    if not ok:
        raise InvalidSpec(message, field=field, reason=reason)


def _in_range(value: int | None, field: str, low: int, high: int) -> None:
    if value is not None:
        _require(
            low <= value <= high,
            f"{field} {value:,} must be between {low:,} and {high:,}",
            field,
            "OUT_OF_RANGE",
        )


@dataclass(frozen=True, slots=True)
class EstimationOptions:
    """The request's tuning knobs, every one checked here; None means the method's default.

    Built before any data is read, whatever the method, so an out-of-range knob is refused even
    when the chosen method would not use it.
    """

    alpha: float = 0.05
    estimand: Estimand | None = None
    seed: int = 0
    event_study_leads: int | None = None
    event_study_lags: int | None = None
    caliper: float | None = None
    bandwidth: float | None = None
    dml_forest: bool = False
    propensity_trim: float | None = None
    rdd_fuzzy: bool = False
    cluster_inference: str = "auto"
    control_group: str | None = None  # staggered_did's comparison units; None: never-treated

    def __post_init__(self) -> None:
        a = self.alpha
        _require(0 < a < 1 and not math.isnan(a), f"alpha {a} must be in (0, 1)", "alpha")
        window = limits.MAX_EVENT_STUDY_WINDOW
        _in_range(self.event_study_leads, "options.event_study_leads", 0, window)
        _in_range(self.event_study_lags, "options.event_study_lags", 0, window)
        _in_range(self.seed, "options.seed", 0, limits.MAX_SEED)
        if self.caliper is not None:
            _require(
                0 < self.caliper <= limits.MAX_CALIPER,
                f"caliper {self.caliper} must be in (0, {limits.MAX_CALIPER:g}] SDs of the "
                "logit propensity",
                "options.caliper",
            )
        if self.bandwidth is not None:
            _require(
                math.isfinite(self.bandwidth) and self.bandwidth > 0,
                f"bandwidth {self.bandwidth} must be a positive finite number",
                "options.bandwidth",
            )
        _require(
            self.cluster_inference in {c.value for c in ClusterInference},
            f"cluster_inference {self.cluster_inference!r} must be one of "
            + ", ".join(c.value for c in ClusterInference),
            "options.cluster_inference",
        )
        _require(
            self.control_group in (None, *CONTROL_GROUPS),
            f"control_group {self.control_group!r} must be one of " + ", ".join(CONTROL_GROUPS),
            "options.control_group",
        )
        if self.propensity_trim is not None:
            _require(
                0 < self.propensity_trim < 0.5,
                f"propensity_trim {self.propensity_trim} must be in (0, 0.5)",
                "options.propensity_trim",
            )


@dataclass(frozen=True, slots=True)
class Options:
    """The keyword arguments one estimator takes from a request, typed.

    Field names are the estimator's parameter names; a field left None keeps the estimator's
    own default. Subclasses add a method's options and read them in :meth:`from_request`.
    """

    alpha: float = 0.05

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(alpha=request.alpha)

    def kwargs(self) -> dict[str, Any]:
        """The options as estimator keywords, those left at None omitted."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class SeededOptions(Options):
    random_state: int = 0

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(alpha=request.alpha, random_state=request.seed)


@dataclass(frozen=True, slots=True)
class ClusteredOptions(SeededOptions):
    """Clustered inference: CR1, or the wild cluster bootstrap (seeded) with few clusters."""

    cluster_inference: str | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(
            alpha=request.alpha,
            random_state=request.seed,
            cluster_inference=request.cluster_inference,
        )


@dataclass(frozen=True, slots=True)
class EventStudyOptions(ClusteredOptions):
    leads: int | None = None
    lags: int | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(
            alpha=request.alpha,
            random_state=request.seed,
            cluster_inference=request.cluster_inference,
            leads=request.event_study_leads,
            lags=request.event_study_lags,
        )


@dataclass(frozen=True, slots=True)
class StaggeredOptions(ClusteredOptions):
    control_group: str | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(
            alpha=request.alpha,
            random_state=request.seed,
            cluster_inference=request.cluster_inference,
            control_group=request.control_group,
        )


@dataclass(frozen=True, slots=True)
class RddOptions(Options):
    bandwidth: float | None = None
    fuzzy: bool | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(
            alpha=request.alpha, bandwidth=request.bandwidth, fuzzy=request.rdd_fuzzy or None
        )


@dataclass(frozen=True, slots=True)
class MatchingOptions(Options):
    estimand: Estimand | None = None
    caliper: float | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(alpha=request.alpha, estimand=request.estimand, caliper=request.caliper)


def _clipping(request: EstimationOptions) -> dict[str, Any]:
    """A propensity trim t clips the scores to [t, 1 − t]; none keeps the estimator's rule."""
    t = request.propensity_trim
    return {} if t is None else {"trimming": "clip", "clip_bounds": (t, 1 - t)}


@dataclass(frozen=True, slots=True)
class WeightingOptions(Options):
    estimand: Estimand | None = None
    trimming: str | None = None
    clip_bounds: tuple[float, float] | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(alpha=request.alpha, estimand=request.estimand, **_clipping(request))


@dataclass(frozen=True, slots=True)
class AipwOptions(WeightingOptions):
    random_state: int = 0  # the folds of a cross-fitted outcome model

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        return cls(
            alpha=request.alpha,
            estimand=request.estimand,
            random_state=request.seed,
            **_clipping(request),
        )


@dataclass(frozen=True, slots=True)
class DmlOptions(SeededOptions):
    model_y: str | None = None
    model_t: str | None = None

    @classmethod
    def from_request(cls, request: EstimationOptions) -> Self:
        learner = "forest" if request.dml_forest else None
        return cls(alpha=request.alpha, random_state=request.seed, model_y=learner, model_t=learner)


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """One method's facts. ``module`` and ``function`` name its estimator under
    ``causal_svc.estimators``."""

    method: Method
    module: str
    function: str
    estimand: Estimand  # what the estimate answers unless the request names another
    identification: Identification
    assumptions: tuple[str, ...]  # the identifying assumptions a strategy states
    options: type[Options] = Options
    binary_only: bool = False  # needs a 0/1 treatment
    backdoor: bool = False  # adjusts for observed confounders: AUTO may choose it for a graph set
    # A design-based method: its key assumption and the check that probes it. None: it rests on
    # "no unmeasured confounding given covariates", which the sensitivity figures measure.
    design_check: str | None = None
    placebo: Placebo = Placebo.REASSIGN_TREATMENT
    # Refuters that say nothing about this method, with the reason the check reports.
    not_applicable: Mapping[CheckKind, str] = field(default_factory=dict)
    # Keywords for the refuters' re-estimates, which read only the point estimate: what the
    # fit itself needs but a re-estimate does not (a variance's draws) is switched off here.
    refit: Mapping[str, Any] = field(default_factory=dict)
    # A cross-fitted estimator's ``fit_with_reuse`` (in its module): the estimate, and an
    # estimator for the refuters that answers the perturbations its nuisances survive (a
    # placebo treatment, a data subset) from the fit instead of refitting.
    reuse: str | None = None
    # Re-estimates per check where each must refit everything (a random common cause enters
    # every nuisance model): capped so the checks cost about what the fit does.
    check_draws: Mapping[CheckKind, int] = field(default_factory=dict)
    # Has a cluster-robust variance (CR1, t(G − 1)) with roles.cluster but no wild cluster
    # bootstrap: honours options.cluster_inference = cluster_robust, not wild_bootstrap.
    cluster_robust: bool = False

    @property
    def design_based(self) -> bool:
        return self.design_check is not None

    def fit_with_reuse(
        self, options: EstimationOptions
    ) -> Callable[[pd.DataFrame, EffectSpec], tuple[EffectEstimate, Estimator]] | None:
        """The row's ``reuse`` function with the request's options bound (None without one)."""
        if self.reuse is None:
            return None
        module = importlib.import_module(f"causal_svc.estimators.{self.module}")
        kwargs = self.options.from_request(options).kwargs()
        fit = functools.partial(getattr(module, self.reuse), **kwargs)

        def noted(frame: pd.DataFrame, spec: EffectSpec) -> tuple[EffectEstimate, Estimator]:
            estimate, reuse = fit(frame, spec)
            return self._noted(estimate, options, spec), reuse

        return noted

    def estimator(self, options: EstimationOptions, *, refit: bool = False) -> Estimator:
        """The estimator with the request's options bound; ``refit``: as the refuters'
        re-estimates call it (the row's ``refit`` keywords on top)."""
        module = importlib.import_module(f"causal_svc.estimators.{self.module}")
        kwargs = self.options.from_request(options).kwargs()
        if refit:
            kwargs |= self.refit
        fit = functools.partial(getattr(module, self.function), **kwargs)
        if refit:
            return fit

        def noted(frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
            return self._noted(fit(frame, spec), options, spec)

        return noted

    def cluster_inference_warning(self, options: EstimationOptions, spec: EffectSpec) -> str | None:
        """What the request's ``cluster_inference`` asked that this method did not do (None
        when it was honoured). Warned, not refused: AUTO may pick the method after the
        request was made, and the estimate itself is still valid (R11-F4: it was silently
        ignored)."""
        choice = ClusterInference(options.cluster_inference)
        if choice is ClusterInference.AUTO:
            return None
        if issubclass(self.options, ClusteredOptions):
            return None  # the DiD family, difference in means, naive regression
        name = self.method.value
        if self.cluster_robust and spec.cluster:
            if choice is ClusterInference.CLUSTER_ROBUST:
                return None
            return (
                f"options.cluster_inference = {choice.value} was not applied: {name} has no "
                "wild cluster bootstrap; its interval is cluster-robust (CR1) with t(G-1)"
            )
        if self.cluster_robust:
            return (
                f"options.cluster_inference = {choice.value} was not applied: {name} clusters "
                "only with roles.cluster, and none was given"
            )
        return (
            f"options.cluster_inference = {choice.value} was not applied: {name} has no "
            "clustered inference"
        )

    def control_group_warning(self, options: EstimationOptions) -> str | None:
        """A control group asked of a method that has none to choose (AUTO may pick another
        method than staggered_did after the request was made)."""
        if options.control_group is None or issubclass(self.options, StaggeredOptions):
            return None
        return (
            f"options.control_group = {options.control_group} was not applied: only "
            f"staggered_did chooses its comparison units, and {self.method.value} ran"
        )

    def _noted(
        self, estimate: EffectEstimate, options: EstimationOptions, spec: EffectSpec
    ) -> EffectEstimate:
        warnings = [
            w
            for w in (
                self.cluster_inference_warning(options, spec),
                self.control_group_warning(options),
            )
            if w is not None
        ]
        return estimate.with_warnings(warnings) if warnings else estimate


_BACKDOOR_SET = "conditional exchangeability: the adjustment set blocks every backdoor path"

_ROWS = (
    MethodInfo(
        Method.DIFFERENCE_IN_MEANS,
        "difference_in_means",
        "estimate_difference_in_means",
        Estimand.ATE,
        Identification.RANDOMIZED,
        (
            "treatment was assigned at random (or nothing confounds it), so groups are exchangeable",
            "no interference between units (SUTVA)",
        ),
        options=ClusteredOptions,  # the randomisation test's draws; cluster-randomised designs
        binary_only=True,
        not_applicable={
            CheckKind.RANDOM_COMMON_CAUSE: "A difference in means does not adjust for "
            "covariates, so adding one cannot move it.",
        },
    ),
    MethodInfo(
        Method.DID,
        "did",
        "estimate_did",
        Estimand.ATT,
        Identification.PARALLEL_TRENDS,
        (
            "parallel trends: without treatment, treated and control outcomes would have moved together",
            "no anticipation of treatment before it starts",
        ),
        options=ClusteredOptions,
        design_check="parallel trends (see the pre-trend check)",
        # re-estimates read the point only: no bootstrap draws for them
        refit={"cluster_inference": "cluster_robust"},
    ),
    MethodInfo(
        Method.EVENT_STUDY,
        "event_study",
        "estimate_event_study",
        Estimand.ATT,
        Identification.PARALLEL_TRENDS,
        (
            "parallel trends, checked by leads close to zero",
            "no anticipation of treatment before it starts",
        ),
        options=EventStudyOptions,
        design_check="parallel trends (see the pre-trend leads)",
        refit={"cluster_inference": "cluster_robust"},
    ),
    MethodInfo(
        Method.STAGGERED_DID,
        "staggered_did",
        "estimate_staggered_did",
        Estimand.ATT,
        Identification.PARALLEL_TRENDS,
        (
            "parallel trends for every adoption cohort against never- or not-yet-treated units",
            "no anticipation; treatment stays on once started",
        ),
        options=StaggeredOptions,
        design_check="parallel trends for each cohort (see the pre-trend check)",
        refit={"cluster_inference": "cluster_robust"},
    ),
    MethodInfo(
        Method.IV,
        "iv",
        "estimate_iv",
        Estimand.LATE,
        Identification.INSTRUMENT,
        (
            "relevance: the instrument moves the treatment",
            "exclusion: the instrument affects the outcome only through the treatment",
            "independence: nothing confounds the instrument and the outcome",
            "monotonicity (for a LATE reading): no unit does the opposite of its assignment",
        ),
        design_check="the exclusion restriction (see the weak-instrument and "
        "overidentification checks)",
        placebo=Placebo.SHUFFLE_OUTCOME,
        cluster_robust=True,
    ),
    MethodInfo(
        Method.RDD,
        "rdd",
        "estimate_rdd",
        Estimand.LATE,
        Identification.DISCONTINUITY,
        (
            "continuity: without treatment, the outcome would be smooth across the cutoff",
            "no precise manipulation of the running variable around the cutoff",
        ),
        options=RddOptions,
        design_check="continuity at the cutoff (see the density and placebo-cutoff checks)",
        placebo=Placebo.FAKE_CUTOFFS,
        cluster_robust=True,
        not_applicable={
            # rdd does not adjust for covariates, so the check re-estimated the same number
            # and passed by construction (R27-F4).
            CheckKind.RANDOM_COMMON_CAUSE: "The regression discontinuity estimate does not "
            "adjust for covariates, so adding one cannot move it; continuity at the cutoff is "
            "tested by the density and placebo-cutoff checks.",
        },
    ),
    MethodInfo(
        Method.MATCHING,
        "matching",
        "estimate_matching",
        Estimand.ATT,
        Identification.BACKDOOR,
        (_BACKDOOR_SET, "overlap: comparable controls exist for treated units"),
        options=MatchingOptions,
        binary_only=True,
        backdoor=True,
    ),
    MethodInfo(
        Method.IPW,
        "weighting",
        "estimate_ipw",
        Estimand.ATE,
        Identification.BACKDOOR,
        (_BACKDOOR_SET, "overlap and a correctly specified propensity model"),
        options=WeightingOptions,
        binary_only=True,
        backdoor=True,
        cluster_robust=True,
    ),
    MethodInfo(
        Method.AIPW,
        "weighting",
        "estimate_aipw",
        Estimand.ATE,
        Identification.BACKDOOR,
        (
            _BACKDOOR_SET,
            "overlap: every unit could have been treated or not given its covariates",
        ),
        options=AipwOptions,
        binary_only=True,
        backdoor=True,
        reuse="fit_with_reuse",
        check_draws={CheckKind.RANDOM_COMMON_CAUSE: 1},
        cluster_robust=True,
    ),
    MethodInfo(
        Method.SYNTHETIC_CONTROL,
        "synthetic_control",
        "estimate_synthetic_control",
        Estimand.ATT,
        Identification.SYNTHETIC_COUNTERFACTUAL,
        (
            "a weighted mix of untreated donors reproduces the treated unit's untreated path",
            "donors are unaffected by the treatment (no spillover)",
        ),
        design_check="the donor fit (see the pre-period fit and permutation checks)",
        not_applicable={
            CheckKind.RANDOM_COMMON_CAUSE: "Synthetic control builds its counterfactual from "
            "donor outcomes, not from covariate adjustment; a random predictor says nothing "
            "about it.",
        },
    ),
    MethodInfo(
        Method.SDID,
        "sdid",
        "estimate_sdid",
        Estimand.ATT,
        Identification.PARALLEL_TRENDS,
        (
            "weighted parallel trends: without treatment, treated units would have moved with "
            "the unit-weighted controls",
            "no anticipation of treatment before it starts; no spillovers to the controls",
        ),
        options=SeededOptions,
        design_check="weighted parallel trends (see the in-time placebo check)",
        refit={"variance": "none"},
    ),
    MethodInfo(
        Method.DML,
        "dml",
        "estimate_dml",
        Estimand.ATE,
        Identification.BACKDOOR,
        (
            _BACKDOOR_SET,
            "overlap; nuisance models learn the outcome and treatment fast enough",
        ),
        options=DmlOptions,
        backdoor=True,
        reuse="fit_with_reuse",
        check_draws={CheckKind.RANDOM_COMMON_CAUSE: 1},
    ),
    MethodInfo(
        Method.BSTS,
        "bsts",
        "estimate_bsts",
        Estimand.ATT,
        Identification.SYNTHETIC_COUNTERFACTUAL,
        (
            "the control series are unaffected by the treatment",
            "their pre-period relation to the outcome holds after the intervention",
        ),
        design_check="stable control series (see the pre-period fit check)",
        # re-estimates read the point only: no draws over the variance parameters for them
        refit={"parameter_uncertainty": False},
    ),
    MethodInfo(
        Method.NAIVE_REGRESSION,
        "naive",
        "estimate_naive_regression",
        Estimand.ATE,
        Identification.NONE,
        (_BACKDOOR_SET, "a linear effect of the treatment"),
        options=ClusteredOptions,
        backdoor=True,
        refit={"cluster_inference": "cluster_robust"},
    ),
)

METHODS: Mapping[Method, MethodInfo] = {row.method: row for row in _ROWS}


def method_info(method: Method) -> MethodInfo:
    """The table row of ``method``; AUTO has none (it is resolved to a method first)."""
    if method not in METHODS:
        raise InvalidSpec(
            f"method {method.value} has no estimator; choose one or use auto", field="method"
        )
    return METHODS[method]


def estimator_for(method: Method, options: EstimationOptions) -> Estimator:
    """The estimator for ``method`` with the request's options bound."""
    return method_info(method).estimator(options)
