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
day, the sum of many geos, is smoother still.

A one-off is a run of such days apart from the days on BOTH sides of it (V2-F1): from a far
day, the run is the days around it as far from the level of the :data:`LOCAL_DAYS` usual days
before it, on the same side (by half the threshold, so one event whose days straddle it is not
split), and it is left out whole when it is apart from the median of the :data:`LOCAL_DAYS` days
after it too, else kept whole (the days after share its level: a change). At the history's end
there are no days after (or only a day a regressor of its own fits exactly, a holiday seen
once): a run there, a late or partial export or the shop's real drop or jump the forecast's level
must rest on, cannot be told from a change, so it is read as it is and the warning says so
(before, the last 3 days at ×0.3 were read at the old level: a 14-day forecast of 4.34M where
reading them gives 2.56M; of the last 4 days, 3 were left out and 1 kept).

Above usual by ×3 to ×:data:`SALE_MAX` a run is as likely a sale the calendar does not hold as
an error (V2-F13: a 2-day sale at ×4 was called a data error), and the warning says both and how
to register it. Holidays and registered seasons are regressors and registered promotion days are
exempt, so Black Friday is not a residual.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

__all__ = ["OutlierDays", "outlier_days"]

OUTLIER_Z = 8.0
OUTLIER_RATIO = 3.0
LOCAL_DAYS = 7
# More far days than this share of the history is the series' nature (a sparse outcome), not a
# few wrong days: nothing is left out then.
MAX_SHARE = 0.05
# Above usual by no more than this factor, a run may be an unregistered sale (V2-F13).
SALE_MAX = 5.0
# Shown by date in the warning; the rest are counted.
_SHOWN = 3


@dataclass(frozen=True, slots=True)
class OutlierDays:
    """The history's far-outside days: ``days`` (bool per history day: left out), per such day
    the log of its factor from the usual (``factor``, 0 elsewhere), and ``end``: how many of
    the history's last days are far from the level before them and read as they are (0: none)."""

    days: np.ndarray
    factor: np.ndarray
    end: int = 0

    @property
    def any(self) -> bool:
        """Whether there is anything to say: a day left out, or the history's last days read as
        they are though far from the level before them."""
        return bool(self.days.any()) or self.end > 0

    def usual(self, log_y: np.ndarray) -> np.ndarray:
        """``log_y`` with each left-out day at its usual value (the local level's)."""
        return np.where(self.days, log_y - self.factor, log_y)

    def warning(self, dates: np.ndarray, outcome: np.ndarray, log_y: np.ndarray) -> str:
        """What the forecast did with the days, in words, with what to do (``outcome``: the
        history's outcome, ``log_y``: the log baseline the days were found on)."""
        said = []
        if self.days.any():
            said.append(self._left_out(dates, outcome, log_y))
        if self.end:
            said.append(self._kept_end(dates, outcome))
        return "; ".join(said)

    def _left_out(self, dates: np.ndarray, outcome: np.ndarray, log_y: np.ndarray) -> str:
        at = np.flatnonzero(self.days)
        shown = []
        for i in at[:_SHOWN].tolist():
            # a day without outcome has no factor to take off: its baseline's usual level
            usual = float(
                outcome[i] * np.exp(-self.factor[i])
                if outcome[i] > 0
                else np.exp(log_y[i] - self.factor[i])
            )
            size = "nothing" if outcome[i] <= 0 else f"×{float(np.exp(self.factor[i])):,.1f}"
            shown.append(
                f"{_day(dates, i)}: {float(outcome[i]):,.0f} where ~{usual:,.0f} is usual, {size}"
            )
        more = f" and {at.size - _SHOWN} more" if at.size > _SHOWN else ""
        runs = _runs(self.days)
        sales = [(a, b) for a, b in runs if _sale_like(self.factor[a : b + 1], outcome[a : b + 1])]
        errors = len(runs) - len(sales)
        advice = []
        if sales:
            named = ", ".join(_span(dates, a, b) for a, b in sales)
            advice.append(
                f"{named} {'is' if len(sales) == 1 else 'are'} a glitch or an unregistered "
                "promotion: register it (liftos factors register, kind promotion, a row per "
                "sale day) if it was a sale, else correct the rows at the source and re-ingest them"
            )
        if errors:
            who = "for the others, a" if sales else "a"
            advice.append(
                f"{who} data error (a wrong unit, a duplicated or missing import) is the likely "
                "cause: correct the rows at the source and re-ingest them"
            )
        return (
            f"{at.size} day(s) of the history's outcome are far outside its usual range "
            f"({'; '.join(shown)}{more}), apart from the days on both sides: the forecast reads "
            "them as one-offs and leaves them out of the level and of the moves it replays "
            "(kept in, one such day put the daily figures above their own intervals); "
            + "; ".join(advice)
        )

    def _kept_end(self, dates: np.ndarray, outcome: np.ndarray) -> str:
        n, m = outcome.size, self.end
        recent = float(np.median(outcome[n - m :]))
        before = float(np.median(outcome[max(0, n - m - LOCAL_DAYS) : n - m]))
        size = f"×{recent / before:,.2f} of" if before > 0 else "far from"
        days, are, them, they = (
            ("day", "is", "it", "it") if m == 1 else (f"{m} days", "are", "them", "they")
        )
        return (
            f"the history's last {days} ({_span(dates, n - m, n - 1)}) {are} at {size} the "
            f"level of the {LOCAL_DAYS} days before (~{recent:,.0f} a day where ~{before:,.0f} "
            f"was usual): no day after says whether that lasts, so the forecast reads {them} as "
            f"{they} {are} and its level from here rests on {them}; if {they} {are} a data error (a "
            f"late or partial export, a wrong unit), correct the rows at the source, re-ingest "
            f"{them} and ask again"
        )


