"""Power by simulation on the org's own history: placebo windows in time, over
re-randomisations of the design in space.

For a test of ``D`` days after a pre-period of ``P`` days, every window of the history that
fits (placebo-in-time) is analysed with TBR as if it were the test — under the chosen
assignment and under re-randomisations of the same blocks (the design's own randomisation
distribution). No effect was applied in any of them, so their lifts are the analysis's null
distribution for this org, these geos and this duration: trend divergence, geo shocks,
autocorrelation and all. Planting a lift ``δ`` in a window's test period moves its estimate
exactly to ``ℓ (1 + δ) + δ`` (the pre-period, and so the prediction, is untouched), so power
at any effect size follows from the same windows without refitting.

The spread of the null lifts, ``σ_D`` (root mean square, so a systematic bias counts
against the design), is the noise of the analysis. The test rejects when the lift in the
planned direction exceeds ``z_{1-α} σ_D``; power at ``δ`` is then
``Φ((|δ| − z_{1-α} σ_D) / (σ_D (1 + δ)))``, which rises with the effect and, as ``σ_D`` falls with
duration, with duration. ``σ_D`` is made non-increasing in ``D`` by isotonic regression: a
longer test cannot be noisier in expectation, and where a finite set of windows says
otherwise it is sampling noise.

The analysis at the end of the experiment is the same TBR with the same ``σ_D`` read from the
history before it (:func:`significance`), so the power stated is the power of the analysis
that will be run.

Notes
-----
Placebo-in-time power is what GeoLift reports (Meta, 2022; its issues #48 and #171 show
why the spread must come from the data rather than from a model's own standard errors).
Re-randomisation as the reference distribution: Fisher's randomisation inference, as in
Abadie, Diamond & Hainmueller (2010) placebo-in-space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from mesh.runtime.cancellation import checkpoint

from .tbr import tbr_windows

__all__ = ["DurationNoise", "mde_at", "placebo_noise", "power_at", "significance"]


@dataclass(frozen=True, slots=True)
class DurationNoise:
    """The null spread of the TBR lift for one test duration."""

    duration_days: int
    noise: float  # σ_D after isotonic smoothing
    raw_noise: float  # σ_D as measured
    bias: float  # mean null lift
    n_windows: int  # placebo windows in time
    # Windows left out because they meet a registered test's days (their outcome moved by the
    # test, not by chance); ``met_kept``: windows that meet one but were kept, as too few
    # remained without them (the spread then overstates the noise).
    left_out: int = 0
    met_kept: int = 0


def _pav_nonincreasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the closest non-increasing sequence (weighted least squares)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), v) for v, _, n in blocks])


def placebo_noise(
    outcome: np.ndarray,
    arms: np.ndarray,
    cell: int,
    *,
    pre_days: int,
    durations: tuple[int, ...],
    excluded: np.ndarray | None = None,
    min_windows: int = 1,
) -> list[DurationNoise]:
    """The null spread of the TBR lift of ``cell`` against control, per duration.

    Parameters
    ----------
    outcome : ndarray, shape (G, T)
    arms : ndarray, shape (R, G)
        The design's assignment (row 0) and re-randomisations of it: arm per geo.
    cell : int
        The treatment cell analysed (control is arm 0).
    pre_days : int
    durations : tuple of int, ascending
    excluded : ndarray of bool, shape (T,), optional
        Days a registered test ran: a window whose test period meets one, or whose pre-period
        keeps fewer than half its days without one, is left out (unless fewer than
        ``min_windows`` windows would remain for its duration); the others' pre-period
        regression leaves those days out.
    min_windows : int

    Returns
    -------
    list of DurationNoise, one per duration (in order).
    """
    treat = (arms == cell).astype(np.float64) @ outcome  # (R, T)
    control = (arms == 0).astype(np.float64) @ outcome
    raw, bias, counts = [], [], []
    moved: list[tuple[int, int]] = []
    for d in durations:
        checkpoint()  # each duration's windows over every re-randomisation
        lift, _ = tbr_windows(treat, control, pre_days, d)
        met = _meets(excluded, lift.shape[-1], pre_days, d)
        left = int(met.sum()) if lift.shape[-1] - int(met.sum()) >= min_windows else 0
        if left:
            lift = tbr_windows(treat, control, pre_days, d, skip=excluded)[0][..., ~met]
        moved.append((left, int(met.sum()) - left))
        ok = np.isfinite(lift)
        values = lift[ok]
        raw.append(float(np.sqrt(np.mean(values**2))) if values.size else float("inf"))
        bias.append(float(values.mean()) if values.size else 0.0)
        counts.append(lift.shape[-1])
    smooth = _pav_nonincreasing(np.array(raw), np.array(counts, dtype=np.float64) + 1.0)
    return [
        DurationNoise(d, float(s), r, b, n, left, kept)
        for d, s, r, b, n, (left, kept) in zip(
            durations, smooth, raw, bias, counts, moved, strict=True
        )
    ]


def _meets(excluded: np.ndarray | None, n_windows: int, pre_days: int, days: int) -> np.ndarray:
    """Per placebo window (pre-period from day ``w``, then ``days`` of test): whether its test
    period meets an excluded day or its pre-period keeps fewer than half its days without one
    (too little left to regress on)."""
    if excluded is None or n_windows <= 0 or not excluded.any():
        return np.zeros(max(n_windows, 0), dtype=bool)
    c = np.concatenate([[0], np.cumsum(excluded.astype(np.int64))])
    start = np.arange(n_windows)
    mid = start + pre_days
    in_test = c[mid + days] - c[mid]
    in_pre = c[mid] - c[start]
    return (in_test > 0) | (2 * in_pre > pre_days)


def power_at(lift: float, noise: float, alpha: float) -> float:
    """Power of the one-sided TBR test to detect a relative effect ``lift`` (signed; the test
    looks in its direction) when the null spread of the lift is ``noise``.

    The test rejects when the lift in the planned direction exceeds ``z_{1-α} σ``; with the
    effect planted, the estimate is ``δ + ℓ₀ (1 + δ)``, so power is
    ``Φ((|δ| − z σ) / (σ (1 + δ)))`` — ``α`` at no effect, rising with ``|δ|``.
    """
    if not np.isfinite(noise) or lift <= -1.0:
        return 0.0 if lift != 0.0 else float(alpha)
    if noise <= 0.0:
        return 1.0 if lift != 0.0 else float(alpha)
    z = float(norm.ppf(1.0 - alpha))
    return float(norm.cdf((abs(lift) - z * noise) / (noise * (1.0 + lift))))


def mde_at(power: float, noise: float, alpha: float, *, direction: int) -> float:
    """The smallest relative effect (magnitude) detected with ``power`` in ``direction``
    (+1 an increase, −1 a decrease): the inverse of :func:`power_at`; ``inf`` when no
    increase is large enough."""
    if not np.isfinite(noise):
        return float("inf")
    z, zp = float(norm.ppf(1.0 - alpha)), float(norm.ppf(power))
    numerator = noise * (z + zp)
    denominator = 1.0 - zp * noise if direction > 0 else 1.0 + zp * noise
    if denominator <= 0.0:
        return float("inf")
    return max(numerator / denominator, 0.0)


def significance(lift: float, noise: float, alpha: float, *, direction: int) -> tuple[float, bool]:
    """The analysis of a finished test: the one-sided p-value of its TBR lift against the
    null spread from its own history, and whether it detects an effect at ``alpha``."""
    if not np.isfinite(lift) or not np.isfinite(noise) or noise <= 0:
        return float("nan"), False
    p = float(norm.sf(direction * lift / noise))
    return p, p < alpha
