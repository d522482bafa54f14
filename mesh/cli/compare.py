"""`liftos compare A B [--json]`: what differs between two stored attribution analyses.

This week's analysis beside last week's (audit R5-F5): their windows, record counts and outcome
totals; the days of the overlap whose actual outcome differs between them (restated or late
rows: each analysis keeps the national outcome it read per day); and per channel how the spend,
the incremental outcome and the iROAS moved, and whether each estimate lies inside the other's
interval ("cannot tell apart") or moved beyond it (R42-F3: whether the intervals overlapped was
always "yes" where both lower bounds are 0); and the days one window holds and the other does
not, with their outcome and each channel's spend (a rolling window's source of moves). Built from the two GetAnalysis results
alone: nothing is refitted or re-read (mesh.runtime.analysis_compare computes it; this module
prints it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.attribution import interval_text, short
from mesh.cli.json_out import dumps, rfc3339
from mesh.runtime.analysis_compare import ChannelChange, Comparison, compare, day_runs
from mesh.sdk.client import LiftOS

__all__ = ["add_parser", "compare", "lines", "run"]

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


def _spans(days: list[str]) -> str:
    runs = day_runs(days)
    text = [a if a == b else f"{a}..{b}" for a, b in runs[:4]]
    return ", ".join(text) + (f" and {len(runs) - 4} more runs" if len(runs) > 4 else "")


def _interval(t: tuple[float, float, float] | None, ratio: bool = False) -> str:
    if t is None:
        return "—"
    i = common_pb.Interval(estimate=t[0], lower=t[1], upper=t[2])
    return interval_text(i) if ratio else f"{t[0]:,.0f} [{short(t[1])}, {short(t[2])}]"


def lines(c: Comparison) -> list[str]:
    """The comparison as the terminal shows it."""
    out = []
    if c.mismatch:
        # said first: every outcome figure below is in its own analysis's units
        out.append(
            f"NOT COMPARABLE: {c.mismatch}; only the windows and spends are set side by side"
        )
    outcomes = c.outcomes if all(c.outcomes) else (c.outcome, c.outcome)
    for tag, w, outcome in (("A", c.first, outcomes[0]), ("B", c.second, outcomes[1])):
        out.append(
            f"{tag} {w.analysis_id}: {w.start}..{w.end} ({w.days} days), {w.record_count:,} "
            f"records, {w.geo_count} geos; {outcome} {w.outcome_total:,.0f}; made {w.created}"
            + (f"; {w.model_version}" if w.model_version else "")
        )
    if c.mismatch:
        return [*out, *_inputs(c), "", *_spends(c)]
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
    out.extend(_days_only(c))
    out.extend(_inputs(c))
    out.append("")
    out.append(f"{'channel':<20} {'spend A -> B':>27}  {'incremental A -> B':>44}  "
               f"{'iROAS A -> B':>38}  moved")  # fmt: skip
    for ch in c.channels:
        sa, sb = ch.spend
        spend = f"{'—' if sa is None else f'{sa:,.0f}'} -> {'—' if sb is None else f'{sb:,.0f}'}"
        inc = f"{_interval(ch.incremental[0])} -> {_interval(ch.incremental[1])}"
        roi = f"{_interval(ch.iroas[0], True)} -> {_interval(ch.iroas[1], True)}"
        verdict = _verdict(ch)
        out.append(f"{ch.channel:<20} {spend:>27}  {inc:>44}  {roi:>38}  {verdict}")
    return out


def _verdict(ch: ChannelChange) -> str:
    """Whether the channel's estimate moved beyond the other analysis's interval, and by how
    much (an iROAS to 2 decimals, an incremental outcome whole)."""
    if ch.moved is None:
        return "in one only"
    a, b = ch.iroas if ch.judged == "iROAS" else ch.incremental
    assert a is not None and b is not None  # judged: both reported
    delta = f"{b[0] - a[0]:+.2f}" if ch.judged == "iROAS" else f"{b[0] - a[0]:+,.0f}"
    said = {
        "within": "within each other's interval: cannot tell apart",
        "beyond A": "MOVED beyond A's interval",
        "beyond B": "MOVED: A's estimate is beyond B's interval",
        "beyond both": "MOVED beyond both intervals"
        + (", which do not overlap" if ch.overlap is False else ""),
    }[ch.moved]
    return f"{delta} {said}" + ("" if ch.judged == "iROAS" else " (incremental outcome)")


def _days_only(c: Comparison) -> list[str]:
    """The days one window holds and the other does not, with their outcome and each
    channel's spend: on a rolling window the data a move can come from (R42-F3)."""
    if c.dropped is None and c.added is None:
        return []
    out = ["days in one window only (with the restated days above, the data the two differ in):"]
    spend: dict[str, list[float]] = {}
    for tag, only in (("A", c.dropped), ("B", c.added)):
        if only is None:
            out.append(f"  {tag} only: none")
            continue
        out.append(f"  {tag} only: {_spans(list(only.days))} ({len(only.days)} days), "
                   f"{c.outcome} {only.outcome:,.0f}")  # fmt: skip
        for ch, amount in only.spend:
            spend.setdefault(ch, [0.0, 0.0])[tag == "B"] = amount
    ra, rb = c.first.record_count, c.second.record_count
    out.append(f"  records A {ra:,} -> B {rb:,} ({rb - ra:+,})")
    if spend:
        out.append("  spend on those days, A only -> B only: " + "; ".join(
            f"{ch} {a:,.0f} -> {b:,.0f}" for ch, (a, b) in sorted(spend.items())))  # fmt: skip
    return out


