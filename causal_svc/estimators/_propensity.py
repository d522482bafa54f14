"""Shared pieces of the propensity-score estimators (matching, IPW, AIPW).

A logistic propensity model fitted by Newton–Raphson (its score and information are reused for
influence functions), covariate balance (standardised mean differences), the overlap summary
and the Crump et al. (2009) trimming rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign

from ._inference import cluster_codes
from .result import BalanceRow, Check, CheckKind, CheckOutcome, EffectSpec, Estimand, Series
from .validate import binary_treatment, numeric, require_columns, require_roles, role_field

SMD_THRESHOLD = 0.1  # Austin (2009): |SMD| above 0.1 is a meaningful imbalance
OVERLAP_BINS = 40  # histogram of the propensity score on [0, 1] by arm (bins 0.025 wide)
OVERLAP_FAIL_SHARE = 0.10
_MAX_LOGIT = 30.0  # |logit| beyond this means p within 1e-13 of 0 or 1: separation


@dataclass(frozen=True, slots=True)
class Inputs:
    y: np.ndarray  # (n,)
    t: np.ndarray  # (n,) 0/1
    x: np.ndarray  # (n, k) covariates, raw units
    names: tuple[str, ...]
    cluster: np.ndarray | None

    def take(self, keep: np.ndarray) -> Inputs:
        return Inputs(
            self.y[keep],
            self.t[keep],
            self.x[keep],
            self.names,
            None if self.cluster is None else self.cluster[keep],
        )


@dataclass(frozen=True, slots=True)
class Propensity:
    """Fitted logistic propensity model P(T=1 | X)."""

    score: np.ndarray  # (n,) e(X)
    logit: np.ndarray  # (n,) linear predictor
    design: np.ndarray  # (n, k+1) standardised covariates with intercept
    if_beta: np.ndarray  # (n, k+1) influence function of the coefficients
    converged: bool
    iterations: int


def read_inputs(
    frame: pd.DataFrame, spec: EffectSpec, method: str, *, allow_cluster: bool
) -> Inputs:
    """Validated outcome, 0/1 treatment and covariates for a propensity-score method."""
    require_roles(spec, "outcome", "treatment", "covariates")
    require_columns(frame, spec)
    if spec.weights:
        raise InvalidSpec(
            f"{method} builds its own weights; sampling weights are not supported",
            field=role_field("weights"),
        )
    if spec.cluster and not allow_cluster:
        raise InvalidSpec(f"{method} has no cluster-robust variance", field=role_field("cluster"))
    for name in spec.covariates:
        if name in (spec.outcome, spec.treatment):
            raise InvalidSpec(
                f"{name!r} cannot be both a covariate and the outcome/treatment",
                field=role_field("covariates"),
            )
    y = numeric(frame, spec.outcome, "outcome")
    require_variation(y, method)
    t = binary_treatment(frame, spec)
    x = np.column_stack([numeric(frame, c, "covariates") for c in spec.covariates])
    cluster = cluster_codes(frame, spec.cluster)[0] if spec.cluster else None
    n1 = int(t.sum())
    if min(n1, len(t) - n1) < 2:
        raise InsufficientData(
            f"{method}: {n1} treated and {len(t) - n1} control rows; need 2 of each",
            subject=role_field("treatment"),
        )
    return Inputs(y, t, x, tuple(spec.covariates), cluster)


def require_variation(y: np.ndarray, method: str) -> None:
    """A constant outcome has no effect to estimate and a zero standard error."""
    if y.min() == y.max():
        raise InsufficientData(
            f"{method}: the outcome is constant ({y[0]:g}): there is no variation to explain",
            subject=role_field("outcome"),
        )


def resolve_estimand(estimand: Estimand | None, default: Estimand, method: str) -> Estimand:
    chosen = default if estimand is None else Estimand(estimand)
    if chosen not in (Estimand.ATE, Estimand.ATT):
        raise InvalidSpec(
            f"{method} estimates ATE or ATT, not {chosen.value}", field="roles.estimand"
        )
    return chosen


def fit_propensity(x: np.ndarray, t: np.ndarray, *, max_iter: int = 100) -> Propensity:
    """Logistic regression of t on x (with intercept) by Newton–Raphson with step halving.

    Raises ``SingularDesign`` for collinear covariates and ``InsufficientData`` (reason
    PERFECT_SEPARATION) when the covariates separate treated from controls, so that the
    maximum-likelihood estimate does not exist.
    """
    n = len(t)
    sd = x.std(axis=0)
    if (sd == 0).any():
        bad = int(np.flatnonzero(sd == 0)[0])
        raise SingularDesign(
            f"covariate #{bad + 1} is constant: it cannot enter the propensity model",
            subject=role_field("covariates"),
        )
    design = np.column_stack([np.ones(n), (x - x.mean(axis=0)) / sd])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise SingularDesign(
            "covariates are collinear: the propensity model is not identified",
            subject=role_field("covariates"),
        )
    beta = np.zeros(design.shape[1])
    beta[0] = math.log(t.mean() / (1 - t.mean()))
    loglik = _loglik(design @ beta, t)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        eta = design @ beta
        p = _expit(eta)
        grad = design.T @ (t - p)
        info = (design * (p * (1 - p))[:, None]).T @ design
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        while scale > 1e-8:
            new_beta = beta + scale * step
            new_ll = _loglik(design @ new_beta, t)
            if new_ll >= loglik - 1e-12:
                break
            scale /= 2
        beta, loglik = new_beta, new_ll
        # Converged when the Newton step vanishes; under (quasi-)separation the likelihood
        # flattens but the step does not shrink, so the loop runs out and we raise below.
        if np.max(np.abs(scale * step)) < 1e-8:
            converged = True
            break
    eta = design @ beta
    if not converged or np.abs(eta).max() > _MAX_LOGIT:
        raise InsufficientData(
            "the covariates (almost) perfectly separate treated from control units: the "
            "propensity score is 0 or 1 for some units and there is no overlap to compare",
            subject=role_field("covariates"),
            reason="PERFECT_SEPARATION",
        )
    p = _expit(eta)
    info = (design * (p * (1 - p))[:, None]).T @ design / n
    if_beta = ((t - p)[:, None] * design) @ np.linalg.inv(info)
    return Propensity(p, eta, design, if_beta, converged, it)


def _expit(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def _loglik(eta: np.ndarray, t: np.ndarray) -> float:
    return float(np.sum(t * eta - np.logaddexp(0.0, eta)))


def crump_threshold(e: np.ndarray) -> float:
    """Crump, Hotz, Imbens & Mitnik (2009) optimal trimming alpha: keep e in [a, 1 - a]."""
    g = 1.0 / (e * (1 - e))
    if g.max() <= 2 * g.mean():
        return 0.0
    gs = np.sort(g)
    running_mean = np.cumsum(gs) / np.arange(1, len(gs) + 1)
    # gamma = 1/(a(1-a)) is the largest g below twice the mean of the g's up to it.
    gamma = gs[gs <= 2 * running_mean].max()
    return float(0.5 - math.sqrt(max(0.25 - 1.0 / gamma, 0.0)))


def balance_rows(
    x: np.ndarray, names: tuple[str, ...], t: np.ndarray, weights: np.ndarray
) -> tuple[BalanceRow, ...]:
    """SMD before (raw) and after (``weights``) adjustment, both over the raw pooled SD.

    Using the unadjusted SD for both keeps the two numbers comparable (Austin & Stuart 2015).
    """
    treated, control = t == 1, t == 0
    x1, x0 = x[treated], x[control]
    w1, w0 = weights[treated], weights[control]
    pooled = np.sqrt((x1.var(axis=0, ddof=1) + x0.var(axis=0, ddof=1)) / 2)
    raw_diff = x1.mean(axis=0) - x0.mean(axis=0)
    m1, m0 = w1 @ x1 / w1.sum(), w0 @ x0 / w0.sum()
    v1 = w1 @ (x1 - m1) ** 2 / w1.sum()
    v0 = w0 @ (x0 - m0) ** 2 / w0.sum()
    return tuple(
        BalanceRow(
            covariate=name,
            smd_before=_smd(float(raw_diff[j]), float(pooled[j])),
            smd_after=_smd(float(m1[j] - m0[j]), float(pooled[j])),
            mean_treated=float(m1[j]),
            mean_control=float(m0[j]),
            variance_ratio=float(v1[j] / v0[j]) if v0[j] > 0 else None,
        )
        for j, name in enumerate(names)
    )


def _smd(diff: float, sd: float) -> float:
    if sd > 0:
        return float(diff / sd)
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def balance_check(rows: tuple[BalanceRow, ...], adjusted_by: str) -> Check:
    worst = max(rows, key=lambda r: abs(r.smd_after))
    failed = abs(worst.smd_after) > SMD_THRESHOLD
    over = [r.covariate for r in rows if abs(r.smd_after) > SMD_THRESHOLD]
    text = (
        f"Largest |standardised mean difference| after {adjusted_by}: "
        f"{abs(worst.smd_after):.3f} ({worst.covariate}; before: {abs(worst.smd_before):.3f}). "
    )
    text += (
        f"Above {SMD_THRESHOLD} for {', '.join(over)}: treated and controls still differ on "
        "observed covariates, so the estimate is not supported."
        if failed
        else f"All covariates are within {SMD_THRESHOLD}: the adjusted groups are comparable on "
        "what was observed (unobserved confounding is not tested here)."
    )
    return Check(
        name="covariate_balance",
        kind=CheckKind.BALANCE,
        outcome=CheckOutcome.FAILED if failed else CheckOutcome.PASSED,
        interpretation=text,
        statistic=abs(worst.smd_after),
        threshold=SMD_THRESHOLD,
    )


def overlap_series(e: np.ndarray, t: np.ndarray) -> tuple[Series, Series]:
    """The propensity score's distribution in each arm: the share of the arm's units in each of
    :data:`OVERLAP_BINS` equal bins on [0, 1] (``positions`` are the bin centres). Where one
    arm has mass and the other none, there is no one to compare with."""
    edges = np.linspace(0.0, 1.0, OVERLAP_BINS + 1)
    centres = tuple(float(c) for c in (edges[:-1] + edges[1:]) / 2)
    out = []
    for arm, label in ((1, "treated"), (0, "control")):
        counts = np.histogram(np.clip(e[t == arm], 0.0, 1.0), bins=edges)[0]
        share = counts / max(int(counts.sum()), 1)
        out.append(
            Series(
                f"propensity:{label}",
                tuple(f"{c:.4f}" for c in centres),
                tuple(float(v) for v in share),
                positions=centres,
            )
        )
    return out[0], out[1]


def outside_support(score: np.ndarray, t: np.ndarray, estimand: Estimand) -> np.ndarray:
    """Units whose score lies outside the other group's range (treated only for ATT)."""
    s1, s0 = score[t == 1], score[t == 0]
    out_t = (t == 1) & ((score < s0.min()) | (score > s0.max()))
    if estimand is Estimand.ATT:
        return out_t
    out_c = (t == 0) & ((score < s1.min()) | (score > s1.max()))
    return out_t | out_c


