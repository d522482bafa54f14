"""`liftos report ANALYSIS_ID [--out report.html]`: the analysis as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import llm_pb2 as llm_pb

from mesh.report import UnsupportedAnalysis, render_report
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure


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
    p.add_argument(
        "--no-explain",
        action="store_true",
        help="leave out the grounded explanation (LlmService.Explain) at the top",
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


def explain(client: LiftOS, analysis_id: str) -> llm_pb.ExplanationDone | None:
    """The grounded explanation, or None (said on stderr) when the LLM service cannot give one:
    the report is still worth writing without it."""
    try:
        done = client.explain(analysis_id, writer="grounded")
    except RpcFailure as failure:
        print(f"note: no explanation in the report ({failure})", file=sys.stderr)
        return None
    return llm_pb.ExplanationDone.FromString(bytes(done))


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
        explanation = None if args.no_explain else explain(client, analysis.analysis_id)
    try:
        html = render_report(analysis, explanation=explanation)
    except UnsupportedAnalysis as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path(f"report-{analysis.analysis_id}.html")
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out} ({len(html.encode()) / 1e6:.2f} MB) for analysis {analysis.analysis_id}")
    return 0
