"""Interrupted time series in the manner of CausalImpact, on a structural time-series model.

Brodersen, Gallusser, Koehler, Remy & Scott (2015), "Inferring causal impact using Bayesian
structural time-series models", Annals of Applied Statistics 9(1). The model here is fitted by
maximum likelihood (statsmodels ``UnobservedComponents``) rather than by MCMC.
"""

from __future__ import annotations

import math
import warnings as pywarnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tsa.statespace.mlemodel import MLEResults
from statsmodels.tsa.statespace.structural import UnobservedComponents

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from ._inference import coefficient, critical_value, effect_estimate
from ._time_labels import time_label, time_labels
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
    Series,
)
from .validate import numeric, require_columns, require_roles, role_field

ASSUMPTIONS = (
    "The control series (covariates) are not affected by the intervention.",
    "The relationship between the treated series and the controls, and the structural "
    "components (local level, optional trend and seasonality), hold unchanged from the "
    "pre-period into the post-period: the forecast is the untreated outcome.",
    "No anticipation: the series is unaffected before the first treated period.",
    "Intervals add the variance parameters' uncertainty to the Kalman forecast's: the forecast "
    "is averaged over the variances' posterior under a flat prior on the standard-deviation "
    "scale (importance-sampled around the MLE), so they are wider than the plug-in ones "
    "(statistic plugin_stderr) with short pre-periods; regression coefficients are states with "
    "a diffuse prior, so their uncertainty is included. CausalImpact integrates over the "
    "variances by MCMC, with informative priors, instead.",
)

_LJUNG_BOX_ALPHA = 0.05


