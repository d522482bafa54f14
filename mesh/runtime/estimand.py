"""What one effect estimate's number is, in the same words on every surface: the demo, the
estimate CLI, the report's effect page and the grounded explanation (R10-F14: they said "per
treated geo-day", "difference in means (ATE)" and "on average across all units" for one figure).

The words are the analysis's own estimand (the causal service stores it) per observation of
its data: a geo × day panel's estimate is per geo-day (each geo's daily mean over the window
is compared), a unit-level one per unit.
"""

from __future__ import annotations

__all__ = ["ESTIMAND_NAMES", "estimand_words", "observation", "period_word"]

ESTIMAND_NAMES = {
    "ate": "average treatment effect (ATE)",
    "att": "average treatment effect on the treated (ATT)",
    "late": "local average treatment effect (LATE)",
    "cate": "conditional average treatment effect (CATE)",
}


# A time column is often named for its type, not its cadence: "per geo-date" reads as a unit of
# measure that does not exist, and the cadence is not known here (a "date" may be weekly).
_CADENCES = ("hour", "day", "week", "month", "quarter", "year")
_GENERIC_TIMES = frozenset({"date", "ds", "dt", "time", "timestamp", "period", "t", "datetime"})


def period_word(time: str) -> str:
    """The time column's name as a period: "week_start" → "week", "date" → "period"."""
    name = time.strip()
    lowered = name.lower()
    cadence = next((c for c in _CADENCES if c in lowered), "")
    if cadence:
        return cadence
    return "period" if lowered in _GENERIC_TIMES else name


def observation(unit: str, time: str) -> str:
    """What one observation of the data is: "geo-day" (unit and time), "geo", or ""."""
    unit, time = unit.strip(), period_word(time)
    return f"{unit}-{time}" if unit and time else unit


def estimand_words(estimand: str, unit: str = "", time: str = "") -> str:
    """``average treatment effect (ATE) per geo-day``; ``estimand`` is "ate", "att", "late",
    "cate" (any case, an ``ESTIMAND_`` prefix allowed) or "" (an unnamed estimand: "effect")."""
    key = estimand.lower().removeprefix("estimand_")
    name = ESTIMAND_NAMES.get(key, "effect")
    per = observation(unit, time)
    return f"{name} per {per}" if per else name
