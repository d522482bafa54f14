"""Seeded draws of the planning parameters that depend on the model, not on how it is labelled.

Planners (SurfacingService's recommend, optimize, predict) read each channel's response as
paired draws of ``(β, log K, log S)`` from the fit's Laplace posterior, and their
"confidence" (the share of draws in which a move gains) and intervals are Monte Carlo figures
over those draws. Two analyses of the same data must therefore get the same draws:

- **Not the channels' names.** The parameters sit in ``θ`` in the panel's channel order, which
  is alphabetical; renaming one channel moves its block. The standard normals are assigned to
  the channels in an order read off their data (:func:`canonical_order`: spend, then input,
  the name only between channels whose spend and input totals tie exactly), so a renamed
  channel keeps its normals and every channel its draws (audit s20 R47 F0: ``aa_tv`` vs
  ``zz_tv`` changed all 200 draws, a REALLOCATE at 85 % appeared under one name only).
- **Not LAPACK's choice of signs.** ``multivariate_normal(method="eigh")`` draws
  ``θ + V √Λ z``; an eigenvector's sign is arbitrary, so a 1e-11 change of the covariance (a
  currency conversion's rounding) mirrored a weakly identified channel's draws (R47 F1). The
  factor here is the Cholesky factor of the correlation matrix, scaled by the standard
  deviations: unique, continuous in the covariance, and equivariant under re-scaling one
  parameter (``chol(D C D) = D chol(C)`` for a positive diagonal ``D``).
- **Less Monte Carlo noise at the same count.** The normals are a scrambled Halton sequence
  (randomised quasi-Monte Carlo: Owen 1997; Morokoff & Caflisch 1995) sent through the normal
  quantile, so every channel's few parameters are spread evenly over their distribution
  instead of by chance; and the draws come in antithetic pairs ``θ ± L z``, so every pair's
  mean is the estimate and the sample is symmetric about it. On the audit's world (R47, 12
  seeds) that halves the seed-to-seed spread of recommend's confidences and impact bounds
  against independent normals at the same 200 draws (docs/performance.md, 2026-12-07).
  ``N_DRAWS`` stays 200 (the number the stored analyses and their readers carry). The gain
  is for a few channels: Halton's later dimensions correlate at 100 points, so from 6
  channels (18 parameters) unrelated pairs of parameters show a sample correlation above 0.2
  about 9× as often as independent normals do, and by 12 channels a reallocation's spread is
  no smaller than plain random draws' (s20 V1 F3; no wrong answer found from it; scrambled
  Sobol points would not correlate so, at a power-of-two count).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm, qmc

__all__ = ["N_DRAWS", "canonical_order", "paired_draws"]

N_DRAWS = 200
# Added to the correlation matrix's diagonal before factoring: it inflates every variance by
# one part in 1e10 (nothing a figure shows) and lets a matrix that is positive semi-definite
# only up to rounding (an unidentified channel's block) factor. Always added, so the factor
# does not jump between a matrix that needs it and one a rounding away that does not.
_JITTER = 1e-10
_MAX_JITTER = 1e-4


def canonical_order(
    spend: Sequence[float], media: Sequence[float], names: Sequence[str]
) -> list[int]:
    """Channel indices by spend total, then input total (both descending), then name.

    Data the model sees, not labels: a renamed channel keeps its place. The totals are in the
    org's currency, which a re-declared account currency leaves equal (up to rounding) and a
    whole-org currency multiplies alike for every channel; the name decides only between
    channels whose totals tie exactly (the same series under two names)."""
    return sorted(range(len(names)), key=lambda c: (-float(spend[c]), -float(media[c]), names[c]))


def _correlation_factor(cov: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L Lᵀ = cov`` (to the jitter), built on the correlation
    matrix so that re-scaling a parameter re-scales its row and nothing else. A parameter with
    no variance keeps a zero row."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    live = np.flatnonzero(sd > 0)
    out = np.zeros_like(cov)
    if live.size == 0:
        return out
    s = sd[live]
    corr = cov[np.ix_(live, live)] / np.outer(s, s)
    corr = (corr + corr.T) / 2.0
    eye = np.eye(live.size)
    jitter = _JITTER
    while jitter <= _MAX_JITTER:
        try:
            factor = np.linalg.cholesky(corr + jitter * eye)
            break
        except np.linalg.LinAlgError:
            jitter *= 100.0
    else:
        # Not positive semi-definite beyond rounding: its nearest such matrix (negative
        # eigenvalues raised to the jitter), a spectral function, so unique whatever signs the
        # eigenvectors come with.
        w, v = np.linalg.eigh(corr)
        fixed = (v * np.maximum(w, _JITTER)) @ v.T
        d = np.sqrt(np.diag(fixed))
        factor = np.linalg.cholesky(fixed / np.outer(d, d) + _JITTER * eye)
    out[np.ix_(live, live)] = s[:, None] * factor
    return out


def paired_draws(mean: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` (even) draws of ``N(mean, cov)`` as antithetic pairs ``mean ± L z``, interleaved
    (rows 2k and 2k+1 are a pair, so any even-length prefix is balanced), ``z`` the seeded
    scrambled Halton points' normal quantiles. Column ``j`` of ``z`` always goes to parameter
    ``j``: callers order the parameters canonically."""
    if n % 2:
        raise ValueError(f"antithetic draws come in pairs; n must be even, got {n}")
    factor = _correlation_factor(np.asarray(cov, dtype=np.float64))
    if mean.size == 0:
        return np.zeros((n, 0))
    u = qmc.Halton(mean.size, scramble=True, rng=np.random.default_rng(seed)).random(n // 2)
    # (a scrambled point is never exactly 0 or 1 in practice; clipped so no quantile is inf)
    z = norm.ppf(np.clip(u, 1e-15, 1.0 - 1e-15))
    step = z @ factor.T
    out = np.empty((n, mean.size))
    out[0::2] = mean + step
    out[1::2] = mean - step
    return out
