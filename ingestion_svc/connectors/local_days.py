"""Where a platform's local day begins, on days whose clocks change at midnight.

In zones that move their clocks at midnight (America/Santiago, America/Asuncion,
America/Havana, Asia/Beirut ...) a local date may have no 00:00 (the clocks jump from 23:59 to
01:00: its first instant is 01:00) or two (they fall back from 01:00 to 00:00). Such a date is
still a day and its rows still count: a row is dated by the day's first instant, never by
re-localising midnight (``DatetimeIndex.normalize()`` on a tz-aware index), which raises on
the first kind of day and is ambiguous on the second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingestion_svc.connectors.base import supported

__all__ = ["day_starts", "near_range"]

_DAY = np.timedelta64(1, "D")


def day_starts(days: np.ndarray, timezone: str) -> pd.DatetimeIndex:
    """The first instant (tz-aware, in ``timezone``) of each local date (``days``: naive
    midnights): its midnight; where midnight does not exist, the first time that does; where
    it comes twice, the first of the two."""
    return pd.DatetimeIndex(days).tz_localize(
        timezone, ambiguous=np.ones(len(days), dtype=bool), nonexistent="shift_forward"
    )


def near_range(instants: np.ndarray) -> np.ndarray:
    """``instants`` (naive ``datetime64[s]``) with those more than a day outside the
    supported dates as NaT: the rest convert to any zone (a zone's clock is less than a day
    from UTC) without passing the zone database's range, and may land on a supported day."""
    out = instants.copy()
    out[np.isnat(supported(instants - _DAY)) & np.isnat(supported(instants + _DAY))] = (
        np.datetime64("NaT")
    )
    return out