def estimate_bsts(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    trend: bool = False,
    seasonal: int | None = None,
    stochastic_seasonal: bool = True,
    maxiter: int = 500,
    parameter_uncertainty: bool = True,
) -> EffectEstimate:
    """Effect of an intervention on one time series, from a structural-model counterfactual.

    Parameters
    ----------
    frame : DataFrame, one row per period of a single series
        Columns named by ``spec``: ``time`` (unique; numbers, datetimes, or text holding
        numbers or dates written ``yyyy-mm-dd``, ``m/d/yyyy`` or ``d/m/yyyy``; text is never
        ordered as text, and dates that read both ways are refused), ``outcome`` (numeric),
        ``treatment`` (0 in the pre-period, 1 from the intervention on) and optional numeric
        ``covariates``: control series observed in both periods.
    spec : EffectSpec
        Needs ``outcome``, ``treatment``, ``time``. ``unit``, if set, must hold one value.
    alpha : float
        Level of the intervals.
    trend : bool
        Local linear trend (a stochastic slope) on top of the local level.
    seasonal : int, optional
        Period of a seasonal component, e.g. 7 for day-of-week effects in daily data.
    stochastic_seasonal : bool
        Let the seasonal pattern drift (statsmodels' default).
    maxiter : int
        Iteration cap of the L-BFGS maximum-likelihood fit.
    parameter_uncertainty : bool
        Add the variance parameters' uncertainty to the intervals (default). False gives the
        plug-in Kalman forecast at the MLE (statsmodels' ``get_forecast``), which under-covers
        with short pre-periods.

    Returns
    -------
    EffectEstimate
        ``point_estimate`` is the average post-period effect (observed − counterfactual),
        ``estimand = ATT``; ``stderr`` its forecast SD, mixed over the variance parameters'
        uncertainty (``plugin_stderr`` in ``statistics``: the SD at the MLE alone); CI and
        two-sided p-value are normal.
        ``n_treated`` / ``n_control`` count post / pre periods.

        - ``statistics``: ``average_effect``, ``average_observed``, ``average_counterfactual``,
          ``cumulative_effect``, ``cumulative_effect_stderr``, ``cumulative_effect_ci_lower``,
          ``cumulative_effect_ci_upper``, ``relative_effect_pct`` (when the counterfactual
          mean is non-zero) with ``relative_effect_ci_lower_pct`` /
          ``relative_effect_ci_upper_pct`` (when its interval excludes zero),
          ``tail_probability`` (one-sided, CausalImpact's convention), ``loglike``, ``aic``,
          ``ljung_box_pvalue``, ``n_pre_periods``, ``n_post_periods`` and one ``sigma2_<name>``
          per fitted variance (``sigma2_irregular``, ``sigma2_level``, …).
        - ``series`` over the post-period: ``counterfactual`` (with prediction interval),
          ``pointwise_effect`` and ``cumulative_effect`` (with intervals); over the whole span
          ``observed``; over the pre-period ``one_step_prediction`` (the filter's one-step-ahead
          prediction with its interval: how well the model tracked the series before the
          intervention; NaN during the diffuse burn-in).
        - ``coefficients``: one row per control series, its regression coefficient at the end
          of the pre-period (filtered state mean and SD).
        - ``checks``: CONVERGENCE (the MLE), PRE_PERIOD_FIT (Ljung–Box on one-step residuals).

    Raises
    ------
    InvalidSpec
        Missing roles/columns, non-numeric values, time text that is not one of the date
        formats (or reads as both m/d and d/m), duplicate times, several units, treatment not
        0…0 1…1, constant treatment (no post-period), bad options.
    InsufficientData
        No pre-period, or fewer pre-periods than the model needs.
    SingularDesign
        A control series is constant or collinear with the others in the pre-period.

    Notes
    -----
    The model (Harvey 1989; Durbin & Koopman 2012) is fitted to the pre-period only, on the
    outcome and controls standardised by their pre-period mean and SD (as CausalImpact does);
    forecasts, variances, coefficients and the log-likelihood are reported on the original
    scale. The counterfactual is the Kalman-filter forecast of the post-period given the pre-period and
    the post-period controls. Forecast errors are correlated across horizons (they share the
    level), so the variance of the average and cumulative effects uses the analytic joint
    forecast-error covariance ``Cov(e_s, e_t) = Z_s T^(s-t) P_t Z_t'`` (plus the irregular
    variance on the diagonal), exact for the linear Gaussian model at the fitted parameters.
    The relative effect's interval maps the counterfactual mean's interval through
    ``ȳ / c − 1``, which is monotone in ``c`` when that interval excludes zero.
    """
    if not 0 < alpha < 1:
        raise InvalidSpec(f"alpha must be in (0, 1), got {alpha}", field="alpha")
    if seasonal is not None and seasonal < 2:
        raise InvalidSpec("seasonal must be a period of at least 2", field="seasonal")
    warnings = unused_role_warnings(spec, "bsts", {"unit", "time", "covariates"})
    times, y, X, n_pre, read_as = _prepare(frame, spec)
    if read_as:
        warnings.append(read_as)
    n_post = y.size - n_pre
    k_exog = 0 if X is None else X.shape[1]
    minimum = 3 + int(trend) + (2 * seasonal if seasonal else 0) + k_exog
    if n_pre < minimum:
        raise InsufficientData(
            f"pre-period: {n_pre} periods < {minimum} required for this model",
            subject="pre-period",
        )
    _require_full_rank(X, n_pre, spec)

    options = {
        "irregular": True,
        "level": True,
        "stochastic_level": True,
        "trend": trend,
        "stochastic_trend": trend,
        "seasonal": seasonal,
        "stochastic_seasonal": stochastic_seasonal,
        # Coefficients as states: their uncertainty flows into the forecast, as in CausalImpact.
        "mle_regression": False,
    }
    # Standardise on the pre-period, as CausalImpact does: the likelihood is scale-equivariant,
    # but L-BFGS is not, and variances of 1e-12 (log series) or 1e12 (revenue) stall it.
    y_mean, y_sd = float(y[:n_pre].mean()), float(y[:n_pre].std(ddof=1))
    if y_sd == 0:
        raise SingularDesign(
            f"outcome {spec.outcome!r} is constant over the pre-period: nothing to model",
            subject=role_field("outcome"),
        )
    ys = (y - y_mean) / y_sd
    Xs = x_sd = None
    if X is not None:
        x_mean, x_sd = X[:n_pre].mean(axis=0), X[:n_pre].std(axis=0, ddof=1)
        Xs = (X - x_mean) / x_sd
    model = UnobservedComponents(ys[:n_pre], exog=None if Xs is None else Xs[:n_pre], **options)
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        fitted = model.fit(disp=False, maxiter=maxiter)
    fit_messages = sorted({str(w.message).split("\n")[0] for w in caught})
    converged = bool(fitted.mle_retvals.get("converged", False)) if fitted.mle_retvals else False

    # Filter the whole span with the post-period outcome missing: the filter then forecasts it.
    masked = ys.copy()
    masked[n_pre:] = np.nan
    span = UnobservedComponents(masked, exog=Xs, **options)
    full = span.filter(fitted.params)
    counterfactual = y_mean + y_sd * full.forecasts[0, n_pre:]
    plugin_cov = y_sd**2 * _forecast_error_cov(full, n_pre, n_post)
    cov = plugin_cov
    if parameter_uncertainty:
        mixed = _parameter_mixture(model, span, np.asarray(fitted.params), n_pre, n_post)
        if mixed is None:
            warnings.append(
                "the likelihood's curvature at the variance estimates could not be computed: the "
                "intervals condition on the estimated variances and may be too narrow"
            )
        else:
            cov = y_sd**2 * mixed
    # Every parameter is a variance (no AR or cycle terms), so it scales by the SD squared.
    variances = np.asarray(fitted.params) * y_sd**2
    raw_model = UnobservedComponents(y[:n_pre], exog=None if X is None else X[:n_pre], **options)
    loglike = float(raw_model.loglike(variances))

    z = critical_value(alpha)
    effect = y[n_pre:] - counterfactual
    point_sd = np.sqrt(np.diag(cov))
    cum_effect = np.cumsum(effect)
    cum_sd = np.sqrt(np.diag(np.cumsum(np.cumsum(cov, axis=0), axis=1)))
    average = float(effect.mean())
    stderr = float(math.sqrt(cov.sum()) / n_post)

    statistics = {
        "average_effect": average,
        "average_observed": float(y[n_pre:].mean()),
        "average_counterfactual": float(counterfactual.mean()),
        "cumulative_effect": float(cum_effect[-1]),
        "cumulative_effect_stderr": float(cum_sd[-1]),
        "cumulative_effect_ci_lower": float(cum_effect[-1] - z * cum_sd[-1]),
        "cumulative_effect_ci_upper": float(cum_effect[-1] + z * cum_sd[-1]),
        "tail_probability": float(stats.norm.sf(abs(average) / stderr)),
        "loglike": loglike,
        "aic": -2 * loglike + 2 * float(fitted.df_model),
        "n_pre_periods": float(n_pre),
        "n_post_periods": float(n_post),
        "plugin_stderr": float(math.sqrt(plugin_cov.sum()) / n_post),
    }
    for name, value in zip(fitted.model.param_names, variances, strict=True):
        statistics[name.replace(".", "_")] = float(value)
    warnings.extend(_relative_effect(statistics, stderr, z))
    lb_check, lb_p = _residual_check(fitted, n_pre)
    if lb_p is not None:
        statistics["ljung_box_pvalue"] = lb_p
    if not converged:
        warnings.append("the maximum-likelihood fit did not converge; see the convergence check")
    warnings.extend(f"statsmodels: {m}" for m in fit_messages)

    index = time_labels(times[n_pre:])
    one_step = y_mean + y_sd * full.forecasts[0, :n_pre]
    one_step_sd = y_sd * np.sqrt(full.forecasts_error_cov[0, 0, :n_pre])
    burn = min(int(full.loglikelihood_burn), n_pre)
    one_step[:burn] = one_step_sd[:burn] = np.nan
    series = (
        _banded("counterfactual", index, counterfactual, point_sd, z),
        _banded("pointwise_effect", index, effect, point_sd, z),
        _banded("cumulative_effect", index, cum_effect, cum_sd, z),
        Series("observed", time_labels(times), _floats(y)),
        _banded("one_step_prediction", time_labels(times[:n_pre]), one_step, one_step_sd, z),
    )
    return effect_estimate(
        Method.BSTS,
        Estimand.ATT,
        average,
        stderr,
        alpha=alpha,
        nobs=int(y.size),
        n_treated=n_post,
        n_control=n_pre,
        assumptions=ASSUMPTIONS,
        statistics=statistics,
        coefficients=_coefficients(
            fitted, spec, n_pre, alpha, y_sd / x_sd if x_sd is not None else None
        ),
        series=series,
        warnings=tuple(warnings),
        checks=(_convergence_check(converged, fitted, fit_messages), lb_check),
    )


