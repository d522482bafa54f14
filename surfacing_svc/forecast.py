"""``predict_performance``: the outcome of the next ``N`` days under a spend plan, with
intervals that widen with the horizon.

The outcome is baseline demand times one plus the media's share of it, as in the attribution
model: ``y_t = B_t (1 + Σ_c m_c(t))``, ``m_c`` the channel's Hill response to its adstocked
spend (from the analysis's curves). The history gives ``B_t = y_t / (1 + Σ_c m_c(t))``; the
baseline is forecast on the log scale as

    log B_t = level + weekday + holidays + retail seasons [+ yearly Fourier] + e_t,

and the forecast samples every source of error the horizon compounds:

- **the baseline's parameters** (level, weekdays, holidays, season): drawn from their
  feasible-GLS (Prais–Winsten) covariance under AR(1) errors — autocorrelated days carry less
  information about the level and season than as many independent ones, but not less about
  the weekday contrasts. Yearly terms enter with a year of history, and with them a question
  a year or two cannot settle: is the end-of-year level growth, or the season's wrap? Half
  the paths are drawn with a linear trend and half without (equal-weight model averaging:
  without it the 56-day total fell short of the truth in 44 of 60 worlds, with the trend
  alone it overshot as often and wider);
- **where demand goes from here**: residual paths taken from the history itself — from random
  origins, how the residual moved over the next ``h`` days — added to today's residual, so
  growth, promotions, competitor bursts and macro swings arrive as often and as large as they
  did, and the interval widens with the horizon as far as the history says it should
  (:func:`_residual_paths`). A path follows one origin's moves for up to 56 days, then
  another's: the method is chosen from the history alone, never from the horizon asked, so a day's interval is the same in a 28-day forecast as in a 56-day one and a longer
  horizon's total never has the narrower interval (on a 120-day history the horizon once
  switched it to an AR(1) from 54 days on, with a 30% narrower total). A year holds few independent h-day moves, so their spread is
  itself uncertain: each path's move is scaled by a Student-t factor on the moves' degrees of
  freedom (:func:`_move_scales`) — what makes the horizon's total honest, not only each day;
- **a season the history cannot identify**: with less than a year, how the yearly season
  moves from today is drawn per path, as far as the months seen have swung
  (:func:`_unseen_season`; 180-day histories, held-out worlds: 28/56-day coverage
  76.6/76.4% → 79.3/85.8%, the 56-day total 65% → 90%);
- **retail seasons**: named spans of the calendar (the Christmas shopping weeks, 1–21
  December, US) enter as regressors once the history holds a week of one, so a history that
  ends inside them does not carry their level past their end (180-day histories, 40 worlds:
  89/90/90% → 92/92/92% at 7/28/56 days). The org's own registered seasons (external factors
  of type SEASON, which may run into the horizon) replace a built-in one they overlap; one the
  history cannot estimate is taken from its dates a year earlier, or else left out of the
  estimate and drawn as an unknown effect (:mod:`surfacing_svc.seasons`);
- **holidays the history has not seen**: an unknown effect, not none — each path draws one
  per holiday, N(0, 0.4²) on the log (measured on 180-day histories: daily coverage
  81.8/80.4/78.4% → 82.9/82.8/80.0% at 7/28/56 days);
- **the media response**: the curves' parameter draws, each with the baseline it implies (the
  history fixes the outcome, so a draw with more media had less baseline): a plan that keeps
  recent spend is as certain as the baseline, a plan that changes spend adds the media's
  uncertainty in proportion to the change. A channel that ran on part of the analysis window
  (a Q4 flight, a launch) is read on its curve conditional on running, since the plan gives
  the days it runs (:mod:`surfacing_svc.flight_curves`).

A day of the history far outside its usual range (a day imported ×50, an outage's zeros) is
read as a one-off: left out of the fit and of the residual moves, and named
(:mod:`surfacing_svc.outlier_days`).

Every sampled path is a whole path, so the total over the horizon has the right (wider than
independent) interval.

Notes
-----
Harvey (1989), *Forecasting, Structural Time Series Models and the Kalman Filter*
(trend + season + AR error); Prais & Winsten (1954); Marcellino, Stock & Watson (2006),
"A comparison of direct and iterated multistep AR methods" (multistep errors taken directly);
Künsch (1989), "The jackknife and the bootstrap for general stationary observations";
Taylor & Letham (2018) for holiday and Fourier terms. Meridian's issue #810 (no future planning) is why the horizon is in the future.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.stats import chi2

from mesh.runtime.cancellation import checkpoint
from mesh.runtime.holiday_rules import holiday_table
from surfacing_svc.curves import HillCurve, adstocked
from surfacing_svc.errors import InsufficientData
from surfacing_svc.flight_curves import Running, running
from surfacing_svc.intervals import Interval
from surfacing_svc.outlier_days import outlier_days
from surfacing_svc.seasons import UNSEEN_SEASON_SD, resolve_seasons

__all__ = ["Forecast", "media_share", "predict_performance"]

MIN_HISTORY_DAYS = 56
# Yearly Fourier terms need a full year of history.
_YEARLY_MIN_DAYS = 364
_BLOCK_DAYS = 7
# Days the current level of the residual is averaged over (and each origin's level).
_LEVEL_DAYS = 7
# Days of the monthly level whose range sizes an unidentified season (_unseen_season).
_SEASON_WINDOW = 28
# A path takes the history's residual moves _SEGMENT_DAYS at a time, from at least
# _MIN_ORIGINS origins (shorter segments where the history is short; under a week: an AR(1)).
# 56 days: for histories of 123 days and more, horizons to 56 days are forecast as when the
# whole horizon was one move (the coverage measured in docs/performance.md).
_MIN_ORIGINS = 60
_SEGMENT_DAYS = 56
# The spread of the history's h-day moves is known from at least this many degrees of freedom
# (a floor keeps a short history's t tails finite in the mean), and a path's scale factor is
# read at quantiles from this one up (exp of a t's far tail would swamp the mean).
_MIN_MOVE_DOF = 4.0
# Log-scale sd of an unseen holiday's effect: retail holidays move a day's demand by up to
# about ±0.9 (Black Friday), federal ones by a few percent.
_UNSEEN_HOLIDAY_SD = 0.4
_MOVE_TAIL = 0.005
# From this share of the horizon's media, a forecast says how much is carry-over of earlier
# spend (R29 F3: a plan spending nothing still read "media 169,751").
_CARRIED_SHARE = 0.1


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
    # One interval per fan level, in the order asked (empty: no fan): per day, and the totals.
    fan_levels: tuple[float, ...] = field(default=())
    daily_fan: tuple[tuple[Interval, ...], ...] = field(default=())
    total_fan: tuple[Interval, ...] = field(default=())
    baseline_total_fan: tuple[Interval, ...] = field(default=())
    media_total_fan: tuple[Interval, ...] = field(default=())


@lru_cache(maxsize=32)
def _holidays(country: str, years: tuple[int, ...]) -> dict[dt.date, str]:
    # The mesh's one rule (mesh.runtime.holiday_rules): public holidays, and Black Friday to
    # Cyber Monday where the country keeps them (GB, AU, DE… as well as the US), as the
    # ingestion calendar and the attribution model have them.
    return dict(holiday_table(country, None, min(years), max(years)))


def _design(
    dates: np.ndarray,
    names: Sequence[str],
    country: str,
    yearly: bool,
    seasons: np.ndarray | None = None,
) -> np.ndarray:
    """Regressors for ``dates``: intercept, weekdays (Monday as the base), one dummy per
    holiday name in ``names``, the retail seasons' 0/1 columns ``seasons`` (one row per date),
    and yearly Fourier pairs.

    No trend term here: the residual paths carry the level forward in the steps the history
    took (:func:`_residual_paths`), growth included; with yearly terms, half the paths add
    one (:func:`predict_performance`).
    """
    dow = ((dates.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64)  # 0 = Mon
    cols = [np.ones(dates.size)]
    cols += [(dow == k).astype(np.float64) for k in range(1, 7)]
    days = [d.item() for d in dates.astype("datetime64[D]")]
    table = _holidays(country, tuple(sorted({d.year for d in days})))
    on = np.array([table.get(d, "") for d in days])
    cols += [(on == n).astype(np.float64) for n in names]
    if seasons is not None:
        cols += list(np.asarray(seasons, dtype=np.float64).T)
    if yearly:
        doy = np.array([d.timetuple().tm_yday for d in days], dtype=np.float64)
        for k in (1, 2):
            cols += [np.sin(2 * np.pi * k * doy / 365.25), np.cos(2 * np.pi * k * doy / 365.25)]
    return np.column_stack(cols)


def media_share(curve: HillCurve, daily_spend: np.ndarray, baseline: float) -> np.ndarray:
    """Per draw and day, the channel's outcome as a share of baseline demand, from its daily
    spend (adstocked with the curve's carry-over): shape (D, T).

    ``baseline`` is the baseline outcome over the curve's period (its scale's denominator).
    """
    reference_daily = curve.reference_spend / curve.period_days
    relative = adstocked(np.asarray(daily_spend, dtype=np.float64), curve.carryover)
    beta = np.asarray(curve.scale) / baseline
    return beta[:, None] * curve.share(relative / reference_daily)


def _shares(
    curves: Sequence[HillCurve],
    spend: Mapping[str, np.ndarray],
    baseline: float,
    n_days: int,
    picks: Sequence[np.ndarray],
    paths: int,
) -> np.ndarray:
    """Σ_c m_c per sampled path and day, (paths, n_days): on each path, curve ``c``'s draw
    ``picks[c]`` (one index per path); channels without spend add 0."""
    total = np.zeros((paths, n_days))
    for c, pick in zip(curves, picks, strict=True):
        checkpoint()
        if c.channel not in spend:
            continue
        total += media_share(c, spend[c.channel], baseline)[pick]
    return total


def _block_bootstrap(
    u: np.ndarray, n_paths: int, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_paths, horizon) innovations in consecutive blocks of the history's own."""
    n_blocks = -(-horizon // _BLOCK_DAYS)
    # Block by block (not path by path), so a path's first blocks do not depend on the horizon.
    starts = rng.integers(0, max(u.size - _BLOCK_DAYS + 1, 1), (n_blocks, n_paths)).T
    idx = (starts[:, :, None] + np.arange(_BLOCK_DAYS)[None, None, :]) % u.size
    return u[idx].reshape(n_paths, -1)[:, :horizon]


def _prais_winsten(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Regression with AR(1) errors (Prais–Winsten feasible GLS, one iteration from OLS).

    Returns the coefficients, their covariance, the residuals ``y − x β`` and ``ρ``. The GLS
    covariance is what makes the parameters' share of the forecast error honest: a slow
    residual makes the level and the season uncertain, but not the weekday contrasts.
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


def _level(resid: np.ndarray, usual: np.ndarray) -> np.ndarray:
    """Per day ``t``, the residual's level over the week ending at ``t``: its mean over the
    week's usual days (``usual``: not inside a promotion), or over the whole week where it
    has none. A promotion is a few days' excursion, not where demand stands."""
    week = np.ones(_LEVEL_DAYS)
    w = usual.astype(np.float64)
    plain = np.convolve(resid, week / _LEVEL_DAYS, mode="full")[: resid.size]
    count = np.convolve(w, week, mode="full")[: resid.size]
    total = np.convolve(resid * w, week, mode="full")[: resid.size]
    return np.where(count > 0, total / np.maximum(count, 1.0), plain)


def _segment_days(n: int) -> int:
    """Days of the history's own residual moves a path takes from one origin, on a history of
    ``n`` days (0: too short for them; the residual paths then come from an AR(1)).

    Chosen from the history alone, never from the horizon asked: one history gives one model,
    so a day's interval is the same in a 28-day forecast as in a 56-day one, and a longer
    horizon's total holds the shorter one's. (Choosing by the horizon switched a 120-day
    history to the AR(1) from 54 days on, whose total was 30% narrower than the 53-day one's.)
    At most :data:`_SEGMENT_DAYS`, and short enough to leave :data:`_MIN_ORIGINS` origins.
    """
    days = min(_SEGMENT_DAYS, n - _LEVEL_DAYS - _MIN_ORIGINS)
    return days if days >= _BLOCK_DAYS else 0


def _residual_paths(
    resid: np.ndarray,
    rho: float,
    innov: np.ndarray,
    last: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    usual: np.ndarray | None = None,
) -> np.ndarray:
    """Future residual paths, (paths, horizon), from each path's last residual ``last``.

    With enough history (:func:`_segment_days`, ``L``) the steps are the history's own: from
    a random origin ``t0``, the path moves from today's level as the residual moved from its
    level at ``t0`` over the next ``h ≤ L`` days, ``ē_T + (e_{t0+h} − ē_{t0})`` (``ē`` the
    mean of the last week, at both ends alike, over its days outside promotions where
    ``usual`` marks them: :func:`_level`); past ``L`` days it goes on from the level it
    reached, ``ē_T + (ē_{t0+L} − ē_{t0})``, along another origin's next ``L`` days, and so
    on. Every segment ends where its origin's does, a random day (a segment run to the
    history's end would replay today's level at every join: a 290-day total 14% high). The
    level carries forward (no reversion to a mean that holds the season and the growth of
    the past), and growth, promotions, competitor bursts and macro swings arrive as often and
    as large as they did; an AR(1) fitted to the residuals would blur a slow swing and a
    four-day promotion into one ρ. With too little history, an AR(1) driven by
    block-resampled innovations.

    The draws are made segment by segment from a generator of their own (one draw of
    ``rng``, whatever the horizon), so a path's first days are the same whatever horizon it
    is drawn to.
    """
    n, paths = resid.size, last.size
    own = np.random.default_rng(int(rng.integers(0, 2**63)))
    days = _segment_days(n)
    if days:
        level = _level(resid, np.ones(n, bool) if usual is None else usual)
        steps = np.arange(1, days + 1)[None, :]
        segments = []
        base = last.astype(np.float64)
        for _ in range(-(-horizon // days)):
            checkpoint()
            t0 = own.integers(_LEVEL_DAYS - 1, n - days, paths)
            segments.append(base[:, None] + resid[t0[:, None] + steps] - level[t0][:, None])
            base = base + level[t0 + days] - level[t0]
        return np.hstack(segments)[:, :horizon]
    u = _block_bootstrap(innov, paths, horizon, own)
    e = np.empty((paths, horizon))
    for h in range(horizon):
        last = rho * last + u[:, h]
        e[:, h] = last
    return e


def _move_scales(
    n: int, horizon: int, count: int, rng: np.random.Generator, slow: int
) -> np.ndarray:
    """Per path and lag ``h``, a factor on the path's move since today: ``sqrt(ν/χ²_ν)``, the
    Student-t predictive of a spread estimated from ``ν`` degrees of freedom. A history of
    ``n`` days holds ``(n − h)/h`` independent h-day moves, and the ``slow`` regressors fitted
    on it (level, yearly terms, trend) have used up as many of them, so
    ``ν = (n − h)/h − slow`` (at least :data:`_MIN_MOVE_DOF`). One uniform per path drives
    every lag: a path wide at one lag is wide at all, so the horizon's total gets the whole
    effect.

    Why: a year holds only about six independent 56-day moves; resampling them as if they
    were the whole distribution gave the 56-day total's 90% interval 80% coverage.
    """
    lags = np.arange(1, horizon + 1)
    nu = np.maximum((n - lags) / lags - slow, _MIN_MOVE_DOF)
    u = np.clip(rng.uniform(size=count), _MOVE_TAIL, 1.0)
    return np.sqrt(nu[None, :] / chi2.ppf(u[:, None], nu[None, :]))


def _unseen_season(
    resid: np.ndarray, future: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Per path, how the yearly season moves from today over the horizon when the history
    holds less than a year (the season is then not identified): ``δ(t) − δ(T)``, ``δ`` yearly
    Fourier pairs (k = 1, 2) with random coefficients, N(0, τ²) and N(0, (τ/2)²). ``τ`` is
    half the range of the history's monthly level (its residual's 28-day mean): the season
    ahead may swing as far as demand has over the months seen, in either direction. Anchored
    at today, it widens the horizon's far end and leaves the next days alone."""
    k = min(_SEASON_WINDOW, resid.size)
    slow = np.convolve(resid, np.ones(k) / k, mode="valid")
    tau = float(slow.max() - slow.min()) / 2.0
    today = future[:1] - np.timedelta64(1, "D")
    t_all = np.concatenate([today, future]).astype("datetime64[D]").astype(np.int64)
    doy = 2 * np.pi * t_all / 365.25
    out = np.zeros((count, future.size))
    for order, scale in ((1, 1.0), (2, 0.5)):
        a, b = rng.normal(0.0, tau * scale, (2, count, 1))
        wave = a * np.sin(order * doy)[None, :] + b * np.cos(order * doy)[None, :]
        out += wave[:, 1:] - wave[:, :1]
    return out


def _log_paths(
    x: np.ndarray,
    xf: np.ndarray,
    log_b: np.ndarray,
    horizon: int,
    count: int,
    rng: np.random.Generator,
    usual: np.ndarray | None = None,
) -> np.ndarray:
    """``count`` sampled paths of the log baseline over the horizon from one specification
    (regressors ``x`` over the history, ``xf`` over the horizon): parameter draws, today's
    residual level, and the residual's moves from there (scaled by :func:`_move_scales`).
    ``usual`` marks the history's days outside the org's promotions (None: every day)."""
    checkpoint()
    n = log_b.size
    coef, cov, resid, rho = _prais_winsten(x, log_b)
    innov = resid[1:] - rho * resid[:-1]
    innov = innov - innov.mean()
    coef_draws = rng.multivariate_normal(coef, cov, size=count, method="svd")
    # Each path's residual at the end of the history is the data minus *its* parameters, so a
    # parameter draw that misplaces the level is corrected by the residual it leaves behind
    # (near-term forecasts do not pay twice for the level's uncertainty).
    # The level today is read from the last week, not the last day: a day can sit inside a
    # promotion or a competitor's burst, which the path would otherwise carry forward.
    # Inside a promotion, the last week's mean would carry the promotion forward as the level
    # (a 13–18% overshoot where a history ends in one): today's level is read from the
    # latest week's days outside promotions (the latest such days within four weeks).
    days = np.arange(max(n - _LEVEL_DAYS, 0), n)
    if usual is not None:
        calm = np.flatnonzero(usual[-28:]) + max(n - 28, 0)
        days = calm[-_LEVEL_DAYS:] if calm.size else days
    last = (log_b[days] - coef_draws @ x[days].T).mean(axis=1)
    e = _residual_paths(resid, rho, innov, last, horizon, rng, usual)
    # Slow regressors: all but the 0/1 weekday and holiday dummies (the intercept is 1).
    dummies = ((x == 0) | (x == 1)).all(axis=0)
    slow = int((~dummies).sum()) + 1
    e = last[:, None] + (e - last[:, None]) * _move_scales(n, horizon, count, rng, slow)
    return coef_draws @ xf.T + e


def _carried_over(
    curves: Sequence[HillCurve],
    spend: Mapping[str, np.ndarray],
    baseline_total: float,
    picks: Sequence[np.ndarray],
    baseline: np.ndarray,
    media: np.ndarray,
    first_day: np.datetime64,
    level: float,
) -> list[str]:
    """The note that the horizon's media hold the adstock of spend before it, where that is a
    material share (:data:`_CARRIED_SHARE`) of them: the media with no spend from the first
    day on, on the same paths (same curve draws, same baseline). Without it a plan that spends
    nothing read "media 169,751" (R29 F3), and a planner taking the media as what the plan's
    spend buys over-credits it by the carry-over.

    ``spend``: per channel, the history's daily spend and then the plan's (``baseline`` and
    ``media``: (paths, horizon))."""
    horizon = baseline.shape[1]
    # Only the days the adstock reaches back from the horizon matter (a 56-day forecast on a
    # year of history evaluated every curve over 421 days for this; now over 56 + its lags).
    reach = horizon + max(np.asarray(c.carryover).size for c in curves)
    dark = {k: np.concatenate([v[-reach:-horizon], np.zeros(horizon)]) for k, v in spend.items()}
    days = next(iter(dark.values())).size
    carried = (
        baseline
        * _shares(curves, dark, baseline_total, days, picks, baseline.shape[0])[:, -horizon:]
    ).sum(axis=1)
    media_mean = float(media.sum(axis=1).mean())
    if not media_mean > 0 or not float(carried.mean()) >= _CARRIED_SHARE * media_mean:
        return []
    c = Interval.from_draws(carried, level)
    return [
        f"of the media's {media_mean:,.0f}, {c.estimate:,.0f} [{c.lower:,.0f}, {c.upper:,.0f}] "
        f"is carry-over of spend before {first_day} (the channels' adstock): it comes with no "
        "spend in the horizon at all, so it is not what the plan's spend buys"
    ]


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
    fan_levels: Sequence[float] = (),
    country: str = "US",
    paths: int = 2000,
    seed: int = 0,
    promotion: np.ndarray | None = None,
    seasons: Mapping[str, Mapping[dt.date, float]] | None = None,
    usual_days: Mapping[str, np.ndarray] | None = None,
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
        the history's last 28 days (or of their ``usual_days``).
    horizon : int
    baseline_total : float, optional
        The baseline outcome over the curves' period (their scale's denominator); required
        with curves.
    level : float
        Coverage of the intervals.
    fan_levels : sequence of float
        Further coverages, each in (0, 1), for a fan: intervals of the same sampled paths, so
        the bands nest.
    paths : int
        Sampled paths.
    promotion : ndarray, shape (T,), optional
        Per history day, whether the org ran a promotion (nonzero: yes; the registered
        promotion calendar). Today's level is read from the days outside them, so a history
        that ends inside a promotion does not carry it forward; promotions still arrive ahead
        as often as the history had them (its residual moves hold them).
    seasons : mapping name -> (mapping date -> value), optional
        The org's registered retail seasons (nonzero on a day inside; over the history and, as
        far as the org knows them, the horizon). An org's season replaces a built-in one it
        overlaps; one the history holds a week of is estimated, one it does not is estimated
        from its dates a year earlier or else drawn as an unknown effect, with a warning
        (:func:`surfacing_svc.seasons.resolve_seasons`).
    usual_days : mapping channel -> ndarray of history indices, optional
        The days a channel left out of ``plan`` keeps the mean spend of, where not its last 28
        (a registered test's window is not its usual spend: :mod:`surfacing_svc.usual_spend`).

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
    usual = None
    if promotion is not None:
        flags = np.asarray(promotion, dtype=np.float64)
        if flags.shape != (n,):
            raise ValueError(f"promotion has shape {flags.shape}; the history has {n} days")
        usual = ~(np.nan_to_num(flags) != 0)
    rng = np.random.default_rng(seed)
    future = dates[-1] + np.arange(1, horizon + 1).astype("timedelta64[D]")
    recent = slice(max(n - 28, 0), n)
    full_spend = {}
    # Per channel, the business-as-usual daily spend: what a channel the plan leaves out keeps,
    # and the base a plan's multiplier scales (so its warnings measure against it too).
    as_usual: dict[str, float] = {}
    for c in curves:
        past = np.asarray(spend.get(c.channel, np.zeros(n)), dtype=np.float64)
        kept = (usual_days or {}).get(c.channel)
        as_usual[c.channel] = float(past[recent if kept is None else kept].mean())
        ahead = plan.get(c.channel)
        if ahead is None:
            ahead = np.full(horizon, as_usual[c.channel])
        full_spend[c.channel] = np.concatenate([past, np.asarray(ahead, dtype=np.float64)])
    # A channel that ran on part of the window only is read a day at a time on its curve
    # conditional on running: the plan gives the days it runs (R51-F1).
    flights: dict[str, Running] = {}
    for c in curves:
        flight = running(c, spend.get(c.channel, np.zeros(n)), y)
        if flight is not None:
            flights[c.channel] = flight
    curves = [flights[c.channel].curve if c.channel in flights else c for c in curves]
    base = float(baseline_total) if baseline_total is not None else 1.0
    picks = [rng.integers(0, np.asarray(c.scale).size, paths) for c in curves]
    shares = _shares(curves, full_spend, base, n + horizon, picks, paths)
    mean_share = shares[:, :n].mean(axis=0)
    log_b = np.log(np.maximum(y, 1e-9) / (1.0 + mean_share))

    yearly = n >= _YEARLY_MIN_DAYS
    days = [d.item() for d in np.concatenate([dates, future]).astype("datetime64[D]")]
    table = _holidays(country, tuple(sorted({d.year for d in days})))
    seen = sorted({table[d] for d in days[:n] if d in table})
    calendar = resolve_seasons(np.concatenate([dates, future]), n, country, seasons)
    if calendar.held_out.any():
        # Today's level is read without an unseen season's days, as without a promotion's.
        usual = ~calendar.held_out if usual is None else usual & ~calendar.held_out
    x = _design(dates, seen, country, yearly, calendar.columns[:n])
    xf = _design(future, seen, country, yearly, calendar.columns[n:])
    keep = x.std(axis=0) > 0
    keep[0] = True
    x, xf = x[:, keep], xf[:, keep]
    # A day far outside the history's usual range (a day imported ×50, an outage's zeros) is
    # a one-off, not a move demand makes: left in, every path crossing it replayed it (R50-F4).
    odd = outlier_days(x, log_b, known=None if usual is None else ~usual)
    said_odd = [odd.warning(dates, y, log_b)] if odd.any else []
    log_b = odd.usual(log_b)
    if yearly:
        # Growth and the yearly season's wrap are confounded over a year or two: half the
        # paths come from each specification (equal-weight model averaging), so the interval
        # carries the disagreement instead of betting on either.
        half = paths // 2
        t = np.arange(n + horizon) / 365.25
        log_paths = np.vstack([
            _log_paths(x, xf, log_b, horizon, half, rng, usual),
            _log_paths(np.column_stack([x, t[:n]]), np.column_stack([xf, t[n:]]), log_b,
                       horizon, paths - half, rng, usual),
        ])[rng.permutation(paths)]  # fmt: skip
    else:
        log_paths = _log_paths(x, xf, log_b, horizon, paths, rng, usual)
        # Less than a year: the season ahead is not identified; its move from today is drawn.
        resid = log_b - x @ np.linalg.lstsq(x, log_b, rcond=None)[0]
        log_paths += _unseen_season(resid, future, paths, rng)
    # Each unknown effect below is drawn from a generator of its name's own, so the ones a
    # longer horizon brings in do not change the draws of those a shorter one holds.
    effects = int(rng.integers(0, 2**63))

    def unknown(name: str, mean: float, sd: float) -> np.ndarray:
        key = zlib.crc32(name.encode())
        return np.random.default_rng([effects, key]).normal(mean, sd, (paths, 1))

    # A holiday the history has not seen has an unknown effect, not none: each path draws one
    # per holiday name (the same on every day it names), N(0, _UNSEEN_HOLIDAY_SD²) on the log.
    future_names = np.array([table.get(d, "") for d in days[n:]])
    for name in sorted(set(future_names) - set(seen) - {""}):
        log_paths[:, future_names == name] += unknown(f"holiday {name}", 0.0, _UNSEEN_HOLIDAY_SD)
    # A registered season the history cannot estimate: an unknown effect per path, the same on
    # every day of it — left out of the estimate (a factor of mean one), not assumed none.
    sd = UNSEEN_SEASON_SD
    for season, on in calendar.unseen:
        log_paths[:, on] += unknown(f"season {season}", -(sd**2) / 2.0, sd)
    checkpoint()
    baseline = np.exp(log_paths)  # (paths, H)
    # The history pins the outcome, not its split: a draw with more media has had less
    # baseline. Each path's baseline is the one its own media draw leaves over the history's
    # last four weeks, so a plan that keeps recent spend keeps the recent total whatever the
    # split, and only a change of spend carries the media's uncertainty into the forecast.
    recent = slice(max(n - 28, 0), n)
    baseline *= ((1.0 + mean_share[recent].mean()) / (1.0 + shares[:, recent].mean(axis=1)))[
        :, None
    ]
    media = baseline * shares[:, n:]
    total = baseline + media
    warnings: list[str] = list(calendar.warnings) + said_odd
    if curves:
        warnings += _carried_over(
            curves, full_spend, base, picks, baseline, media, future[0], level
        )
    for c in curves:  # OptimizeBudget's warning: a planned spend the model never saw
        if c.channel not in plan:
            continue
        if c.channel in flights:  # against the rate it ran at, on the days the plan spends
            beyond = flights[c.channel].extrapolation(plan[c.channel], as_usual[c.channel])
        else:
            beyond = c.over(horizon).extrapolation(
                float(np.sum(plan[c.channel])), usual=as_usual[c.channel] * horizon
            )
        warnings += [beyond] if beyond is not None else []
    unseen = sorted({table[d] for d in days[n:] if d in table} - set(seen))
    if unseen:
        warnings.append(
            "holidays in the horizon the history has not seen (their effect is unknown: the "
            f"interval allows ±{1.645 * _UNSEEN_HOLIDAY_SD:.0%} on those days): "
            + ", ".join(unseen)
        )
    if not yearly and horizon > 28:
        warnings.append(
            f"{n} days of history hold no full year: yearly seasonality is not modelled and the "
            "interval carries it as uncertainty"
        )
    sums = total.sum(axis=1), baseline.sum(axis=1), media.sum(axis=1)
    return Forecast(
        dates=future,
        daily=tuple(Interval.from_draws(total[:, h], level) for h in range(horizon)),
        total=Interval.from_draws(sums[0], level),
        baseline_total=Interval.from_draws(sums[1], level),
        media_total=Interval.from_draws(sums[2], level),
        level=level,
        warnings=tuple(warnings),
        fan_levels=tuple(fan_levels),
        daily_fan=tuple(
            tuple(Interval.from_draws(total[:, h], q) for q in fan_levels) for h in range(horizon)
        )
        if fan_levels
        else (),
        total_fan=tuple(Interval.from_draws(sums[0], q) for q in fan_levels),
        baseline_total_fan=tuple(Interval.from_draws(sums[1], q) for q in fan_levels),
        media_total_fan=tuple(Interval.from_draws(sums[2], q) for q in fan_levels),
    )
