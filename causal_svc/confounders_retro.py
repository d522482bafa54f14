"""Budget response found in hindsight: which geo-days' paid budgets moved with demand.

At ingest one upload sees a few campaigns of one source per geo-day and only the days before
it, so it cannot tell a budget chasing demand from pacing (``ingestion_svc.confounder_budget``).
Over a stored window every source, every campaign and every day are visible, so the
demand-driven part of the budgets can be measured as the promise states it: how far each
geo-day's demand sits from its mean over the *whole window*, in the units budgets move by.

The geo × day demand move ``D[g, t]`` (the log spend a budget adds by chasing demand) is read in
two parts, each from the signals that carry it best:

* **National** ``N[t]``. The first-party orders' common log move ``m[t]`` (each geo's log orders
  less its window mean, averaged over geos weighted by their orders: an equal-weight mean
  carries the small geos' Poisson noise, ~1.9x the variance on ``confounded``, into every
  geo-day) reads demand day by day, but also carries what else moves orders: calendar-planned
  sends (Klaviyo email and SMS: their weekday pulse and their volume, adstocked), the media's
  stock, and channels a geo holdout left dark (their share of a geo's orders is estimated with
  geo and day fixed effects and put back). The media's stock is the campaigns running each
  day at their own levels, adstocked from nothing at the window's start: the media warming
  up, and campaigns that start or stop inside the window, which add or take media, and so
  orders, while no budget moves with demand (with a fixed warm-up term alone, the orders read
  2-3% low through the first month of a year-long ``confounded`` world). The campaigns'
  common log spend move ``s[t]`` (each campaign's national sum with its own level, restored
  for the geos its channel left dark) reads the demand budgets chase plus the campaigns'
  pacing. Regressing ``s`` on ``m``, those terms and a linear spline in time (a knot every
  :data:`PACING_KNOT_DAYS` days: the pacing) gives ``N = c·m + γ·terms``, the orders' move
  cleaned and scaled by ``c``, the budgets' elasticity to it. ``s`` less its spline is a
  second reading with independent day-to-day errors; its fast part is blended in, each day
  weighted by the two readings' noise: the orders' is Poisson, ``c²`` times the variance of
  their weighted log mean (so it weighs more where ``c`` is 2 than where it is 0.8, and on
  days of few orders), the spend reading's is what the two readings' fast difference holds
  beyond it. ``c`` is read from moves faster than the spline; at the pace of a season the
  orders move more per unit of demand (the media's adstocked response to budgets that chase
  it), so ``N``'s slow part (15-day means) is rescaled by the elasticity the geo dimension
  shows at that pace (no pacing there), noise-corrected and shrunk toward ``c`` by its
  standard error.
* **Per geo** ``G[g, t]``. The orders' move less the national one (scaled by ``c``, with its
  Poisson variance ``c² / orders``; less each geo's weekday means when sends pulse weekly) and
  the paid channels' log spend less channel × geo and channel × day effects (against the same
  orders-weighted mean over geos; each channel
  weighted by its own noise: its residual variance less the variance the channels share, which
  is the move itself), inverse-variance weighted, then smoothed as an AR(1) observed
  through that noise (Rauch–Tung–Striebel), the AR(1)'s persistence and innovation read from
  the series' own autocovariances at lags 1 and 2, which white noise leaves alone.

Geo-days whose orders the fit leaves out (a tracking outage, an export gap) carry no orders
reading in either part, instead of a collapse to zero (:mod:`.confounders_gaps`).

A geo-day is flagged when ``|N + G| >= flag``. :data:`FLAG_LOG_MOVE` sits just under the 0.25
materiality the promise is stated at (the estimate's error is ~0.03; more geo-days sit just
below the line than above); it was chosen on simulated worlds 1–9 and 60–79
(``bench/confounder_detection.py --retro``). Every paid campaign's row in a flagged geo-day is
flagged; sends planned on a calendar (Klaviyo) never are.

What limits it (development worlds ``demo`` 300-339, ``confounded`` 20-29): the per-geo part
is at the floor its signals allow. On ``confounded`` (elasticity 2, 40 geos, 18 paid
campaigns in 5 channels) the spend reading alone is off by ~0.043 per geo-day, about the
campaigns' own 0.15 noise over channel sums dominated by their large campaigns, and the
orders' Poisson noise times ``c = 2`` adds little; with the national part exact the detector
would reach 93.1 / 90.5 there, with the per-geo part exact 97.0 / 92.8. Tried and left out,
each worse or no better there: each geo's own annual shape and trend fitted before the AR(1)
smoother; a per geo and channel least-squares mix of the channel's campaigns' national days
(it absorbs part of the geo's own move); a slower second stock term or a delayed (Weibull)
one; the media's carry-over of the budgets' earlier moves as a regressor; the media's
response to pacing, scaled by the stock term's coefficient (that coefficient is too noisy:
0.02-0.24 across worlds); re-weighting orders against spend; a threshold that grows or
shrinks with each geo-day's posterior variance. Platform-claimed conversions are another
Poisson reading of demand, but ~100 per geo-day there: too few to help.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc import confounders_gaps as gaps
from causal_svc.errors import InsufficientData
from mesh.runtime.aggregates import MEASURES, RECORDS, melt_geo_days
from mesh.runtime.cancellation import checkpoint

__all__ = [
    "CALENDAR_SOURCES",
    "FIRST_PARTY_SOURCE",
    "FLAG_LOG_MOVE",
    "MATERIAL_LOG_MOVE",
    "MIN_DAYS",
    "MIN_GEOS",
    "BudgetResponse",
    "budget_response_line",
    "detect_budget_response",
]

FIRST_PARTY_SOURCE = "generic"
# Sources whose volume follows a send calendar, not demand: modelled as an effect on orders,
# never flagged.
CALENDAR_SOURCES = ("klaviyo",)
MATERIAL_LOG_MOVE = 0.25  # a demand-driven budget move of ~25% counts (the promise's materiality)
FLAG_LOG_MOVE = 0.2425  # least short of 95 / 90 on worlds 1-9, 60-79; re-checked on demo 300-339
PACING_KNOT_DAYS = 14
SEND_DECAYS = (0.0, 0.6)  # adstock of the sends' effect on orders: same day, and carried over
STOCK_DECAYS = (0.6,)  # the media stock's carry-over (a second, slower one is collinear with
# the pacing spline: it made the national part worse on development worlds)
FAST_DAYS = 7  # "day-to-day": what a centred 7-day mean leaves
SLOW_DAYS = 15  # "slow": a centred 15-day mean (the pacing spline's knots are 14 days apart)
MIN_DAYS = 28
MIN_GEOS = 3


@dataclass(frozen=True, slots=True)
class BudgetResponse:
    """What :func:`detect_budget_response` found over a window.

    ``geo_days``: one row per geo × day, ``date`` (datetime64, the local day), ``geo``,
    ``demand_move`` (the estimated log budget move demand caused, against the window's mean),
    ``national_move`` (its part shared by every geo) and ``budget_response`` (flagged).
    """

    geo_days: pd.DataFrame
    elasticity: float  # c: the campaigns' log spend move per log move of first-party orders
    flag: float
    paid_channels: tuple[str, ...]

    @property
    def flagged_share(self) -> float:
        return float(self.geo_days["budget_response"].mean()) if len(self.geo_days) else 0.0

    def flags_for(self, geo: pd.Series, date: pd.Series) -> np.ndarray:
        """Flags for rows keyed by (geo, local date): True where their geo-day is flagged
        (rows of geo-days outside the window are False)."""
        flagged = self.geo_days.loc[self.geo_days["budget_response"], ["geo", "date"]]
        keys = set(zip(flagged["geo"].astype(str), pd.to_datetime(flagged["date"]), strict=True))
        days = pd.to_datetime(date)
        return np.fromiter(
            ((g, d) in keys for g, d in zip(geo.astype(str), days, strict=True)),
            dtype=bool,
            count=len(days),
        )

    def line(self) -> str:
        """One line for the attribution's confounders step and the stored analysis."""
        frame = self.geo_days
        flagged = frame.loc[frame["budget_response"]]
        return (
            f"budget response: paid budgets moved with demand by >= {MATERIAL_LOG_MOVE:.0%} "
            f"(in logs) on {len(flagged):,} of {len(frame):,} geo-days ({self.flagged_share:.1%}; "
            f"{flagged['date'].nunique()} days, {flagged['geo'].nunique()} geos); campaign spend "
            f"moves {self.elasticity:.2f} log points per log point of first-party orders"
        )


def _long(geo_days: pd.DataFrame) -> pd.DataFrame:
    """Memory's geo × day sums as long rows (the wide AggregateRecords form is melted)."""
    if "source" not in geo_days.columns:  # with records: a first-party row of zeros is present
        geo_days = melt_geo_days(geo_days, (*MEASURES, RECORDS))
    frame = geo_days.copy()
    if pd.api.types.is_integer_dtype(frame["date"]):
        frame["date"] = pd.to_datetime(frame["date"].to_numpy(np.int64).astype("datetime64[D]"))
    else:
        frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()
    for col in ("spend", "impressions", "conversions"):
        if col not in frame.columns:
            frame[col] = 0.0
    return frame


def _cube(frame: pd.DataFrame, key: str, value: str, geos: pd.Index, days: pd.Index):
    """(K, G, T) sums of ``value`` per ``key`` × geo × day, and the keys."""
    names = tuple(sorted(frame[key].astype(str).unique()))
    out = np.zeros((len(names), len(geos), len(days)))
    k = pd.Index(names).get_indexer(frame[key].astype(str))
    g, t = geos.get_indexer(frame["geo"]), days.get_indexer(frame["date"])
    np.add.at(out, (k, g, t), frame[value].to_numpy(np.float64))
    return out, names


def _adstock(x: np.ndarray, decay: float) -> np.ndarray:
    out = np.empty_like(x)
    carry = 0.0
    for i, v in enumerate(x):
        carry = v + decay * carry
        out[i] = carry
    return out * (1.0 - decay)


def _pacing_basis(n_days: int) -> np.ndarray:
    """Intercept, slope and a hinge every PACING_KNOT_DAYS days: a linear spline in time."""
    t = np.arange(n_days, dtype=np.float64)
    knots = np.arange(PACING_KNOT_DAYS, n_days, PACING_KNOT_DAYS)
    return np.column_stack(
        [np.ones(n_days), t / n_days, *(np.maximum(t - k, 0) / n_days for k in knots)]
    )


def _send_regressors(sends: np.ndarray) -> list[np.ndarray]:
    """Per calendar channel, its national volume relative to a send day's mean, adstocked."""
    out: list[np.ndarray] = []
    for series in sends.sum(axis=1):
        on = series > 0
        if on.sum() < 2:
            continue
        relative = series / series[on].mean()
        out.extend(_adstock(relative, d) for d in SEND_DECAYS)
    return out


def _media_stock(running: np.ndarray) -> list[np.ndarray]:
    """Log adstock, from nothing at the window's start, of the campaigns running each day (at
    their own levels), at each of STOCK_DECAYS: the media's warm-up and the campaigns that
    start or stop inside the window, both of which move orders without moving demand."""
    out = []
    for stock in (_adstock(running, decay) for decay in STOCK_DECAYS):
        out.append(np.log(np.maximum(stock, 1e-6 * max(float(stock.max()), 1e-12))))
    return out


def _common_move(logs: np.ndarray, sweeps: int = 20) -> np.ndarray:
    """(T,) day effects of (K, T) log series with a level per series (NaN cells skipped), so a
    campaign that starts in the season does not read the season as its own level."""
    day = np.nanmean(logs - np.nanmean(logs, axis=1, keepdims=True), axis=0)
    for _ in range(sweeps):
        level = np.nanmean(logs - day[None, :], axis=1, keepdims=True)
        day = np.nanmean(logs - level, axis=0)
    return day - np.nanmean(day)


def _dark_cells(spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, G, T) cells where a channel that usually spends in a geo spent nothing while it
    spent elsewhere (a geo holdout, a paused market), and (K, T) the share of the channel's
    usual spend those geos hold."""
    on = spend > 0
    active = np.asarray(on.any(axis=1))  # (K, T) the channel spends somewhere that day
    usual = on.sum(axis=2) >= 0.5 * np.maximum(active.sum(axis=1), 1).reshape(-1, 1)  # (K, G)
    dark = usual[:, :, None] & active[:, None, :] & ~on
    with _quiet():
        total = spend.sum(axis=1, keepdims=True)
        share = np.where(on, spend / np.where(total > 0, total, np.nan), np.nan)
        typical = np.nan_to_num(np.nanmean(share, axis=2))  # (K, G)
    typical = typical / np.maximum(typical.sum(axis=1, keepdims=True), 1e-12)
    missing = np.einsum("kg,kgt->kt", typical, dark.astype(float))
    return dark, missing


def _dark_effect(log_orders: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """(G, T) what dark channels took from each geo-day's log orders: per channel, the
    coefficient of its dark indicator in a geo + day fixed-effects regression."""

    def within(x: np.ndarray) -> np.ndarray:
        return (
            x
            - x.mean(axis=-1, keepdims=True)
            - x.mean(axis=-2, keepdims=True)
            + x.mean(axis=(-2, -1), keepdims=True)
        )

    used = [k for k in range(dark.shape[0]) if dark[k].any()]
    x = np.stack([within(dark[k].astype(float)).ravel() for k in used], axis=1)
    coef = np.linalg.lstsq(x, within(log_orders).ravel(), rcond=None)[0]
    return np.einsum("k,kgt->gt", coef, dark[used].astype(float))


def _two_way_residual(logs: np.ndarray, sweeps: int = 10) -> np.ndarray:
    """(K, G, T) log spend less channel × geo and channel × day effects (NaN cells skipped)."""
    y = logs.copy()
    with _quiet():
        for _ in range(sweeps):
            y = y - np.nanmean(y, axis=2, keepdims=True)
            y = y - np.nanmean(y, axis=1, keepdims=True)
    return y


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's "mean of empty slice" (a channel dark in a geo, a day without spend)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        yield


def _ar1_smooth(y: np.ndarray, noise_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``y`` (G, T) as an AR(1) seen through white noise of variance ``noise_var``:
    the RTS smoother's mean and variance, the AR(1)'s persistence and innovation from the autocovariances
    at lags 1 and 2 (free of white noise), pooled over rows."""
    yc = y - y.mean(axis=1, keepdims=True)
    a1 = float((yc[:, 1:] * yc[:, :-1]).mean())
    a2 = float((yc[:, 2:] * yc[:, :-2]).mean())
    if a1 <= 0.0:
        return y, noise_var  # no persistent signal to pool days over
    rho = min(max(a2 / a1, 0.3), 0.97)
    q = max(a1 / rho * (1.0 - rho * rho), 1e-8)
    g, n = y.shape
    xf, pf = np.empty((g, n)), np.empty((g, n))
    xp, pp = np.empty((g, n)), np.empty((g, n))
    x, p = np.zeros(g), np.full(g, q / (1.0 - rho * rho))
    for t in range(n):
        if t:
            x, p = rho * x, rho * rho * p + q
        xp[:, t], pp[:, t] = x, p
        gain = p / (p + noise_var[:, t])
        x, p = x + gain * (y[:, t] - x), (1.0 - gain) * p
        xf[:, t], pf[:, t] = x, p
    xs, ps = xf.copy(), pf.copy()
    for t in range(n - 2, -1, -1):
        j = pf[:, t] * rho / pp[:, t + 1]
        xs[:, t] = xf[:, t] + j * (xs[:, t + 1] - xp[:, t + 1])
        ps[:, t] = pf[:, t] + j * j * (ps[:, t + 1] - pp[:, t + 1])
    return xs, ps


def _campaigns_move(
    campaign_days: pd.DataFrame, days: pd.Index, channels: tuple[str, ...], missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(T,) the paid campaigns' common log spend move (national sums; a level per campaign),
    each campaign's sum restored for the geos its channel left dark that day."""
    paid = ~campaign_days["source"].astype(str).isin((FIRST_PARTY_SOURCE, *CALENDAR_SOURCES))
    camp = campaign_days.loc[paid & (campaign_days["spend"] > 0)]
    if camp.empty:
        return np.full(len(days), np.nan), np.zeros(len(days))
    keyed = camp.assign(
        geo="all",
        key=camp["source"].astype(str) + ":" + camp["channel"].astype(str),
        campaign=camp["campaign_id"].astype(str),
    )
    frame = _long(keyed.drop(columns=["channel"]).rename(columns={"campaign": "channel"}))
    per_campaign, names = _cube(frame, "channel", "spend", pd.Index(["all"]), days)
    channel_of = keyed.drop_duplicates("campaign").set_index("campaign")["key"]
    with _quiet():
        logs = np.log(np.where(per_campaign[:, 0, :] > 0, per_campaign[:, 0, :], np.nan))
        for i, name in enumerate(names):
            key = channel_of.get(name)
            if key in channels:
                logs[i] -= np.log(np.maximum(1.0 - missing[channels.index(key)], 0.05))
        common = _common_move(logs)
        # the campaigns running each day, at their own levels: what starts, stops and the mix
        # add to the media (and so to orders) without any budget moving
        level = np.nanmean(logs - common[None, :], axis=1, keepdims=True)
        running = np.where(np.isfinite(logs), np.exp(level - level.max()), 0.0).sum(axis=0)
    return common, running


def _national_move(
    common_orders: np.ndarray,
    common_spend: np.ndarray,
    sends: np.ndarray,
    weekday: np.ndarray | None,
    running: np.ndarray,
    orders_var: np.ndarray,
) -> tuple[np.ndarray, float]:
    """(T,) the national demand move in budget units, and c (see the module docstring)."""
    n = len(common_orders)
    # the orders' own confounders: sends (their weekday pulse, their volume, adstocked) and the
    # media's stock (its warm-up from zero at the window's start, campaigns starting, stopping)
    regressors = [*_send_regressors(sends), *_media_stock(running)]
    if weekday is not None:
        regressors += [(weekday == d).astype(float) - (weekday == 6) for d in range(6)]
    pacing = _pacing_basis(n)
    design = np.column_stack([common_orders, *regressors, pacing])
    # a day without orders in any geo (orders_var infinite) has the spend's reading only
    spent, observed = np.isfinite(common_spend), np.isfinite(orders_var)
    seen = spent & observed
    if seen.sum() <= design.shape[1]:
        raise InsufficientData(
            "budget response needs the campaigns' daily spend (campaign_days) on more days",
            subject="campaign_days.spend",
        )
    target = common_spend[seen] - common_spend[seen].mean()
    beta = np.linalg.lstsq(design[seen], target, rcond=None)[0]
    k = 1 + len(regressors)
    national = design[:, :k] @ beta[:k]
    national -= national.mean()
    # day-to-day, the spend's common move (less its pacing spline) is a second reading of the
    # same move with independent errors: blend in its fast part
    spend_reading = np.where(spent, common_spend - pacing @ beta[k:], national)
    diff = spend_reading - national
    pad = np.pad(diff, FAST_DAYS // 2, mode="edge")
    slow = np.convolve(pad, np.ones(FAST_DAYS) / FAST_DAYS, mode="valid")
    fast = diff - slow
    # each day's weight on the spend reading: the orders' Poisson variance (c^2 times that of
    # their common move, which a day's total orders set) against the spend reading's own, the
    # rest of the variance of the two readings' fast difference
    keep = 1.0 - 1.0 / FAST_DAYS  # the share of white noise's variance a 7-day mean leaves
    var_o = beta[0] ** 2 * orders_var * keep
    var_s = max(
        float(np.mean(fast[seen] ** 2)) - float(var_o[seen].mean()),
        0.1 * float(var_o[observed].mean()),
    )
    national = national + np.divide(var_o, var_o + var_s, np.ones(n), where=observed) * fast
    return national - national.mean(), float(beta[0])


def _slow(x: np.ndarray) -> np.ndarray:
    """(R, T) centred SLOW_DAYS-day means along the last axis (ends padded with the end values)."""
    half = SLOW_DAYS // 2
    cum = np.cumsum(np.pad(x, ((0, 0), (half + 1, half)), mode="edge"), axis=1)
    return (cum[:, SLOW_DAYS:] - cum[:, :-SLOW_DAYS]) / SLOW_DAYS


def _slow_elasticity(
    from_orders: np.ndarray, from_spend: np.ndarray, orders: np.ndarray, c: float
) -> float:
    """The budgets' elasticity to orders at the pace of SLOW_DAYS-day means, from the geo
    dimension (the campaigns' pacing, national, is not in it): the slope of the geo spend move's
    slow part on the geo orders move's, the orders' Poisson noise taken out of its variance
    (errors in variables), shrunk toward ``c`` by its own standard error (positive-part
    James–Stein), and ``c`` itself where the orders' noise swamps their slow move."""
    so = _slow(from_orders - from_orders.mean(axis=1, keepdims=True))
    ss = _slow(from_spend)
    noise = float((1.0 / np.maximum(orders, 1.0)).mean()) / SLOW_DAYS
    var = float((so * so).mean())
    if var <= 0.0 or noise > 0.5 * var:
        return c
    slope = float((ss * so).mean()) / (var - noise)
    blocks = so.size / SLOW_DAYS  # roughly independent slow readings
    se2 = float(((ss - slope * so) ** 2).mean()) / (blocks * (var - noise))
    # the media's adstock can only add to the orders' response at a slower pace, never take from
    # it: a slope above c is noise in the geo dimension (seen on development worlds 200-229)
    slope = min(slope, c)
    gap2 = (slope - c) ** 2
    return c + max(0.0, 1.0 - se2 / gap2) * (slope - c) if gap2 > 0.0 else c


def _common_variance(residual: np.ndarray) -> float:
    """The variance the channels' (K, G, T) residuals share (the geo-day move itself): the mean
    of their pairwise covariances (each over the cells both have), which each channel's own
    noise leaves alone. One product of the zero-filled residuals and one of their masks give
    every pair's sum and count: with campaigns as the channels K runs to thousands, and a loop
    over the K²/2 pairs took seconds (audit R7-F7)."""
    k = residual.shape[0]
    if k < 2:
        return 0.0
    flat = residual.reshape(k, -1)
    seen = np.isfinite(flat)
    filled = np.where(seen, flat, 0.0)
    mask = seen.astype(np.float64)
    upper = np.triu_indices(k, 1)
    sums = (filled @ filled.T)[upper]
    counts = (mask @ mask.T)[upper]
    checkpoint()
    enough = counts > 1
    return max(float(np.mean(sums[enough] / counts[enough])), 0.0) if enough.any() else 0.0


def _spend_geo_move(spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G, T) the paid channels' geo-specific log spend move and its variance: log spend less
    channel × geo and channel × day effects, each channel weighted by its own residual noise."""
    with _quiet():
        residual = _two_way_residual(np.log(np.where(spend > 0, spend, np.nan)))
        cells = np.isfinite(residual).sum(axis=(1, 2))
        var_k = np.nansum(residual**2, axis=(1, 2)) / np.maximum(cells - 1, 1)
    # each channel's residual holds the geo-day move itself besides its noise: only the noise
    # weighs against it
    var_k = var_k - _common_variance(residual)
    var_k = np.where(var_k > 0, var_k, np.inf)
    weight = np.where(np.isfinite(residual), 1.0 / var_k[:, None, None], 0.0)
    total = weight.sum(axis=0)
    safe = np.maximum(total, 1e-12)
    move = np.where(total > 0, (weight * np.nan_to_num(residual)).sum(axis=0) / safe, 0.0)
    return move, np.where(total > 0, 1.0 / safe, np.inf)


def _campaign_cube(frame: pd.DataFrame, geos: pd.Index, days: pd.Index) -> np.ndarray:
    """(C, G, T) paid spend per campaign × geo × day from long rows (``date``: days since
    1970-01-01 or dates), by integer codes: ~0.5 M rows for a year of 50 geos × 30 campaigns.
    With ``source`` (and ``channel``) a campaign is its (source, channel, campaign_id) —
    platforms' ids may coincide — and first-party and calendar rows are not paid spend."""
    if "source" in frame.columns:
        frame = frame.loc[~frame["source"].isin((FIRST_PARTY_SOURCE, *CALENDAR_SOURCES))]
    date = frame["date"]
    if pd.api.types.is_integer_dtype(date):
        day = date.to_numpy(np.int64)
    else:
        day = pd.to_datetime(date).dt.tz_localize(None).dt.normalize().to_numpy("datetime64[D]")
        day = day.astype(np.int64)
    first = int(days[0].to_datetime64().astype("datetime64[D]").astype(np.int64))
    t = day - first
    # factorize first, then look up the few distinct geos (string conversion of 0.5 M rows
    # costs more than the rest of the cube)
    g_code, g_names = pd.factorize(frame["geo"])
    g = np.append(geos.get_indexer(pd.Index(g_names).astype(str)), -1)[g_code]
    # a campaign's code from its key columns' codes (memory's are categoricals: no hashing of
    # 0.5 M strings), summed into the cube by one bincount
    flat = np.zeros(len(frame), dtype=np.int64)
    for k in ("source", "channel", "campaign_id"):
        if k in frame.columns:
            codes, names = _codes(frame[k])
            flat = flat * max(names, 1) + codes
    c, used = pd.factorize(flat)
    spend = frame["spend"].to_numpy(np.float64)
    keep = (g >= 0) & (t >= 0) & (t < len(days)) & (spend > 0)
    shape = (len(used), len(geos), len(days))
    cell = (c[keep] * shape[1] + g[keep]) * shape[2] + t[keep]
    return np.bincount(cell, weights=spend[keep], minlength=int(np.prod(shape))).reshape(shape)


def _codes(column: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column and how many there can be (a categorical's own)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(np.int64), len(column.cat.categories)
    codes, names = pd.factorize(column)
    return codes.astype(np.int64), len(names)


def _too_few_order_geos(frame: pd.DataFrame, n: int) -> str:
    """Why the window has too few geos with first-party orders, in the user's terms: an outcome
    of revenue only (Robyn's shape) has no order counts, which the detector reads demand from
    (their Poisson noise weighs the readings; a money amount has no such noise model), so it
    says so instead of "the window has 0" beside 10 geos with revenue (audit R18 F10)."""
    fp = frame.loc[frame["source"].astype(str).eq(FIRST_PARTY_SOURCE)]
    revenue = fp.loc[fp["revenue"] > 0, "geo"].nunique() if "revenue" in fp.columns else 0
    if n == 0 and revenue:
        return (
            f"budget response needs first-party order counts (conversions) in at least "
            f"{MIN_GEOS} geos; the outcome has revenue only ({revenue} geos): map an orders "
            "column to conversions at ingest to assess it"
        )
    return (
        f"budget response needs first-party orders (conversions) in at least {MIN_GEOS} geos; "
        f"the window has them in {n}"
    )


def detect_budget_response(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame,
    *,
    flag: float = FLAG_LOG_MOVE,
    campaign_geo_days: pd.DataFrame | None = None,
) -> BudgetResponse:
    """Label each geo-day of a window with the budget move demand caused (module docstring).

    Parameters
    ----------
    geo_days : DataFrame
        Memory's geo × day sums (``AggregateRecords``' wide table, or long with ``date``,
        ``geo``, ``source``, ``channel``, ``spend``, ``impressions``, ``conversions``); first-party
        (``generic``) conversions are the orders.
    campaign_days : DataFrame
        Memory's campaign × day sums (``date``, ``campaign_id``, ``source``, ``spend``).
    flag : float
        Flag a geo-day when its estimated demand move is at least this (log points).
    campaign_geo_days : DataFrame, optional
        Paid spend per campaign × geo × day (``date``, ``geo``, ``campaign_id``, ``spend``).
        When given, the per-geo spend reading is taken per campaign instead of per channel
        sum: each campaign's own day-to-day noise then averages over every campaign (its sd
        over sqrt(campaigns)), and campaign × day effects remove each campaign's pacing,
        where a channel's sum moves by geo whenever one of its campaigns paces. Memory's
        ``AggregateRecords`` answers it when asked (``campaign_geo_spend``); with ``source``
        and ``channel`` columns a campaign is keyed by all three.

    Raises
    ------
    InsufficientData
        Fewer than MIN_DAYS days or MIN_GEOS geos with first-party orders, or no paid spend.
    """
    frame = _long(geo_days)
    source = frame["source"].astype(str)
    orders_rows = frame.loc[source.eq(FIRST_PARTY_SOURCE) & (frame["conversions"] > 0)]
    geos = pd.Index(sorted(orders_rows["geo"].astype(str).unique()))
    if len(geos) < MIN_GEOS:
        raise InsufficientData(_too_few_order_geos(frame, len(geos)), subject="geo_days.generic")
    # Edge days with orders in fewer than half the geos (a newest day not yet complete in the
    # export) would read as demand collapsing where rows are missing: left out, as the fit does.
    per_day = orders_rows.groupby("date")["geo"].nunique()
    full = per_day.index[2 * per_day.to_numpy() >= len(geos)]
    first, last = (
        (full.min(), full.max()) if len(full) else (frame["date"].min(), frame["date"].max())
    )
    frame = frame.loc[frame["date"].between(first, last)]
    days = pd.Index(pd.date_range(first, last, freq="D"))
    if len(days) < MIN_DAYS:
        raise InsufficientData(
            f"budget response needs at least {MIN_DAYS} days against which to measure demand; "
            f"the window has {len(days)}",
            subject="date_range",
        )
    frame = frame.loc[frame["geo"].astype(str).isin(geos)].assign(
        geo=lambda f: f["geo"].astype(str)
    )
    source = frame["source"].astype(str)
    paid_rows = frame.loc[
        ~source.isin((FIRST_PARTY_SOURCE, *CALENDAR_SOURCES)) & (frame["spend"] > 0)
    ]
    if paid_rows.empty:
        raise InsufficientData(
            "budget response needs paid spend in the window", subject="geo_days.spend"
        )
    first_party = frame.loc[source.eq(FIRST_PARTY_SOURCE)]
    orders = _cube(first_party.assign(k="orders"), "k", "conversions", geos, days)[0][0]
    # geo-days the fit leaves out (an outage, an export gap) are missing, not zero orders
    missing = gaps.missing_orders(first_party, orders, geos, days)
    orders = gaps.usual_orders(orders, missing)
    paid_key = paid_rows["source"].astype(str) + ":" + paid_rows["channel"].astype(str)
    spend, channels = _cube(paid_rows.assign(k=paid_key), "k", "spend", geos, days)
    cal = frame.loc[source.isin(CALENDAR_SOURCES)]
    sends = _cube(cal.assign(k=cal["channel"].astype(str)), "k", "impressions", geos, days)[0]

    checkpoint()
    # the national move is read from the geos weighted by their orders (near the log of the
    # total): an equal-weight mean would carry the small geos' Poisson noise into every geo-day
    share = orders.mean(axis=1) / orders.mean(axis=1).sum()
    log_orders = gaps.filled_log_orders(np.log(np.maximum(orders, 0.5)), missing, share)
    dark, missing_share = _dark_cells(spend)
    if dark.any():
        log_orders = log_orders - _dark_effect(log_orders, dark)
    log_orders -= log_orders.mean(axis=1, keepdims=True)
    common_orders = share @ log_orders
    weekday = days.day_of_week.to_numpy()
    has_sends = bool(sends.sum() > 0)

    checkpoint()
    common_spend, running = _campaigns_move(campaign_days, days, channels, missing_share)
    checkpoint()
    national, c = _national_move(
        common_orders,
        common_spend,
        sends,
        weekday if has_sends else None,
        running,
        gaps.common_orders_variance(share, orders, missing),
    )

    # per geo: orders (Poisson variance of a log count) and spend's two-way residual
    from_orders = log_orders - common_orders[None, :]
    if has_sends:
        # sends per head differ by geo, and so does their weekly pulse in orders; demand's
        # weekly shape is national
        for d in range(7):
            from_orders[:, weekday == d] -= from_orders[:, weekday == d].mean(axis=1, keepdims=True)
    if campaign_geo_days is not None and len(campaign_geo_days):
        from_spend, var_spend = _spend_geo_move(_campaign_cube(campaign_geo_days, geos, days))
    else:
        from_spend, var_spend = _spend_geo_move(spend)
    checkpoint()
    # the spend residual is against the geos' plain mean: put it against the same weighted one
    seen_spend = np.isfinite(var_spend)
    with _quiet():
        ref = (share[:, None] * np.where(seen_spend, from_spend, 0.0)).sum(axis=0) / (
            share[:, None] * seen_spend
        ).sum(axis=0)
    from_spend = from_spend - np.nan_to_num(ref)[None, :]
    # c was read from the days' fast moves; slow moves (the season) carry more of the media's
    # adstocked response to the budgets' own chasing, so the slow part of N is rescaled by the
    # elasticity the geo dimension measures at that pace
    c_slow = _slow_elasticity(log_orders - common_orders[None, :], from_spend, orders, c)
    national = national + (c_slow / c - 1.0) * _slow(national[None, :])[0]
    national -= national.mean()
    var_orders = np.where(missing, np.inf, c * c / np.maximum(orders, 1.0))  # lost: no reading
    w_orders, w_spend = 1.0 / var_orders, 1.0 / var_spend
    with _quiet():  # a geo-day neither reads (orders missing, no spend): no move, no information
        geo_part = np.nan_to_num(
            (w_orders * c * from_orders + w_spend * from_spend) / (w_orders + w_spend)
        )
        geo_part, _ = _ar1_smooth(geo_part, 1.0 / (w_orders + w_spend))

    move = national[None, :] + geo_part
    out = pd.DataFrame(
        {
            "date": np.tile(days.to_numpy(), len(geos)),
            "geo": np.repeat(geos.to_numpy(), len(days)),
            "demand_move": move.ravel(),
            "national_move": np.tile(national, len(geos)),
        }
    )
    out["budget_response"] = out["demand_move"].abs().to_numpy() >= flag
    return BudgetResponse(out, c, flag, channels)


def budget_response_line(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame,
    campaign_geo_days: pd.DataFrame | None = None,
) -> str:
    """:meth:`BudgetResponse.line` for a window, or why it could not be assessed (no reason to
    fail the analysis around it); ``campaign_geo_days`` as :func:`detect_budget_response`."""
    return budget_response_finding(geo_days, campaign_days, campaign_geo_days)[0]


def budget_response_finding(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame,
    campaign_geo_days: pd.DataFrame | None = None,
    omitted: str = "",
) -> tuple[str, float | None]:
    """:func:`budget_response_line` and the share of geo-days flagged (None: not assessed)."""
    try:
        found = detect_budget_response(geo_days, campaign_days, campaign_geo_days=campaign_geo_days)
        line, share = found.line(), found.flagged_share
    except InsufficientData as error:
        return f"budget response not assessed: {error}", None
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        # Degenerate sums (one geo's orders all zero, a channel constant): the detector's
        # regressions fail, the attribution around it need not.
        return f"budget response not assessed: the window's sums are degenerate ({error})", None
    if omitted and campaign_geo_days is None:  # why memory sent none (too large): said here
        line += f"; each geo's spend read per channel, not per campaign: {omitted} (--start/--end)"
    return line, share