def _prepare(
    frame: pd.DataFrame, spec: EffectSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int, str]:
    """Sorted times, outcome, controls (n, k) or None, the number of pre-periods, and how
    text times were read ("" when they were not text)."""
    require_roles(spec, "time")
    require_columns(frame, spec)
    if spec.unit and frame[spec.unit].nunique(dropna=False) > 1:
        raise InvalidSpec(
            f"bsts models one series but column {spec.unit!r} (role unit) holds "
            f"{frame[spec.unit].nunique(dropna=False)} units; use synthetic_control or did for "
            "several units, or pass the other units' series as covariates",
            field=role_field("unit"),
        )
    if frame[spec.time].isna().any():
        raise InvalidSpec(
            f"column {spec.time!r} (role time) has missing values", field=role_field("time")
        )
    time, read_as = _times(frame[spec.time], str(spec.time))
    if time.duplicated().any():
        raise InvalidSpec(
            "each period must appear once in a single series; found duplicate times",
            field=role_field("time"),
            reason="DUPLICATE_TIME",
        )
    try:
        order = np.argsort(time.to_numpy(), kind="stable")
    except TypeError as exc:
        raise InvalidSpec(
            f"time values cannot be ordered: {exc}", field=role_field("time")
        ) from exc
    ordered = frame.iloc[order]
    times = time.to_numpy()[order]
    y = numeric(ordered, spec.outcome, "outcome")
    d = numeric(ordered, spec.treatment, "treatment")
    if not np.isin(d, (0.0, 1.0)).all():
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} must be 0/1", field=role_field("treatment")
        )
    if d[0] == 1:
        raise InsufficientData(
            "pre-period: the series is treated from its first period; nothing to fit the "
            "counterfactual on",
            subject="pre-period",
        )
    if d.max() == 0:
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} is constant (0): no post-period",
            field=role_field("treatment"),
            reason="CONSTANT_TREATMENT",
        )
    n_pre = int(np.argmax(d == 1))
    if not (d[n_pre:] == 1).all():
        back = n_pre + int(np.argmax(d[n_pre:] == 0))
        raise InvalidSpec(
            f"treatment column {spec.treatment!r} must be 0 for every period before the "
            f"intervention and 1 from it on; in the order of {spec.time!r} it is 1 from "
            f"{time_label(times[n_pre])} and 0 again at {time_label(times[back])}",
            field=role_field("treatment"),
            reason="TREATMENT_NOT_CONTIGUOUS",
        )
    X = None
    if spec.covariates:
        X = np.column_stack([numeric(ordered, c, "covariates") for c in spec.covariates])
    return times, y, X, n_pre, read_as


