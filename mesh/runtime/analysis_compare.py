"""What differs between two stored attribution analyses, from their GetAnalysis results alone.

This week's analysis beside last week's (audit R5-F5): their windows, record counts and outcome
totals; the days of the overlap whose actual outcome differs between them (restated or late
rows: each analysis keeps the national outcome it read per day); and per channel how the spend,
the incremental outcome and the iROAS moved, with whether each estimate lies inside the other's
interval (``moved``; R42-F3: whether the two intervals overlap says nothing when both start at
0, which a channel whose test of no effect did not reject does every week); and the days one
window holds and the other does not, with their outcome and each channel's spend on them (on a
rolling window, the data a move can come from). Nothing is refitted or re-read.

``liftos compare`` prints it; the LLM service's Explain answers "what changed since <id>" from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

__all__ = [
    "ChannelChange",
    "Comparison",
    "DayChange",
    "DaysOnly",
    "Inputs",
    "TestChange",
    "Window",
    "compare",
    "day_runs",
    "iso_date",
    "outcome_name",
    "outcome_unit",
]

# Two sums of the same rows differ by float rounding only.
_REL_TOL = 1e-6
_ABS_TOL = 0.01


@dataclass(frozen=True, slots=True)
class Window:
    """One analysis's data: its window, size and the outcome it read."""

    analysis_id: str
    start: str
    end: str
    days: int
    record_count: int
    geo_count: int
    outcome_total: float
    created: str
    model_version: str


@dataclass(frozen=True, slots=True)
class DayChange:
    date: str
    first: float
    second: float


@dataclass(frozen=True, slots=True)
class ChannelChange:
    """A channel in either analysis: spend, incremental outcome and iROAS (estimate, lower,
    upper) in each (None: not reported there), whether the two intervals overlap, and whether
    each estimate lies inside the other's interval (``moved``: "within" each other's,
    "beyond A" (B's estimate outside A's interval), "beyond B", "beyond both"; None: one side,
    or not comparable), judged on ``judged`` ("iROAS", else "incremental outcome")."""

    channel: str
    spend: tuple[float | None, float | None]
    incremental: tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]
    iroas: tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]
    overlap: bool | None  # of the iROAS intervals (else the incremental outcome's); None: one side
    moved: str | None = None
    judged: str = ""

    @property
    def told_apart(self) -> bool | None:
        """Whether the two analyses tell the channel's figures apart: an estimate lies beyond
        the other analysis's interval (``moved`` other than "within"); None: not compared.
        The one rule ``liftos compare`` and Explain's "what changed" both say (s19 V2-F4)."""
        return None if self.moved is None else self.moved != "within"

    @property
    def same_spend(self) -> bool:
        """Both report the channel's spend, equal within the comparison's tolerance (a NaN
        is never the same)."""
        a, b = self.spend
        if a is None or b is None:
            return False
        return abs(a - b) <= _ABS_TOL + _REL_TOL * max(abs(a), abs(b))


@dataclass(frozen=True, slots=True)
class DaysOnly:
    """Days one analysis's window holds and the other's does not: the days, their outcome
    total and each channel's spend on them (empty where the analysis kept no daily spend)."""

    days: tuple[str, ...]
    outcome: float
    spend: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class TestChange:
    """A lift test either analysis was calibrated with: its channel and measured lift and
    standard error in each (None: not used there)."""

    experiment_id: str
    channel: str
    first: tuple[float, float] | None
    second: tuple[float, float] | None

    @property
    def differs(self) -> bool:
        a, b = self.first, self.second
        return a is None or b is None or _differs(a[0], b[0]) or _differs(a[1], b[1])


@dataclass(frozen=True, slots=True)
class Inputs:
    """What else the two analyses read or ran with, side by side (R33-F2): the fingerprint of
    their inputs (``data_version``, "" where not kept), their controls (the external series
    among them), model and code versions, and the lift tests each was calibrated with."""

    data_versions: tuple[str, str]
    controls: tuple[tuple[str, ...], tuple[str, ...]]
    code_versions: tuple[str, str]
    tests: tuple[TestChange, ...]

    @property
    def same_data(self) -> bool | None:
        """Whether the two read the same inputs (None: one kept no fingerprint)."""
        a, b = self.data_versions
        return None if not (a and b) else a == b


