"""Media transforms: adstock (geometric, Weibull) as lag-weight vectors, and Hill saturation,
each with the derivatives the Gauss-Newton fit needs.

Both adstocks are written as a finite, normalised lag-weight vector ``w_0..w_{L-1}`` (summing to
one), so a constant daily input ``x`` settles at adstock ``x`` and the Hill half-saturation point
is in daily-input units. Writing both as weights applied to a precomputed lag stack makes the
adstock of every geo one ``tensordot`` and its derivative another: no Python loop over days.

References: Jin, Wang, Sun, Chan & Koehler (2017), "Bayesian methods for media mix modeling
with carryover and shape effects" (geometric adstock, Hill); Robyn's Weibull-PDF adstock (Meta
Marketing Science, 2021).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_MAX_LAG",
    "MAX_LAG",
    "AdstockKind",
    "HillCurve",
    "adstock_weights",
    "apply_lags",
    "hill",
    "hill_derivatives",
    "lag_stack",
]

DEFAULT_MAX_LAG = 28
# The longest carry-over a request may ask for (AnalyzeAttributionRequest.max_lag_days): a B2B
# sales cycle of 60-90 days fits with room; past ~4 months a lag is as slow as the trend and
# seasonality the model separates it from.
MAX_LAG = 120
# Relative step of the central differences on the (tiny) weight vector: the weights are smooth
# in their parameters, and differencing 28 numbers is cheaper than carrying analytic forms.
_WEIGHT_STEP = 1e-5


class AdstockKind(enum.StrEnum):
    """Carry-over shapes: geometric decay, or a Weibull PDF (a delayed peak when shape > 1)."""

    GEOMETRIC = "geometric"
    WEIBULL = "weibull"

    @property
    def n_params(self) -> int:
        return 1 if self is AdstockKind.GEOMETRIC else 2


def _raw_weights(kind: AdstockKind, params: np.ndarray, max_lag: int) -> np.ndarray:
    lag = np.arange(max_lag, dtype=np.float64)
    if kind is AdstockKind.GEOMETRIC:
        w = np.power(params[0], lag)
        return w / w.sum()
    k, lam = params
    # Density at lag + 1, as Robyn's weibull_pdf: shape > 1 peaks after a delay; shape 1 is
    # the geometric decay exp(−1/scale). In logs and shifted by its maximum, so a short
    # scale (a decay near 0: the density at lag 1 underflows) still normalises.
    z = (lag + 1.0) / lam
    log_w = (k - 1.0) * np.log(z) - np.power(z, k)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def adstock_weights(
    kind: AdstockKind, params: np.ndarray, max_lag: int = DEFAULT_MAX_LAG, *, grad: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalised lag weights and, with ``grad``, their derivatives per parameter.

    Parameters
    ----------
    kind : AdstockKind
    params : ndarray, shape (1,) or (2,)
        Geometric: ``(decay,)`` in [0, 1). Weibull: ``(shape, scale)``, both > 0.
    max_lag : int
        Number of lags ``L`` (lag 0 is today).
    grad : bool
        Also return ``dw / dparams``.

    Returns
    -------
    w : ndarray, shape (L,)
    dw : ndarray, shape (P, L) or None
    """
    params = np.asarray(params, dtype=np.float64)
    w = _raw_weights(kind, params, max_lag)
    if not grad:
        return w, None
    dw = np.empty((params.size, max_lag))
    for p in range(params.size):
        h = _WEIGHT_STEP * max(abs(params[p]), 1e-3)
        up, down = params.copy(), params.copy()
        up[p] += h
        down[p] -= h
        dw[p] = (_raw_weights(kind, up, max_lag) - _raw_weights(kind, down, max_lag)) / (2 * h)
    return w, dw


def lag_stack(x: np.ndarray, max_lag: int = DEFAULT_MAX_LAG) -> np.ndarray:
    """``x`` shifted by 0..L-1 days along its last axis, zeros before the first day.

    Parameters
    ----------
    x : ndarray, shape (..., T)

    Returns
    -------
    ndarray, shape (L, ..., T)
        ``out[l, ..., t] = x[..., t - l]`` (0 where ``t < l``).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    out = np.zeros((max_lag, *x.shape))
    for lag in range(min(max_lag, n)):
        out[lag, ..., lag:] = x[..., : n - lag]
    return out


def apply_lags(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Adstock from a lag stack: ``sum_l weights[..., l] * stack[l]``.

    ``weights`` of shape (L,) gives one series; (P, L) gives P series at once (derivatives).
    """
    return np.tensordot(weights, stack, axes=([-1], [0]))


@dataclass(frozen=True, slots=True)
class HillCurve:
    """Hill saturation ``u^S / (u^S + K^S)`` with half-saturation ``K`` and shape ``S``."""

    half_saturation: float
    shape: float

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return hill(u, self.half_saturation, self.shape)


def hill(u: np.ndarray, half_saturation: float, shape: float) -> np.ndarray:
    """Hill saturation in [0, 1) of a non-negative input.

    Notes
    -----
    Jin et al. (2017), eq. (3). Written as ``1 / (1 + (K/u)^S)`` so that ``u = 0`` gives 0
    without a 0/0.
    """
    u = np.maximum(np.asarray(u, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore", over="ignore"):
        ratio = np.power(half_saturation / u, shape)
    return 1.0 / (1.0 + ratio)


def hill_derivatives(
    u: np.ndarray, half_saturation: float, shape: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hill value and its derivatives: ``(h, dh/du, dh/dlogK, dh/dlogS)``.

    Log-parameter derivatives because the fit works in ``log K`` and ``log S``:
    ``dh/dlogK = -S h (1 - h)`` and ``dh/dlogS = S h (1 - h) log(u / K)``.
    """
    u = np.maximum(np.asarray(u, dtype=np.float64), 0.0)
    h = hill(u, half_saturation, shape)
    g = h * (1.0 - h)
    positive = u > 0
    safe = np.where(positive, u, 1.0)
    dh_du = np.where(positive, shape * g / safe, 0.0)
    dh_dlogk = -shape * g
    # A tiny positive input (a Weibull tail's adstock) makes u / K underflow to 0, and
    # 0 × log 0 is NaN where the derivative is ~0; the floor touches only subnormal ratios.
    ratio = np.maximum(safe / half_saturation, np.finfo(np.float64).tiny)
    dh_dlogs = np.where(positive, shape * g * np.log(ratio), 0.0)
    return h, dh_du, dh_dlogk, dh_dlogs
