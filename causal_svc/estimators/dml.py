"""Double/debiased machine learning: the ATE (doubly robust scores on the partialling-out
residuals for a binary treatment), CATE by segment with a forest.

Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018), "Double/debiased
machine learning for treatment and structural parameters", Econometrics Journal 21(1); the
causal forest of Athey, Tibshirani & Wager (2019), "Generalized random forests", Annals of
Statistics 47(2). Both through EconML.
"""

from __future__ import annotations

import functools
import math
import warnings as pywarnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from ._dml_design import Segment, design_matrix, segments
from ._inference import coefficient, interval
from ._propensity import fit_propensity
from ._reuse import PartiallingOut, dr_ate, dr_scores, weighted_mean
from ._unused_roles import unused_role_warnings
from .result import (
    Check,
    CheckKind,
    CheckOutcome,
    Coefficient,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from .validate import (
    numeric,
    positive_weights,
    require_columns,
    require_roles,
    require_rows,
    role_field,
)

if TYPE_CHECKING:
    from econml.dml import CausalForestDML

NuisanceModel = Literal["linear", "forest", "gbm"]

ASSUMPTIONS = (
    "Unconfoundedness: given the covariates (and effect modifiers), treatment is as good as "
    "random; every confounder is among them.",
    "Overlap: every covariate profile has treatment variation (for a binary treatment, "
    "propensities away from 0 and 1).",
    "The nuisance models (outcome and treatment given covariates) converge fast enough "
    "(cross-fitted, each faster than n^-1/4) for the final stage to be root-n normal.",
    "A binary treatment's headline is the doubly robust (AIPW) ATE on the cross-fitted "
    "nuisances; the partialling-out (Robinson 1988) coefficient, a treatment-variance-weighted "
    "average of effects that equals the ATE only if the effect is constant, is reported as "
    "statistic partialling_out_estimate.",
    "A continuous treatment's headline is the partialling-out coefficient: the effect per unit "
    "of treatment, assumed linear in it and constant across covariates (under heterogeneity "
    "it is a treatment-variance-weighted average of per-unit effects, not their mean).",
)

_EXTREME_PROPENSITY = 0.05
# At this share of extreme out-of-fold propensities there is no overlap left: refuse.
_NO_OVERLAP = 0.99
# Nuisance learners. Shallow, slow-learning, subsampled boosting fitted both Y and T best out of
# fold on NHEFS, and fastest; sklearn's plain (not Hist) boosting avoids OpenMP
# oversubscription in the single-threaded workers.
_GBM = {"n_estimators": 100, "max_depth": 2, "learning_rate": 0.05, "subsample": 0.8}
_FOREST = {"n_estimators": 100, "min_samples_leaf": 20, "max_features": 0.5, "n_jobs": 1}


@dataclass(frozen=True, slots=True)
class _Data:
    Y: np.ndarray
    T: np.ndarray
    W: np.ndarray
    X: np.ndarray | None
    weights: np.ndarray | None
    binary: bool
    segments: list[Segment]


def estimate_dml(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    model_y: NuisanceModel = "gbm",
    model_t: NuisanceModel = "gbm",
    n_folds: int = 5,
    discrete_treatment: bool | None = None,
    n_bins: int = 4,
    max_categories: int = 10,
    n_trees: int = 200,
    random_state: int = 0,
) -> EffectEstimate:
    """ATE by double machine learning (EconML ``LinearDML``), CATE by segment (``CausalForestDML``).

    Parameters
    ----------
    frame : DataFrame, one row per observation, shape (n, ...)
    spec : EffectSpec
        ``outcome`` (numeric), ``treatment`` (0/1 or continuous), ``covariates`` (controls W,
        required; categorical columns are one-hot encoded), optional ``effect_modifiers`` (X,
        numeric or categorical) and ``weights`` (positive sample weights).
    alpha : float
        Level of every interval.
    model_y, model_t : {"gbm", "forest", "linear"}
        Nuisance learners. ``gbm``: scikit-learn gradient boosting (100 trees of depth 2,
        learning rate 0.05, subsample 0.8); ``forest``: random forest (100 trees, min leaf 20,
        half the features per split); ``linear``: OLS for the outcome and a continuous
        treatment, L2 logistic regression (C = 1, standardised) for a binary one.
    n_folds : int
        Cross-fitting folds (stratified on a binary treatment), shuffled with ``random_state``.
    discrete_treatment : bool, optional
        Treat a 0/1 treatment as discrete (a classifier for ``model_t``). Default: True when
        the treatment is 0/1. ``False`` fits a linear probability model with ``model_t``.
    n_bins : int
        Quantile bins for a numeric effect modifier with more than ``max_categories`` values.
    max_categories : int
        A numeric effect modifier with at most this many distinct values is read as categorical.
    n_trees : int
        Trees in the causal forest (rounded up to a multiple of 4, EconML's subforest size).
    random_state : int
        Seed of the fold split, the nuisance learners and the forest.

    Returns
    -------
    EffectEstimate
        Binary (discrete) treatment: ``point_estimate`` is the doubly robust ATE on
        ``LinearDML``'s cross-fitted residuals (``_reuse.dr_ate``: the AIPW score mean with
        the cross-fitted propensity), ``stderr`` SD(ψ)/sqrt(n), normal CI and p-value.
        Continuous treatment: ``LinearDML``'s partialling-out effect per unit, with EconML's
        HC0 ``stderr`` / CI / p-value. Either way ``estimand`` is ATE.

        - ``statistics``: ``ate`` (the headline), ``partialling_out_estimate`` /
          ``partialling_out_stderr`` (``LinearDML``'s coefficient: the treatment-variance-
          weighted effect), ``outcome_r2_oof`` and ``treatment_r2_oof`` (out-of-fold
          R² of the nuisance models), ``treatment_residual_share`` (out-of-fold residual
          variance / treatment variance), ``n_folds``; binary treatment also
          ``extreme_propensity_share`` (share of out-of-fold propensities outside
          [0.05, 0.95]); with effect modifiers and a discrete treatment ``forest_ate`` and
          ``forest_ate_stderr`` (the forest's doubly robust ATE).
        - ``coefficients``: one row per segment of each effect modifier, named
          ``modifier=value`` or ``modifier in (lo, hi]``. Binary treatment: the segment mean of
          the forest's doubly robust (AIPW) scores with SE = SD / sqrt(n), as GRF's
          ``average_treatment_effect(subset=…)``. Continuous treatment: the segment mean of
          the forest CATEs with EconML's ``ate_inference`` (its ``stderr_mean`` is a
          conservative bound, the root mean of pointwise variances).
        - ``checks``: OVERLAP.

    Raises
    ------
    InvalidSpec
        Missing roles/columns, wrong types, missing values, constant treatment or outcome,
        clustered errors or instruments requested, bad options.
    InsufficientData
        Fewer than 20 rows, a treatment arm smaller than ``n_folds``, or (reason
        PERFECT_SEPARATION) a covariate that separates a 0/1 treatment's arms by itself, or
        out-of-fold propensities at 0 or 1 for at least 99% of rows.
    SingularDesign
        The covariates predict the treatment (almost) exactly out of fold, or a covariate is a
        linear function of a continuous treatment.

    Notes
    -----
    Cross-fitted partialling out: ``Y - E[Y|W]`` regressed on ``T - E[T|W]`` without a constant
    (Robinson 1988; Chernozhukov et al. 2018), nuisances fitted on the other folds. With
    ``model_y = model_t = "linear"`` and ``discrete_treatment=False`` this is exactly the
    Frisch–Waugh–Lovell partialling-out regression with cross-fitted OLS residuals. The
    causal forest (Athey, Tibshirani & Wager 2019) uses the same residuals with X as splitting
    variables. For a binary treatment each row's doubly robust score is
    ``ψ = τ̂(X) + (Ỹ − τ̂(X) T̃) T̃ / max(p̂(1 − p̂), 0.01)`` with ``τ̂`` the forest's
    out-of-bag CATE and ``p̂(1 − p̂) = |T̃|(1 − |T̃|)`` from the cross-fitted propensity —
    EconML's own formula for ``ate_``, whose all-rows mean it reproduces; a segment's effect
    and SE are the mean and SD / sqrt(n) of its rows' scores (Athey & Wager 2019,
    "Estimating treatment effects with causal forests: an application").
    """
    return _fit_dml(
        frame,
        spec,
        alpha=alpha,
        model_y=model_y,
        model_t=model_t,
        n_folds=n_folds,
        discrete_treatment=discrete_treatment,
        n_bins=n_bins,
        max_categories=max_categories,
        n_trees=n_trees,
        random_state=random_state,
    )[0]


def fit_with_reuse(
    frame: pd.DataFrame, spec: EffectSpec, **options: Any
) -> tuple[EffectEstimate, Callable[[pd.DataFrame, EffectSpec], EffectEstimate]]:
    """:func:`estimate_dml` and an estimator for the refuters that answers a placebo treatment
    or a data subset from this fit's out-of-fold residuals (:mod:`._reuse`), and refits for
    anything else."""
    return _fit_dml(frame, spec, **options)


def _fit_dml(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    model_y: NuisanceModel = "gbm",
    model_t: NuisanceModel = "gbm",
    n_folds: int = 5,
    discrete_treatment: bool | None = None,
    n_bins: int = 4,
    max_categories: int = 10,
    n_trees: int = 200,
    random_state: int = 0,
) -> tuple[EffectEstimate, PartiallingOut]:
    _check_options(alpha, n_folds, n_bins, max_categories, n_trees)
    warnings = unused_role_warnings(spec, "dml", {"covariates", "effect_modifiers", "weights"})
    data = _prepare(frame, spec, discrete_treatment, n_bins, max_categories, n_folds)

    # econml is slow to import: load it on the first DML call, not at service start.
    from econml.dml import CausalForestDML, LinearDML

    splitter = (
        StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
        if data.binary
        else KFold(n_folds, shuffle=True, random_state=random_state)
    )
    t0, t1 = (0.0, 1.0)
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        linear = LinearDML(
            model_y=_regressor(model_y, random_state),
            model_t=_treatment_model(model_t, data.binary, random_state),
            discrete_treatment=data.binary,
            cv=splitter,
            random_state=random_state,
        )
        linear.fit(data.Y, data.T, X=None, W=data.W, sample_weight=data.weights, cache_values=True)
        ate = linear.ate_inference(T0=t0, T1=t1)
        point = float(np.squeeze(ate.mean_point))
        stderr = float(np.squeeze(ate.stderr_mean))
        lo, hi = (float(np.squeeze(v)) for v in ate.conf_int_mean(alpha=alpha))
        pvalue = float(np.squeeze(ate.pvalue()))
        y_res, t_res, _, _ = linear.residuals_
        y_res, t_res = np.ravel(y_res), np.ravel(t_res)

        statistics, overlap = _first_stage(data, y_res, t_res, spec)
        statistics |= {"partialling_out_estimate": point, "partialling_out_stderr": stderr}
        if data.binary:
            # The partialling-out coefficient weights effects by p(1 − p), not equally: the
            # headline ATE is the doubly robust score mean on the same residuals (R11-F6).
            w = np.ones(len(data.Y)) if data.weights is None else data.weights
            point, stderr = dr_ate(y_res, t_res, w)
            lo, hi, pvalue = interval(point, stderr, alpha)
        statistics["ate"] = point
        statistics["n_folds"] = float(n_folds)
        coefficients: tuple[Coefficient, ...] = ()
        if data.X is not None:
            forest = CausalForestDML(
                model_y=_regressor(model_y, random_state),
                model_t=_treatment_model(model_t, data.binary, random_state),
                discrete_treatment=data.binary,
                cv=splitter,
                n_estimators=4 * math.ceil(n_trees / 4),
                random_state=random_state,
                n_jobs=1,
            )
            forest.fit(
                data.Y,
                data.T,
                X=data.X,
                W=data.W,
                sample_weight=data.weights,
                cache_values=True,
            )
            coefficients = _segment_effects(forest, data, alpha, t0, t1)
            if data.binary:
                statistics["forest_ate"] = float(np.squeeze(forest.ate_))
                statistics["forest_ate_stderr"] = float(np.squeeze(forest.ate_stderr_))
    warnings.extend(_library_warnings(caught))

    if not all(map(math.isfinite, (point, stderr, lo, hi, pvalue))) or stderr <= 0:
        raise SingularDesign(
            "the final-stage regression is degenerate (no residual treatment variation)",
            subject=role_field("treatment"),
        )
    n_treated = int((data.T == 1).sum()) if data.binary else None
    estimate = EffectEstimate(
        method=Method.DML,
        estimand=Estimand.ATE,
        point_estimate=point,
        stderr=stderr,
        ci_lower=lo,
        ci_upper=hi,
        pvalue=pvalue,
        nobs=int(data.Y.size),
        alpha=alpha,
        n_treated=n_treated,
        n_control=None if n_treated is None else int(data.Y.size - n_treated),
        assumptions=ASSUMPTIONS,
        statistics=statistics,
        coefficients=coefficients,
        warnings=tuple(warnings),
        checks=(overlap,),
    )
    folds = np.empty(len(data.Y), dtype=np.intp)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(data.Y)), data.T)):
        folds[test] = k
    reuse = PartiallingOut(
        frame=frame,
        spec=spec,
        y_res=y_res,
        t_res=t_res,
        folds=folds,
        weights=np.ones(len(data.Y)) if data.weights is None else data.weights,
        estimand=Estimand.ATE,
        method=Method.DML,
        alpha=alpha,
        fallback=functools.partial(
            estimate_dml, alpha=alpha, model_y=model_y, model_t=model_t, n_folds=n_folds,
            discrete_treatment=discrete_treatment, n_bins=n_bins,
            max_categories=max_categories, n_trees=n_trees, random_state=random_state,
        ),
        binary=data.binary,
    )  # fmt: skip
    return estimate, reuse