# Dates a spreadsheet writes, besides ISO 8601, and how each reads.
_DATE_FORMATS = (("%m/%d/%Y", "month/day/year"), ("%d/%m/%Y", "day/month/year"))
_TIME_TYPES = "numbers, datetimes or dates written yyyy-mm-dd (or m/d/yyyy, d/m/yyyy)"


def _times(column: pd.Series, name: str) -> tuple[pd.Series, str]:
    """The time column as values that order as time, and how text was read ("" if it was
    not text). Text is never ordered as text: '10/1/2024' sorts before '8/20/2024', which
    scrambled the series and was then reported as a treatment problem."""
    field = role_field("time")
    if pd.api.types.is_bool_dtype(column):
        raise InvalidSpec(f"time column {name!r} must be {_TIME_TYPES}, got bool", field=field)
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return column, ""
    if not all(isinstance(v, str) for v in column):
        return column, ""  # Python objects (dates, numbers): ordered as they are
    text = column.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers, f"time column {name!r} read as numbers"
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if iso.notna().all():
        return iso, ""
    readings = {
        label: pd.to_datetime(text, format=fmt, errors="coerce") for fmt, label in _DATE_FORMATS
    }
    whole = {label: r for label, r in readings.items() if r.notna().all()}
    if len(whole) == 2 and not whole["month/day/year"].equals(whole["day/month/year"]):
        sample = text[whole["month/day/year"] != whole["day/month/year"]].iloc[0]
        raise InvalidSpec(
            f"time column {name!r} holds dates such as {sample!r} that read both as "
            "month/day/year and as day/month/year; write them as yyyy-mm-dd",
            field=field,
            reason="AMBIGUOUS_DATES",
        )
    if whole:
        label, parsed = next(iter(whole.items()))
        return parsed, f"time column {name!r} read as {label} dates"
    best = max((iso, *readings.values()), key=lambda r: int(r.notna().sum()))
    sample = text[best.isna()].iloc[0]
    raise InvalidSpec(
        f"time column {name!r} must be {_TIME_TYPES}; {sample!r} is none of these",
        field=field,
    )


