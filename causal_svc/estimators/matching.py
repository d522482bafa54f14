"""Propensity-score nearest-neighbour matching with a caliper and Abadie–Imbens standard errors.

Units are matched on the logit of a logistic propensity score. ATT matches each treated unit to
its nearest controls; ATE also matches each control to its nearest treated units (both with
replacement). Matching without replacement is greedy, hardest-to-match (highest score) first.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from ._inference import effect_estimate, require_stderr
from ._propensity import (
    balance_check,
    balance_rows,
    fit_propensity,
    outside_support,
    overlap_check,
    overlap_series,
    read_inputs,
    resolve_estimand,
)
from .result import EffectEstimate, EffectSpec, Estimand, Method
from .validate import role_field

__all__ = ["estimate_matching"]


def estimate_matching(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    estimand: Estimand | None = None,
    n_neighbors: int = 1,
    caliper: float | None = 0.2,
    replace: bool = True,
    common_support: bool = False,
    variance_neighbors: int = 2,
) -> EffectEstimate:
    """Nearest-neighbour matching on the estimated propensity score.

    Parameters
    ----------
    frame : DataFrame, shape (n, k)
        One row per unit.
    spec : EffectSpec
        ``outcome``, binary ``treatment`` and ``covariates`` (entered linearly in the logistic
        propensity model) are required. ``weights`` and ``cluster`` are rejected.
    alpha : float
        Two-sided level of the normal confidence interval.
    estimand : Estimand, optional
        ATT (the default for matching, whatever ``spec.estimand`` says, since ``EffectSpec``
        defaults to ATE) or ATE.
    n_neighbors : int
        M, the matches per unit; ties at the M-th distance are all kept (Abadie & Imbens).
    caliper : float or None
        Maximum distance in standard deviations of the logit propensity score (Austin 2011's
        0.2 by default); None for no caliper. Units with no match inside it are dropped.
    replace : bool
        Match with replacement (default). Without replacement is greedy and ATT only.
    common_support : bool
        Drop target units whose score lies outside the other group's range before matching.
    variance_neighbors : int
        J, same-group neighbours used to estimate each unit's conditional variance.

    Returns
    -------
    EffectEstimate
        ``point_estimate``: mean over matched target units of the outcome difference with the
        average of their matches. ``stderr``: Abadie & Imbens (2006) variance for the
        population ATT/ATE, treating the propensity score as known (Abadie & Imbens 2016 show
        this is conservative for the ATE; for the ATT it can err either way).
        ``n_treated`` / ``n_control``: matched treated units / distinct controls used (ATT), or
        units of each arm in the matched sample (ATE).

        ``statistics``: ``n_matched``, ``n_unmatched`` (dropped by the caliper),
        ``n_off_support`` (dropped by ``common_support``), ``n_controls_used``,
        ``n_treated_used``, ``caliper_logit`` (caliper in logit units, NaN when None),
        ``mean_matches``, ``max_reuse`` (largest number of times one unit served as a match),
        ``share_outside_support``, ``share_extreme_propensity``, ``propensity_iterations``.

        ``balance``: SMD before and in the matched sample (matches weighted by their use).

        ``checks``: OVERLAP (share of target units outside the other group's score range:
        FAILED above 10%, WARNING above 0) and BALANCE (FAILED when any matched |SMD| > 0.1).

    Raises
    ------
    InvalidSpec
        Missing/non-numeric roles, non-binary or constant treatment, no covariates, bad options
        (ATE without replacement, M < 1, caliper <= 0), weights or cluster given.
    InsufficientData
        Too few units per arm, perfect separation, or no unit matched inside the caliper.
    SingularDesign
        Constant or collinear covariates.

    Notes
    -----
    Rosenbaum & Rubin (1983, 1985); Abadie & Imbens (2006), Econometrica 74(1), for the
    matching estimator's variance; Abadie, Drukker, Herr & Imbens (2004), Stata Journal, for the
    formulas with K_M(i); Abadie & Imbens (2016), Econometrica 84(2), on the estimated score;
    Austin (2011) for the 0.2-SD caliper on the logit.
    """
    target = resolve_estimand(estimand, Estimand.ATT, "matching")
    _check_options(target, n_neighbors, caliper, replace, variance_neighbors)
    data = read_inputs(frame, spec, "matching", allow_cluster=False)
    ps = fit_propensity(data.x, data.t)
    score, t, y = ps.logit, data.t, data.y
    caliper_logit = caliper * float(np.std(score, ddof=1)) if caliper is not None else math.inf

    eligible = np.ones(len(t), dtype=bool)
    n_off = 0
    if common_support:
        off = outside_support(score, t, target)
        eligible &= ~off
        n_off = int(off.sum())

    treated = np.flatnonzero((t == 1) & eligible)
    control = np.flatnonzero((t == 0) & eligible)
    # Matches as pairs: owner[k] was matched to member[k].
    if replace:
        pairs = [_match_with_replacement(score, treated, control, n_neighbors, caliper_logit)]
        if target is Estimand.ATE:
            pairs.append(
                _match_with_replacement(score, control, treated, n_neighbors, caliper_logit)
            )
        owner = np.concatenate([o for o, _ in pairs])
        member = np.concatenate([m for _, m in pairs])
    else:
        owner, member = _match_greedy(score, treated, control, n_neighbors, caliper_logit)
    n = len(t)
    n_matches = np.bincount(owner, minlength=n)
    targets = treated if target is Estimand.ATT else np.concatenate([treated, control])
    matched = targets[n_matches[targets] > 0]
    n_unmatched = len(targets) - len(matched)
    if matched.size == 0:
        raise InsufficientData(
            "no unit has a match inside the caliper: widen it or check overlap",
            subject="options.caliper",
        )

    # K(i): the weight unit i carries as a match; k_sq(i): sum of its squared per-use weights.
    share = 1.0 / n_matches[owner]
    k_w = np.bincount(member, weights=share, minlength=n)
    k_sq = np.bincount(member, weights=share**2, minlength=n)
    y_hat_other = np.bincount(owner, weights=y[member] * share, minlength=n)[matched]
    sign = np.where(t[matched] == 1, 1.0, -1.0)
    unit_effect = sign * (y[matched] - y_hat_other)
    tau = float(unit_effect.mean())
    sigma2 = _conditional_variance(score, y, t, variance_neighbors)
    # Abadie et al. (2004): the squared unit effects already hold each unit's own variance and
    # one 1/|J(j)|^2 share per use; add the rest of (own weight + use weight)^2.
    extra = k_w**2 - k_sq
    if target is Estimand.ATE:
        is_target = np.zeros(n, dtype=bool)
        is_target[matched] = True
        extra += 2 * k_w * is_target
    n_m = len(matched)
    variance = (np.sum((unit_effect - tau) ** 2) + np.sum(extra * sigma2)) / n_m**2
    se = math.sqrt(variance)
    require_stderr(se, "matching", subject=role_field("outcome"))

    # Implied weights of the matched sample: targets count once, matches by their use.
    weights = k_w.copy()
    weights[matched] += 1.0
    rows = balance_rows(data.x, data.names, t, np.where(weights > 0, weights, 0.0))
    action = (
        " before matching; the caliper/common-support rule dropped units without a counterpart"
        if (n_unmatched or n_off)
        else ""
    )
    overlap, share, extreme = overlap_check(score, ps.score, t, target, action)
    checks = (overlap, balance_check(rows, "matching"))
    used = k_w > 0
    statistics = {
        "n_matched": float(n_m),
        "n_unmatched": float(n_unmatched),
        "n_off_support": float(n_off),
        "n_controls_used": float((used & (t == 0)).sum()),
        "n_treated_used": float((used & (t == 1)).sum()),
        "caliper_logit": caliper_logit if caliper is not None else float("nan"),
        "mean_matches": float(n_matches[matched].mean()),
        "max_reuse": float(np.bincount(member).max()),
        "share_outside_support": share,
        "share_extreme_propensity": extreme,
        "propensity_iterations": float(ps.iterations),
    }
    warnings = []
    if n_unmatched or n_off:
        warnings.append(
            f"{n_unmatched + n_off} of {len(targets) + n_off} target units had no counterpart "
            "and were dropped: the estimate describes the matched units only"
        )
    in_sample = weights > 0
    return effect_estimate(
        Method.MATCHING,
        target,
        tau,
        se,
        alpha=alpha,
        nobs=int(in_sample.sum()),
        n_treated=int((in_sample & (t == 1)).sum()),
        n_control=int((in_sample & (t == 0)).sum()),
        assumptions=(
            "No unmeasured confounding: given the covariates, treatment is as good as random.",
            "Overlap: matched units have comparable propensity scores (enforced by the caliper).",
            "The logistic propensity model (covariates entered linearly) balances the "
            "covariates; the balance table checks this.",
            "SUTVA: one unit's treatment does not change another's outcome.",
        ),
        statistics=statistics,
        balance=rows,
        series=overlap_series(ps.score, t),
        warnings=tuple(warnings),
        checks=checks,
    )


def _check_options(target: Estimand, m: int, caliper: float | None, replace: bool, j: int) -> None:
    if m < 1:
        raise InvalidSpec("n_neighbors must be at least 1", field="options.n_neighbors")
    if j < 1:
        raise InvalidSpec(
            "variance_neighbors must be at least 1", field="options.variance_neighbors"
        )
    if caliper is not None and not (math.isfinite(caliper) and caliper > 0):
        raise InvalidSpec("caliper must be positive (or None)", field="options.caliper")
    if not replace and target is Estimand.ATE:
        raise InvalidSpec(
            "matching without replacement estimates the ATT only", field="options.replace"
        )


def _match_with_replacement(
    score: np.ndarray, units: np.ndarray, pool: np.ndarray, m: int, caliper: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's M nearest pool members, all ties at the M-th distance, within the caliper.

    On the sorted pool the matches of a unit form one contiguous run, so everything is found
    with vectorised searches: the M nearest lie among the M on either side of the insertion
    point, and the run is everything within the M-th distance (capped by the caliper).
    """
    order = pool[np.argsort(score[pool], kind="stable")]
    ss = score[order]
    k = min(m, len(order))
    s = score[units]
    at = np.searchsorted(ss, s)
    offsets = np.arange(-k, k)
    window = at[:, None] + offsets[None, :]
    valid = (window >= 0) & (window < len(ss))
    dist = np.where(valid, np.abs(ss[np.clip(window, 0, len(ss) - 1)] - s[:, None]), np.inf)
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1]
    tol = 1e-12 * np.maximum(1.0, np.abs(s))
    radius = np.minimum(kth + tol, caliper)
    left = np.searchsorted(ss, s - radius, side="left")
    right = np.searchsorted(ss, s + radius, side="right")
    sizes = np.maximum(right - left, 0)
    owner = np.repeat(units, sizes)
    starts = np.repeat(left, sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return owner, order[starts + within]


def _match_greedy(
    score: np.ndarray, treated: np.ndarray, control: np.ndarray, m: int, caliper: float
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching without replacement, highest propensity first (MatchIt's 'largest')."""
    available = np.ones(len(control), dtype=bool)
    pool_scores = score[control]
    owner: list[int] = []
    member: list[int] = []
    for i in treated[np.argsort(-score[treated], kind="stable")]:
        for _ in range(m):
            dist = np.where(available, np.abs(pool_scores - score[i]), np.inf)
            best = int(np.argmin(dist))
            if not dist[best] <= caliper:  # also stops when the pool is used up (inf)
                break
            available[best] = False
            owner.append(int(i))
            member.append(int(control[best]))
    return np.array(owner, dtype=int), np.array(member, dtype=int)


def _conditional_variance(score: np.ndarray, y: np.ndarray, t: np.ndarray, j: int) -> np.ndarray:
    """sigma^2(X_i, W_i) by matching within the own arm: J/(J+1) (Y_i - mean of J nearest)^2."""
    sigma2 = np.zeros(len(y))
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        if idx.size < 2:
            continue
        order = idx[np.argsort(score[idx], kind="stable")]
        s, v = score[order], y[order]
        jj = min(j, order.size - 1)
        offsets = np.concatenate([np.arange(-jj, 0), np.arange(1, jj + 1)])
        pos = np.arange(order.size)[:, None] + offsets[None, :]
        valid = (pos >= 0) & (pos < order.size)
        safe = np.clip(pos, 0, order.size - 1)
        dist = np.where(valid, np.abs(s[safe] - s[:, None]), np.inf)
        nearest = np.take_along_axis(safe, np.argsort(dist, axis=1, kind="stable")[:, :jj], 1)
        sigma2[order] = jj / (jj + 1) * (v - v[nearest].mean(axis=1)) ** 2
    return sigma2
