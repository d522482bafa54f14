"""Media response: adstock (geometric, Weibull) and Hill saturation, vectorised over series.

Both adstocks are normalised so their lag weights sum to one: a constant daily input ``x``
settles at adstock ``x``, so the Hill half-saturation point is in daily-input units.

References: Jin, Wang, Sun, Chan & Koehler (2017), "Bayesian methods for media mix modeling with
carryover and shape effects" (geometric/delayed adstock, Hill); Robyn's Weibull adstock
(Meta Marketing Science, 2021).
"""

from __future__ import annotations

import numpy as np


def geometric_adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """Normalised geometric adstock along the last axis.

    Parameters
    ----------
    x : ndarray, shape (..., T)
        Daily input (spend or sends), non-negative.
    decay : float
        Share of yesterday's adstock carried into today, in [0, 1).

    Returns
    -------
    ndarray, shape (..., T)
        ``a_t = (1 - decay) * x_t + decay * a_{t-1}`` with ``a_{-1} = 0``.

    Notes
    -----
    Jin et al. (2017), eq. (1) with geometric weights, normalised.
    """
    x = np.asarray(x, dtype=np.float64)
    if decay == 0.0:
        return x.copy()
    out = np.empty_like(x)
    carry = np.zeros(x.shape[:-1])
    w = 1.0 - decay
    for t in range(x.shape[-1]):
        carry = w * x[..., t] + decay * carry
        out[..., t] = carry
    return out


def weibull_weights(shape: float, scale: float, max_lag: int = 28) -> np.ndarray:
    """Lag weights ``w_0..w_{L-1}`` of the Weibull-PDF adstock, summing to one.

    Notes
    -----
    The weight of lag ``l`` is the Weibull density at ``l + 1`` (so a shape > 1 peaks after a
    delay), as in Robyn's ``weibull_pdf`` adstock.
    """
    lag = np.arange(1, max_lag + 1, dtype=np.float64)
    k, lam = shape, scale
    pdf = (k / lam) * (lag / lam) ** (k - 1) * np.exp(-((lag / lam) ** k))
    return pdf / pdf.sum()


def weibull_adstock(x: np.ndarray, shape: float, scale: float, max_lag: int = 28) -> np.ndarray:
    """Weibull-PDF adstock along the last axis: ``a_t = sum_l w_l x_{t-l}``.

    Parameters
    ----------
    x : ndarray, shape (..., T)
    shape, scale : float
        Weibull shape ``k`` and scale ``lambda`` (days).
    max_lag : int
        Longest carryover, days.

    Returns
    -------
    ndarray, shape (..., T)
    """
    x = np.asarray(x, dtype=np.float64)
    w = weibull_weights(shape, scale, max_lag)
    out = np.zeros_like(x)
    n = x.shape[-1]
    for lag, wl in enumerate(w):
        if lag >= n:
            break
        out[..., lag:] += wl * x[..., : n - lag]
    return out


def adstock(x: np.ndarray, params: dict[str, float | str]) -> np.ndarray:
    """Apply the adstock described by a truth-file ``adstock`` entry."""
    kind = params["type"]
    if kind == "geometric":
        return geometric_adstock(x, float(params["decay"]))
    if kind == "weibull":
        return weibull_adstock(
            x, float(params["shape"]), float(params["scale"]), int(params["max_lag"])
        )
    raise ValueError(f"unknown adstock type {kind!r}")


def hill(x: np.ndarray, half_saturation: float, shape: float) -> np.ndarray:
    """Hill saturation ``x^S / (x^S + K^S)`` in [0, 1).

    Parameters
    ----------
    x : ndarray
        Adstocked input per million residents, non-negative.
    half_saturation : float
        ``K``: the input at which the response is half its maximum.
    shape : float
        ``S``: steepness; ``S > 1`` gives an S-curve.

    Notes
    -----
    Jin et al. (2017), eq. (3).
    """
    x = np.asarray(x, dtype=np.float64)
    xs = np.power(np.maximum(x, 0.0), shape)
    return xs / (xs + half_saturation**shape)