@dataclass(frozen=True, slots=True)
class Comparison:
    """``outcome`` names what both analyses model; where they model different outcomes (a
    conversions analysis beside a revenue one) or read amounts in different currencies,
    ``mismatch`` says so and nothing in outcome units is differenced or judged: no day is
    called restated (``restated`` empty), no channel's incremental outcome or iROAS is called
    moved (``overlap`` None); the spends, in one currency, still are."""

    first: Window
    second: Window
    outcome: str
    overlap: tuple[str, str] | None  # the days both windows hold
    overlap_totals: tuple[float, float]
    restated: tuple[DayChange, ...]
    channels: tuple[ChannelChange, ...]
    outcomes: tuple[str, str] = ("", "")  # each analysis's outcome (first, second)
    currencies: tuple[str, str] = ("", "")  # each analysis's spend currency ("" unknown)
    mismatch: str = ""  # why the outcome figures are not comparable; "" when they are
    inputs: Inputs | None = None
    dropped: DaysOnly | None = None  # the days only A holds (None: none)
    added: DaysOnly | None = None  # the days only B holds (None: none)


class _Day(Protocol):
    year: int
    month: int
    day: int


def iso_date(d: _Day | None) -> str:
    """A wire Date (protobuf or its dataclass) as YYYY-MM-DD; "" when unset."""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d is not None and d.year else ""


def _window(analysis: causal_pb.Analysis) -> Window:
    r = analysis.attribution
    created = ""
    if analysis.HasField("create_time"):
        created = f"{analysis.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d %H:%M} UTC"
    return Window(
        analysis.analysis_id, iso_date(r.date_range.start_date), iso_date(r.date_range.end_date),
        r.day_count, r.record_count, r.geo_count, float(sum(r.daily.actual_outcome)), created,
        r.model_version,
    )  # fmt: skip


def _triple(i: common_pb.Interval) -> tuple[float, float, float]:
    return (i.estimate, i.lower, i.upper)


def _differs(a: float, b: float) -> bool:
    return abs(a - b) > _ABS_TOL + _REL_TOL * max(abs(a), abs(b))


def _overlaps(a: tuple[float, float, float] | None, b: tuple[float, float, float] | None) -> bool:
    return a is not None and b is not None and a[1] <= b[2] and b[1] <= a[2]