def _check_options(
    alpha: float, n_folds: int, n_bins: int, max_categories: int, n_trees: int
) -> None:
    if not 0 < alpha < 1:
        raise InvalidSpec(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    if n_folds < 2:
        raise InvalidSpec("n_folds must be at least 2", field="n_folds")
    if n_bins < 2:
        raise InvalidSpec("n_bins must be at least 2", field="n_bins")
    if max_categories < 1:
        raise InvalidSpec("max_categories must be positive", field="max_categories")
    if n_trees < 4:
        raise InvalidSpec("n_trees must be at least 4", field="n_trees")


def _prepare(
    frame: pd.DataFrame,
    spec: EffectSpec,
    discrete_treatment: bool | None,
    n_bins: int,
    max_categories: int,
    n_folds: int,
) -> _Data:
    require_roles(spec, "covariates")
    require_columns(frame, spec)
    if spec.cluster:
        raise InvalidSpec(
            "dml reports heteroskedasticity-robust errors only; clustered errors are not "
            "available (remove roles.cluster or use a method that clusters)",
            field=role_field("cluster"),
        )
    if spec.instruments:
        raise InvalidSpec(
            "dml estimates under unconfoundedness; for instruments use the iv method",
            field=role_field("instruments"),
        )
    require_rows(len(frame), 20, "rows")
    Y = numeric(frame, spec.outcome, "outcome")
    T = numeric(frame, spec.treatment, "treatment")
    if np.ptp(T) == 0:
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} is constant: nothing to compare",
            field=role_field("treatment"),
            reason="CONSTANT_TREATMENT",
        )
    if np.ptp(Y) == 0:
        raise InvalidSpec(
            f"outcome column {spec.outcome!r} is constant", field=role_field("outcome")
        )
    is01 = bool(np.isin(T, (0.0, 1.0)).all())
    if discrete_treatment and not is01:
        raise InvalidSpec(
            "discrete_treatment=True needs a 0/1 treatment", field=role_field("treatment")
        )
    binary = is01 if discrete_treatment is None else bool(discrete_treatment)
    if binary:
        smaller = int(min((T == 1).sum(), (T == 0).sum()))
        if smaller < n_folds:
            raise InsufficientData(
                f"treatment arms: the smaller arm has {smaller} rows < {n_folds} folds",
                subject="treatment arms",
            )
    W, w_names = design_matrix(frame, list(spec.covariates), "covariates", drop_first=True)
    _refuse_treatment_proxies(W, w_names, T, binary, spec.treatment)
    X = None
    groups: list[Segment] = []
    if spec.effect_modifiers:
        X, _ = design_matrix(
            frame, list(spec.effect_modifiers), "effect_modifiers", drop_first=False
        )
        groups = segments(frame, list(spec.effect_modifiers), n_bins, max_categories)
    return _Data(Y, T, W, X, positive_weights(frame, spec), binary, groups)


