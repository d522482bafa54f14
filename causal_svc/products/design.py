"""The pieces of a product regression: adstock of spend, the transform's profile grid, and the
baseline controls (trend, annual Fourier terms, weekday, holidays and retail events, discounts,
launches) every category and product equation shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from causal_svc.attribution.calendar import national_design

__all__ = ["DECAYS", "SATURATIONS", "adstock", "baseline_controls"]

# The profile grid: geometric decay, and the half-saturation point as a multiple of the mean
# positive adstock (inf = linear). Media-mix practice (Jin et al. 2017) puts daily decays of
# retail catalogue and shopping ads in 0-0.7 and half-saturation around 1-4x typical spend.
DECAYS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
SATURATIONS = (0.5, 1.0, 2.0, 4.0, 8.0, np.inf)


def adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """Normalised geometric adstock along the last axis: ``a_t = (1-d) x_t + d a_{t-1}``."""
    if decay == 0.0:
        return np.asarray(x, dtype=np.float64)
    return lfilter([1.0 - decay], [1.0, -decay], x, axis=-1)


def baseline_controls(
    dates: np.ndarray,
    discount: np.ndarray,
    weights: np.ndarray,
    first_sale: np.ndarray,
    country: str = "US",
    *,
    smooth_days: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Controls of one equation.

    Parameters
    ----------
    dates : ndarray (T,) datetime64[D]
    discount : ndarray (P, T)
        Share off list price of each product of the equation per day.
    weights : ndarray (P,)
        Each product's mean daily revenue (how much its discount moves the outcome).
    first_sale : ndarray (P,) int
        Day index each product first sold (0 = before the window).
    country : str

    Returns
    -------
    (X, names) : ndarray (T, K), list of str
        Intercept, quadratic trend, three annual harmonics, the calendar of
        :func:`causal_svc.attribution.calendar.national_design`, the revenue-weighted
        discount and its square, and one step per product launched inside the window.
    """
    n = dates.shape[0]
    t = np.arange(n, dtype=np.float64) / 365.25
    doy = pd.DatetimeIndex(dates).day_of_year.to_numpy(np.float64)
    cols = [np.ones(n), t, t**2]
    names = ["intercept", "trend", "trend2"]
    for h in (1, 2, 3):
        w = 2.0 * np.pi * h * doy / 365.25
        cols += [np.cos(w), np.sin(w)]
        names += [f"cos{h}", f"sin{h}"]
    if smooth_days:
        # A local level: linear B-spline (tent) functions every ``smooth_days`` days take up
        # slow demand swings nobody records (macro mood, competitors).
        knots = np.arange(0, n + smooth_days, smooth_days, dtype=np.float64)
        day = np.arange(n, dtype=np.float64)
        for j, kn in enumerate(knots[1:-1], start=1):
            cols.append(np.clip(1.0 - np.abs(day - kn) / smooth_days, 0.0, None))
            names.append(f"level{j}")
    cal, cal_names = national_design(dates, None, country)
    cols += list(cal.T)
    names += list(cal_names)
    mix = (weights[:, None] * discount).sum(axis=0) / max(float(weights.sum()), 1e-12)
    cols += [mix, mix**2]
    names += ["discount", "discount2"]
    for j, day in enumerate(first_sale.tolist()):
        if 7 <= day < n - 7:  # a launch inside the window, with days on both sides
            cols.append((np.arange(n) >= day).astype(np.float64))
            names.append(f"launch:{j}")
    x = np.column_stack(cols)
    keep = x.std(axis=0) > 0
    keep[0] = True
    return x[:, keep], [nm for nm, k in zip(names, keep, strict=True) if k]