def _moved(a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    """Whether each estimate lies inside the other's interval (see ChannelChange.moved)."""
    b_in_a, a_in_b = a[1] <= b[0] <= a[2], b[1] <= a[0] <= b[2]
    if b_in_a and a_in_b:
        return "within"
    return "beyond both" if not (b_in_a or a_in_b) else ("beyond B" if b_in_a else "beyond A")


def _only(r: causal_pb.AttributionResult, days: set[str]) -> DaysOnly | None:
    """The days of ``r``'s window in ``days``, with their outcome and channels' spend."""
    dates = [iso_date(d) for d in r.daily.dates]
    at = [i for i, d in enumerate(dates) if d in days]
    if not at:
        return None
    spend = tuple(
        (c.channel, float(sum(c.daily[i] for i in at)))
        for c in r.daily.spend
        if len(c.daily) == len(dates)
    )
    return DaysOnly(
        tuple(dates[i] for i in at), float(sum(r.daily.actual_outcome[i] for i in at)), spend
    )


def outcome_name(r: causal_pb.AttributionResult) -> str:
    """The outcome an attribution models, as a word ("revenue" where unset, as it runs)."""
    if r.outcome in (common_pb.OUTCOME_METRIC_UNSPECIFIED, common_pb.OUTCOME_METRIC_REVENUE):
        return "revenue"
    return common_pb.OutcomeMetric.Name(r.outcome).removeprefix("OUTCOME_METRIC_").lower()


def _currency(r: causal_pb.AttributionResult) -> str:
    """The currency of an attribution's amounts (its spends'; "" when none names one)."""
    codes = {c.spend.currency_code for c in r.channels if c.spend.currency_code}
    return codes.pop() if len(codes) == 1 else ""


def outcome_unit(outcome: str, currency: str) -> str:
    """An analysis's outcome with its currency where it is money: "revenue (USD)"."""
    return f"{outcome} ({currency})" if outcome == "revenue" and currency else outcome


def _mismatch(ids: tuple[str, str], outcomes: tuple[str, str], currencies: tuple[str, str]) -> str:
    """Why two analyses' outcome figures are not comparable ("" when they are)."""
    (a, b), (oa, ob), (ca, cb) = ids, outcomes, currencies
    if oa != ob:
        return (
            f"{a} models {outcome_unit(oa, ca)} and {b} models {outcome_unit(ob, cb)}: their outcome figures "
            "(totals, days, incremental outcomes, iROAS) are in different units and are not "
            "compared"
        )
    if ca and cb and ca != cb:
        return (
            f"{a} reads amounts in {ca} and {b} in {cb}: their {oa} figures are in different "
            "currencies and are not compared"
        )
    return ""


def compare(first: causal_pb.Analysis, second: causal_pb.Analysis) -> Comparison:
    """The comparison of two attribution analyses (ValueError for any other kind)."""
    for a in (first, second):
        if a.WhichOneof("result") != "attribution":
            raise ValueError(f"analysis {a.analysis_id!r} is not an attribution; compare "
                             "reads two AnalyzeAttribution results")  # fmt: skip
    ra, rb = first.attribution, second.attribution
    outcomes = (outcome_name(ra), outcome_name(rb))
    currencies = (_currency(ra), _currency(rb))
    mismatch = _mismatch((first.analysis_id, second.analysis_id), outcomes, currencies)
    daily_a = dict(zip((iso_date(d) for d in ra.daily.dates), ra.daily.actual_outcome, strict=True))
    daily_b = dict(zip((iso_date(d) for d in rb.daily.dates), rb.daily.actual_outcome, strict=True))
    both = sorted(set(daily_a) & set(daily_b))
    # a day read in other units is not a restated day (R10-F12: "120 days restated, revenue
    # 121M lower" between a revenue and a conversions analysis of the same data)
    restated = tuple(
        DayChange(d, daily_a[d], daily_b[d])
        for d in both
        if not mismatch and _differs(daily_a[d], daily_b[d])
    )
    channels = []
    rows_a = {c.channel: c for c in ra.channels}
    rows_b = {c.channel: c for c in rb.channels}
    for name in sorted(set(rows_a) | set(rows_b)):
        ca, cb = rows_a.get(name), rows_b.get(name)

        def part(
            c: causal_pb.ChannelAttribution | None, f: str
        ) -> tuple[float, float, float] | None:
            return _triple(getattr(c, f)) if c is not None and c.HasField(f) else None  # type: ignore[arg-type]

        roi = (part(ca, "incremental_roas"), part(cb, "incremental_roas"))
        inc = (part(ca, "incremental_outcome"), part(cb, "incremental_outcome"))
        on_roi = roi[0] is not None and roi[1] is not None
        pair = roi if on_roi else inc
        pa, pb = pair
        judged = pa is not None and pb is not None and not mismatch
        channels.append(ChannelChange(
            name, (ca.spend.amount if ca else None, cb.spend.amount if cb else None),
            inc, roi, _overlaps(pa, pb) if judged else None,
            _moved(pa, pb) if judged and pa is not None and pb is not None else None,
            ("iROAS" if on_roi else "incremental outcome") if judged else "",
        ))  # fmt: skip
    outcome = outcomes[0] if outcomes[0] == outcomes[1] else " / ".join(outcomes)
    return Comparison(
        _window(first), _window(second), outcome,
        (both[0], both[-1]) if both else None,
        (float(sum(daily_a[d] for d in both)), float(sum(daily_b[d] for d in both))),
        restated, tuple(channels), outcomes, currencies, mismatch, _inputs(ra, rb),
        _only(ra, set(daily_a) - set(daily_b)), _only(rb, set(daily_b) - set(daily_a)),
    )  # fmt: skip


def _inputs(ra: causal_pb.AttributionResult, rb: causal_pb.AttributionResult) -> Inputs:
    tests_a = {c.experiment_id: c for c in ra.calibration}
    tests_b = {c.experiment_id: c for c in rb.calibration}
    tests = tuple(
        TestChange(
            name, (tests_a.get(name) or tests_b[name]).channel,
            (tests_a[name].measured_lift, tests_a[name].measured_std_error)
            if name in tests_a else None,
            (tests_b[name].measured_lift, tests_b[name].measured_std_error)
            if name in tests_b else None,
        )
        for name in sorted(set(tests_a) | set(tests_b))
    )  # fmt: skip
    return Inputs(
        (ra.data_version, rb.data_version), (tuple(ra.controls), tuple(rb.controls)),
        (ra.code_version, rb.code_version), tests,
    )  # fmt: skip


def day_runs(days: list[str]) -> list[tuple[str, str]]:
    """ISO days as runs of consecutive days, (first, last) each, in order."""
    runs: list[list[dt.date]] = []
    for d in (dt.date.fromisoformat(x) for x in days):
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return [(r[0].isoformat(), r[-1].isoformat()) for r in runs]