def _require_full_rank(X: np.ndarray | None, n_pre: int, spec: EffectSpec) -> None:
    if X is None:
        return
    pre = X[:n_pre]
    flat = [c for c, col in zip(spec.covariates, pre.T, strict=True) if np.ptp(col) == 0]
    if flat:
        raise SingularDesign(
            f"control series {flat} are constant in the pre-period and cannot be told apart "
            "from the level",
            subject=role_field("covariates"),
        )
    design = np.column_stack([np.ones(n_pre), pre])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise SingularDesign(
            "the control series are collinear in the pre-period", subject=role_field("covariates")
        )


def _slice(matrix: np.ndarray, t: int) -> np.ndarray:
    """The period-t slice of a statsmodels system matrix that may be time-invariant."""
    return matrix[..., t] if matrix.shape[-1] > 1 else matrix[..., 0]


# Importance draws of the variance parameters (fixed seed: the estimate is deterministic) and
# the proposal's inflation over the MLE's asymptotic SD. 32 draws at 1.5x covered as well as
# 64 on the R11-F5 worlds; symmetric sigma points (no reweighting) covered 0.88 at 90/28.
_PARAMETER_DRAWS = 32
_PROPOSAL_INFLATION = 1.5


def _parameter_mixture(
    pre: UnobservedComponents, span: UnobservedComponents, params: np.ndarray, n_pre: int, m: int
) -> np.ndarray | None:
    """Post-period forecast covariance (m, m) with the variance parameters' uncertainty.

    The plug-in forecast treats the MLE variances as known and covered 85-87% at nominal 95%
    (R11-F5), worst where σ²_level was estimated near 0. Here the forecast is averaged over
    the variances' posterior under a flat prior on statsmodels' unconstrained scale (the
    standard deviation, σ² = x², whose likelihood stays curved at x = 0 where the log scale is
    flat), by self-normalised importance sampling: draws from the MLE's asymptotic normal
    (inverse observed information, inflated 1.5x), weighted by likelihood / proposal density.
    The likelihood is skewed toward larger σ_level, which reweighting follows and a symmetric
    normal does not. Mixed by the law of total variance: the weighted mean of the covariances
    plus the weighted covariance of the means. None when the curvature cannot be computed.
    """
    x_hat = np.asarray(pre.untransform_params(params), dtype=float)
    k = len(x_hat)

    def loglike(x: np.ndarray) -> float:
        return float(pre.loglike(x, transformed=False))

    step = 1e-3 * np.maximum(np.abs(x_hat), 0.1)
    hess = np.empty((k, k))
    f0 = loglike(x_hat)
    for i in range(k):
        e_i = np.zeros(k)
        e_i[i] = step[i]
        hess[i, i] = (loglike(x_hat + e_i) - 2 * f0 + loglike(x_hat - e_i)) / step[i] ** 2
        for j in range(i):
            e_j = np.zeros(k)
            e_j[j] = step[j]
            hess[i, j] = hess[j, i] = (
                loglike(x_hat + e_i + e_j)
                - loglike(x_hat + e_i - e_j)
                - loglike(x_hat - e_i + e_j)
                + loglike(x_hat - e_i - e_j)
            ) / (4 * step[i] * step[j])
    if not (np.isfinite(hess).all() and math.isfinite(f0)):
        return None
    # Observed information, its eigenvalues floored at 1: no direction gets an SD above 1 on the
    # standardised scale (a flat likelihood would otherwise send σ to absurd values).
    values, vectors = np.linalg.eigh(-(hess + hess.T) / 2)
    root = vectors * (_PROPOSAL_INFLATION / np.sqrt(np.maximum(values, 1.0)))
    z = np.random.default_rng(0).standard_normal((_PARAMETER_DRAWS, k))
    draws = x_hat + z @ root.T
    # log(likelihood ratio) − log(proposal density ratio); constants cancel on normalising.
    log_w = np.array([loglike(x) for x in draws]) - f0 + 0.5 * np.sum(z**2, axis=1)
    if not np.isfinite(log_w).any():
        return None
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    means, covs = [], []
    for x, weight in zip(draws, w, strict=True):
        if weight == 0:
            continue
        run = span.filter(np.asarray(span.transform_params(x)))
        means.append(run.forecasts[0, n_pre : n_pre + m])
        covs.append(_forecast_error_cov(run, n_pre, m))
    kept = w[w > 0]
    mean = kept @ np.array(means)
    centred = np.array(means) - mean
    mixed = np.einsum("i,ijk->jk", kept, np.array(covs)) + (centred * kept[:, None]).T @ centred
    return mixed if np.isfinite(mixed).all() else None


