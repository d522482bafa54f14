"""Whether dated values are a weekly export: the one rule the attribution panel (outcome,
channels, external series) and `liftos factors register` read, so the CLI says "weekly"
exactly where an analysis reads a series as weekly."""

from __future__ import annotations

import numpy as np

__all__ = ["WEEKDAYS", "looks_weekly", "weekday", "weekly_series"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 .. Sunday = 6 of days since 1970-01-01 (a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


def looks_weekly(days: np.ndarray) -> str:
    """The weekday every one of ``days`` (days since 1970-01-01, at least 3 distinct) falls
    on, or "": a series dated one weekday only is a weekly export (Robyn's and Meridian's
    usual grain), not daily data with six silent days a week."""
    days = np.unique(np.asarray(days, dtype=np.int64))
    if days.size < 3:
        return ""
    on = np.unique(weekday(days))
    return WEEKDAYS[int(on[0])] if on.size == 1 else ""


def weekly_series(days: np.ndarray) -> str:
    """:func:`looks_weekly` for a series of values: one weekday *and* a week apart (the median
    gap), not a few events that happen to share a weekday."""
    gaps = np.diff(np.unique(np.asarray(days, dtype=np.int64)))
    return looks_weekly(days) if gaps.size and float(np.median(gaps)) == 7.0 else ""
