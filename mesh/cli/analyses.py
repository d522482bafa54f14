"""`liftos analyses [--kind K] [--limit N] [--json]`: the org's stored analyses, newest first.

Finding last week's analysis to compare with this week's (audit R5-F5) took an id remembered
from a terminal: ListAnalyses now says what each analysis read (its window and record count,
and a fingerprint of its inputs: R33-F4), and this lists them, so two runs over the same
window can be told apart from two windows, and two runs on different data from one another.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
from typing import Any

from liftos_dc.liftos.v1 import AnalysisKind, AnalysisSummary, DateRange, EstimationMethod

from mesh.runtime.analysis_compare import iso_date
from mesh.sdk.client import LiftOS

# the listing prints a kind as "effect_estimate"; typing what it shows works too (R12-F14)
_KINDS = {
    "attribution": "attribution", "products": "products", "estimate": "effect_estimate",
    "effect_estimate": "effect_estimate",
}  # fmt: skip


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "analyses",
        help="the org's stored analyses, newest first: id, kind, when made, the data window and "
        "record count (what `liftos compare` and `liftos explain --question` take)",
    )
    p.add_argument("--org", default="default")
    p.add_argument("--kind", choices=sorted(_KINDS), default="", help="only this kind")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per analysis")
    common(p)
    p.set_defaults(func=run)


def _window(r: DateRange | None) -> tuple[str, str]:
    return (iso_date(r.start_date), iso_date(r.end_date)) if r is not None else ("", "")


def row(a: AnalysisSummary) -> dict[str, Any]:
    """One analysis as the listing shows it (JSON-ready)."""
    start, end = _window(a.date_range)
    made = a.create_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if a.create_time else ""
    kind = AnalysisKind(a.kind).name.removeprefix("ANALYSIS_KIND_").lower()
    about = f"outcome: {a.outcome}" if a.kind == AnalysisKind.ATTRIBUTION and a.outcome else ""
    if a.kind == AnalysisKind.EFFECT_ESTIMATE:
        method = EstimationMethod(a.method).name.removeprefix("ESTIMATION_METHOD_").lower()
        about = f"{method}: {a.treatment} -> {a.outcome}" + (
            "" if a.supported else " (unsupported)"
        )
    return {
        "analysis_id": a.analysis_id,
        "kind": kind,
        "made": made,
        "start": start,
        "end": end,
        "records": a.record_count,
        "data": a.data_version or "",
        "about": about,
    }


def lines(rows: list[dict[str, Any]]) -> list[str]:
    """The listing as the terminal shows it."""
    if not rows:
        return ["no stored analyses"]
    # data: the fingerprint of the inputs read, shortened (R33-F4): two analyses of one window
    # and record count on different data states list apart
    out = [f"{'analysis':<24}  {'kind':<15}  {'made':<20}  {'window':<22}  {'records':>9}  "
           f"{'data':<8}  about"]  # fmt: skip
    for r in rows:
        window = f"{r['start'] or '…'}..{r['end'] or '…'}" if r["start"] or r["end"] else "—"
        records = f"{r['records']:,}" if r["records"] is not None else "—"
        data = short_version(r.get("data", ""))
        out.append(f"{r['analysis_id']:<24}  {r['kind']:<15}  {r['made']:<20}  {window:<22}  "
                   f"{records:>9}  {data:<8}  {r['about']}".rstrip())  # fmt: skip
    return out


def short_version(data_version: str) -> str:
    """A data version as the listing shows it: the hash's first 8 digits ("—": none kept)."""
    return data_version.partition(":")[2][:8] if data_version else "—"


def run(args: argparse.Namespace, peers: Any) -> int:
    if args.limit < 1:
        raise SystemExit("error: --limit must be at least 1")
    with LiftOS(peers, org_id=args.org) as client:
        listed = client.list_analyses(
            kind=_KINDS.get(args.kind, ""), page_size=min(args.limit, 100)
        )
        rows = [row(a) for a in itertools.islice(listed, args.limit)]
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print("\n".join(lines(rows)))
    return 0