def _forecast_error_cov(full: MLEResults, n_pre: int, m: int) -> np.ndarray:
    """Joint covariance (m, m) of the post-period forecast errors given the pre-period."""
    ssm = full.model.ssm
    design, transition = ssm["design"], ssm["transition"]
    if design.ndim == 2:
        design = design[..., None]
    if transition.ndim == 3 and transition.shape[-1] > 1:  # never for UnobservedComponents
        raise NotImplementedError("time-varying transition")
    T = transition[..., 0] if transition.ndim == 3 else transition
    Z = np.stack([_slice(design, n_pre + i)[0] for i in range(m)])  # (m, k)
    P = full.predicted_state_cov[:, :, n_pre : n_pre + m]  # (k, k, m): P_{t | pre}
    cov = np.diag(full.forecasts_error_cov[0, 0, n_pre : n_pre + m].astype(float))
    G = np.einsum("ijt,tj->it", P, Z)  # column t: P_t Z_t'
    rows = np.arange(m)
    for lag in range(1, m):
        G = T @ G
        values = np.sum(Z[lag:] * G[:, : m - lag].T, axis=1)
        cov[rows[lag:], rows[: m - lag]] = values
        cov[rows[: m - lag], rows[lag:]] = values
    return cov


def _relative_effect(statistics: dict[str, float], stderr: float, z: float) -> list[str]:
    observed, expected = statistics["average_observed"], statistics["average_counterfactual"]
    if expected == 0:
        return ["the counterfactual mean is zero: no relative effect is reported"]
    statistics["relative_effect_pct"] = 100 * (observed / expected - 1)
    low, high = expected - z * stderr, expected + z * stderr
    if low <= 0 <= high:
        return [
            "the counterfactual mean's interval contains zero: the relative effect has no "
            "finite interval and only its point value is reported"
        ]
    ends = sorted((100 * (observed / high - 1), 100 * (observed / low - 1)))
    statistics["relative_effect_ci_lower_pct"], statistics["relative_effect_ci_upper_pct"] = ends
    return []


