"""`liftos compare A B [--json]`: what differs between two stored attribution analyses.

This week's analysis beside last week's (audit R5-F5): their windows, record counts and outcome
totals; the days of the overlap whose actual outcome differs between them (restated or late
rows: each analysis keeps the national outcome it read per day); and per channel how the spend,
the incremental outcome and the iROAS moved, with whether the two intervals overlap (moved
beyond what either analysis can tell apart, or not). Built from the two GetAnalysis results
alone: nothing is refitted or re-read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.attribution import interval_text, short
from mesh.sdk.client import LiftOS

# Two sums of the same rows differ by float rounding only.
_REL_TOL = 1e-6
_ABS_TOL = 0.01
_MAX_DAYS = 10


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "compare",
        help="what differs between two stored attribution analyses (windows, restated days, "
        "channel estimates)",
    )
    p.add_argument("first", metavar="A", help="an analysis id (e.g. last week's)")
    p.add_argument("second", metavar="B", help="another analysis id (e.g. this week's)")
    p.add_argument("--org", default="default")
    p.add_argument("--json", action="store_true", help="the comparison as JSON")
    common(p)
    p.set_defaults(func=run)


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
    upper) in each (None: not reported there), and whether the two intervals overlap."""

    channel: str
    spend: tuple[float | None, float | None]
    incremental: tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]
    iroas: tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]
    overlap: bool | None  # of the iROAS intervals (else the incremental outcome's); None: one side


@dataclass(frozen=True, slots=True)
class Comparison:
    first: Window
    second: Window
    outcome: str
    overlap: tuple[str, str] | None  # the days both windows hold
    overlap_totals: tuple[float, float]
    restated: tuple[DayChange, ...]
    channels: tuple[ChannelChange, ...]


