"""Instrumental variables: two-stage least squares with robust or clustered inference.

One endogenous treatment, any number of excluded instruments, exogenous covariates (and an
intercept). Beside the 2SLS estimate the result carries the first-stage strength (robust Wald F
and the classical F), the weak-instrument-robust Anderson–Rubin test, a control-function
endogeneity test and, when over-identified, the Sargan and Hansen J tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from ._inference import (
    cluster_codes,
    cluster_df,
    cluster_sums,
    coefficient,
    effect_estimate,
    few_cluster_warnings,
    require_stderr,
    sandwich,
)
from ._propensity import require_variation
from .result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec, Estimand, Method
from .validate import numeric, positive_weights, require_columns, require_roles, role_field

__all__ = ["WEAK_INSTRUMENT_F", "estimate_iv"]

# Staiger & Stock (1997) rule of thumb, the threshold Stock & Yogo (2005) tabulate against.
WEAK_INSTRUMENT_F = 10.0


def estimate_iv(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    weak_instrument_f: float = WEAK_INSTRUMENT_F,
) -> EffectEstimate:
    """Two-stage least squares effect of ``spec.treatment`` on ``spec.outcome``.

    Parameters
    ----------
    frame : DataFrame, shape (n, k)
        One row per observation.
    spec : EffectSpec
        ``outcome``, ``treatment`` (the endogenous regressor: binary or continuous) and
        ``instruments`` (excluded instruments, at least one) are required. ``covariates`` are
        exogenous controls (an intercept is always added). ``cluster`` switches to
        cluster-robust inference; ``weights`` runs weighted 2SLS (rows scaled by sqrt(w)).
    alpha : float
        Two-sided level of the confidence interval.
    weak_instrument_f : float
        First-stage F below which the WEAK_INSTRUMENT check fails (default 10).

    Returns
    -------
    EffectEstimate
        ``point_estimate`` is the 2SLS coefficient on the treatment, ``stderr`` its
        heteroskedasticity-robust (HC0, as ``linearmodels.IV2SLS(...).fit(cov_type="robust")``)
        standard error with a normal CI and p-value, or with ``cluster`` its CR1 standard error
        (factor G/(G−1)·(n−1)/(n−k), as ``fit(cov_type="clustered", debiased=True)`` and
        Stata's ``small``) with t(G − 1) (``df``) and a warning below 30 clusters. The
        first-stage, Anderson–Rubin, endogeneity and J statistics stay unscaled (linearmodels'
        default). ``estimand`` is LATE.

        ``statistics``: ``first_stage_f_robust`` (robust/clustered Wald statistic of the
        excluded instruments divided by their number; with one endogenous regressor this is the
        Kleibergen–Paap rk Wald F without small-sample scaling), ``first_stage_f_robust_pvalue``,
        ``first_stage_f`` (classical homoskedastic F), ``first_stage_f_pvalue``,
        ``first_stage_partial_r2``, ``n_instruments``, ``anderson_rubin_stat`` /
        ``anderson_rubin_pvalue`` (robust Wald chi2 that the instruments' reduced-form
        coefficients are zero: a test of no effect valid however weak the instruments),
        ``endogeneity_stat`` / ``endogeneity_pvalue`` (Wooldridge's robust control-function test
        that the treatment is exogenous), ``ols_estimate`` / ``ols_stderr`` (the same regression by
        OLS with the same covariance, for comparison), ``n_clusters`` when clustered, and when
        over-identified ``sargan_stat`` / ``sargan_pvalue`` and ``hansen_j_stat`` /
        ``hansen_j_pvalue``.

        ``coefficients``: ``second_stage:<column>`` for every regressor (treatment, covariates,
        ``const``) and ``first_stage:<column>`` for every instrument.

        ``checks``: WEAK_INSTRUMENT (FAILED when ``first_stage_f_robust`` < ``weak_instrument_f``)
        and OVERIDENTIFICATION (Hansen J when over-identified, FAILED when p < alpha; SKIPPED
        when exactly identified).

    Raises
    ------
    InvalidSpec
        A role is missing or non-numeric, or there are no instruments.
    InsufficientData
        Fewer observations than parameters + 2, or fewer than 2 clusters.
    SingularDesign
        Collinear regressors or instruments, or instruments with no variation.

    Notes
    -----
    2SLS and its sandwich variance follow Wooldridge (2010), *Econometric Analysis of Cross
    Section and Panel Data*, ch. 5; the robust first-stage F is Kleibergen & Paap (2006) with a
    single endogenous regressor; weak-instrument guidance is Staiger & Stock (1997) and Stock &
    Yogo (2005); the Anderson–Rubin test is Anderson & Rubin (1949); the J statistic is Hansen
    (1982) evaluated at two-step efficient GMM, as ``linearmodels.IVGMM``; Sargan (1958). The
    estimand is a LATE for compliers under monotonicity (Imbens & Angrist 1994).
    """
    if not spec.instruments:
        raise InvalidSpec("IV needs at least one instrument", field=role_field("instruments"))
    require_roles(spec, "outcome", "treatment", "instruments")
    require_columns(frame, spec)
    _require_disjoint(spec)

    y = numeric(frame, spec.outcome, "outcome")
    require_variation(y, "IV")
    d = numeric(frame, spec.treatment, "treatment")
    w_exog = _matrix(frame, spec.covariates, "covariates")
    z_excl = _matrix(frame, spec.instruments, "instruments")
    n = len(y)
    wts = positive_weights(frame, spec)
    sqrt_w = np.ones(n) if wts is None else np.sqrt(wts / wts.mean())
    groups = cluster_codes(frame, spec.cluster)[0] if spec.cluster else None

    exog = np.column_stack([w_exog, np.ones(n)])
    exog_names = [*spec.covariates, "const"]
    x = np.column_stack([d, exog])
    z = np.column_stack([z_excl, exog])
    n_instr = z_excl.shape[1]
    k = x.shape[1]
    if n < z.shape[1] + 2:
        raise InsufficientData(
            f"IV: {n} observations for {z.shape[1]} instruments and controls", subject="rows"
        )
    # Weighted 2SLS is 2SLS on rows scaled by sqrt(w), as linearmodels does it.
    y, x, z, exog = (sqrt_w * y, sqrt_w[:, None] * x, sqrt_w[:, None] * z, sqrt_w[:, None] * exog)
    _require_full_rank(exog, "covariates", "the covariates (with the intercept) are collinear")
    _require_full_rank(
        z, "instruments", "the instruments are collinear with each other or with the covariates"
    )

    # First stage: treatment on instruments and controls.
    pi, v = _ols(z, x[:, 0])
    x_hat = x.copy()
    x_hat[:, 0] = x[:, 0] - v
    xhx = x_hat.T @ x_hat
    if np.linalg.matrix_rank(xhx) < k:
        raise SingularDesign(
            "the instruments do not move the treatment once the covariates are held fixed",
            subject=role_field("instruments"),
        )
    beta = np.linalg.solve(xhx, x_hat.T @ y)
    eps = y - x @ beta
    cov = _sandwich(x_hat, eps, groups)
    df: float | None = None
    if groups is not None:
        # CR1 with t(G − 1) (R11-F4): the unscaled clustered covariance with a normal reference
        # covered 80% at G = 6. The factor is linearmodels' debiased=True / Stata's `small`.
        n_groups = int(groups.max()) + 1
        cov = cov * (n_groups / (n_groups - 1)) * ((n - 1) / (n - k))
        df = cluster_df(n_groups)
    est, se = float(beta[0]), float(np.sqrt(cov[0, 0]))
    require_stderr(se, "IV", subject=role_field("outcome"))

    # First-stage strength: Wald test of the excluded instruments, robust and classical.
    fs_cov = _sandwich(z, v, groups)
    pi_z = pi[:n_instr]
    wald_fs = float(pi_z @ np.linalg.solve(fs_cov[:n_instr, :n_instr], pi_z))
    f_robust = wald_fs / n_instr
    _, v_restricted = _ols(exog, x[:, 0])
    rss_u, rss_r = float(v @ v), float(v_restricted @ v_restricted)
    df_resid = n - z.shape[1]
    f_classic = ((rss_r - rss_u) / n_instr) / (rss_u / df_resid)
    partial_r2 = 1.0 - rss_u / rss_r

    # Anderson–Rubin: reduced form of the outcome on the instruments.
    rf, rf_resid = _ols(z, y)
    rf_cov = _sandwich(z, rf_resid, groups)
    ar = float(rf[:n_instr] @ np.linalg.solve(rf_cov[:n_instr, :n_instr], rf[:n_instr]))

    # Control function (Wooldridge 2010, 6.3.1): add the first-stage residual to OLS.
    aug = np.column_stack([x, v])
    cf, cf_resid = _ols(aug, y)
    cf_cov = _sandwich(aug, cf_resid, groups)
    endog_stat = float(cf[-1] ** 2 / cf_cov[-1, -1])

    ols, ols_resid = _ols(x, y)
    ols_cov = _sandwich(x, ols_resid, groups)

    statistics: dict[str, float] = {
        "first_stage_f_robust": f_robust,
        "first_stage_f_robust_pvalue": float(stats.chi2.sf(wald_fs, n_instr)),
        "first_stage_f": float(f_classic),
        "first_stage_f_pvalue": float(stats.f.sf(f_classic, n_instr, df_resid)),
        "first_stage_partial_r2": float(partial_r2),
        "n_instruments": float(n_instr),
        "anderson_rubin_stat": ar,
        "anderson_rubin_pvalue": float(stats.chi2.sf(ar, n_instr)),
        "endogeneity_stat": endog_stat,
        "endogeneity_pvalue": float(stats.chi2.sf(endog_stat, 1)),
        "ols_estimate": float(ols[0]),
        "ols_stderr": float(np.sqrt(ols_cov[0, 0])),
    }
    if groups is not None:
        statistics["n_clusters"] = float(groups.max() + 1)

    checks = [_weak_instrument_check(f_robust, f_classic, weak_instrument_f)]
    if n_instr > 1:
        sargan, j_stat = _overid(x, y, z, eps, groups)
        dof = n_instr - 1
        statistics |= {
            "sargan_stat": sargan,
            "sargan_pvalue": float(stats.chi2.sf(sargan, dof)),
            "hansen_j_stat": j_stat,
            "hansen_j_pvalue": float(stats.chi2.sf(j_stat, dof)),
        }
        checks.append(_overid_check(j_stat, float(stats.chi2.sf(j_stat, dof)), dof, alpha))
    else:
        checks.append(
            Check(
                name="overidentification",
                kind=CheckKind.OVERIDENTIFICATION,
                outcome=CheckOutcome.SKIPPED,
                interpretation=(
                    "Exactly identified (one instrument): instrument validity cannot be tested "
                    "from the data and rests on the exclusion restriction alone."
                ),
            )
        )

    coefficients = [
        coefficient(
            f"second_stage:{name}",
            float(beta[j]),
            float(np.sqrt(cov[j, j])),
            alpha,
            df=df,
            nobs=n,
        )
        for j, name in enumerate([spec.treatment, *exog_names])
    ] + [
        coefficient(
            f"first_stage:{name}", float(pi[j]), float(np.sqrt(fs_cov[j, j])), alpha, nobs=n
        )
        for j, name in enumerate(spec.instruments)
    ]

    raw_d = frame[spec.treatment].to_numpy(dtype=float)
    binary = bool(np.isin(raw_d, (0.0, 1.0)).all())
    warnings = []
    if f_robust < weak_instrument_f:
        warnings.append(
            f"weak instruments: first-stage robust F = {f_robust:.2f} < {weak_instrument_f:g}; "
            "the 2SLS estimate is biased toward OLS and its Wald interval is unreliable — "
            "read the Anderson–Rubin test instead"
        )
    if groups is not None:
        warnings.extend(few_cluster_warnings("IV", int(groups.max()) + 1))
    return effect_estimate(
        Method.IV,
        Estimand.LATE,
        est,
        se,
        alpha=alpha,
        nobs=n,
        df=df,
        n_treated=int(raw_d.sum()) if binary else None,
        n_control=int((1 - raw_d).sum()) if binary else None,
        assumptions=(
            "Relevance: the instruments move the treatment once covariates are held fixed.",
            "Exclusion: the instruments affect the outcome only through the treatment.",
            "Independence: the instruments are as good as randomly assigned given the "
            "covariates (no instrument–outcome confounding).",
            "Monotonicity: no unit is pushed against the treatment by the instruments, so the "
            "estimate is the average effect for compliers (LATE), not for everyone.",
            "Linearity: covariates enter linearly in both stages.",
        ),
        statistics=statistics,
        coefficients=tuple(coefficients),
        warnings=tuple(warnings),
        checks=tuple(checks),
    )


def _require_disjoint(spec: EffectSpec) -> None:
    for name in spec.instruments:
        if name in (spec.outcome, spec.treatment) or name in spec.covariates:
            raise InvalidSpec(
                f"instrument {name!r} is also the outcome, the treatment or a covariate",
                field=role_field("instruments"),
            )
    if spec.treatment in spec.covariates or spec.outcome in spec.covariates:
        raise InvalidSpec(
            "the outcome and treatment cannot also be covariates", field=role_field("covariates")
        )


def _matrix(frame: pd.DataFrame, columns: tuple[str, ...], role: str) -> np.ndarray:
    if not columns:
        return np.empty((len(frame), 0))
    return np.column_stack([numeric(frame, c, role) for c in columns])


def _require_full_rank(a: np.ndarray, role: str, what: str) -> None:
    if a.shape[1] and np.linalg.matrix_rank(a) < a.shape[1]:
        raise SingularDesign(what, subject=role_field(role))


def _ols(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return coef, b - a @ coef


def _sandwich(a: np.ndarray, resid: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """HC0 (or unadjusted clustered) covariance of a least-squares fit on ``a``."""
    return sandwich(np.linalg.inv(a.T @ a), a * resid[:, None], groups)


def _overid(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, eps: np.ndarray, groups: np.ndarray | None
) -> tuple[float, float]:
    """Sargan n·R² (homoskedastic) and Hansen J at two-step GMM (robust/clustered weight)."""
    n = len(y)
    _, u = _ols(z, eps)
    sargan = float(n * (1.0 - (u @ u) / (eps @ eps)))
    ze = z * eps[:, None]
    if groups is not None:
        ze = cluster_sums(ze, groups)
    s = ze.T @ ze / n
    weight = np.linalg.pinv(s)
    zx, zy = z.T @ x / n, z.T @ y / n
    beta_gmm = np.linalg.solve(zx.T @ weight @ zx, zx.T @ weight @ zy)
    g_bar = z.T @ (y - x @ beta_gmm) / n
    return sargan, float(n * g_bar @ weight @ g_bar)


def _weak_instrument_check(f_robust: float, f_classic: float, threshold: float) -> Check:
    if f_robust < threshold:
        outcome = CheckOutcome.FAILED
        text = (
            f"First-stage robust F = {f_robust:.2f} is below the Stock–Yogo rule of thumb "
            f"{threshold:g} (classical F = {f_classic:.2f}): the instruments are weak, 2SLS is "
            "biased toward OLS and its confidence interval under-covers, so the estimate is not "
            "supported; the Anderson–Rubin test in the statistics remains valid."
        )
    else:
        outcome = CheckOutcome.PASSED
        text = (
            f"First-stage robust F = {f_robust:.2f} clears the rule-of-thumb threshold "
            f"{threshold:g} (classical F = {f_classic:.2f}): the instruments are not weak by "
            "the Staiger–Stock/Stock–Yogo standard."
        )
    return Check(
        name="weak_instrument",
        kind=CheckKind.WEAK_INSTRUMENT,
        outcome=outcome,
        interpretation=text,
        statistic=f_robust,
        threshold=threshold,
    )


def _overid_check(j_stat: float, p: float, dof: int, alpha: float) -> Check:
    if p < alpha:
        outcome = CheckOutcome.FAILED
        text = (
            f"Hansen J = {j_stat:.2f} (df {dof}, p = {p:.3g}) rejects that all instruments "
            "identify the same effect: at least one instrument is invalid, or the instruments "
            "move different complier groups with different effects; the estimate is not "
            "supported as one LATE."
        )
    else:
        outcome = CheckOutcome.PASSED
        text = (
            f"Hansen J = {j_stat:.2f} (df {dof}, p = {p:.3g}) does not reject the "
            "over-identifying restrictions: the instruments agree with each other (this cannot "
            "show that all of them are valid, only that they do not contradict each other)."
        )
    return Check(
        name="overidentification",
        kind=CheckKind.OVERIDENTIFICATION,
        outcome=outcome,
        interpretation=text,
        statistic=j_stat,
        pvalue=p,
        threshold=alpha,
    )
