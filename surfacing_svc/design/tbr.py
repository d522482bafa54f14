"""Time-based regression (TBR): the analysis a geo design is powered for.

The treatment group's daily outcome total is regressed on the control group's over the
pre-period, ``y_t = a + b x_t + e_t``; the regression predicts the treatment group's outcome
through the test period from the control group's, and the effect is the gap::

    effect = Σ_test (y_t − a − b x_t)        lift = Σ_test y_t / Σ_test (a + b x_t) − 1

Regressing group totals on group totals absorbs what both groups share (national demand,
holidays, promotions) and leaves the groups' divergence, which is what a placebo window
measures. ``tbr_windows`` computes every placebo window at once from cumulative sums.

Notes
-----
Kerman, Wang & Vaver (2017), "Estimating ad effectiveness using geo experiments in a
time-based regression framework" (Google). Where that paper takes its interval from the
regression's own prediction variance (which assumes independent days), the design here
takes the spread of the lift from placebo windows of the org's own history (see
:mod:`surfacing_svc.design.power`), which carries the days' autocorrelation with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TbrEstimate", "tbr_estimate", "tbr_windows"]


@dataclass(frozen=True, slots=True)
class TbrEstimate:
    """One TBR analysis: the cumulative effect, the counterfactual and the relative lift."""

    effect: float
    counterfactual: float
    lift: float
    intercept: float
    slope: float


def _fit(
    sx: np.ndarray, sy: np.ndarray, sxx: np.ndarray, sxy: np.ndarray, n: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """OLS intercept and slope from sums; a flat control series falls back to a ratio."""
    vxx = sxx - sx * sx / n
    vxy = sxy - sx * sy / n
    scale = np.maximum(np.abs(sxx), 1e-300)
    flat = vxx <= 1e-12 * scale
    slope = np.where(flat, sy / np.where(sx == 0, 1.0, sx), vxy / np.where(flat, 1.0, vxx))
    intercept = np.where(flat, 0.0, (sy - slope * sx) / n)
    return intercept, slope


def tbr_estimate(
    treatment: np.ndarray, control: np.ndarray, pre: slice, test: slice
) -> TbrEstimate:
    """TBR of one test period.

    Parameters
    ----------
    treatment, control : ndarray, shape (T,)
        Daily outcome totals of the two groups.
    pre, test : slice
        The pre-period and test-period days.
    """
    x, y = np.asarray(control, np.float64)[pre], np.asarray(treatment, np.float64)[pre]
    n = x.size
    a, b = _fit(
        np.array(x.sum()), np.array(y.sum()), np.array(x @ x), np.array(x @ y), n
    )  # fmt: skip
    xt, yt = np.asarray(control, np.float64)[test], np.asarray(treatment, np.float64)[test]
    counterfactual = float(a) * xt.size + float(b) * float(xt.sum())
    effect = float(yt.sum()) - counterfactual
    lift = effect / counterfactual if counterfactual > 0 else float("nan")
    return TbrEstimate(effect, counterfactual, lift, float(a), float(b))


def tbr_windows(
    treatment: np.ndarray,
    control: np.ndarray,
    pre_days: int,
    test_days: int,
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The TBR lift and counterfactual of every placebo window in the series.

    Window ``w`` has its pre-period on days ``[w, w + pre_days)`` and its test period on
    ``[w + pre_days, w + pre_days + test_days)``; every window that fits is returned.

    Parameters
    ----------
    treatment, control : ndarray, shape (..., T)
        Daily outcome totals of the two groups; leading axes are separate assignments.
    skip : ndarray of bool, shape (T,), optional
        Days the pre-period regression leaves out (a registered test's days: their outcome
        moved because of the test); a window's regression is on its other pre-period days.

    Returns
    -------
    lift, counterfactual : ndarray, shape (..., W)
        ``W = T − pre_days − test_days + 1`` (empty when the series is too short).
    """
    y = np.asarray(treatment, np.float64)
    x = np.asarray(control, np.float64)
    n_windows = y.shape[-1] - pre_days - test_days + 1
    if n_windows <= 0:
        return np.zeros((*y.shape[:-1], 0)), np.zeros((*y.shape[:-1], 0))

    def cum(v: np.ndarray) -> np.ndarray:
        pad = np.zeros((*v.shape[:-1], 1))
        return np.concatenate([pad, np.cumsum(v, axis=-1)], axis=-1)

    cx, cy = cum(x), cum(y)
    start = np.arange(n_windows)
    mid = start + pre_days
    end = mid + test_days

    def span(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return c[..., hi] - c[..., lo]

    w = np.ones(y.shape[-1]) if skip is None else (~np.asarray(skip, dtype=bool)).astype(float)
    n = np.maximum(span(cum(w), start, mid), 1.0)  # kept pre-period days per window
    a, b = _fit(span(cum(x * w), start, mid), span(cum(y * w), start, mid),
                span(cum(x * x * w), start, mid), span(cum(x * y * w), start, mid), n)  # fmt: skip
    counterfactual = a * test_days + b * span(cx, mid, end)
    observed = span(cy, mid, end)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(counterfactual > 0, observed / counterfactual - 1.0, np.nan)
    return lift, counterfactual