def _refuse_treatment_proxies(
    w: np.ndarray, names: list[str], t: np.ndarray, binary: bool, treatment: str
) -> None:
    """Refuse a covariate that by itself reproduces the treatment.

    A 0/1 treatment that one covariate separates (every treated row on one side of a value,
    every control on the other) has no overlap: the propensity is 0 or 1 everywhere and the
    doubly robust score's clipped denominator manufactures a number with a tiny standard error
    (a copy of the treatment gave 17.6 ± 0.05 where the effect was 0.5; R27-F2). aipw, ipw and
    matching refuse such data; so does dml. A continuous treatment that a covariate equals up
    to scale leaves nothing to identify the effect either.
    """
    for j, name in enumerate(names):
        column = w[:, j]
        if binary:
            treated, control = column[t == 1], column[t == 0]
            if treated.min() > control.max() or treated.max() < control.min():
                side = ">" if treated.min() > control.max() else "<"
                cut = control.max() if side == ">" else control.min()
                raise InsufficientData(
                    f"covariate {name!r} separates treated from control units by itself (every "
                    f"treated row has {name} {side} {cut:g}, no control row does): the "
                    "propensity score is 0 or 1 and there is no overlap to compare. If it is a "
                    f"copy of {treatment!r} or decided by it, drop it from the covariates",
                    subject=role_field("covariates"),
                    reason="PERFECT_SEPARATION",
                )
        elif not binary and np.ptp(column) > 0 and abs(np.corrcoef(column, t)[0, 1]) > 1 - 1e-9:
            raise SingularDesign(
                f"covariate {name!r} is a linear function of the treatment {treatment!r} "
                "(correlation 1): no treatment variation is left once it is adjusted for; drop "
                "it from the covariates",
                subject=role_field("treatment"),  # as the out-of-fold exact-fit refusal
            )
    if binary:
        _refuse_linear_separation(w, t, treatment)


