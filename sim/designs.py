"""Identification designs embedded in a world, each defining both potential outcomes.

A design toggles one channel's input on a (geo, day) grid. ``mult_fact`` multiplies the
channel's planned input in the world that happened; ``mult_alt`` in the world where every
unit-day's treatment is flipped. Because geos do not interact and, for unit-day designs, the
channel has no carryover, ``Y(1) = where(treated, Y_fact, Y_alt)`` and
``Y(0) = where(treated, Y_alt, Y_fact)`` are exact potential outcomes for every unit-day.
For path designs (holdout, rollouts) a unit's "treatment" is its whole input path, and the same
identity holds per geo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .demand import Demand


@dataclass(frozen=True, slots=True)
class Design:
    """One embedded design: assignment, the two input regimes, and extra observed columns."""

    kind: str
    channel: str
    treated: np.ndarray  # (G, T) bool
    mult_fact: np.ndarray  # (G, T)
    mult_alt: np.ndarray  # (G, T)
    info: dict[str, Any]
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # (G, T) observed extras
    cpm_index: np.ndarray | None = None  # (G, T) multiplier on the channel's CPM


def _ramp(days_since: np.ndarray, ramp_days: int) -> np.ndarray:
    return np.where(days_since >= 0, np.minimum(1.0, (days_since + 1) / ramp_days), 0.0)


def geo_holdout(
    rng: np.random.Generator, channel: str, pop: np.ndarray, n_days: int, test_days: int = 28
) -> Design:
    """Matched-pair randomised holdout: in each pair of geos adjacent in population, one keeps
    the channel on (treatment) and one has it switched off (control) for the last ``test_days``.

    Notes
    -----
    Pairing on size follows Vaver & Koehler (2011), "Measuring ad effectiveness using geo
    experiments".
    """
    g = pop.shape[0]
    order = np.argsort(-pop, kind="stable")
    treat_geo = np.zeros(g, dtype=bool)
    for i in range(0, g - 1, 2):
        pick = order[i] if rng.random() < 0.5 else order[i + 1]
        treat_geo[pick] = True
    if g % 2:
        treat_geo[order[-1]] = bool(rng.random() < 0.5)
    start = n_days - test_days
    window = np.zeros(n_days, dtype=bool)
    window[start:] = True
    treated = treat_geo[:, None] & window[None, :]
    control = (~treat_geo)[:, None] & window[None, :]
    mult_fact = np.where(control, 0.0, 1.0)
    mult_alt = np.where(treated, 0.0, 1.0)
    info = {
        "treatment_geo_mask": treat_geo.tolist(),
        "window_start_day": start,
        "window_days": test_days,
        "pre_days": min(start, 2 * test_days),
        "treatment_config": {"spend_multiplier": 1.0},
        "control_config": {"spend_multiplier": 0.0},
    }
    return Design("geo_holdout", channel, treated, mult_fact, mult_alt, info)


def staggered(rng: np.random.Generator, channel: str, n_geos: int, n_days: int) -> Design:
    """Three launch cohorts (at 2/7, 1/2 and 5/7 of the run) and a never-treated quarter; input
    ramps up over six weeks after launch and early cohorts get bigger budgets, so effects grow
    with time since launch and differ by cohort (the case where two-way fixed effects fail).

    Notes
    -----
    Goodman-Bacon (2021); Callaway & Sant'Anna (2021), "Difference-in-differences with multiple
    time periods".
    """
    weeks = n_days // 7
    launch_weeks = [round(weeks * f) for f in (2 / 7, 1 / 2, 5 / 7)]
    budget = [2.0, 1.0, 0.4]
    cohort = rng.permutation(np.arange(n_geos) % 4)  # 0,1,2 cohorts; 3 never
    launch_day = np.full(n_geos, -1)
    factor = np.zeros(n_geos)
    for k in range(3):
        launch_day[cohort == k] = 7 * launch_weeks[k]
        factor[cohort == k] = budget[k]
    t = np.arange(n_days)
    since = np.where(launch_day[:, None] >= 0, t[None, :] - launch_day[:, None], -1)
    treated = since >= 0
    mult_fact = _ramp(since, 42) * factor[:, None]
    info = {
        "launch_day": launch_day.tolist(),
        "cohort_budget_factor": factor.tolist(),
        "ramp_days": 42,
    }
    return Design("staggered", channel, treated, mult_fact, np.zeros_like(mult_fact), info)


def synthetic_control(
    rng: np.random.Generator, channel: str, pop: np.ndarray, n_days: int, post_days: int = 56
) -> Design:
    """One mid-sized geo alone launches the channel ``post_days`` before the end."""
    order = np.argsort(-pop, kind="stable")
    lo, hi = min(4, len(order) - 1), max(5, len(order) * 2 // 3)
    unit = int(order[rng.integers(lo, hi)])
    launch = n_days - post_days
    t = np.arange(n_days)
    treated = np.zeros((pop.shape[0], n_days), dtype=bool)
    treated[unit] = t >= launch
    mult_fact = np.zeros(treated.shape)
    mult_fact[unit] = _ramp(t - launch, 14)
    info = {"treated_geo_index": unit, "launch_day": launch, "ramp_days": 14}
    return Design("synthetic_control", channel, treated, mult_fact, np.zeros_like(mult_fact), info)


def _forecast(demand: Demand, rng: np.random.Generator, lags: int = 7) -> np.ndarray:
    """A demand forecast for each geo-day from the previous ``lags`` days' index, plus model
    error: known before the day starts, so a rule may act on it."""
    li = demand.log_index
    g, n = li.shape
    pad = np.concatenate([np.repeat(li[:, :1], lags, axis=1), li], axis=1)
    csum = np.concatenate([np.zeros((g, 1)), np.cumsum(pad, axis=1)], axis=1)
    # mean of pad[:, t : t + lags] == mean of log_index over days t-lags .. t-1
    trailing = (csum[:, lags : lags + n] - csum[:, :n]) / lags
    return trailing + rng.normal(0.0, 0.02, size=(g, n))


def rdd(rng: np.random.Generator, channel: str, demand: Demand, boost: float = 3.0) -> Design:
    """Sharp budget rule: the channel's budget is multiplied by ``1 + boost`` on geo-days whose
    demand forecast is at or above the cutoff (the forecast's 60th percentile).

    Notes
    -----
    Imbens & Lemieux (2008), "Regression discontinuity designs: a guide to practice".
    """
    score = _forecast(demand, rng)
    cutoff = float(np.quantile(score, 0.6))
    treated = score >= cutoff
    mult_fact = np.where(treated, 1.0 + boost, 1.0)
    mult_alt = np.where(treated, 1.0, 1.0 + boost)
    info = {"cutoff": cutoff, "boost": boost, "running_variable": "demand_forecast"}
    return Design(
        "rdd", channel, treated, mult_fact, mult_alt, info, columns={"demand_forecast": score}
    )


def instrument(
    rng: np.random.Generator,
    channel: str,
    demand: Demand,
    shock_rate: float = 0.3,
    shock_size: float = 0.5,
    demand_response: float = 1.0,
) -> Design:
    """Auction-price shocks ``Z`` (random geo-days) raise CPMs; a CPM-cap rule pauses the
    channel when ``shock_size * Z + noise - demand_response * demand_dev`` exceeds a threshold,
    so the marketers also pause on weak-demand days (confounding) while ``Z`` moves the pause
    decision only. Treatment is "running" (1) versus "paused" (0).

    Notes
    -----
    Angrist, Imbens & Rubin (1996): LATE is the mean effect over compliers, those running when
    unshocked and paused when shocked; ``info`` holds each unit-day's complier status.
    """
    li = demand.log_index
    z = rng.random(li.shape) < shock_rate
    eta = rng.normal(0.0, 0.15, li.shape)
    dev = li - li.mean(axis=1, keepdims=True)
    latent0 = eta - demand_response * dev
    threshold = float(np.quantile(latent0, 0.85))
    d0 = latent0 <= threshold  # running when not shocked
    d1 = latent0 + shock_size <= threshold  # running when shocked
    treated = np.where(z, d1, d0)
    mult_fact = treated.astype(float)
    mult_alt = 1.0 - mult_fact
    complier = d0 & ~d1
    info = {
        "shock_rate": shock_rate,
        "shock_size": shock_size,
        "threshold": threshold,
        "complier_share": float(complier.mean()),
    }
    cols = {"auction_shock": z.astype(float), "complier": complier.astype(float)}
    return Design(
        "iv",
        channel,
        treated,
        mult_fact,
        mult_alt,
        info,
        columns=cols,
        cpm_index=np.exp(shock_size * z + eta),
    )


def observational(
    rng: np.random.Generator,
    channel: str,
    demand: Demand,
    pop: np.ndarray,
    dates_weekday: np.ndarray,
    boost: float = 1.0,
) -> Design:
    """A "boost" (input x ``1 + boost``) chosen by a logistic rule on observed covariates only
    (demand forecast, macro index, competitor and promo calendars, weekend, log population), with
    propensities clipped to [0.05, 0.95] for overlap; treatment is random given them.

    Notes
    -----
    Rosenbaum & Rubin (1983); the estimand is the sample ATE over all geo-days.
    """
    g, n = demand.log_index.shape
    forecast = _forecast(demand, rng)
    macro = np.broadcast_to(np.asarray(demand.params["series"]["macro_index"]), (g, n))
    competitor = np.broadcast_to(
        np.asarray(demand.params["series"]["competitor_intensity"]), (g, n)
    )
    promo = np.broadcast_to(np.asarray(demand.params["series"]["promo"], dtype=float), (g, n))
    weekend = np.broadcast_to((dates_weekday >= 5).astype(float), (g, n))
    log_pop = np.broadcast_to(np.log(pop)[:, None], (g, n))
    fdev = (forecast - forecast.mean()) / forecast.std()
    logit = (
        -0.3
        + 1.2 * fdev
        + 0.3 * macro
        - 0.8 * competitor
        + 1.0 * promo
        + 0.4 * weekend
        - 0.3 * (log_pop - log_pop.mean())
    )
    p = np.clip(1.0 / (1.0 + np.exp(-logit)), 0.05, 0.95)
    treated = rng.random((g, n)) < p
    mult_fact = np.where(treated, 1.0 + boost, 1.0)
    mult_alt = np.where(treated, 1.0, 1.0 + boost)
    cols = {
        "demand_forecast": forecast,
        "macro_index": np.array(macro),
        "competitor_intensity": np.array(competitor),
        "promo": np.array(promo),
        "weekend": np.array(weekend),
        "log_population": np.array(log_pop),
        "propensity": p,
    }
    info = {"boost": boost, "propensity_clip": [0.05, 0.95]}
    return Design("observational", channel, treated, mult_fact, mult_alt, info, columns=cols)