def _coefficients(
    fitted: MLEResults, spec: EffectSpec, n_pre: int, alpha: float, unscale: np.ndarray | None
) -> tuple[Coefficient, ...]:
    """Coefficients on the original scale (``unscale`` = SD(y) / SD(x) per control)."""
    if not spec.covariates or unscale is None:
        return ()
    # Regression coefficients are the last k_exog states (statsmodels' state order).
    k = len(spec.covariates)
    state = fitted.filtered_state[-k:, n_pre - 1] * unscale
    sd = np.sqrt(np.diag(fitted.filtered_state_cov[-k:, -k:, n_pre - 1])) * unscale
    return tuple(
        coefficient(name, float(est), float(se), alpha, nobs=n_pre)
        for name, est, se in zip(spec.covariates, state, sd, strict=True)
    )


def _convergence_check(converged: bool, fitted: MLEResults, messages: list[str]) -> Check:
    iterations = fitted.mle_retvals.get("iterations") if fitted.mle_retvals else None
    if converged:
        return Check(
            name="mle_convergence",
            kind=CheckKind.CONVERGENCE,
            outcome=CheckOutcome.PASSED,
            interpretation="The maximum-likelihood fit of the structural model converged.",
            statistic=None if iterations is None else float(iterations),
        )
    said = f" ({'; '.join(messages)})" if messages else ""
    return Check(
        name="mle_convergence",
        kind=CheckKind.CONVERGENCE,
        outcome=CheckOutcome.WARNING,
        interpretation=(
            f"The maximum-likelihood fit did not converge{said}: the variance parameters, and "
            "so the width of every interval, may be off; raise maxiter or simplify the model."
        ),
        statistic=None if iterations is None else float(iterations),
    )


def _residual_check(fitted: MLEResults, n_pre: int) -> tuple[Check, float | None]:
    def skipped(why: str) -> tuple[Check, None]:
        name, kind = "residual_autocorrelation", CheckKind.PRE_PERIOD_FIT
        return Check(name, kind, CheckOutcome.SKIPPED, interpretation=why), None

    lags = max(1, min(10, (n_pre - fitted.loglikelihood_burn) // 5))
    if n_pre - fitted.loglikelihood_burn <= lags + 1:
        return skipped("Too few pre-period residuals to test their autocorrelation.")
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        test = fitted.test_serial_correlation("ljungbox", lags=[lags])
    stat, p = float(test[0, 0, -1]), float(test[0, 1, -1])
    if not math.isfinite(p):
        return skipped("The pre-period residuals are degenerate; no autocorrelation test.")
    if p < _LJUNG_BOX_ALPHA:
        outcome = CheckOutcome.WARNING
        text = (
            f"One-step pre-period residuals are autocorrelated (Ljung–Box, {lags} lags, "
            f"p = {p:.3g}): the model misses some dynamics, so its intervals are likely too "
            "narrow; consider a trend or seasonal component or more control series."
        )
    else:
        outcome = CheckOutcome.PASSED
        text = (
            f"No evidence of autocorrelation in one-step pre-period residuals (Ljung–Box, "
            f"{lags} lags, p = {p:.3g}): the model captures the series' dynamics."
        )
    check = Check(
        name="residual_autocorrelation",
        kind=CheckKind.PRE_PERIOD_FIT,
        outcome=outcome,
        interpretation=text,
        statistic=stat,
        pvalue=p,
        threshold=_LJUNG_BOX_ALPHA,
    )
    return check, p


def _banded(
    name: str, index: tuple[str, ...], values: np.ndarray, sd: np.ndarray, z: float
) -> Series:
    """A series with its pointwise band ``values ± z·sd``."""
    return Series(name, index, _floats(values), _floats(values - z * sd), _floats(values + z * sd))


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
