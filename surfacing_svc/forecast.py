"""``predict_performance``: the outcome of the next ``N`` days under a spend plan, with
intervals that widen with the horizon.

The outcome is baseline demand times one plus the media's share of it, as in the attribution
model: ``y_t = B_t (1 + Σ_c m_c(t))``, ``m_c`` the channel's Hill response to its adstocked
spend (from the analysis's curves). The history gives ``B_t = y_t / (1 + Σ_c m_c(t))``; the
baseline is forecast on the log scale as

    log B_t = intercept + trend · t + weekday + holidays [+ yearly Fourier] + e_t,
    e_t = ρ e_{t-1} + u_t,

and the forecast samples every source of error the horizon compounds:

- **the baseline's parameters** (level, trend, weekdays, holidays, season): drawn from their
  feasible-GLS (Prais–Winsten) covariance under the AR(1) errors — autocorrelated days carry
  less information about the level and trend than as many independent ones, but not less
  about the weekday contrasts; a trend error grows linearly with the horizon. A trend and
  yearly terms enter only with a year of history (before that a trend fitted through a
  season extrapolates the season);
- **the persistent part of demand**: residual paths taken from the history itself — from
  random origins, what the residual did over the next ``h`` days beyond its projection
  from the origin — so promotions, competitor bursts and macro swings arrive as often and as
  large as they did, and the interval widens with the horizon as far as the history says it
  should (:func:`_residual_paths`);
- **the media response**: the curves' parameter draws.

Every sampled path is a whole path, so the total over the horizon has the right (wider than
independent) interval.

Notes
-----
Harvey (1989), *Forecasting, Structural Time Series Models and the Kalman Filter*
(trend + season + AR error); Prais & Winsten (1954); Marcellino, Stock & Watson (2006),
"A comparison of direct and iterated multistep AR methods" (direct ``h``-step projections);
Künsch (1989), "The jackknife and the bootstrap for general stationary observations";
Taylor & Letham (2018) for holiday and Fourier terms. Meridian's issue #810 (no future planning) is why the horizon is in the future.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import holidays
import numpy as np

from surfacing_svc.curves import HillCurve
from surfacing_svc.errors import InsufficientData
from surfacing_svc.intervals import Interval

__all__ = ["Forecast", "media_share", "predict_performance"]

MIN_HISTORY_DAYS = 56
# Yearly Fourier terms need at least a year and a season to tell them from the trend.
_YEARLY_MIN_DAYS = 364
_BLOCK_DAYS = 7
# Fewer historical forecast origins than this and the residual paths come from an AR(1).
_MIN_ORIGINS = 60
# Retail days around US Thanksgiving, as offsets from it (Black Friday = +1, Cyber Monday = +4).
_RETAIL = {
    1: "Black Friday",
    2: "Black Friday Saturday",
    3: "Black Friday Sunday",
    4: "Cyber Monday",
}


@dataclass(frozen=True, slots=True)
class Forecast:
    """Daily forecasts and their total over the horizon."""

    dates: np.ndarray  # datetime64[D] (H,)
    daily: tuple[Interval, ...]
    total: Interval
    baseline_total: Interval
    media_total: Interval
    level: float
    warnings: tuple[str, ...] = field(default=())


@lru_cache(maxsize=32)
def _holidays(country: str, years: tuple[int, ...]) -> dict[dt.date, str]:
    table = {d: str(n) for d, n in holidays.country_holidays(country, years=list(years)).items()}
    if country == "US":
        for d, name in list(table.items()):
            if "Thanksgiving" in name:
                for k, label in _RETAIL.items():
                    table[d + dt.timedelta(days=k)] = label
    return table


def _design(
    dates: np.ndarray, origin: np.datetime64, names: Sequence[str], country: str, yearly: bool
) -> np.ndarray:
    """Regressors for ``dates``: intercept, trend (years since origin), weekdays (Monday as the
    base), one dummy per holiday name in ``names``, and yearly Fourier pairs."""
    t = (dates - origin).astype(np.float64) / 365.25
    dow = ((dates.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64)  # 0 = Mon
    # A trend is only told from the season with a year of history; before that, a global
    # trend fitted through (say) a Q4 peak extrapolates the season's slope, and the level is
    # left to the residual's persistence instead.
    cols = [np.ones(dates.size), t] if yearly else [np.ones(dates.size)]
    cols += [(dow == k).astype(np.float64) for k in range(1, 7)]
    days = [d.item() for d in dates.astype("datetime64[D]")]
    table = _holidays(country, tuple(sorted({d.year for d in days})))
    on = np.array([table.get(d, "") for d in days])
    cols += [(on == n).astype(np.float64) for n in names]
    if yearly:
        doy = np.array([d.timetuple().tm_yday for d in days], dtype=np.float64)
        for k in (1, 2):
            cols += [np.sin(2 * np.pi * k * doy / 365.25), np.cos(2 * np.pi * k * doy / 365.25)]
    return np.column_stack(cols)


def _adstocked(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_l w_l x_{t-l}`` along the last axis (zeros before the first day)."""
    out = np.zeros_like(x, dtype=np.float64)
    n = x.shape[-1]
    for lag, w in enumerate(np.asarray(weights, dtype=np.float64)):
        if lag >= n:
            break
        out[..., lag:] += w * x[..., : n - lag]
    return out


