"""Local demand read from the budgets that chase it, for geo identification
(``Identification.GEO_DEMAND``).

Where marketers move budgets with demand they see, every paid channel's spend in a geo-day
carries the same move: ``log spend[c, g, t] = level[c, g] + pacing[c, t] + a_c · s[g, t] +
e[c, g, t]``, where ``s`` is the local demand move budgets chase, ``a_c`` the channel's
elasticity to it (0 for sends planned on a calendar), and ``e`` the channel's own noise,
independent across channels. Less each channel's geo level and national day (a two-way
residual, cells without spend skipped), what the channels *share* in a geo-day is ``s``; what
one channel has alone is its own noise. So the inverse-noise-weighted mean of the channels'
residuals, each divided by its loading, reads ``s`` with the channels' noise averaged down
(Bartlett's factor score of a one-factor model): :func:`local_demand_move`.

Loadings and noise come from the residuals themselves: a channel's loading is its regression
on the other channels' common move (leave-own-out, so its own noise does not inflate it; the
slope divided by that read's reliability), its noise what that leaves. A channel whose spend
shares nothing with the others (a calendar of sends) gets a loading near zero and so almost
no weight — no channel is named. Error: with ``K`` channels of loading 1 and noise sd ``σ``
the read is off by about ``σ / √K`` per geo-day (plus the two-way residual's loss of ``s``'s
geo and day means, which geo identification's geo basis and day effects absorb anyway).

Two uses. As a control (:func:`demand_controls`; the attribution bench's ``proxy`` variant)
it fails: under geo identification the cross-geo variation left in a channel's spend is its
own noise plus its chase of ``s``, and the read's error is the channels' own noise — on the
simulator's worlds about 40% of its variance — so the demand it misses stays confounded, with
as much leverage as the noise that identifies the channel. As an instrument
(:func:`dechased_inputs`) the error does no harm: a channel's input less its loading times the
*other* channels' read holds its own noise and theirs, and no demand.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["DemandMove", "dechased_inputs", "demand_controls", "local_demand_move"]

# Sweeps of the two-way residual on cells with spend (alternating projections converge fast:
# a channel dark in a few geo-days is a nearly balanced panel).
_SWEEPS = 15
# Passes of loading and noise estimation (the weights of the common move they are read against).
_PASSES = 5
# A channel whose spend is in fewer cells than this is left out (a test flight, a stray row).
_MIN_CELLS = 50


@dataclass(frozen=True, slots=True)
class DemandMove:
    """The common move and how it was read.

    ``move`` (G, T): the local demand move budgets chase, in log spend units of a channel of
    loading 1 (each channel's ``loading`` is relative to the used channels' weighted mean), 0
    where no used channel spent. ``noise`` the channel's own residual variance; ``weight``
    its share of the read (0: left out).
    """

    move: np.ndarray
    loading: np.ndarray
    noise: np.ndarray
    weight: np.ndarray
    resid: np.ndarray  # (C, G, T) the channels' two-way residuals (NaN: no spend, not used)


def _two_way_residual(logs: np.ndarray) -> np.ndarray:
    """(C, G, T) log spend less channel × geo and channel × day means (NaN cells skipped)."""
    y = logs.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # a channel dark for a day
        for _ in range(_SWEEPS):
            y = y - np.nan_to_num(np.nanmean(y, axis=2, keepdims=True))
            y = y - np.nan_to_num(np.nanmean(y, axis=1, keepdims=True))
    return y


def _combine(resid: np.ndarray, loading: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(G, T) ``Σ w_c r_c / Σ w_c a_c`` over the channels with spend in each cell (NaN where
    none)."""
    on = np.isfinite(resid) & (weight > 0)[:, None, None]
    w = np.where(on, weight[:, None, None], 0.0)
    num = (w * np.nan_to_num(resid)).sum(axis=0)
    den = (w * loading[:, None, None]).sum(axis=0)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def local_demand_move(spend: np.ndarray) -> DemandMove:
    """The local demand move the channels' budgets share per geo-day (see the module docstring).

    Parameters
    ----------
    spend : ndarray (C, G, T)
        Spend per channel, geo and day (0: none). Channels without spend are left out.

    Returns
    -------
    DemandMove
    """
    spend = np.asarray(spend, dtype=np.float64)
    c_n = spend.shape[0]
    on = spend > 0
    used = on.sum(axis=(1, 2)) >= _MIN_CELLS
    logs = np.where(on, np.log(np.where(on, spend, 1.0)), np.nan)
    resid = _two_way_residual(logs)
    resid[~used] = np.nan
    loading = np.where(used, 1.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        noise = np.where(used, np.nan_to_num(np.nanvar(resid, axis=(1, 2)), nan=1.0), 1.0)
    weight = loading.copy()
    if used.sum() < 2:
        # One channel cannot tell its chase from its own noise: no common move to read.
        move = np.zeros(spend.shape[1:])
        return DemandMove(move, loading, noise, np.zeros(c_n), resid)
    for _ in range(_PASSES):
        new_loading, new_noise = loading.copy(), noise.copy()
        for c in np.flatnonzero(used):
            others = weight.copy()
            others[c] = 0.0
            s = _combine(resid, loading, others)
            ok = np.isfinite(s) & np.isfinite(resid[c])
            if ok.sum() < _MIN_CELLS:
                new_loading[c], new_noise[c] = 0.0, 1.0
                continue
            x, y = s[ok], resid[c][ok]
            # The others' read holds their noise too, which attenuates the slope: divide by
            # the share of its variance that is signal (its noise is known from the last pass).
            gi, ti = ok.nonzero()
            sw = np.where(on[:, gi, ti] & (others > 0)[:, None], others[:, None], 0.0)
            den = (sw * loading[:, None]).sum(axis=0)
            read_noise = float(np.mean((sw**2 * noise[:, None]).sum(axis=0) / den**2))
            var_x = float(x.var())
            reliability = max(var_x - read_noise, 0.1 * var_x) / var_x
            slope = float((x * y).mean() / var_x) / reliability
            new_loading[c] = max(slope, 0.0)
            signal = new_loading[c] ** 2 * (var_x - read_noise)
            new_noise[c] = max(float(y.var()) - signal, 1e-6 * float(y.var()) + 1e-12)
        if not np.any(new_loading[used] > 0):  # nothing shared: no chase to read
            move = np.zeros(spend.shape[1:])
            return DemandMove(move, new_loading, new_noise, np.zeros(c_n), resid)
        loading, noise = new_loading, new_noise
        weight = np.where(used, loading / noise, 0.0)
        # Scale: the weighted mean loading of the used channels is 1 (the move is in the units
        # of a typical chasing channel's log spend).
        scale = float((weight * loading).sum() / weight.sum())
        loading = loading / scale
        weight = np.where(used, loading / noise, 0.0)
    move = _combine(resid, loading, weight)
    return DemandMove(np.nan_to_num(move), loading, noise, weight / weight.sum(), resid)


def dechased_inputs(media: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """The instruments' media inputs of ``Identification.GEO_DEMAND`` (C, G, T): each
    channel's input with its chase of local demand taken out, the chase read from the *other*
    channels' common move, ``x · exp(−a_c · ŝ₋c)``.

    What is left of a channel's log spend after its loading times the others' read is its own
    noise less its loading times the others' noise — no demand in it — so it can instrument
    the channel's input; the others' noise in it moves only their own inputs, which are
    instrumented the same way. Channels with no loading (sends on a calendar), cells without input, and cells where no
    other channel spent are left as they are.

    Parameters
    ----------
    media, spend : ndarray (C, G, T)

    Returns
    -------
    ndarray (C, G, T)
    """
    m = local_demand_move(spend)
    out = np.asarray(media, dtype=np.float64).copy()
    for c in np.flatnonzero(m.weight > 0):
        others = m.weight.copy()
        others[c] = 0.0
        if not np.any(others > 0):
            continue
        s = _combine(m.resid, m.loading, others)
        shift = np.where(np.isfinite(s), m.loading[c] * np.nan_to_num(s), 0.0)
        out[c] = np.where(out[c] > 0, out[c] * np.exp(-shift), 0.0)
    return out


def demand_controls(spend: np.ndarray, lags: int = 1) -> dict[str, np.ndarray]:
    """The common move as geo-day controls, at lags ``0 .. lags − 1`` (0 before the first
    day); a diagnostic (see the module docstring: as a control it leaves confounding).

    Parameters
    ----------
    spend : ndarray (C, G, T)
    lags : int

    Returns
    -------
    dict name -> ndarray (G, T) (empty where no common move can be read)
    """
    m = local_demand_move(spend)
    if not np.any(m.weight > 0):
        return {}
    out = {}
    for lag in range(lags):
        shifted = np.zeros_like(m.move)
        shifted[:, lag:] = m.move[:, : m.move.shape[1] - lag]
        out[f"demand_move:lag{lag}"] = shifted
    return out