def _lift(t: tuple[float, float] | None) -> str:
    return "not used" if t is None else f"{t[0]:,.0f} ± {t[1]:,.0f}"


def _inputs(c: Comparison) -> list[str]:
    """What else the two read or ran with (R33-F2): a re-recorded lift test, another external
    series or exchange rate move the estimates on identical rows, and the rows alone said
    "the same outcome" beside a doubled iROAS."""
    i = c.inputs
    if i is None:
        return []
    out = []
    va, vb = i.data_versions
    if i.same_data is None:
        out.append(f"data: A {va or 'not fingerprinted'}, B {vb or 'not fingerprinted'} (an "
                   "analysis made before fingerprints were kept cannot be matched)")  # fmt: skip
    elif i.same_data:
        out.append(f"data: the same inputs in both ({va})")
    else:
        why = ""
        if c.dropped is not None or c.added is not None:
            why = ": the windows differ by the days listed above"
        elif (
            not c.restated
            and not c.mismatch
            and all(ch.same_spend for ch in c.channels)
            and not any(t.differs for t in i.tests)
            and i.controls[0] == i.controls[1]
        ):
            why = (": every outcome day, channel total and lift test is the same, so an "
                   "external series, an exchange rate, or spend's timing or geos differ")  # fmt: skip
        out.append(f"data: DIFFERENT inputs (A {va}, B {vb}){why}")
    if i.tests:
        out.append("lift tests used:")
        for t in i.tests:
            mark = "  DIFFERS" if t.differs else ""
            out.append(f"  {t.experiment_id} ({t.channel}): {_lift(t.first)} -> "
                       f"{_lift(t.second)}{mark}")  # fmt: skip
    else:
        out.append("lift tests used: none in either")
    ca, cb = i.controls
    if ca != cb:
        only_a = [x for x in ca if x not in cb]
        only_b = [x for x in cb if x not in ca]
        out.append("controls differ: " + "; ".join(
            part for part in (f"A only: {', '.join(only_a)}" if only_a else "",
                              f"B only: {', '.join(only_b)}" if only_b else "") if part))  # fmt: skip
    if i.code_versions[0] != i.code_versions[1]:
        out.append(f"code: {i.code_versions[0] or '—'} -> {i.code_versions[1] or '—'}")
    return out


def _spends(c: Comparison) -> list[str]:
    """The channels' spends side by side: what two analyses of other outcomes share."""
    out = [f"{'channel':<20} {'spend A -> B':>27}"]
    for ch in c.channels:
        sa, sb = ch.spend
        out.append(
            f"{ch.channel:<20} {'—' if sa is None else f'{sa:,.0f}':>12} -> "
            f"{'—' if sb is None else f'{sb:,.0f}'}"
        )
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
        doc = asdict(comparison)
        # when each was made as RFC 3339 to the stored microsecond, as analyses' `made` and
        # analyze's `createTime` (R41-F6: "2026-12-07 16:42 UTC", minute precision); the text
        # keeps the comparison's own words
        for key, analysis in zip(("first", "second"), pair, strict=True):
            made = analysis.create_time if analysis.HasField("create_time") else None
            doc[key]["created"] = rfc3339(made)
        print(dumps(doc))
    else:
        print("\n".join(lines(comparison)))
    return 0
