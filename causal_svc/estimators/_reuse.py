"""Re-estimates that reuse a cross-fitted fit: what the refuters' perturbations leave valid.

A refuter re-runs the estimator on perturbed data. For a cross-fitted estimator most of a
re-estimate is the nuisance models, and two perturbations leave the fitted nuisances valid:

- **placebo treatment** (treatment permuted across rows, nothing else changed): the outcome
  nuisance E[Y | W] never saw the treatment, and a permuted treatment is independent of W by
  construction, so its own nuisance E[T' | W] is the constant mean of T', estimated out of
  fold on the same folds;
- **data subsets** (rows dropped, nothing else changed): every kept row's out-of-fold
  prediction still comes from models that never saw that row.

A placebo may also run on the outcome less the estimated effect, ``Y − c·T`` with the real
treatment ``T`` (:func:`causal_svc.refuters.placebo`): its nuisance ``E[Y − cT | W] = E[Y | W]
− c·E[T | W]`` is the stored outcome and treatment predictions combined, so that shift is
answered from the stored fit too (refitting it cost DML's checks 11× the fit instead of 1.2×).

:class:`Reuse` is an estimator (``(frame, spec) -> EffectEstimate``) that recognises those two
perturbations of the frame it was fitted on and answers them from the stored residuals; any
other call (a random common cause adds a covariate, which every nuisance must see) goes to the
full estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._inference import clustered_df, effect_estimate, influence_stderr
from .result import EffectEstimate, EffectSpec, Estimand, Method

Estimator = Callable[[pd.DataFrame, EffectSpec], EffectEstimate]

__all__ = [
    "Augmented",
    "PartiallingOut",
    "aipw_scores",
    "dr_ate",
    "dr_scores",
    "partialling_out",
    "weighted_mean",
]

# EconML clips the conditional treatment variance p(1 − p) at this floor in its doubly robust
# scores; the headline DR ATE of a binary DML uses the same floor.
VAR_T_FLOOR = 1e-2


def partialling_out(y_res: np.ndarray, t_res: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(θ, HC0 SE) of ``Ỹ`` on ``T̃`` without a constant: EconML ``LinearDML``'s final stage."""
    sxx = float(np.sum(w * t_res**2))
    if sxx <= 0:
        return float("nan"), float("nan")
    theta = float(np.sum(w * y_res * t_res) / sxx)
    u = y_res - theta * t_res
    return theta, float(np.sqrt(np.sum((w * t_res * u) ** 2)) / sxx)


def dr_scores(y_res: np.ndarray, t_res: np.ndarray, tau: float | np.ndarray) -> np.ndarray:
    """Doubly robust scores (n,) of a binary treatment from cross-fitted partialling-out
    residuals: ``ψ = τ + (Ỹ − τ T̃) T̃ / max(p(1 − p), 0.01)``.

    EconML's doubly robust score: the AIPW score with outcome models ``μ1 = m + (1 − p)τ`` and
    ``μ0 = m − pτ`` (m = E[Y|W], p = T − T̃ the cross-fitted propensity, so that p(1 − p) =
    |T̃|(1 − |T̃|) for T in {0, 1}). ``τ`` is a constant (the partialling-out θ: :func:`dr_ate`)
    or one CATE per row (a causal forest's out-of-bag predictions: the segment effects).
    """
    var_t = np.clip(np.abs(t_res) * (1 - np.abs(t_res)), VAR_T_FLOOR, None)
    return tau + (y_res - tau * t_res) * t_res / var_t


