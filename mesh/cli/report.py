"""`liftos report ANALYSIS_ID [--out report.html]`: the analysis as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from liftos.v1 import causal_pb2 as causal_pb

from mesh.report import UnsupportedAnalysis, render_report
from mesh.sdk.client import LiftOS


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help="an analysis as one self-contained HTML page (figures inline, opens offline)",
    )
    p.add_argument("analysis_id", nargs="?", default="", help="as EstimateEffect returned it")
    p.add_argument(
        "--latest", action="store_true", help="the org's most recent analysis instead of an id"
    )
    p.add_argument("--org", default="default")
    p.add_argument(
        "--out", type=Path, default=None, help="file to write (default: report-<analysis id>.html)"
    )
    common(p)
    p.set_defaults(func=run)


def fetch(client: LiftOS, analysis_id: str, *, latest: bool) -> causal_pb.Analysis:
    """The stored analysis as the wire message the report renders."""
    if latest:
        newest = next(client.list_analyses(page_size=1), None)
        if newest is None:
            raise LookupError(f"org {client.org_id!r} has no analyses yet")
        analysis_id = newest.analysis_id
    return causal_pb.Analysis.FromString(bytes(client.get_analysis(analysis_id)))


def run(args: argparse.Namespace, peers: Any) -> int:
    if bool(args.analysis_id) == bool(args.latest):
        print("error: give an ANALYSIS_ID or --latest (one of them)", file=sys.stderr)
        return 2
    with LiftOS(peers, org_id=args.org) as client:
        try:
            analysis = fetch(client, args.analysis_id, latest=args.latest)
        except LookupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        html = render_report(analysis)
    except UnsupportedAnalysis as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path(f"report-{analysis.analysis_id}.html")
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out} ({len(html.encode()) / 1e6:.2f} MB) for analysis {analysis.analysis_id}")
    return 0
