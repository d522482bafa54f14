"""The lag_beyond_window check: a channel whose effect arrives after the carry-over window.

The model's carry-over reaches ``max_lag`` days (28 by default). An effect that arrives later
(a B2B sales cycle: revenue 60-90 days after the spend) is not in the model: the channel reads
as no effect and nothing else in the health report moves (audit s18 R37 F1: linkedin, 11% of
revenue at a 60-90-day lag, read 0.00 [0.00, 2.22], health REVIEW on outliers only). What such
an effect leaves is in the residuals: they follow the channel's spend of ``max_lag + 1`` to
``3 × max_lag`` days before.

The test, per channel with spend: the residuals' correlation with the channel's spend averaged
over each of three lag blocks beyond the window (29-46, 47-65, 66-84 days at 28), both series
with their trend removed (geo rows: with their geo and day means, as the fit's nuisance does),
over the days whose whole lag range is inside the window. The statistic is the largest of the
three correlations (an effect is positive); its null distribution is the same statistic with
the residuals rotated in time against the spend (a circular-shift test: both series keep their
autocorrelation, which a t or F statistic on daily data would mistake for signal; Davison &
Hinkley 1997, §8.3; Kirch 2007). A channel is flagged when its p-value, times the number of
channels tested (Bonferroni), is under ``ALPHA`` and the residual movement the best block
explains is at least ``MIN_SHARE`` of the outcome's level — a correlation too small to be worth
a channel's effect is not reported.

Measured on held-out seeds (notes/s18/L_notes.md): R37-like worlds (10 geos x 330 days,
linkedin 11% of revenue at lag 60-90) flagged 6 of 20, each naming linkedin at 66-84 days — a
safety net, not a guarantee: the national residual is short and noisy; the same worlds with
the lag at 0-13 days flagged 1 of 20; the simulator's demo and confounded worlds (365 days)
0 of 20.
"""

from __future__ import annotations

import itertools

import numpy as np

from .fit import MMMFit
from .health_outcome import HealthCheck, Verdict

__all__ = ["ALPHA", "MIN_SHARE", "lag_beyond_window"]

ALPHA = 0.05
# The smallest residual movement (a share of the outcome's level, log scale) the beyond-window
# spend must explain for the check to speak: a channel effect worth naming.
MIN_SHARE = 0.01
# Lag blocks beyond the window, in multiples of max_lag: (1, 3] split in three.
_BLOCKS = 3
_REACH = 3
# Rotations shorter than this many days leave the series nearly aligned: not in the null.
_MIN_SHIFT = 14


