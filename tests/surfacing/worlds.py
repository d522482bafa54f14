"""Small synthetic histories for the surfacing tests (numpy only; the simulator is for the
benchmarks): geos with their own level, a shared weekly pattern and national swings, and
persistent geo shocks."""

from __future__ import annotations

import numpy as np

from surfacing_svc.history import GeoHistory


def geo_history(
    *, n_geos: int = 20, n_days: int = 200, seed: int = 0, shock_sd: float = 0.05
) -> GeoHistory:
    """A history with one channel, ``meta``, spending ~3% of revenue in every geo."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_days)
    level = np.exp(rng.normal(8.0, 0.8, n_geos))
    weekly = 0.05 * np.sin(2 * np.pi * t / 7)
    national = np.cumsum(rng.normal(0, 0.01, n_days))
    shock = np.zeros((n_geos, n_days))
    eps = rng.normal(0, shock_sd * np.sqrt(1 - 0.7**2), (n_geos, n_days))
    for d in range(1, n_days):
        shock[:, d] = 0.7 * shock[:, d - 1] + eps[:, d]
    mean = level[:, None] * np.exp(weekly + national + shock)[None, :].squeeze(0)
    outcome = rng.poisson(mean).astype(np.float64)
    spend = 0.03 * mean * np.exp(rng.normal(0, 0.1, mean.shape))
    dates = np.datetime64("2024-01-01") + np.arange(n_days).astype("timedelta64[D]")
    return GeoHistory(
        geos=tuple(f"G{i:02d}" for i in range(n_geos)),
        dates=dates,
        outcome=outcome,
        spend={"meta": spend},
    )
