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

Experiments that meet (:func:`overlaps`, R26-F3): a registered experiment, drafts included,
whose window meets another's in units where either moves spend. A record carries one
experiment (the first registered), so two tests of one channel there measure each other:
the registry refuses the second (:func:`refuse_same_channel`), and one of another channel is
said where it is registered and designed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.exceptions import FailedPrecondition
from mesh.runtime.geo_units import same_place
from mesh.runtime.peers import Peer, experiments

__all__ = [
    "OVERLAP_FIX",
    "USUAL_DAYS",
    "ExperimentsOverlap",
    "Overlap",
    "RegisteredTest",
    "RegisteredTests",
    "UsualDays",
    "met_units",
    "overlap_text",
    "overlaps",
    "refuse_same_channel",
    "registered_any",
    "registered_draft",
    "registered_entry",
    "registered_test",
    "registered_tests",
    "same_unit",
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
    control: tuple[str, ...] = ()  # its control units, where the registry lists them
    # The arms ("treatment", "control") that run business as usual (spend multiplier 1): a
    # go-dark design's control, the simulator's holdout's treated arm. The other arms' geos
    # had their spend moved, and carry the test's effect.
    usual_arms: frozenset[str] = frozenset({"control"})
    unit: str = "geo"  # the randomisation unit, lowercase
    # Whether the registry holds its measured result (its read-out): until it does, a plan
    # from an observational model does not move the channel it tests (R42-F1).
    read_out: bool = False

    @property
    def moved(self) -> tuple[str, ...]:
        """The units whose spend the test moved (every listed arm not run as usual)."""
        return (() if "treatment" in self.usual_arms else self.geos) + (
            () if "control" in self.usual_arms else self.control
        )


@dataclass(frozen=True, slots=True)
class UsualDays:
    """The history days (indices, ascending) a channel's business-as-usual level is read from,
    and, when a registered test moved them off the history's last days, why."""

    index: np.ndarray
    note: str = ""


class RegisteredTests(list[RegisteredTest]):
    """The org's registered tests, and in ``unread`` why they could not be read ("" when they
    were): a plan then reads business as usual from the last days, whatever tests ran.
    ``drafts``: the registered experiments that have not run (not business-as-usual days, but
    a new design that meets one would share its days and geos: R26-F3)."""

    def __init__(
        self,
        tests: Sequence[RegisteredTest] = (),
        unread: str = "",
        drafts: Sequence[RegisteredTest] = (),
    ) -> None:
        super().__init__(tests)
        self.unread = unread
        self.drafts = list(drafts)

    def note(self) -> list[str]:
        """The warning an answer carries when the tests could not be read."""
        if not self.unread:
            return []
        return [
            f"the org's registered experiments could not be read ({self.unread}): business-as-"
            f"usual spend is the last {USUAL_DAYS} days', even where a test ran in them"
        ]


_RAN = {md_pb.EXPERIMENT_STATUS_RUNNING: "running", md_pb.EXPERIMENT_STATUS_COMPLETED: "completed"}


def _usual_arms(e: md_pb.CausalExperiment) -> frozenset[str]:
    """The arms a registered experiment runs as business as usual: a set config with spend
    multiplier 1, and a control that sets none (the convention)."""
    arms = set()
    if e.HasField("treatment_config") and e.treatment_config.spend_multiplier == 1.0:
        arms.add("treatment")
    if not e.HasField("control_config") or e.control_config.spend_multiplier == 1.0:
        arms.add("control")
    return frozenset(arms)


def registered_entry(e: md_pb.CausalExperiment, status: str) -> RegisteredTest | None:
    """A registered experiment as a test with ``status`` (None: no valid dates)."""
    try:
        start = dt.date(e.start_date.year, e.start_date.month, e.start_date.day)
        end = dt.date(e.end_date.year, e.end_date.month, e.end_date.day)
    except ValueError:
        return None
    return RegisteredTest(
        e.experiment_id, e.channel or e.result.channel, start, end, status,
        tuple(e.treatment_units), tuple(e.control_units), _usual_arms(e),
        common_pb.RandomizationUnit.Name(e.randomization_unit)
        .removeprefix("RANDOMIZATION_UNIT_").lower(), e.HasField("result"),
    )  # fmt: skip


def registered_test(e: md_pb.CausalExperiment) -> RegisteredTest | None:
    """A registered experiment as a test that ran (None: a draft or a cancelled one without a
    result — it may never have run — or one without a channel or valid dates)."""
    status = _RAN.get(e.status) or ("result recorded" if e.HasField("result") else "")
    if not status or not (e.channel or e.result.channel):
        return None
    return registered_entry(e, status)


def registered_any(e: md_pb.CausalExperiment) -> RegisteredTest | None:
    """A registered experiment whatever its status, as overlap checks read it (None: one
    cancelled without a result, which does not run, or one without valid dates)."""
    if e.status == md_pb.EXPERIMENT_STATUS_CANCELLED and not e.HasField("result"):
        return None
    status = md_pb.ExperimentStatus.Name(e.status).removeprefix("EXPERIMENT_STATUS_").lower()
    return registered_entry(e, status)


def registered_draft(e: md_pb.CausalExperiment) -> RegisteredTest | None:
    """A registered experiment that has not run yet (a draft without a result), else None."""
    if e.status != md_pb.EXPERIMENT_STATUS_DRAFT or e.HasField("result"):
        return None
    return registered_entry(e, "draft")


async def registered_tests(
    registry: Peer[Any], org_id: str, *, timeout: float | None = None
) -> RegisteredTests:
    """The org's experiments that ran or run (:func:`registered_test`), read from the registry.
    A registry that cannot be read is said in the answer's ``unread``, not raised: a plan or a
    counterfactual stands without it, and says so."""
    out: list[RegisteredTest] = []
    drafts: list[RegisteredTest] = []
    try:
        async for e in experiments(registry, org_id, timeout=timeout):
            if (test := registered_test(e)) is not None:
                out.append(test)
            elif (draft := registered_draft(e)) is not None:
                drafts.append(draft)
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.NOT_FOUND:
            return RegisteredTests(
                out, f"ListExperiments: {error.code().name}, {error.details()}", drafts
            )
    return RegisteredTests(out, drafts=drafts)


# -- Experiments that meet in days and units (R26-F3) ---------------------------------------


def same_unit(a: str, b: str) -> bool:
    """Whether two unit codes name one unit: equal, or one is the other's subdivision ("TX" of
    "US-TX"), in any case and Unicode form: the rule ingestion and causal match a registry's
    units against records by (:func:`mesh.runtime.geo_units.same_place`)."""
    return same_place(a, b)


def met_units(units: Sequence[str], others: Sequence[str]) -> list[str]:
    """The ``units`` that name one of ``others`` (:func:`same_unit`), in their order."""
    return [u for u in units if any(same_unit(u, v) for v in others)]


class ExperimentsOverlap(FailedPrecondition):
    """A new experiment shares days and units with a registered one of the same channel."""

    default_reason = "EXPERIMENTS_OVERLAP"


@dataclass(frozen=True, slots=True)
class Overlap:
    """Another experiment that meets a test: the days both run (``first``..``last``) and the
    units both name, with each one's arm there (unit, this test's arm, the other's), where at
    least one of them moves its spend; ``every_unit``: the units cannot be listed (one of the
    two assigns by hashing, or they randomise different units), so every unit may meet."""

    other: RegisteredTest
    first: dt.date
    last: dt.date
    units: tuple[tuple[str, str, str], ...] = ()
    every_unit: bool = False

    def same_channel(self, test: RegisteredTest) -> bool:
        return bool(test.channel) and test.channel == self.other.channel


def overlaps(test: RegisteredTest, others: Sequence[RegisteredTest]) -> list[Overlap]:
    """The ``others`` that run on some of ``test``'s days in some of its units. Units both
    run as business as usual (a multi-cell design's shared control, listed by every cell)
    do not meet: neither moves their spend."""
    out = []
    for o in others:
        if o.experiment_id == test.experiment_id:
            continue
        first, last = max(test.start, o.start), min(test.end, o.end)
        if first > last:
            continue
        listed = (test.geos or test.control) and (o.geos or o.control)
        if not listed or test.unit != o.unit:
            out.append(Overlap(o, first, last, every_unit=True))
            continue
        met = tuple(
            (u, arm, other_arm)
            for arm, units in (("treatment", test.geos), ("control", test.control))
            for other_arm, other_units in (("treatment", o.geos), ("control", o.control))
            if not (arm in test.usual_arms and other_arm in o.usual_arms)
            for u in met_units(units, other_units)
        )
        if met:
            out.append(Overlap(o, first, last, met))
    return out


def _days(first: dt.date, last: dt.date) -> str:
    n = (last - first).days + 1
    return f"{n} day{'s' if n != 1 else ''} ({first:%Y-%m-%d}..{last:%Y-%m-%d})"


def overlap_text(test: RegisteredTest, o: Overlap, *, name: str = "") -> str:
    """``o`` in words, from ``test``'s side (``name``: how to call the test, default its id)."""
    t = o.other
    head = (
        f"experiment {t.experiment_id} ({t.channel or 'no channel'}, {t.status or 'registered'}, "
        f"{t.start:%Y-%m-%d}..{t.end:%Y-%m-%d}) runs on {_days(o.first, o.last)} of "
        f"{name or test.experiment_id}'s"
    )
    if o.every_unit:
        why = ("randomises another unit" if test.unit != t.unit
               else "assigns units by hashing")  # fmt: skip
        return (
            f"{head} days, and one of the two {why}, so they may share every unit: a row "
            "carries one experiment, the one registered first"
        )
    units = ", ".join(
        f"{u} ({a} here, {b} there)" if a != b else f"{u} ({a} in both)" for u, a, b in o.units[:12]
    ) + (f" and {len(o.units) - 12} more" if len(o.units) > 12 else "")
    return (
        f"{head} days in {len(o.units)} of its units, where one of them moves spend: {units}; "
        "a row carries one experiment (the one registered first), and each test would read "
        "the other's spend change in those units as its own"
    )


OVERLAP_FIX = (
    "move one test's window off the other's, choose units the other leaves alone, or, for "
    "cells of one design, give the shared units the same business-as-usual arm in both "
    "(to register a past test again under another id, allow the overlap: allow_overlap, "
    "`liftos experiments create --allow-overlap`)"
)


def refuse_same_channel(
    test: RegisteredTest, others: Sequence[RegisteredTest], *, allow: bool = False
) -> list[str]:
    """The overlaps of ``test`` with ``others`` in words; raises :class:`ExperimentsOverlap`
    (naming both experiments, the shared units and days, and the fix) where one tests the
    same channel: two tests of one channel in the same units and days measure each other.
    ``allow``: said, not refused (a past test registered again to analyse it anew)."""
    found = overlaps(test, others)
    same = [o for o in found if o.same_channel(test)]
    if same and not allow:
        raise ExperimentsOverlap(
            f"experiment {test.experiment_id} ({test.channel}) overlaps "
            + "; ".join(overlap_text(test, o) for o in same)
            + f": {OVERLAP_FIX}",
            subject=f"experiments/{test.experiment_id}",
        )
    return [overlap_text(test, o) for o in found]


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
