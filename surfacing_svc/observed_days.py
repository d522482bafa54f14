"""Forecast days that have already happened.

A forecast from a stored analysis starts the day after the analysis's window, and reads no
later day: its baseline and curves were fitted on that window. Weeks on, memory holds actual
rows for some of the forecast's days, and a reader takes the whole forecast for the future
(audit R5-F3). This module compares the forecast's daily intervals with the national outcome
memory now holds on those days, so the answer says which days are no longer future and how the
forecast fared on them.

The national outcome is summed over the history's geos, as the forecast's own history is. A day
on which some of those geos have no first-party outcome yet (late rows, a partial newest pull)
is not compared: its sum would read low. It is counted, and the note says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from surfacing_svc.history import FIRST_PARTY_SOURCE
from surfacing_svc.intervals import Interval

__all__ = ["ObservedDays", "observed_days"]


@dataclass(frozen=True, slots=True)
class ObservedDays:
    """The forecast's days memory already holds, with the actual outcome of each.

    Attributes
    ----------
    dates : tuple of date
        The days compared: every history geo has its outcome in memory.
    actual : tuple of float
        The national outcome on each of them.
    forecast : tuple of Interval
        The forecast's daily interval on each of them.
    partial : int
        Days of the horizon with outcomes from some of the history's geos only (not compared).
    horizon : int
        Days forecast.
    """

    dates: tuple[dt.date, ...] = ()
    actual: tuple[float, ...] = ()
    forecast: tuple[Interval, ...] = ()
    partial: int = 0
    horizon: int = 0

    @property
    def inside(self) -> int:
        """Days whose actual outcome lies inside the forecast's interval."""
        return sum(f.lower <= a <= f.upper for a, f in zip(self.actual, self.forecast, strict=True))

    def note(self, outcome: str, *, planned: bool) -> str | None:
        """The comparison in words (None: no day of the horizon is in memory yet). ``planned``:
        the forecast is of a spend plan the user gave, not the spend that actually ran."""
        n = len(self.dates)
        if n == 0 and self.partial == 0:
            return None
        if n == 0:
            return (
                f"memory holds outcomes from only some geos on {self.partial} of this "
                f"forecast's {self.horizon} days, so they are not compared with it"
            )
        level = self.forecast[0].level
        actual = sum(self.actual)
        expected = sum(f.estimate for f in self.forecast)
        span = f"{self.dates[0]}" if n == 1 else f"{self.dates[0]}..{self.dates[-1]}"
        text = (
            f"{n} of this forecast's {self.horizon} days are already in memory ({span}): actual "
            f"{outcome} {actual:,.0f} against the forecast's {expected:,.0f} on those days"
        )
        if expected > 0:
            text += f" ({actual / expected - 1:+.1%})"
        text += (
            f", inside the daily {level:.0%} interval on {self.inside} of {n} days. The "
            "forecast does not read them (it continues the analysis's window); re-run analyze "
            "on a window that includes them to fold them in"
        )
        if planned:
            text += "; it is of the plan asked, not of the spend that ran on those days"
        if self.partial:
            text += (
                f"; {self.partial} more day(s) have outcomes from only some geos and are not "
                "compared"
            )
        return text


def observed_days(
    frame: pd.DataFrame,
    geos: Sequence[str],
    metric: str,
    dates: np.ndarray,
    daily: Sequence[Interval],
) -> ObservedDays:
    """Compare the forecast (``dates``, ``daily``) with the outcome ``metric`` memory holds in
    ``frame`` (rows after the history, :func:`surfacing_svc.history.frame_from_sums` columns)
    over the history's ``geos``."""
    days = pd.DatetimeIndex(np.asarray(dates).astype("datetime64[D]"))
    horizon = len(days)
    if frame.empty or not geos or metric not in frame:
        return ObservedDays(horizon=horizon)
    day = pd.to_datetime(frame["local_date"]).dt.normalize()
    t = days.get_indexer(day)
    g = pd.Index(list(geos)).get_indexer(frame["geo"].astype(str))
    y = frame[metric].fillna(0.0).to_numpy(np.float64)
    first_party = frame["data_source"].astype(str).eq(FIRST_PARTY_SOURCE).to_numpy()
    # Memory's wide sums give a geo-day with ad rows but no orders a first-party 0: not an
    # observed outcome (as the history reads it).
    sel = first_party & (t >= 0) & (g >= 0) & (y != 0.0)
    grid = np.zeros((len(geos), horizon))
    np.add.at(grid, (g[sel], t[sel]), y[sel])
    seen = np.zeros((len(geos), horizon), dtype=bool)
    seen[g[sel], t[sel]] = True
    count = seen.sum(axis=0)
    complete = np.flatnonzero(count == len(geos))
    return ObservedDays(
        dates=tuple(days[i].date() for i in complete),
        actual=tuple(float(grid[:, i].sum()) for i in complete),
        forecast=tuple(daily[int(i)] for i in complete),
        partial=int(((count > 0) & (count < len(geos))).sum()),
        horizon=horizon,
    )