def _detrended(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``x`` (rows, T) less each row's quadratic trend over ``t``."""
    basis = np.column_stack([np.ones_like(t), t, t**2])
    coef, *_ = np.linalg.lstsq(basis, x.T, rcond=None)
    return (x.T - basis @ coef).T


def _within(x: np.ndarray) -> np.ndarray:
    """(G, T) less its geo and day means (the geo rows' fixed effects)."""
    return x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()


def _blocks(spend: np.ndarray, max_lag: int, n_days: int) -> tuple[np.ndarray, list[range]]:
    """(B, rows, T) the spend averaged over each lag block beyond the window, and the blocks."""
    edges = np.linspace(max_lag + 1, _REACH * max_lag + 1, _BLOCKS + 1).round().astype(int)
    lags = [range(int(a), int(b)) for a, b in itertools.pairwise(edges)]
    cum = np.concatenate([np.zeros((spend.shape[0], 1)), np.cumsum(spend, axis=1)], axis=1)
    t = np.arange(n_days)
    out = np.zeros((len(lags), spend.shape[0], n_days))
    for i, r in enumerate(lags):
        hi = np.clip(t - r.start + 1, 0, None)  # days t-r.stop+1 .. t-r.start, inclusive
        lo = np.clip(t - r.stop + 1, 0, None)
        out[i] = (cum[:, hi] - cum[:, lo]) / len(r)
    return out, lags


def _rotated_dots(z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(J, n): row j is ``z[j] · r`` with ``r`` rotated k days along each of its rows
    (``np.roll(r, k, axis=1)``), for k = 0..n-1 — a circular cross-correlation by FFT, summed
    over the rows; ``z`` (J, rows, n), ``r`` (rows, n). The null's every rotation without
    building the rotated residuals (a (shifts, rows × n) matrix: 0.5 GB at 50 geos × two
    years, audit s18 V2 F3)."""
    n = r.shape[-1]
    fr = np.conj(np.fft.rfft(r, axis=-1))
    out = np.empty((z.shape[0], n))
    for j in range(z.shape[0]):  # one (rows, n) transform at a time: memory stays O(rows × n)
        out[j] = np.fft.irfft((np.fft.rfft(z[j], axis=-1) * fr).sum(axis=0), n)
    return out


def _projected_dots(
    q: np.ndarray, tri: np.ndarray, dots: np.ndarray, shape: tuple[int, int], r: np.ndarray
) -> np.ndarray:
    """(K, n): ``q``'s columns (the others' blocks, orthonormalised: ``others.T = q tri``)
    dotted with every rotation of ``r``. From the others' own rotated dots (``dots``, K × n)
    as ``tri⁻ᵀ dots`` when ``tri`` is well conditioned; else (blocks nearly collinear) q's
    columns are cross-correlated themselves."""
    d = np.abs(np.diag(tri))
    if d.size and d.min() > 1e-8 * d.max():
        return np.linalg.solve(tri.T, dots)
    return _rotated_dots(q.T.reshape(-1, *shape), r)


def lag_beyond_window(fit: MMMFit) -> HealthCheck | None:
    """REVIEW naming each channel whose residuals follow its spend beyond the carry-over
    window (module docstring); PASS when none does; None when the window is too short to
    look (the spend's history must reach ``3 × max_lag`` days back on 8 weeks at least).
    Surfacing's design reads the REVIEW's "<channel>'s spend A-B days earlier explains the
    residuals" (surfacing_svc/design/returns.py ``_LAG_FOUND``): keep the two in step."""
    panel, max_lag = fit.panel, int(fit.spec.max_lag)
    resid = np.asarray(fit.residuals, dtype=np.float64)
    n_days = panel.n_days
    first = _REACH * max_lag
    if resid.shape[-1] != n_days or n_days - first < 56:
        return None
    geo_rows = resid.ndim == 2
    paid = [c for c in range(panel.n_channels) if panel.spend[c].sum() > 0]
    if not paid:
        return None
    t = np.arange(n_days - first, dtype=np.float64)
    t = (t - t.mean()) / max(float(t.std()), 1.0)
    r = resid.reshape(-1, n_days)[:, first:]
    r = _within(r) if geo_rows else _detrended(r, t)
    n = r.shape[1]
    shifts = np.arange(_MIN_SHIFT, n - _MIN_SHIFT + 1)
    blocks: dict[int, tuple[np.ndarray, list[range]]] = {}
    for c in paid:
        spend = panel.spend[c] if geo_rows else panel.spend[c].sum(axis=0, keepdims=True)
        xs, lags = _blocks(spend.astype(np.float64), max_lag, n_days)
        xs = np.stack([_within(x) if geo_rows else _detrended(x, t) for x in xs[:, :, first:]])
        if xs.std() > 0:
            blocks[c] = (xs.reshape(len(lags), -1), lags)
    shape = (r.shape[0], n)
    dots = {c: _rotated_dots(xs.reshape(-1, *shape), r) for c, (xs, _) in blocks.items()}
    r = r.reshape(-1)
    rr = float(r @ r)
    found: list[tuple[float, str, range, float, float]] = []
    best_p = 1.0
    for c, (xs, lags) in blocks.items():
        # the other channels' spend beyond the window partialled out: budgets that move
        # together would otherwise lend one channel's late effect to its partners
        others = [k for k in blocks if k != c]
        if others:
            q, tri = np.linalg.qr(np.concatenate([blocks[k][0] for k in others]).T)
            # For the projector P off q: x_c · P r_k = x_c · r_k (x_c is already off q) and
            # |P r_k|² = |r_k|² − |qᵀ r_k|², with |r_k| = |r|: every rotation's correlation
            # from dot products, none of the rotated residuals built.
            qr_k = _projected_dots(q, tri, np.concatenate([dots[k] for k in others]), shape,
                                   r.reshape(shape))  # fmt: skip
            qx = xs @ q
            x_c = xs - qx @ q.T
            num = dots[c] - qx @ qr_k
            rn = np.sqrt(np.clip(rr - (qr_k**2).sum(axis=0), 0.0, None))
        else:
            x_c, num, rn = xs, dots[c], np.full(n, np.sqrt(rr))
        xn = np.sqrt((x_c**2).sum(axis=1))[:, None]
        # (B, n): each block's correlation with the residuals rotated k days, k = 0 the data
        corr = np.where((xn > 0) & (rn > 0), num / np.maximum(xn * rn, 1e-300), 0.0)
        which = int(np.argmax(corr[:, 0]))
        stat = float(corr[which, 0])
        null = corr[:, shifts].max(axis=0)
        p = (1 + int((null >= stat).sum())) / (1 + shifts.size)
        p_adj = min(1.0, p * len(blocks))
        best_p = min(best_p, p_adj)
        x = x_c[which]
        slope = float(num[which, 0] / (x @ x))
        # the residual movement the block explains: slope x its spread, in log units
        share = slope * float(x.std())
        if p_adj < ALPHA and share >= MIN_SHARE:
            found.append((p_adj, panel.channels[c], lags[which], share, stat))
    if not found:
        return HealthCheck(
            "lag_beyond_window", Verdict.PASS, best_p, ALPHA,
            f"no channel's spend {max_lag + 1}-{_REACH * max_lag} days earlier explains the "
            "residuals: no effect found arriving after the carry-over window",
        )  # fmt: skip
    found.sort()
    lines = [
        f"{ch}'s spend {lag.start}-{lag.stop - 1} days earlier explains the residuals better "
        f"than chance (correlation {stat:.2f}, p {p:.3f} over {len(paid)} channels; a swing of "
        f"{share:.1%} of the outcome)"
        for p, ch, lag, share, stat in found
    ]
    names = [ch for _, ch, _, _, _ in found]
    whose = f"{names[0]}'s effect" if len(names) == 1 else f"the effect of {', '.join(names)}"
    # What the test found, not a fact about the channel: at ALPHA it flags about one analysis
    # in 20 where no effect arrives late (a null world flagged google_search, audit s18 V2 F4).
    return HealthCheck(
        "lag_beyond_window", Verdict.REVIEW, found[0][0], ALPHA,
        "; ".join(lines) + f": if {whose} arrives that late, after the model's {max_lag}-day "
        "carry-over window (a sales cycle), it is not in the estimate, which then reads low; "
        f"by chance alone the test flags about 1 analysis in {round(1 / ALPHA)} where no "
        "effect arrives late, so check it before acting on it. Analyse an outcome that "
        "follows the spend sooner (leads, opportunities: --outcome conversions), or measure "
        "the channel with a lift test whose read-out runs past the lag (--max-lag-days "
        "lengthens the window, but the model's carry-over peaks in the first days, so an "
        "effect that starts weeks after the spend still reads low)",
    )  # fmt: skip
