"""The daily national series of a fitted model: actual and predicted outcome, the baseline (every
channel off) and each channel's contribution, and which days the health check held out.

How the log model is decomposed. The model is, per geo-day,
``log ŷ = nuisance + log(1 + M)`` with ``M = Σ_c m_c`` (``m_c = β_c · unit · Hill_c``, see
:mod:`.features`). In the outcome's own units:

- **predicted** ``ŷ = y · exp(−r)``: the observed outcome less the model's residual ``r`` (the
  projected log residual of the data row the cell belongs to — its day under national
  identification, the geo-day under geo identification). Since the nuisance is a linear
  projection, observed − residual is exactly nuisance fit + media term in logs.
- **baseline** ``ŷ / (1 + M)``: the prediction with every channel removed (media term → 0).
- **contribution of c** ``ŷ · m_c / (1 + M)``: the share ``m_c / M`` of the media total
  ``ŷ − baseline``. It is also what removing channel ``c`` alone takes away
  (``ŷ − ŷ (1 + M − m_c)/(1 + M)``): in ``log(1 + Σ m_c)`` the channels enter one sum, so the
  one-at-a-time removals add up to the all-off removal exactly and no Shapley averaging over
  orders is needed. Hence ``baseline + Σ_c contribution_c = predicted`` cell by cell, and so
  for the national sums over geos reported here.

The channel totals here use the predicted outcome; the channel scores (:mod:`.scores`) apply the
same shares to the observed outcome. The two differ by ``Σ (y − ŷ) m_c / (1 + M)``, the
residual's share, which is small where the model fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fit import MMMFit, log_outcome
from .health import HealthReport

__all__ = ["DECOMPOSITION", "DailySeries", "daily_series", "holdout_mask"]

DECOMPOSITION = (
    "log-scale model log(outcome) = baseline + log(1 + Σ media terms): the baseline is the "
    "prediction with every channel off, prediction / (1 + Σ media terms); each channel gets its "
    "media term's share of prediction − baseline, which is also what removing that channel "
    "alone takes away, so in these daily series baseline + Σ channels = prediction exactly "
    "(no Shapley averaging); the attribution table applies the same shares to the actual "
    "outcome, so there baseline + Σ channels = the actual outcome (the two differ by the "
    "residual's share)"
)


@dataclass(frozen=True, slots=True, eq=False)
class DailySeries:
    """National daily sums (over geos) of the model's fit and decomposition.

    Attributes
    ----------
    dates : ndarray (T,) datetime64[D]
    actual, predicted : ndarray (T,)
        Observed outcome and the model's prediction of it.
    baseline : ndarray (T,) or None
        The prediction with every channel off (None: a failed model, which attributes nothing).
    channels : tuple of str, length C
    contributions : ndarray (C, T)
        Each channel's contribution (empty (0, T) for a failed model).
    holdout : ndarray (T,) bool
        The days the health check's holdout fit left out and predicted.
    """

    dates: np.ndarray
    actual: np.ndarray
    predicted: np.ndarray
    baseline: np.ndarray | None
    channels: tuple[str, ...]
    contributions: np.ndarray
    holdout: np.ndarray


def holdout_mask(n_days: int, health: HealthReport) -> np.ndarray:
    """The health check's holdout: its last ``days`` days (none when it held nothing out)."""
    mask = np.zeros(n_days, dtype=bool)
    if health.holdout is not None and health.holdout.days > 0:
        mask[n_days - min(health.holdout.days, n_days) :] = True
    return mask


def daily_series(fit: MMMFit, health: HealthReport, *, decompose: bool = True) -> DailySeries:
    """The daily series of a fit (``decompose=False``: actual and predicted only, for a model
    whose attribution is not reported)."""
    panel = fit.panel
    resid = fit.residuals if fit.residuals.ndim == 2 else fit.residuals[None, :]
    predicted = np.exp(log_outcome(panel.outcome) - resid)  # (G, T)
    baseline = None
    contributions = np.zeros((0, panel.n_days))
    channels: tuple[str, ...] = ()
    if decompose:
        h, m = fit.media()
        share = predicted / m  # ŷ / (1 + M): the baseline per cell
        baseline = share.sum(axis=0)
        contributions = np.einsum("c,cgt,gt->ct", fit.beta, h, share)
        channels = panel.channels
    return DailySeries(
        dates=panel.dates.copy(),
        actual=panel.outcome.sum(axis=0),
        predicted=predicted.sum(axis=0),
        baseline=baseline,
        channels=channels,
        contributions=contributions,
        holdout=holdout_mask(panel.n_days, health),
    )
