"""Business-as-usual spend: the days a channel's "current" spend is read from when a plan or a
design leaves it as it is.

A registered experiment's test window is not business as usual for the channel it tested: a
geo holdout takes the channel dark in half the geos (R5-F4: the last 28 days of a history
that ended with Meta prospecting's holdout read 11,885/day against 39,369/day the 28 days
before, so the default forecast assumed the finished holdout continued and a new design
understated what a holdout removes by 3×). The usual days are the history's latest
:data:`USUAL_DAYS` days outside every registered test window of the channel — the 28 days
before the test when it ended the history — and the answer says so, naming the experiment.

``optimize`` reads "current" differently on purpose: the analysis window's mean spend, the
point the response curves were fitted around (and which its uplift is measured from); each
verb's answer names which it uses (:func:`optimize_current_note`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "USUAL_DAYS",
    "RegisteredTest",
    "RegisteredTests",
    "UsualDays",
    "optimize_current_note",
    "predict_note",
    "usual_days",
]

# Business-as-usual levels are read from this many days.
USUAL_DAYS = 28


@dataclass(frozen=True, slots=True)
class RegisteredTest:
    """An experiment of the org's registry that has run or runs: its treatment window and the
    channel it treats (``status``: "running", "completed", or the registry's word)."""

    experiment_id: str
    channel: str
    start: dt.date
    end: dt.date
    status: str = ""
    geos: tuple[str, ...] = ()  # its treatment units, where the registry lists them


@dataclass(frozen=True, slots=True)
class UsualDays:
    """The history days (indices, ascending) a channel's business-as-usual level is read from,
    and, when a registered test moved them off the history's last days, why."""

    index: np.ndarray
    note: str = ""


def _span(days: Sequence[dt.date]) -> str:
    return f"{days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}"


def _spans(dates: np.ndarray, index: np.ndarray) -> str:
    """The history days ``index`` (ascending) as their runs of consecutive days."""
    day = dates.astype("datetime64[D]")
    breaks = np.flatnonzero(np.diff(index) > 1) + 1
    runs = [[day[r[0]].item(), day[r[-1]].item()] for r in np.split(index, breaks)]
    return ", ".join(f"{a:%Y-%m-%d}" if a == b else _span([a, b]) for a, b in runs)


def usual_days(
    dates: np.ndarray,
    channel: str,
    tests: Sequence[RegisteredTest],
    days: int = USUAL_DAYS,
) -> UsualDays:
    """The latest ``days`` history days outside every registered test window of ``channel``
    that meets them (``dates``: the history's consecutive days, datetime64[D]).

    A test that leaves fewer than ``days`` days outside it (the history is mostly the test)
    keeps the last ``days`` days, and the note says the level is the test's.
    """
    n = int(dates.size)
    last = np.arange(max(n - days, 0), n)
    mine = [t for t in tests if t.channel == channel]
    if not mine or n == 0:
        return UsualDays(last)
    day = dates.astype("datetime64[D]")
    inside = np.zeros(n, dtype=bool)
    for t in mine:
        inside |= (day >= np.datetime64(t.start, "D")) & (day <= np.datetime64(t.end, "D"))
    if not inside[last].any():
        return UsualDays(last)  # the usual days do not meet a test: nothing to say
    met = [
        t for t in mine
        if t.start <= day[last[-1]].item() and t.end >= day[last[0]].item()
    ]  # fmt: skip
    named = "; ".join(
        f"registered experiment {t.experiment_id} ({t.status + ', ' if t.status else ''}"
        f"{t.start:%Y-%m-%d}..{t.end:%Y-%m-%d})"
        for t in met
    )
    outside = np.flatnonzero(~inside)
    if outside.size < days:
        return UsualDays(last, (
            f"{channel}'s business-as-usual spend is read from its last {last.size} days "
            f"({_spans(dates, last)}) although they are inside "
            f"the test window of {named}: the history holds too few days outside it"))  # fmt: skip
    index = outside[-days:]
    where = f"the {days} latest days outside the test ({_spans(dates, index)})"
    return UsualDays(index, (
        f"{channel}'s business-as-usual spend is read from {where}, not from the test window "
        f"of {named}: a test's days are not the channel's usual spend"))  # fmt: skip


def predict_note(dates: np.ndarray, channels: Sequence[str], moved: bool) -> str:
    """What ``predict`` keeps for the channels a plan leaves unset, in words (``moved``: a
    registered test moved some channel's usual days, said in its own note)."""
    n = int(dates.size)
    return (
        f"channels the plan leaves unset ({', '.join(channels)}) keep their business-as-usual "
        f"spend: their mean daily spend over the history's last {USUAL_DAYS} days "
        f"({_spans(dates, np.arange(max(n - USUAL_DAYS, 0), n))})"
        + (", or over the days said above where a registered test ran in them" if moved else "")
        + " (`liftos optimize` reads current spend as the analysis window's mean instead: what "
        "its response curves were fitted around)"
    )


def optimize_current_note(start: dt.date, end: dt.date, horizon_days: int) -> str:
    """What ``optimize`` calls a channel's current spend, in words."""
    days = (end - start).days + 1
    over = f"scaled to the {horizon_days}-day horizon" if horizon_days else "over that window"
    return (
        f"current spend is each channel's mean daily spend over the analysis window "
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d} ({days} days), {over}: the point the response "
        "curves were fitted around and the uplift is measured from (`liftos predict` continues "
        f"the last {USUAL_DAYS} days' spend outside registered tests instead)"
    )


class RegisteredTests(list[RegisteredTest]):
    """The org's registered tests, and in ``unread`` why they could not be read ("" when they
    were): a plan then reads business as usual from the last days, whatever tests ran."""

    def __init__(self, tests: Sequence[RegisteredTest] = (), unread: str = "") -> None:
        super().__init__(tests)
        self.unread = unread

    def note(self) -> list[str]:
        """The warning an answer carries when the tests could not be read."""
        if not self.unread:
            return []
        return [
            f"the org's registered experiments could not be read ({self.unread}): business-as-"
            f"usual spend is the last {USUAL_DAYS} days', even where a test ran in them"
        ]