def _day(dates: np.ndarray, i: int) -> dt.date:
    return dt.date.fromisoformat(str(np.datetime64(dates[i], "D")))


def _span(dates: np.ndarray, a: int, b: int) -> str:
    return str(_day(dates, a)) if a == b else f"{_day(dates, a)}..{_day(dates, b)}"


def _sale_like(factor: np.ndarray, outcome: np.ndarray) -> bool:
    """Every day of the run above usual by no more than :data:`SALE_MAX` (a sale's size)."""
    return bool((outcome > 0).all() and (factor > 0).all() and (factor <= np.log(SALE_MAX)).all())


def _runs(far: np.ndarray) -> list[tuple[int, int]]:
    """The runs of consecutive ``far`` days, as (first, last) day indices."""
    edges = np.diff(np.concatenate([[0], far.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()
    return list(zip(starts, ends, strict=True))


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
    floor = max(OUTLIER_Z * scale, float(np.log(OUTLIER_RATIO)))
    # A day a regressor of its own fits exactly (a holiday the history holds once, on its last
    # day) has a residual of nothing whatever its outcome: no evidence of a level either side.
    seen = np.einsum("ij,ji->i", x, np.linalg.pinv(x)) < 1.0 - 1e-6
    far = (np.abs(e) >= floor) & seen
    if known is not None:
        far &= ~np.asarray(known, bool)
    if not far.any() or far.sum() > MAX_SHARE * n:
        return none

    out = np.zeros(n, bool)
    factor = np.zeros(n)
    end, done = 0, -1
    for a in np.flatnonzero(far).tolist():
        if a <= done:
            continue
        # The usual level before the day: the last LOCAL_DAYS days not left out (a one-off
        # just before must not make its neighbours look far: the centred median it was found
        # with is dragged by a run of 4-7 far days).
        before = r[:a][~out[:a] & seen[:a]][-LOCAL_DAYS:]
        level = float(np.median(before)) if before.size else float(r[a] - e[a])
        sign = np.sign(r[a] - level)
        if sign * (r[a] - level) < floor:
            done = a  # far only against a median the days around it dragged
            continue
        # The run, taken whole: the days next to it as far from that level on the same side,
        # by half the threshold (one event whose days straddle the threshold is not split)
        near = floor / 2.0
        while a > done + 1 and not out[a - 1] and sign * (r[a - 1] - level) >= near:
            a -= 1
        before = r[:a][~out[:a] & seen[:a]][-LOCAL_DAYS:]
        b = a
        while b + 1 < n and sign * (r[b + 1] - level) >= near:
            b += 1
        done = b
        after = r[b + 1 :][seen[b + 1 :]][:LOCAL_DAYS]
        if after.size == 0:
            # No day after it (or none the fit does not pin): a change cannot be told from a
            # one-off, and the forecast's level rests on these days: read as they are, and said.
            end = n - a
            break
        around = float(np.median(np.concatenate([before, after])))
        back = sign * (r[a : b + 1] - float(np.median(after))) >= near
        if b - a < LOCAL_DAYS and back.all():
            # apart from the days on both sides (and no longer than a week: longer is a
            # level): a one-off, read at the level around it
            out[a : b + 1] = True
            factor[a : b + 1] = r[a : b + 1] - around
    return OutlierDays(out, factor, end)