def _date(d: common_pb.Date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year else ""


def _window(analysis: causal_pb.Analysis) -> Window:
    r = analysis.attribution
    created = ""
    if analysis.HasField("create_time"):
        created = f"{analysis.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d %H:%M} UTC"
    return Window(
        analysis.analysis_id, _date(r.date_range.start_date), _date(r.date_range.end_date),
        r.day_count, r.record_count, r.geo_count, float(sum(r.daily.actual_outcome)), created,
        r.model_version,
    )  # fmt: skip


def _triple(i: common_pb.Interval) -> tuple[float, float, float]:
    return (i.estimate, i.lower, i.upper)


def _differs(a: float, b: float) -> bool:
    return abs(a - b) > _ABS_TOL + _REL_TOL * max(abs(a), abs(b))


def _overlaps(a: tuple[float, float, float] | None, b: tuple[float, float, float] | None) -> bool:
    return a is not None and b is not None and a[1] <= b[2] and b[1] <= a[2]


def compare(first: causal_pb.Analysis, second: causal_pb.Analysis) -> Comparison:
    """The comparison of two attribution analyses (ValueError for any other kind)."""
    for a in (first, second):
        if a.WhichOneof("result") != "attribution":
            raise ValueError(f"analysis {a.analysis_id!r} is not an attribution; compare "
                             "reads two AnalyzeAttribution results")  # fmt: skip
    ra, rb = first.attribution, second.attribution
    daily_a = dict(zip((_date(d) for d in ra.daily.dates), ra.daily.actual_outcome, strict=True))
    daily_b = dict(zip((_date(d) for d in rb.daily.dates), rb.daily.actual_outcome, strict=True))
    both = sorted(set(daily_a) & set(daily_b))
    restated = tuple(
        DayChange(d, daily_a[d], daily_b[d]) for d in both if _differs(daily_a[d], daily_b[d])
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
        pair = roi if roi[0] is not None and roi[1] is not None else inc
        overlap = None if pair[0] is None or pair[1] is None else _overlaps(*pair)
        channels.append(ChannelChange(
            name, (ca.spend.amount if ca else None, cb.spend.amount if cb else None),
            inc, roi, overlap,
        ))  # fmt: skip
    outcome = "conversions" if ra.outcome == common_pb.OUTCOME_METRIC_CONVERSIONS else "revenue"
    return Comparison(
        _window(first), _window(second), outcome,
        (both[0], both[-1]) if both else None,
        (float(sum(daily_a[d] for d in both)), float(sum(daily_b[d] for d in both))),
        restated, tuple(channels),
    )  # fmt: skip


def _spans(days: list[str]) -> str:
    runs: list[list[dt.date]] = []
    for d in (dt.date.fromisoformat(x) for x in days):
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = [f"{r[0]}" if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs[:4]]
    return ", ".join(text) + (f" and {len(runs) - 4} more runs" if len(runs) > 4 else "")


def _interval(t: tuple[float, float, float] | None, ratio: bool = False) -> str:
    if t is None:
        return "—"
    i = common_pb.Interval(estimate=t[0], lower=t[1], upper=t[2])
    return interval_text(i) if ratio else f"{t[0]:,.0f} [{short(t[1])}, {short(t[2])}]"


def lines(c: Comparison) -> list[str]:
    """The comparison as the terminal shows it."""
    out = []
    for tag, w in (("A", c.first), ("B", c.second)):
        out.append(
            f"{tag} {w.analysis_id}: {w.start}..{w.end} ({w.days} days), {w.record_count:,} "
            f"records, {w.geo_count} geos; {c.outcome} {w.outcome_total:,.0f}; made {w.created}"
            + (f"; {w.model_version}" if w.model_version else "")
        )
    if c.overlap is None:
        out.append("the windows do not overlap: no day to compare")
    else:
        ta, tb = c.overlap_totals
        out.append(f"overlap {c.overlap[0]}..{c.overlap[1]}: {c.outcome} A {ta:,.0f}, B {tb:,.0f} "
                   f"({tb - ta:+,.0f})")  # fmt: skip
        if c.restated:
            delta = sum(d.second - d.first for d in c.restated)
            out.append(
                f"{len(c.restated)} day(s) of the overlap read another outcome (restated or late "
                f"rows): {_spans([d.date for d in c.restated])}, {delta:+,.0f} in all"
            )
            for d in c.restated[:_MAX_DAYS]:
                out.append(f"  {d.date}  {d.first:,.0f} -> {d.second:,.0f} "
                           f"({d.second - d.first:+,.0f})")  # fmt: skip
            if len(c.restated) > _MAX_DAYS:
                out.append(f"  ... and {len(c.restated) - _MAX_DAYS} more days (--json lists all)")
        else:
            out.append("every day of the overlap read the same outcome in both")
    out.append("")
    out.append(f"{'channel':<20} {'spend A -> B':>27}  {'incremental A -> B':>44}  "
               f"{'iROAS A -> B':>38}  intervals")  # fmt: skip
    for ch in c.channels:
        sa, sb = ch.spend
        spend = f"{'—' if sa is None else f'{sa:,.0f}'} -> {'—' if sb is None else f'{sb:,.0f}'}"
        inc = f"{_interval(ch.incremental[0])} -> {_interval(ch.incremental[1])}"
        roi = f"{_interval(ch.iroas[0], True)} -> {_interval(ch.iroas[1], True)}"
        verdict = {True: "overlap", False: "DO NOT OVERLAP", None: "in one only"}[ch.overlap]
        out.append(f"{ch.channel:<20} {spend:>27}  {inc:>44}  {roi:>38}  {verdict}")
    return out


def run(args: argparse.Namespace, peers: Any) -> int:
    with LiftOS(peers, org_id=args.org) as client:
        pair = [
            causal_pb.Analysis.FromString(bytes(client.get_analysis(a)))
            for a in (args.first, args.second)
        ]
    try:
        comparison = compare(*pair)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(asdict(comparison), indent=2))
    else:
        print("\n".join(lines(comparison)))
    return 0
