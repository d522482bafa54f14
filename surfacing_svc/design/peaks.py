"""A proposed test against the org's peak days (R51-F3): Black Friday to Cyber Monday where the
country keeps them, and the retail seasons the forecast reads (the built-in gift weeks, or the
org's registered seasons standing for them, recurred past their last registered day:
:func:`surfacing_svc.seasons.season_spans`).

A test that runs into a peak reads out after the peak has started, too late to set its budget;
a go-dark over it turns the channel off on the year's biggest days; and the design's table
prices the test at the treatment geos' usual level, which the peak exceeds. So a test whose
window meets one is said, with the latest start that ends before it (or the longest checked
test that does, or none), the first window clear of it, and what the go-dark puts at risk at
the level the same days brought a year earlier.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mesh.runtime.holiday_rules import retail_events_kept
from mesh.runtime.retail_calendar import thanksgiving
from surfacing_svc.history import GeoHistory
from surfacing_svc.seasons import season_spans

from .spec import CellDesign, TreatmentKind

__all__ = ["Peak", "peak_notes", "peaks_between"]

RETAIL_WEEKEND = "Black Friday to Cyber Monday"
# Days either side of Black Friday–Cyber Monday that a year-earlier day is read around them
# (Thanksgiving moves by up to a week), not on the calendar date.
_AROUND_EVENTS = 7
# How far past the earliest start a window clear of the peaks is looked for.
_CLEAR_SEARCH_DAYS = 400


@dataclass(frozen=True, slots=True)
class Peak:
    """A span of peak days."""

    name: str
    first: dt.date
    last: dt.date

    def meets(self, start: dt.date, end: dt.date) -> bool:
        return self.first <= end and start <= self.last

    def text(self) -> str:
        days = f"{self.first}" if self.first == self.last else f"{self.first} to {self.last}"
        return f"{self.name} ({days})"


def peaks_between(
    first: dt.date,
    last: dt.date,
    country: str,
    seasons: Mapping[str, Mapping[dt.date, float]] | None = None,
) -> list[Peak]:
    """The peaks that meet ``first``..``last``, in order."""
    peaks = [Peak(n, a, b) for n, a, b in season_spans(first, last, country, seasons)]
    if retail_events_kept(country):
        for year in range(first.year, last.year + 1):
            friday = thanksgiving(year) + dt.timedelta(days=1)
            peak = Peak(RETAIL_WEEKEND, friday, friday + dt.timedelta(days=3))
            if peak.meets(first, last):
                peaks.append(peak)
    return sorted(peaks, key=lambda p: (p.first, p.name))


def _year_earlier(day: dt.date) -> dt.date:
    """The same day a year earlier: around Black Friday by its distance from it, else the
    calendar date (28 February for 29 February)."""
    friday = thanksgiving(day.year) + dt.timedelta(days=1)
    if -_AROUND_EVENTS <= (day - friday).days <= 3 + _AROUND_EVENTS:
        return thanksgiving(day.year - 1) + dt.timedelta(days=1) + (day - friday)
    return day.replace(year=day.year - 1, day=min(day.day, 28 if day.month == 2 else day.day))


def _season_ratio(
    history: GeoHistory, treated: np.ndarray, bau: np.ndarray, start: dt.date, days: int
) -> tuple[float, dt.date, dt.date] | None:
    """The treatment geos' outcome a day over the window's days a year earlier against their
    business-as-usual days a year earlier, with the earlier window's first and last day; None
    where the history does not hold them."""
    index = {d.item(): i for i, d in enumerate(history.dates.astype("datetime64[D]"))}
    dates = list(index)
    window = [_year_earlier(start + dt.timedelta(k)) for k in range(days)]
    usual = [_year_earlier(dates[i]) for i in bau]
    if not all(d in index for d in (*window, *usual)):
        return None
    total = history.outcome[treated].sum(axis=0)
    at = float(np.mean([total[index[d]] for d in window]))
    base = float(np.mean([total[index[d]] for d in usual]))
    return (at / base, min(window), max(window)) if base > 0 else None


def _clear_start(earliest: dt.date, days: int, peaks: Sequence[Peak]) -> dt.date | None:
    start = earliest
    for _ in range(_CLEAR_SEARCH_DAYS):
        end = start + dt.timedelta(days=days - 1)
        hit = [p for p in peaks if p.meets(start, end)]
        if not hit:
            return start
        start = max(p.last for p in hit) + dt.timedelta(days=1)
    return None


def peak_notes(
    history: GeoHistory,
    cells: Sequence[CellDesign],
    start: dt.date,
    country: str,
    seasons: Mapping[str, Mapping[dt.date, float]] | None,
    bau: np.ndarray,
) -> list[str]:
    """What each cell's recommended test meets of the peaks, in words ([] where none)."""
    last_day = history.dates.astype("datetime64[D]")[-1].item()
    earliest = last_day + dt.timedelta(days=1)
    longest = max(p.duration_days for c in cells for p in c.power_curve)
    horizon = max(start, earliest) + dt.timedelta(days=longest + _CLEAR_SEARCH_DAYS)
    peaks = peaks_between(earliest, horizon, country, seasons)
    notes: list[str] = []
    for cell in cells:
        days = cell.recommended_duration_days
        end = start + dt.timedelta(days=days - 1)
        hit = [p for p in peaks if p.meets(start, end)]
        if not hit:
            continue
        head = f"cell {cell.index}: " if len(cells) > 1 else ""
        said = (
            f"{head}the {days}-day test ({start} to {end}) runs into "
            + ", ".join(p.text() for p in hit)
            + f": it reads out after {hit[0].name} has started, too late to set its budget"
            + (
                ", and turns the channel off in the treatment geos over those days"
                if cell.spec.kind is TreatmentKind.GO_DARK
                else ""
            )
        )
        said += _before(cell, hit[0], start, earliest)
        clear = _clear_start(max(start, earliest), days, peaks)
        if clear is not None and clear != start:
            said += f"; the first {days}-day window clear of the peaks starts on {clear}"
        said += _priced(history, cell, start, days, bau)
        notes.append(said)
    return notes