def overlap_check(
    score: np.ndarray, e: np.ndarray, t: np.ndarray, estimand: Estimand, action: str
) -> tuple[Check, float, float]:
    """OVERLAP check: share of the target units outside the other group's score range."""
    outside = outside_support(score, t, estimand)
    target = (t == 1) if estimand is Estimand.ATT else np.ones_like(t, dtype=bool)
    share = float(outside[target].mean())
    extreme = float(((e < 0.01) | (e > 0.99))[target].mean())
    who = "treated units" if estimand is Estimand.ATT else "units"
    text = (
        f"{share:.1%} of {who} have a propensity score outside the range of the other group "
        f"and {extreme:.1%} have a score below 0.01 or above 0.99. "
    )
    if share > OVERLAP_FAIL_SHARE:
        outcome = CheckOutcome.FAILED
        text += (
            "Too many units have no comparable counterpart: their effect would be "
            f"extrapolated, so the estimate is not supported{action}."
        )
    elif share > 0 or extreme > 0:
        outcome = CheckOutcome.WARNING
        text += f"Overlap is imperfect at the edges{action}; read the estimate with that in mind."
    else:
        outcome = CheckOutcome.PASSED
        text += "Every unit has comparable counterparts in the other group."
    check = Check(
        name="overlap",
        kind=CheckKind.OVERLAP,
        outcome=outcome,
        interpretation=text,
        statistic=share,
        threshold=OVERLAP_FAIL_SHARE,
    )
    return check, share, extreme
