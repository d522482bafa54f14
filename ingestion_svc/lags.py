"""Lag features: 1/7/14/28-day lags of spend, conversions and revenue, the trailing 7-day
mean spend and geometrically adstocked spend, per series (campaign × geo), from the series'
stored history and the batch itself.

Everything works on a history cube ``H[row, k, metric]`` = the series' value ``k`` days
before the row's day (``k = 0`` is the row itself), NaN where that day is not known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ADSTOCK_DECAY", "LAGS", "MAX_LAG", "METRICS", "history_cube", "lag_features"]

MAX_LAG = 28
LAGS = (1, 7, 14, 28)
METRICS = ("spend", "conversions", "revenue")
# Geometric carry-over per source: the share of today's effect left tomorrow. Robyn's
# hyperparameter guidance puts digital channels at theta 0–0.3 and social/video at 0.1–0.4
# (Robyn docs, "Adstock"; Jin et al. 2017, "Bayesian methods for media mix modeling with
# carryover and shape effects"): search and email carry least, social most.
ADSTOCK_DECAY = {
    "meta": 0.4,
    "tiktok": 0.4,
    "google_ads": 0.2,
    "klaviyo": 0.1,
    "generic": 0.0,
    "generic_media": 0.4,  # TV and radio carry over as social does (Robyn's TV theta 0.3-0.8)
}


def history_cube(
    keys: np.ndarray,
    own: np.ndarray,
    lookup: CubeLookup,
) -> np.ndarray:
    """``H[row, k, metric]`` for ``k = 0..MAX_LAG``.

    Parameters
    ----------
    keys : (n,) int64
        Series-day keys of the rows (a key minus ``k`` is the same series ``k`` days back).
    own : (n, 3) float
        The rows' own spend, conversions, revenue (``k = 0``).
    lookup : callable
        ``lookup(keys) -> (m, 3)`` known values, NaN where unknown.
    """
    n = keys.size
    cube = np.full((n, MAX_LAG + 1, 3), np.nan)
    cube[:, 0, :] = own
    if n:
        back = (keys[:, None] - np.arange(1, MAX_LAG + 1)[None, :]).ravel()
        cube[:, 1:, :] = lookup(back).reshape(n, MAX_LAG, 3)
    return cube


class CubeLookup:
    """Looks keys up first among the batch's own rows, then in a fallback (the history)."""

    def __init__(self, batch_keys: np.ndarray, batch_values: np.ndarray, fallback) -> None:  # type: ignore[no-untyped-def]
        self._index = pd.Index(batch_keys)
        self._values = batch_values
        self._fallback = fallback

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        out = self._fallback(keys)
        at = self._index.get_indexer(keys) if self._index.size else np.full(keys.size, -1)
        hit = at >= 0
        out[hit] = self._values[at[hit]]
        return out


def lag_features(cube: np.ndarray, decay: float) -> pd.DataFrame:
    """The lag columns of ``mesh.runtime.frames`` (``spend_lag_1`` … ``lag_history_days``).

    Notes
    -----
    * ``{metric}_lag_{k}`` is the value exactly ``k`` days earlier, NaN (unset) when that
      day is not known.
    * ``adstock_spend`` is the geometric adstock :math:`a_t = x_t + \\theta a_{t-1}`
      (Jin et al. 2017) unrolled over the 28-day window, unknown days counting as zero;
      :math:`\\theta^{28} < 10^{-9}` for every decay used here, so the truncation is
      immaterial.
    * ``spend_rolling_mean_7`` is the mean spend of the previous 7 days, unset unless all
      7 are known (a gap is missing data, not zero spend).
    * ``lag_history_days`` counts the known days among the 28 before the row.
    """
    out: dict[str, np.ndarray] = {}
    for m, metric in enumerate(METRICS):
        for k in LAGS:
            out[f"{metric}_lag_{k}"] = cube[:, k, m]
    spend = cube[:, :, 0]
    weights = decay ** np.arange(MAX_LAG + 1)
    # a row-wise sum, not ``spend @ weights``: the matrix product's BLAS kernel depends on the
    # number of rows, which moved a row's last bit with the batch it came in (R47-F2)
    out["adstock_spend"] = (np.nan_to_num(spend, nan=0.0) * weights).sum(axis=1)
    out["adstock_decay"] = np.full(cube.shape[0], decay)
    week = spend[:, 1:8]
    full = ~np.isnan(week).any(axis=1)
    out["spend_rolling_mean_7"] = np.where(full, np.nan_to_num(week).mean(axis=1), np.nan)
    out["lag_history_days"] = (~np.isnan(cube[:, 1:, 0])).sum(axis=1).astype(np.int64)
    return pd.DataFrame(out)