def _before(cell: CellDesign, peak: Peak, start: dt.date, earliest: dt.date) -> str:
    """The latest start whose test ends before ``peak``, or the longest checked test that
    does from the earliest start, or that none does."""
    days = cell.recommended_duration_days
    latest = peak.first - dt.timedelta(days=days)
    if latest >= earliest:
        return (f"; the latest start whose {days} days end before {peak.name} is {latest} "
                f"(its last day {peak.first - dt.timedelta(days=1)})")  # fmt: skip
    room = (peak.first - earliest).days
    fits = [p for p in cell.power_curve if p.duration_days <= room]
    if not fits:
        return (f"; no test checked ends before {peak.name} from the earliest start "
                f"({earliest}): {room} day{'' if room == 1 else 's'} remain before it")  # fmt: skip
    best = fits[-1]
    power = best.power if math.isfinite(best.power) else best.power_at_expected
    at = f" (power {power:.0%} at the target)" if math.isfinite(power) else ""
    return (
        f"; a {days}-day test cannot end before {peak.name} (it would have to start by "
        f"{latest}, before the history ends); the longest checked that does is "
        f"{best.duration_days} days from {earliest}{at}, detecting {best.mde_lift:.1%} or more"
    )


def _priced(
    history: GeoHistory, cell: CellDesign, start: dt.date, days: int, bau: np.ndarray
) -> str:
    """The test's outcome, MDE and (a go-dark's) expected loss at the level the same days
    brought the treatment geos a year earlier, against the table's usual level."""
    treated = np.isin(np.asarray(history.geos), cell.treatment_geos)
    ratio = _season_ratio(history, treated, bau, start, days)
    name = history.outcome_name
    usual = cell.daily_outcome * days
    point = cell.recommended
    if ratio is None:
        return (f"; the history does not hold these days a year earlier, so the table prices "
                f"them at the treatment geos' usual {name} ({usual:,.0f} over {days} days), "
                "which the peak may well exceed")  # fmt: skip
    r, first, last = ratio
    season = usual * r
    said = (
        f"; the same days a year earlier ({first} to {last}) brought the treatment geos "
        f"{r:.2f}× their usual daily {name}: at that level the test's days hold about "
        f"{season:,.0f} of {name} (the table's figures are at the usual {usual:,.0f}), its MDE "
        f"is about {point.mde_lift * season:,.0f} (table: {point.mde_absolute:,.0f})"
    )
    if cell.spec.kind is TreatmentKind.GO_DARK and math.isfinite(point.expected_lift):
        said += (
            f", and the go-dark is expected to cost about {abs(point.expected_lift) * season:,.0f}"
            f" of {name} ({abs(point.expected_lift):.1%} of it) where the usual level says "
            f"{abs(point.expected_lift) * usual:,.0f}"
        )
    return said