def weighted_mean(values: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(mean, SE) of a weighted mean of scores: the linearised SE, with unit weights
    SD(ddof=1)/sqrt(n)."""
    n = len(values)
    mean = float(np.sum(w * values) / np.sum(w))
    se = math.sqrt(
        float(np.sum(w**2 * (values - mean) ** 2)) / float(np.sum(w)) ** 2 * n / max(n - 1, 1)
    )
    return mean, se


def dr_ate(y_res: np.ndarray, t_res: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(ATE, SE) of a binary treatment from cross-fitted partialling-out residuals: the mean of
    :func:`dr_scores` at the partialling-out θ.

    Its mean is the ATE when p is right even though a constant θ misstates the arm means
    (double robustness), and the score is Neyman-orthogonal in θ, so the SE is SD(ψ)/sqrt(n)
    (weighted: the linearised SE of a weighted mean). θ itself is the treatment-variance-
    weighted effect, not the ATE, once effects vary (R11-F6).
    """
    theta, _ = partialling_out(y_res, t_res, w)
    return weighted_mean(dr_scores(y_res, t_res, theta), w)


def aipw_scores(
    t: np.ndarray, y: np.ndarray, e: np.ndarray, m1: np.ndarray, m0: np.ndarray, target: Estimand
) -> tuple[float, np.ndarray, float, float]:
    """(effect, influence function, treated mean, control mean) of AIPW for ``target``.

    ATE: mean of ``m1 − m0 + T(Y − m1)/e − (1 − T)(Y − m0)/(1 − e)``; ATT: the sum of
    ``T(Y − m0) − (1 − T) e/(1 − e) (Y − m0)`` over the treated count (Hahn 1998).
    """
    if target is Estimand.ATE:
        psi1 = m1 + t * (y - m1) / e
        psi0 = m0 + (1 - t) * (y - m0) / (1 - e)
        mu1, mu0 = float(psi1.mean()), float(psi0.mean())
        tau = mu1 - mu0
        return tau, (psi1 - psi0) - tau, mu1, mu0
    resid0 = y - m0
    psi = t * resid0 - (1 - t) * e / (1 - e) * resid0
    tau = float(psi.sum() / t.sum())
    mu1 = float(y[t == 1].mean())
    return tau, (psi - t * tau) / t.mean(), mu1, mu1 - tau


def _fold_means(values: np.ndarray, folds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row's out-of-fold (weighted) mean of ``values``: the constant nuisance."""
    k = int(folds.max()) + 1
    total = np.bincount(folds, weights=weights * values, minlength=k)
    mass = np.bincount(folds, weights=weights, minlength=k)
    return ((total.sum() - total) / (mass.sum() - mass))[folds]


@dataclass(frozen=True, slots=True)
class _Recognises:
    """The perturbations a stored fit can answer: ("placebo" | "subset", rows) or None.

    Column by column with numpy: the refuters call this tens of times, and a multi-column
    pandas read costs about as much as a small re-estimate's arithmetic.
    """

    frame: pd.DataFrame
    spec: EffectSpec

    def perturbation(
        self, frame: pd.DataFrame, spec: EffectSpec
    ) -> tuple[str, np.ndarray, float] | None:
        """(kind, rows, c): ``c`` the multiple of the real treatment taken out of the outcome
        (0 unless a placebo on ``Y − c·T``)."""
        if spec != self.spec or list(frame.columns) != list(self.frame.columns):
            return None
        others = [c for c in spec.columns() if c != spec.treatment]
        shift = 0.0
        if frame.index.equals(self.frame.index):
            rows = np.arange(len(frame))
            kind, compared = "placebo", others
            found = self._outcome_shift(frame, spec)
            if found is None:
                return None
            shift = found
            compared = [c for c in others if c != spec.outcome]
        else:
            rows = self.frame.index.get_indexer(frame.index)
            if len(frame) >= len(self.frame) or not frame.index.is_unique or (rows < 0).any():
                return None
            kind, compared = "subset", [*others, spec.treatment]
        for c in compared:
            if not np.array_equal(frame[c].to_numpy(), self.frame[c].to_numpy()[rows]):
                return None
        t = spec.treatment
        if kind == "placebo" and np.array_equal(frame[t].to_numpy(), self.frame[t].to_numpy()):
            return None  # nothing moved: not a placebo, refit like any other call
        return kind, rows, shift

    def _outcome_shift(self, frame: pd.DataFrame, spec: EffectSpec) -> float | None:
        """``c`` when the outcome is the stored one less ``c`` × the stored treatment (0 when
        unchanged); None for any other change."""
        y_new = frame[spec.outcome].to_numpy()
        y_old = self.frame[spec.outcome].to_numpy()
        if np.array_equal(y_new, y_old):
            return 0.0
        try:
            y_new, y_old = y_new.astype(np.float64), y_old.astype(np.float64)
            t = self.frame[spec.treatment].to_numpy(np.float64)
        except (TypeError, ValueError):
            return None
        gap = y_old - y_new
        tt = float(np.dot(t, t))
        if not (np.isfinite(gap).all() and np.isfinite(t).all()) or tt == 0:
            return None
        c = float(np.dot(t, gap) / tt)
        scale = float(np.max(np.abs(y_old))) if y_old.size else 0.0
        if not np.allclose(gap, c * t, rtol=0.0, atol=1e-9 * max(scale, abs(c), 1.0)):
            return None
        return c


@dataclass(frozen=True, slots=True)
class PartiallingOut(_Recognises):
    """A partialling-out fit (DML): out-of-fold residuals of Y and T on W, and the folds.

    ``θ = Σ w Ỹ T̃ / Σ w T̃²`` with HC0 errors, as EconML's ``LinearDML`` final stage; with
    ``binary`` the doubly robust ATE on the same residuals (:func:`dr_ate`), as the fit's
    headline.
    """

    frame: pd.DataFrame  # the frame the fit saw
    spec: EffectSpec
    y_res: np.ndarray  # (n,)
    t_res: np.ndarray  # (n,)
    folds: np.ndarray  # (n,) fold of each row
    weights: np.ndarray  # (n,) ones when unweighted
    estimand: Estimand
    method: Method
    alpha: float
    fallback: Estimator  # the full estimator, for every other perturbation
    binary: bool = False  # a discrete 0/1 treatment: the headline is the DR ATE

    def __call__(self, frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
        seen = self.perturbation(frame, spec)
        if seen is None:
            return self.fallback(frame, spec)
        kind, rows, shift = seen
        if kind == "placebo":
            t = frame[spec.treatment].to_numpy(dtype=float)
            t_res = t - _fold_means(t, self.folds, self.weights)
            # Y − cT less its nuisance E[Y|W] − c E[T|W]: the stored residuals combined.
            y_res = self.y_res - shift * self.t_res if shift else self.y_res
            return self._final(y_res, t_res, self.weights, len(t))
        return self._final(self.y_res[rows], self.t_res[rows], self.weights[rows], len(rows))

    def _final(self, y_res: np.ndarray, t_res: np.ndarray, w: np.ndarray, n: int) -> EffectEstimate:
        if self.binary:
            theta, se = dr_ate(y_res, t_res, w)
        else:
            theta, se = partialling_out(y_res, t_res, w)
        return effect_estimate(self.method, self.estimand, theta, se, alpha=self.alpha, nobs=n)


@dataclass(frozen=True, slots=True)
class Augmented(_Recognises):
    """An AIPW fit: propensities and outcome predictions per row of the frame it saw.

    A placebo treatment is independent of the covariates by construction: its propensity is
    its mean, and both arms' outcome models are E[Y | X] (``m_pooled``, OLS on the covariates,
    which does not depend on the treatment). A subset averages the stored scores over its rows.
    """

    frame: pd.DataFrame
    spec: EffectSpec
    y: np.ndarray
    t: np.ndarray
    e: np.ndarray
    m1: np.ndarray
    m0: np.ndarray
    m_pooled: np.ndarray
    cluster: np.ndarray | None
    estimand: Estimand
    method: Method
    alpha: float
    fallback: Estimator

    def __call__(self, frame: pd.DataFrame, spec: EffectSpec) -> EffectEstimate:
        seen = self.perturbation(frame, spec)
        if seen is None:
            return self.fallback(frame, spec)
        kind, rows, shift = seen
        if kind == "placebo":
            t = frame[spec.treatment].to_numpy(dtype=float)
            e = np.full(len(t), t.mean())
            # Y − cT and its regression on X, E[Y|X] − c E[T|X] (the stored propensity).
            y = self.y - shift * self.t if shift else self.y
            m = self.m_pooled - shift * self.e if shift else self.m_pooled
            tau, influence, _, _ = aipw_scores(t, y, e, m, m, self.estimand)
        else:
            r = rows
            tau, influence, _, _ = aipw_scores(
                self.t[r], self.y[r], self.e[r], self.m1[r], self.m0[r], self.estimand
            )
        cluster = None if self.cluster is None else self.cluster[rows]
        se = float(influence_stderr(influence, cluster, small_sample=True))
        return effect_estimate(
            self.method,
            self.estimand,
            tau,
            se,
            alpha=self.alpha,
            nobs=len(rows),
            df=clustered_df(cluster),
        )