def media_share(curve: HillCurve, daily_spend: np.ndarray, baseline: float) -> np.ndarray:
    """Per draw and day, the channel's outcome as a share of baseline demand, from its daily
    spend (adstocked with the curve's carry-over): shape (D, T).

    ``baseline`` is the baseline outcome over the curve's period (its scale's denominator).
    """
    reference_daily = curve.reference_spend / curve.period_days
    relative = _adstocked(np.asarray(daily_spend, dtype=np.float64), curve.carryover)
    beta = np.asarray(curve.scale) / baseline
    return beta[:, None] * curve.share(relative / reference_daily)


def _shares(
    curves: Sequence[HillCurve],
    spend: Mapping[str, np.ndarray],
    baseline: float,
    n_days: int,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Σ_c m_c per sampled draw and day, (draws, n_days); channels without spend add 0."""
    total = np.zeros((draws, n_days))
    for c in curves:
        if c.channel not in spend:
            continue
        share = media_share(c, spend[c.channel], baseline)
        total += share[rng.integers(0, share.shape[0], draws)]
    return total


def _block_bootstrap(
    u: np.ndarray, n_paths: int, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_paths, horizon) innovations in consecutive blocks of the history's own."""
    n_blocks = -(-horizon // _BLOCK_DAYS)
    starts = rng.integers(0, max(u.size - _BLOCK_DAYS + 1, 1), (n_paths, n_blocks))
    idx = (starts[:, :, None] + np.arange(_BLOCK_DAYS)[None, None, :]) % u.size
    return u[idx].reshape(n_paths, -1)[:, :horizon]


def _prais_winsten(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Regression with AR(1) errors (Prais–Winsten feasible GLS, one iteration from OLS).

    Returns the coefficients, their covariance, the residuals ``y − x β`` and ``ρ``. The GLS
    covariance is what makes the parameters' share of the forecast error honest: a slow
    residual makes the trend and the level uncertain, but not the weekday contrasts.
    """
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    rho = float(np.clip(resid[1:] @ resid[:-1] / max(resid[:-1] @ resid[:-1], 1e-300), 0.0, 0.99))
    first = np.sqrt(1.0 - rho**2)
    xs = np.vstack([first * x[:1], x[1:] - rho * x[:-1]])
    ys = np.concatenate([first * y[:1], y[1:] - rho * y[:-1]])
    coef, *_ = np.linalg.lstsq(xs, ys, rcond=None)
    u = ys - xs @ coef
    sigma2 = float(u @ u) / max(y.size - x.shape[1], 1)
    cov = np.linalg.pinv(xs.T @ xs) * sigma2
    return coef, (cov + cov.T) / 2.0, y - x @ coef, rho


def _residual_paths(
    resid: np.ndarray,
    rho: float,
    innov: np.ndarray,
    last: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    *,
    mean_reverts: bool,
) -> np.ndarray:
    """Future residual paths, (paths, horizon), from each path's last residual ``last``.

    With enough history, the paths are the history's own: from a random origin ``t0``, the
    residuals ``e_{t0+h}`` minus their direct ``h``-step projection ``φ_h e_{t0}`` (``φ_h``
    the lag-``h`` regression of the residuals on themselves), added to ``φ_h e_T``. That keeps
    whatever mix of slow drifts and short bursts the residuals have, which an AR(1) fitted to
    them would blur (a slow macro swing and a four-day promotion give one ρ between the two).
    Without a year of history (``mean_reverts`` false) the residuals still hold the season,
    whose mean is no level to revert to: ``φ_h = 1``, so a path moves from today's level as
    much as the level moved over ``h`` days in the history (a random walk in empirical steps).
    With too little history for either, an AR(1) driven by block-resampled innovations.
    """
    n, paths = resid.size, last.size
    origins = n - horizon
    if origins >= _MIN_ORIGINS:
        lags = np.arange(1, horizon + 1)
        phi = np.array(
            [resid[h:] @ resid[:-h] / max(resid[:-h] @ resid[:-h], 1e-300) for h in lags]
        )
        phi = np.clip(phi, -1.0, 1.0) if mean_reverts else np.ones(horizon)
        t0 = rng.integers(0, origins, paths)
        ahead = resid[t0[:, None] + lags[None, :]]
        return phi[None, :] * last[:, None] + ahead - phi[None, :] * resid[t0][:, None]
    u = _block_bootstrap(innov, paths, horizon, rng)
    e = np.empty((paths, horizon))
    for h in range(horizon):
        last = rho * last + u[:, h]
        e[:, h] = last
    return e


def predict_performance(
    dates: np.ndarray,
    outcome: np.ndarray,
    spend: Mapping[str, np.ndarray],
    curves: Sequence[HillCurve],
    plan: Mapping[str, np.ndarray],
    *,
    horizon: int,
    baseline_total: float | None = None,
    level: float = 0.95,
    country: str = "US",
    paths: int = 2000,
    seed: int = 0,
) -> Forecast:
    """Forecast the outcome of the ``horizon`` days after the history under a spend plan.

    Parameters
    ----------
    dates : ndarray, shape (T,), datetime64[D], consecutive
    outcome : ndarray, shape (T,)
        The national daily outcome.
    spend : mapping channel -> ndarray (T,)
        Daily spend per channel over the history.
    curves : sequence of HillCurve
        The analysis's response curves (empty: the outcome is forecast as it stands).
    plan : mapping channel -> ndarray (horizon,)
        Daily spend per channel over the horizon; channels not in it keep their mean spend of
        the history's last 28 days.
    horizon : int
    baseline_total : float, optional
        The baseline outcome over the curves' period (their scale's denominator); required
        with curves.
    level : float
        Coverage of the intervals.
    paths : int
        Sampled paths.

    Raises
    ------
    InsufficientData
        Fewer than 56 days of history.
    """
    y = np.asarray(outcome, dtype=np.float64)
    n = y.size
    if n < MIN_HISTORY_DAYS:
        raise InsufficientData(
            f"forecasting needs at least {MIN_HISTORY_DAYS} days of outcome history; there are {n}",
            subject="history",
        )
    if curves and baseline_total is None:
        raise ValueError("baseline_total is required with curves")
    rng = np.random.default_rng(seed)
    future = dates[-1] + np.arange(1, horizon + 1).astype("timedelta64[D]")
    recent = slice(max(n - 28, 0), n)
    full_spend = {}
    for c in curves:
        past = np.asarray(spend.get(c.channel, np.zeros(n)), dtype=np.float64)
        ahead = plan.get(c.channel)
        if ahead is None:
            ahead = np.full(horizon, past[recent].mean())
        full_spend[c.channel] = np.concatenate([past, np.asarray(ahead, dtype=np.float64)])
    base = float(baseline_total) if baseline_total is not None else 1.0
    shares = _shares(curves, full_spend, base, n + horizon, paths, rng)
    mean_share = shares[:, :n].mean(axis=0)
    log_b = np.log(np.maximum(y, 1e-9) / (1.0 + mean_share))

    yearly = n >= _YEARLY_MIN_DAYS
    days = [d.item() for d in np.concatenate([dates, future]).astype("datetime64[D]")]
    table = _holidays(country, tuple(sorted({d.year for d in days})))
    seen = sorted({table[d] for d in days[:n] if d in table})
    x = _design(dates, dates[0], seen, country, yearly)
    xf = _design(future, dates[0], seen, country, yearly)
    keep = x.std(axis=0) > 0
    keep[0] = True
    x, xf = x[:, keep], xf[:, keep]
    coef, cov, resid, rho = _prais_winsten(x, log_b)
    innov = resid[1:] - rho * resid[:-1]
    innov = innov - innov.mean()
    coef_draws = rng.multivariate_normal(coef, cov, size=paths, method="svd")
    # Each path's residual at the end of the history is the data minus *its* parameters, so a
    # parameter draw that misplaces the level is corrected by the residual it leaves behind
    # (near-term forecasts do not pay twice for the level's uncertainty).
    last = log_b[-1] - coef_draws @ x[-1]
    e = _residual_paths(resid, rho, innov, last, horizon, rng, mean_reverts=yearly)
    baseline = np.exp(coef_draws @ xf.T + e)  # (paths, H)
    media = baseline * shares[:, n:]
    total = baseline + media
    warnings: list[str] = []
    unseen = sorted({table[d] for d in days[n:] if d in table} - set(seen))
    if unseen:
        warnings.append(
            "holidays in the horizon the history has not seen (no effect assumed): "
            + ", ".join(unseen)
        )
    if not yearly and horizon > 28:
        warnings.append(
            f"{n} days of history cannot separate yearly seasonality from trend; the interval "
            "carries it as uncertainty"
        )
    return Forecast(
        dates=future,
        daily=tuple(Interval.from_draws(total[:, h], level) for h in range(horizon)),
        total=Interval.from_draws(total.sum(axis=1), level),
        baseline_total=Interval.from_draws(baseline.sum(axis=1), level),
        media_total=Interval.from_draws(media.sum(axis=1), level),
        level=level,
        warnings=tuple(warnings),
    )
