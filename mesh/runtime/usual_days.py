"""Business-as-usual days: the history days a plan or a forecast of "the next days" reads a
channel's usual spend from, keeping registered experiments' test windows out.

A registered experiment's test window is not business as usual for the channel it tested: a
geo holdout takes the channel dark in half the geos (R5-F4: the last 28 days of a history
that ended with Meta prospecting's holdout read 11,885/day against 39,369/day the 28 days
before, so the default forecast assumed the finished holdout continued and a new design
understated what a holdout removes by 3×). The usual days are the history's latest
:data:`USUAL_DAYS` days outside every registered test window of the channel — the 28 days
before the test when it ended the history — and the answer says so, naming the experiment.

One rule for every surface that asks it: surfacing's PredictPerformance, design and
Recommend (:func:`usual_days`, per channel) and causal's Counterfactual over the next days
(:func:`usual_window`: one run of consecutive days for all channels, as its template repeats
the days' baseline demand and every channel's spend pattern together; R10-F1: it read the
finished holdout as "the next 28 days" and gave half the loss PredictPerformance gave).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.peers import Peer, experiments

__all__ = [
    "USUAL_DAYS",
    "RegisteredTest",
    "RegisteredTests",
    "UsualDays",
    "registered_test",
    "registered_tests",
    "spans",
    "usual_days",
    "usual_window",
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


_RAN = {md_pb.EXPERIMENT_STATUS_RUNNING: "running", md_pb.EXPERIMENT_STATUS_COMPLETED: "completed"}


def registered_test(e: md_pb.CausalExperiment) -> RegisteredTest | None:
    """A registered experiment as a test that ran (None: a draft or a cancelled one without a
    result — it may never have run — or one without a channel or valid dates)."""
    status = _RAN.get(e.status) or ("result recorded" if e.HasField("result") else "")
    channel = e.channel or e.result.channel
    if not status or not channel:
        return None
    try:
        start = dt.date(e.start_date.year, e.start_date.month, e.start_date.day)
        end = dt.date(e.end_date.year, e.end_date.month, e.end_date.day)
    except ValueError:
        return None
    return RegisteredTest(e.experiment_id, channel, start, end, status, tuple(e.treatment_units))


async def registered_tests(
    registry: Peer[Any], org_id: str, *, timeout: float | None = None
) -> RegisteredTests:
    """The org's experiments that ran or run (:func:`registered_test`), read from the registry.
    A registry that cannot be read is said in the answer's ``unread``, not raised: a plan or a
    counterfactual stands without it, and says so."""
    out: list[RegisteredTest] = []
    try:
        async for e in experiments(registry, org_id, timeout=timeout):
            if (test := registered_test(e)) is not None:
                out.append(test)
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.NOT_FOUND:
            return RegisteredTests(out, f"ListExperiments: {error.code().name}, {error.details()}")
    return RegisteredTests(out)


def _span(days: Sequence[dt.date]) -> str:
    return f"{days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}"


def spans(dates: np.ndarray, index: np.ndarray) -> str:
    """The history days ``index`` (ascending) as their runs of consecutive days."""
    day = dates.astype("datetime64[D]")
    breaks = np.flatnonzero(np.diff(index) > 1) + 1
    runs = [[day[r[0]].item(), day[r[-1]].item()] for r in np.split(index, breaks)]
    return ", ".join(f"{a:%Y-%m-%d}" if a == b else _span([a, b]) for a, b in runs)


def _inside(day: np.ndarray, tests: Sequence[RegisteredTest]) -> np.ndarray:
    inside = np.zeros(day.size, dtype=bool)
    for t in tests:
        inside |= (day >= np.datetime64(t.start, "D")) & (day <= np.datetime64(t.end, "D"))
    return inside


def _named(
    tests: Sequence[RegisteredTest], day: np.ndarray, last: np.ndarray, *, channel: bool = False
) -> str:
    """The tests that meet the days ``last`` (ascending), named for a note (``channel``: with
    the channel each tests, where the tests are of several)."""
    met = [
        t for t in tests
        if t.start <= day[last[-1]].item() and t.end >= day[last[0]].item()
    ]  # fmt: skip
    return "; ".join(
        f"registered experiment {t.experiment_id} ({t.channel + ', ' if channel else ''}"
        f"{t.status + ', ' if t.status else ''}{t.start:%Y-%m-%d}..{t.end:%Y-%m-%d})"
        for t in met
    )


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
    inside = _inside(day, mine)
    if not inside[last].any():
        return UsualDays(last)  # the usual days do not meet a test: nothing to say
    named = _named(mine, day, last)
    outside = np.flatnonzero(~inside)
    if outside.size < days:
        return UsualDays(last, (
            f"{channel}'s business-as-usual spend is read from its last {last.size} days "
            f"({spans(dates, last)}) although they are inside "
            f"the test window of {named}: the history holds too few days outside it"))  # fmt: skip
    index = outside[-days:]
    where = f"the {days} latest days outside the test ({spans(dates, index)})"
    return UsualDays(index, (
        f"{channel}'s business-as-usual spend is read from {where}, not from the test window "
        f"of {named}: a test's days are not the channel's usual spend"))  # fmt: skip


def usual_window(
    dates: np.ndarray, tests: Sequence[RegisteredTest], days: int = USUAL_DAYS
) -> UsualDays:
    """The latest ``days`` *consecutive* history days outside every registered test window,
    whatever channel it tested: the template of "the next ``days`` days" for all channels at
    once (a test takes its channel off its usual spend, and a template day is every channel's).

    :func:`usual_days`' rule on one run of days: where the last ``days`` days meet a test, the
    latest run of ``days`` days clear of every test (the days just before it, when it ended the
    history). Where no such run exists, the last ``days`` days are kept and the note says
    they are inside a test.
    """
    n = int(dates.size)
    last = np.arange(max(n - days, 0), n)
    if not tests or n == 0:
        return UsualDays(last)
    day = dates.astype("datetime64[D]")
    inside = _inside(day, tests)
    if not inside[last].any():
        return UsualDays(last)
    named = _named(tests, day, last, channel=True)
    # clear[i]: how many consecutive days clear of every test end at day i
    clear = np.zeros(n, dtype=np.int64)
    for i in range(n):
        clear[i] = 0 if inside[i] else (clear[i - 1] if i else 0) + 1
    ends = np.flatnonzero(clear >= days)
    if ends.size == 0:
        return UsualDays(last, (
            f"the next {days} days are modelled on the last {last.size} analysed days "
            f"({spans(dates, last)}) although they are inside the test window of {named}: "
            f"the history holds no {days} consecutive days outside every test, so the template "
            "carries the test's spend"))  # fmt: skip
    index = np.arange(ends[-1] - days + 1, ends[-1] + 1)
    return UsualDays(index, (
        f"the next {days} days are modelled on the {days} latest consecutive analysed days "
        f"outside every registered test ({spans(dates, index)}), not on the last {last.size} "
        f"days ({spans(dates, last)}), which are inside the test window of {named}: a test's "
        "days are not business as usual"))  # fmt: skip
