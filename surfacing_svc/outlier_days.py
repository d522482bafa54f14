"""Days of the forecast's history whose national outcome is far outside its usual range (a day
imported ×50, a day of zeros from an outage), found on the log baseline's residual and read as
one-offs: the forecast leaves them out of its fit and of the residual moves it replays.

Why (R50-F4): the forecast's "where demand goes from here" replays the history's own residual
moves from random origins (:func:`surfacing_svc.forecast._residual_paths`). One national day
×50 put a +log 50 jump on every path whose segment crossed it, and a level shift of a seventh
of that on the paths whose week-mean level took it in: the draws got a tail so heavy that their
mean — the daily figure shown — lay above its own 90% interval on 13 of the first 14 days, and
the 28-day total read +33%. A day like that is not a move demand makes; leaving it out is what
the history says about demand, and the answer names the day so the user can correct it.

The rule is the attribution health check's (``causal_svc.attribution.health_outcome``
``outcome_outliers``, R30-F1), on the national series: a day is far outside when its log
residual, against the median of the residuals over the :data:`LOCAL_DAYS` days either side, is
at least :data:`OUTLIER_Z` robust standard deviations AND a factor :data:`OUTLIER_RATIO` away.
On the simulator's clean worlds no geo-day reaches both (health_outcome's docstring); a national
day, the sum of many geos, is smoother still. A real one-day sale the regressors do not know
(holidays and registered seasons are regressors, so Black Friday is not a residual) is rarely
×3 of a day's usual; if it is, it is named, so the user can register it as a promotion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

__all__ = ["OutlierDays", "outlier_days"]

OUTLIER_Z = 8.0
OUTLIER_RATIO = 3.0
LOCAL_DAYS = 7
# More flagged days than this share of the history is the series' nature (a sparse outcome),
# not a few wrong days: nothing is left out then.
MAX_SHARE = 0.05
# Shown by date in the warning; the rest are counted.
_SHOWN = 3


@dataclass(frozen=True, slots=True)
class OutlierDays:
    """The history's far-outside days: ``days`` (bool per history day), and per flagged day
    the log of its factor from the usual (``factor``, 0 elsewhere)."""

    days: np.ndarray
    factor: np.ndarray

    @property
    def any(self) -> bool:
        return bool(self.days.any())

    def usual(self, log_y: np.ndarray) -> np.ndarray:
        """``log_y`` with each flagged day at its usual value (the local level's)."""
        return np.where(self.days, log_y - self.factor, log_y)

    def warning(self, dates: np.ndarray, outcome: np.ndarray, log_y: np.ndarray) -> str:
        """What the forecast did with the days, in words, with what to do (``outcome``: the
        history's outcome, ``log_y``: the log baseline the days were found on)."""
        at = np.flatnonzero(self.days)
        shown = []
        for i in at[:_SHOWN]:
            day = dt.date.fromisoformat(str(np.datetime64(dates[i], "D")))
            # a day without outcome has no factor to take off: its baseline's usual level
            usual = float(
                outcome[i] * np.exp(-self.factor[i])
                if outcome[i] > 0
                else np.exp(log_y[i] - self.factor[i])
            )
            size = "nothing" if outcome[i] <= 0 else f"×{float(np.exp(self.factor[i])):,.1f}"
            shown.append(f"{day}: {float(outcome[i]):,.0f} where ~{usual:,.0f} is usual, {size}")
        more = f" and {at.size - _SHOWN} more" if at.size > _SHOWN else ""
        return (
            f"{at.size} day(s) of the history's outcome are far outside its usual range "
            f"({'; '.join(shown)}{more}): the forecast reads them as one-offs and leaves them "
            "out of the level and of the moves it replays (kept in, one such day put the "
            "daily figures above their own intervals); a data error (a wrong unit, a "
            "duplicated or missing import) is the likely cause: correct the rows at the "
            "source and re-ingest them, or register a real one-day sale as a promotion"
        )


def _rolling_median(r: np.ndarray, days: int) -> np.ndarray:
    """Per day, the median of ``r`` over the ``days`` days either side (the day included;
    fewer at the ends)."""
    n = r.size
    pad = np.concatenate([np.full(days, np.nan), r, np.full(days, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(pad, 2 * days + 1)[:n]
    return np.nanmedian(windows, axis=1)


def outlier_days(x: np.ndarray, log_y: np.ndarray, known: np.ndarray | None = None) -> OutlierDays:
    """The days of ``log_y`` (the history's log baseline) far outside its usual range, given
    the regressors ``x`` (weekdays, holidays, seasons: what is usual on the day). ``known``
    marks days whose excursion the org registered (a promotion): never flagged."""
    n = log_y.size
    none = OutlierDays(np.zeros(n, bool), np.zeros(n))
    if n < 2 * LOCAL_DAYS + 1:
        return none
    coef, *_ = np.linalg.lstsq(x, log_y, rcond=None)
    r = log_y - x @ coef
    e = r - _rolling_median(r, LOCAL_DAYS)
    scale = 1.4826 * float(np.median(np.abs(e - np.median(e))))
    if not scale > 0:
        return none
    far = (np.abs(e) >= OUTLIER_Z * scale) & (np.abs(e) >= np.log(OUTLIER_RATIO))
    if known is not None:
        far &= ~np.asarray(known, bool)
    if not far.any() or far.sum() > MAX_SHARE * n:
        return none
    return OutlierDays(far, np.where(far, e, 0.0))