def _refuse_linear_separation(w: np.ndarray, t: np.ndarray, treatment: str) -> None:
    """Refuse covariates that together separate the arms by a hyperplane, as aipw and ipw do
    (their logistic propensity model has no maximum then); constant and linearly dependent
    columns, which the nuisance learners tolerate, are left out of this test."""
    kept = w[:, np.ptp(w, axis=0) > 0]
    if kept.shape[1] == 0:
        return
    centred = kept - kept.mean(axis=0)
    _, r, pivots = linalg.qr(centred, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-10 * diag[0]).sum())
    try:
        fit_propensity(kept[:, np.sort(pivots[:rank])], t)
    except SingularDesign:
        return  # what is left is still degenerate for the logit: the learners decide
    except InsufficientData as exc:
        raise InsufficientData(
            f"the covariates together (almost) perfectly separate treated from control units "
            f"of {treatment!r}: the propensity score is 0 or 1 and there is no overlap to "
            "compare; drop covariates that are decided by the treatment or stand in for it",
            subject=role_field("covariates"),
            reason="PERFECT_SEPARATION",
        ) from exc


def _regressor(name: NuisanceModel, seed: int) -> BaseEstimator:
    if name == "linear":
        return LinearRegression()
    if name == "forest":
        return RandomForestRegressor(**_FOREST, random_state=seed)
    if name == "gbm":
        return GradientBoostingRegressor(**_GBM, random_state=seed)
    raise InvalidSpec(f"unknown nuisance model {name!r}", field="model")


