"""Baseline demand per geo and day: trend, weekly and yearly seasonality, US holidays with the
Black Friday / Cyber Monday spike, a macro index, competitor activity, own promotions, and a
persistent geo-day shock the marketers see in their own sales but an analyst's covariates do not.

Baseline orders per geo-day (before media) have mean::

    lambda_base[g, t] = base_rate * population[g] * affinity[g] * exp(log_index[g, t])
    log_index[g, t]   = sum_k component_k[t] + (season_loading[g] - 1) * yearly[t]
                        + geo_trend[g] * t / 365 + shock[g, t]

Notes
-----
Seasonality as Fourier terms and holiday effects as additive log lifts follow Taylor & Letham
(2018), "Forecasting at scale" (Prophet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import holidays
import numpy as np

# Log lifts of the retail calendar; US federal holidays not listed get a small lift.
_RETAIL_LIFTS = {
    "Thanksgiving Day": -0.10,
    "Black Friday": 0.90,
    "Black Friday Saturday": 0.45,
    "Black Friday Sunday": 0.35,
    "Cyber Monday": 0.75,
    "Christmas Day": -0.50,
    "New Year's Day": -0.20,
}
_FEDERAL_LIFT = 0.05
_WEEKLY = np.array([0.00, -0.02, -0.03, 0.00, 0.03, 0.07, 0.05])  # Mon..Sun


@dataclass(frozen=True, slots=True)
class Demand:
    """Baseline demand of one org over its geos and days (all arrays float64)."""

    base_rate: float  # orders per million residents per day at index 0
    components: dict[str, np.ndarray]  # name -> (T,) log contribution shared by all geos
    yearly: np.ndarray  # (T,) the yearly term, which geos load on differently
    affinity: np.ndarray  # (G,)
    season_loading: np.ndarray  # (G,)
    geo_trend: np.ndarray  # (G,) log growth per year on top of the org trend
    shock: np.ndarray  # (G, T)
    log_index: np.ndarray  # (G, T)
    holiday_lifts: dict[str, tuple[str, float]]  # ISO date -> (name, log lift)
    params: dict[str, Any]  # the scalar parameters, for the truth file


@lru_cache(maxsize=64)
def _us_holidays(year: int) -> tuple[tuple[date, str], ...]:
    return tuple(sorted(holidays.country_holidays("US", years=[year]).items()))


def holiday_calendar(dates: list[date]) -> dict[str, tuple[str, float]]:
    """ISO date -> (holiday name, log lift) for the retail calendar over ``dates``."""
    years = sorted({d.year for d in dates})
    lifts: dict[str, tuple[str, float]] = {}
    for y in years:
        for day, name in _us_holidays(y):
            lifts[day.isoformat()] = (name, _RETAIL_LIFTS.get(name, _FEDERAL_LIFT))
            if name == "Thanksgiving Day":
                for offset, label in (
                    (1, "Black Friday"),
                    (2, "Black Friday Saturday"),
                    (3, "Black Friday Sunday"),
                    (4, "Cyber Monday"),
                ):
                    d = (day + timedelta(days=offset)).isoformat()
                    lifts[d] = (label, _RETAIL_LIFTS[label])
    first, last = dates[0].isoformat(), dates[-1].isoformat()
    return {k: v for k, v in sorted(lifts.items()) if first <= k <= last}


def combine_log_index(
    components: dict[str, np.ndarray],
    yearly: np.ndarray,
    season_loading: np.ndarray,
    geo_trend: np.ndarray,
    shock: np.ndarray,
) -> np.ndarray:
    """``log_index[g, t]`` from its parts (the one formula generation and re-application share).

    Parameters
    ----------
    components : dict of name -> ndarray (T,)
        Summed in insertion order.
    yearly : ndarray (T,)
    season_loading, geo_trend : ndarray (G,)
    shock : ndarray (G, T)

    Returns
    -------
    ndarray (G, T)
    """
    common = np.zeros_like(yearly)
    for series in components.values():
        common = common + series
    t = np.arange(yearly.shape[0], dtype=np.float64)
    return (
        common[None, :]
        + (season_loading[:, None] - 1.0) * yearly[None, :]
        + geo_trend[:, None] * t[None, :] / 365.0
        + shock
    )


def _ar1(rng: np.random.Generator, n: int, rho: float, sd: float, shape: tuple[int, ...] = ()):
    """A stationary AR(1) with marginal sd ``sd`` along the last axis (length ``n``)."""
    eps = rng.normal(0.0, sd * np.sqrt(1.0 - rho**2), size=(*shape, n))
    out = np.empty_like(eps)
    out[..., 0] = rng.normal(0.0, sd, size=shape)
    for t in range(1, n):
        out[..., t] = rho * out[..., t - 1] + eps[..., t]
    return out


def simulate_demand(
    rng: np.random.Generator,
    dates: list[date],
    n_geos: int,
    *,
    shock_sigma: float,
    shock_rho: float,
) -> Demand:
    """Draw one org's baseline demand.

    Parameters
    ----------
    rng : numpy Generator
    dates : list of date, length T
    n_geos : int
    shock_sigma, shock_rho : float
        Marginal sd and AR(1) persistence of the geo-day shock (log scale).

    Returns
    -------
    Demand
    """
    n = len(dates)
    t = np.arange(n, dtype=np.float64)
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    dow = np.array([d.weekday() for d in dates])
    two_pi = 2.0 * np.pi * doy / 365.25
    # Peak demand in Q4, trough in late winter: cos(2pi(doy - 340)/365) shape plus a harmonic.
    a1, b1 = rng.uniform(0.06, 0.12), rng.uniform(-0.05, 0.0)
    a2, b2 = rng.uniform(0.0, 0.03), rng.uniform(-0.02, 0.02)
    yearly = a1 * np.cos(two_pi - 2.0 * np.pi * 340 / 365.25) + b1 * np.sin(two_pi)
    yearly = yearly + a2 * np.cos(2 * two_pi) + b2 * np.sin(2 * two_pi)
    trend_slope = rng.uniform(0.02, 0.15)
    weekly_eff = _WEEKLY + rng.normal(0.0, 0.01, 7)
    weekly_eff -= weekly_eff.mean()
    lifts = holiday_calendar(dates)
    holiday = np.array([lifts.get(d.isoformat(), ("", 0.0))[1] for d in dates])
    # Gift season: a ramp through the first three weeks of December.
    gift = np.array([0.12 if d.month == 12 and d.day <= 21 else 0.0 for d in dates])
    macro = _ar1(rng, n, 0.98, 1.0)
    macro_coef = rng.uniform(0.03, 0.06)
    # Competitor promotions: bursts of 3-10 days, intensity in [0.5, 1].
    competitor = np.zeros(n)
    day = int(rng.integers(0, 20))
    while day < n:
        length = int(rng.integers(3, 11))
        competitor[day : day + length] = rng.uniform(0.5, 1.0)
        day += length + int(rng.integers(15, 45))
    competitor_coef = -rng.uniform(0.05, 0.10)
    # Own promotions: a 3-5 day sale every 5-8 weeks, plus always on Black Friday week.
    promo = np.zeros(n)
    day = int(rng.integers(0, 35))
    while day < n:
        promo[day : day + int(rng.integers(3, 6))] = 1.0
        day += int(rng.integers(35, 57))
    promo[np.isin(holiday, [_RETAIL_LIFTS["Black Friday"], _RETAIL_LIFTS["Cyber Monday"]])] = 1.0
    promo_coef = rng.uniform(0.15, 0.30)

    components = {
        "trend": trend_slope * t / 365.0,
        "weekly": weekly_eff[dow],
        "yearly": yearly,
        "holiday": holiday + gift,
        "macro": macro_coef * macro,
        "competitor": competitor_coef * competitor,
        "promo": promo_coef * promo,
    }
    affinity = np.exp(rng.normal(0.0, 0.25, n_geos))
    season_loading = rng.uniform(0.5, 1.5, n_geos)
    geo_trend = rng.normal(0.0, 0.03, n_geos)
    shock = _ar1(rng, n, shock_rho, shock_sigma, (n_geos,))
    log_index = combine_log_index(components, yearly, season_loading, geo_trend, shock)
    base_rate = float(rng.uniform(25.0, 35.0))
    params = {
        "base_rate": base_rate,
        "trend_per_year": trend_slope,
        "weekly_mon_to_sun": weekly_eff.tolist(),
        "yearly_fourier": {"a1": a1, "b1": b1, "a2": a2, "b2": b2, "peak_doy": 340},
        "macro_coef": macro_coef,
        "competitor_coef": competitor_coef,
        "promo_coef": promo_coef,
        "gift_season_lift": 0.12,
        "shock_sigma": shock_sigma,
        "shock_rho": shock_rho,
        "series": {
            "macro_index": macro.tolist(),
            "competitor_intensity": competitor.tolist(),
            "promo": promo.astype(int).tolist(),
            # The gift season's calendar (1 inside), as the org would register it (ingestion's
            # external factor of type SEASON); its lift is gift_season_lift.
            "gift_season": (gift > 0).astype(int).tolist(),
        },
    }
    return Demand(
        base_rate,
        components,
        yearly,
        affinity,
        season_loading,
        geo_trend,
        shock,
        log_index,
        lifts,
        params,
    )