def _treatment_model(name: NuisanceModel, binary: bool, seed: int) -> BaseEstimator:
    if not binary:
        return _regressor(name, seed)
    if name == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name == "forest":
        return RandomForestClassifier(**_FOREST, random_state=seed)
    if name == "gbm":
        return GradientBoostingClassifier(**_GBM, random_state=seed)
    raise InvalidSpec(f"unknown nuisance model {name!r}", field="model")


def _first_stage(
    data: _Data, y_res: np.ndarray, t_res: np.ndarray, spec: EffectSpec
) -> tuple[dict[str, float], Check]:
    """Out-of-fold nuisance fit and the overlap check built from it."""
    share = float(np.mean(t_res**2) / np.var(data.T))
    statistics = {
        "outcome_r2_oof": float(1 - np.mean(y_res**2) / np.var(data.Y)),
        "treatment_r2_oof": 1 - share,
        "treatment_residual_share": share,
    }
    if share < 1e-8:
        raise SingularDesign(
            f"the covariates predict treatment {spec.treatment!r} exactly out of fold: no "
            "residual variation is left to identify the effect",
            subject=role_field("treatment"),
        )
    if data.binary:
        # For a classifier, T_res = 1 - p when T = 1 and -p when T = 0; p̂ in {0, 1} maps to
        # T_res = 0, counted as extreme either way. Order-free, since EconML may reorder rows.
        p = np.where(t_res > 0, 1 - t_res, -t_res)
        extreme = float(np.mean((p < _EXTREME_PROPENSITY) | (p > 1 - _EXTREME_PROPENSITY)))
        statistics["extreme_propensity_share"] = extreme
        if extreme >= _NO_OVERLAP:
            # Nearly every propensity at 0 or 1: the scores' clipped denominator, not the
            # data, would set the estimate (R27-F2); aipw and ipw refuse such data too.
            raise InsufficientData(
                f"the covariates predict treatment {spec.treatment!r} almost exactly: "
                f"{extreme:.1%} of out-of-fold propensities lie outside [{_EXTREME_PROPENSITY}, "
                f"{1 - _EXTREME_PROPENSITY}], so there is no overlap to compare; drop "
                "covariates that are decided by the treatment or stand in for it",
                subject=role_field("covariates"),
                reason="PERFECT_SEPARATION",
            )
        rule = (
            f"{extreme:.1%} of out-of-fold propensities lie outside "
            f"[{_EXTREME_PROPENSITY}, {1 - _EXTREME_PROPENSITY}] (fails above 20%, warns above 5%)"
        )
        if extreme > 0.20:
            outcome, text = (
                CheckOutcome.FAILED,
                f"{rule}: treated and untreated units barely overlap, so the effect rests on "
                "extrapolation by the nuisance models.",
            )
        elif extreme > 0.05:
            outcome, text = (
                CheckOutcome.WARNING,
                f"{rule}: some covariate profiles are almost always (or never) treated; the "
                "estimate leans on few comparable units there.",
            )
        else:
            outcome, text = (
                CheckOutcome.PASSED,
                f"{rule}: treated and untreated units overlap well.",
            )
        check = Check("propensity_overlap", CheckKind.OVERLAP, outcome, text, extreme, None, 0.20)
        return statistics, check
    rule = (
        f"{share:.1%} of the treatment's variance is left after removing what the covariates "
        "predict (fails below 2%, warns below 10%)"
    )
    if share < 0.02:
        outcome, text = (
            CheckOutcome.FAILED,
            f"{rule}: the effect is identified from a sliver of variation and is fragile.",
        )
    elif share < 0.10:
        outcome, text = (
            CheckOutcome.WARNING,
            f"{rule}: little independent treatment variation; intervals may be optimistic.",
        )
    else:
        outcome, text = (
            CheckOutcome.PASSED,
            f"{rule}: enough independent treatment variation to identify the effect.",
        )
    return statistics, Check(
        "treatment_residual_variation", CheckKind.OVERLAP, outcome, text, share, None, 0.02
    )


def _segment_effects(
    forest: CausalForestDML, data: _Data, alpha: float, t0: float, t1: float
) -> tuple[Coefficient, ...]:
    assert data.X is not None
    if data.binary:
        return _dr_segment_effects(forest, data, alpha)
    rows = []
    for seg in data.segments:
        inf = forest.ate_inference(X=data.X[seg.mask], T0=t0, T1=t1)
        lo, hi = (float(np.squeeze(v)) for v in inf.conf_int_mean(alpha=alpha))
        rows.append(
            Coefficient(
                name=seg.name,
                estimate=float(np.squeeze(inf.mean_point)),
                stderr=float(np.squeeze(inf.stderr_mean)),
                ci_lower=lo,
                ci_upper=hi,
                pvalue=float(np.squeeze(inf.pvalue())),
                nobs=int(seg.mask.sum()),
            )
        )
    return tuple(rows)


def forest_dr_scores(forest: CausalForestDML) -> np.ndarray:
    """Doubly robust scores (n,) of a fitted binary-treatment ``CausalForestDML``
    (:func:`._reuse.dr_scores` at its out-of-bag CATE).

    Needs ``fit(..., cache_values=True)``. Rows are in fitting order (EconML keeps it when the
    folds cover every row, as K-fold splits do). NaN where a row was in every tree's subsample.
    """
    y_res, t_res, x_fit, _ = forest.residuals_
    tau = np.ravel(forest.model_cate.oob_predict(x_fit))
    return dr_scores(np.ravel(y_res), np.ravel(t_res), tau)


def _dr_segment_effects(
    forest: CausalForestDML, data: _Data, alpha: float
) -> tuple[Coefficient, ...]:
    psi = forest_dr_scores(forest)
    weights = np.ones_like(psi) if data.weights is None else data.weights
    rows = []
    for seg in data.segments:
        keep = seg.mask & np.isfinite(psi)
        mean, se = weighted_mean(psi[keep], weights[keep])
        row = coefficient(seg.name, mean, se, alpha, nobs=int(keep.sum()))
        if not math.isfinite(row.pvalue):
            raise InsufficientData(
                f"segment {seg.name}: too few rows for an interval", subject="effect_modifiers"
            )
        rows.append(row)
    return tuple(rows)


def _library_warnings(caught: list[pywarnings.WarningMessage]) -> list[str]:
    """Warnings EconML/scikit-learn raised during the fit, once each, minus deprecation noise."""
    keep = []
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            continue
        keep.append(f"{w.category.__name__}: {str(w.message).splitlines()[0]}")
    return list(dict.fromkeys(keep))
