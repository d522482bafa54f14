"""`liftos report ANALYSIS_ID [--out report.html]`: the analysis as one self-contained HTML page."""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.cli import exits, timeouts
from mesh.report import UnsupportedAnalysis
from mesh.runtime.durable_files import NO_SPACE, write_durably
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
        "--serve",
        action="store_true",
        help="serve the page on localhost (http://127.0.0.1:PORT/) until Ctrl-C instead of "
        "writing a file",
    )
    p.add_argument("--port", type=int, default=0, help="with --serve (default: a free port)")
    p.add_argument(
        "--no-plan",
        action="store_true",
        help="leave out the planning sections of an attribution (SurfacingService's budget "
        "shift, forecast, experiment design and recommendations)",
    )
    p.add_argument(
        "--value-per-outcome",
        type=float,
        default=0.0,
        help="what one unit of the outcome is worth against one unit of spend, for the "
        "recommendations and the return chart's break-even (a conversions analysis needs it: "
        "what one conversion is worth; without it that chart draws no break-even)",
    )
    p.add_argument(
        "--no-explain",
        action="store_true",
        help="leave out the grounded explanation (LlmService.Explain) at the top",
    )
    timeouts.add_timeout(p)
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


def experiment(client: LiftOS, analysis: causal_pb.Analysis) -> md_pb.CausalExperiment | None:
    """The registered experiment an estimate's records came from, for the page's title (its
    name, channel and window: R22-F6); None (said on stderr) where the registry cannot give it,
    the page then naming the experiment by id."""
    experiment_id = analysis.request.records.experiment_id
    if analysis.WhichOneof("result") != "estimate" or not experiment_id:
        return None
    try:
        found = client.get_experiment(experiment_id)
    except RpcFailure as failure:
        print(f"note: the report names experiment {experiment_id} by id only ({failure})",
              file=sys.stderr)  # fmt: skip
        return None
    return md_pb.CausalExperiment.FromString(bytes(found))


# The plan a report shows beside an attribution: the forecast over the next eight weeks, as a fan.
FORECAST_DAYS = 56
FAN_LEVELS = (0.5, 0.8, 0.95)
M = TypeVar("M")


@dataclass
class Planning:
    """SurfacingService's answers for an attribution, and a note for each it could not give."""

    budget: surfacing_pb.OptimizeBudgetResponse | None = None
    forecast: surfacing_pb.PredictPerformanceResponse | None = None
    design: surfacing_pb.DesignExperimentResponse | None = None
    design_channel: str = ""
    design_why: str = ""  # why that channel, in words (the page says it)
    recommendations: surfacing_pb.RecommendResponse | None = None
    notes: list[str] = field(default_factory=list)


# The one-sided significance level the report's experiment design is asked at (the service's
# default too), asked explicitly so the page can state it.
DESIGN_ALPHA = 0.05


def channel_to_test(
    result: causal_pb.AttributionResult, recommendations: surfacing_pb.RecommendResponse | None
) -> tuple[str, str]:
    """The channel the report's experiment design tests, and why, in words; ("", "") when no
    paid channel has figures to choose by. Chosen as Recommend chooses (R6-F10: the page tested
    an established channel while Recommend said others needed a test): the channel of
    Recommend's own test action; else a paid channel whose effect the analysis did not
    establish (its interval of the incremental outcome reaches zero: Recommend neither raises
    it nor can tell it from no effect, and a test would measure it), the one with the most
    spend at stake; only when every paid channel is established, the one whose iROAS interval
    is widest (where a test narrows the estimate most), and the reason says so."""
    for r in recommendations.recommendations if recommendations else ():
        if r.kind == surfacing_pb.RECOMMENDATION_KIND_RUN_EXPERIMENT and r.channel:
            return r.channel, f"Recommend's action #{r.priority} is to test {r.channel}"
    paid = [c for c in result.channels if c.spend.amount > 0]
    cur = next((c.spend.currency_code for c in paid if c.spend.currency_code), "")
    unproven = sorted(
        (c for c in paid if c.HasField("incremental_outcome") and c.incremental_outcome.lower <= 0),
        key=lambda c: (-c.spend.amount, c.channel),
    )
    if unproven:
        c, others = unproven[0], [o.channel for o in unproven[1:]]
        i = c.incremental_outcome
        level = f"{i.level:.0%} " if 0 < i.level < 1 else ""
        also = ""
        if others:
            names = ", ".join(others[:-1]) + (" and " if len(others) > 1 else "") + others[-1]
            spent = f"{c.spend.amount:,.0f} {cur}".rstrip()
            also = f" (as for {names}; of these it spends the most, {spent})"
        return c.channel, (
            f"the analysis did not establish {c.channel}'s effect: its {level}interval of the "
            f"incremental outcome, {i.lower:,.0f} to {i.upper:,.0f}, includes zero{also}; "
            "Recommend does not raise such a channel, and a test would measure its effect"
        )
    ranged = [c for c in paid if c.HasField("incremental_roas")]
    widest = max(ranged, default=None,
                 key=lambda c: c.incremental_roas.upper - c.incremental_roas.lower)  # fmt: skip
    if widest is None:
        return "", ""
    iroas = widest.incremental_roas
    return widest.channel, (
        "every paid channel's effect is established (each interval of its incremental outcome "
        f"excludes zero), so the test goes where the iROAS interval is widest: {widest.channel}'s, "
        f"{iroas.lower:.2f} to {iroas.upper:.2f}, which a test would narrow most"
    )


def plan(
    client: LiftOS, analysis: causal_pb.Analysis, *, value_per_outcome: float = 0.0
) -> Planning:
    """Recommend, OptimizeBudget, PredictPerformance and DesignExperiment on an attribution
    (``value_per_outcome``: Recommend's, 0 its default). A call that fails leaves its section
    out and a note in its place (said on stderr too): the report is still worth writing
    without the plan."""
    out = Planning()
    result = analysis.attribution
    if result.health.verdict == causal_pb.HEALTH_VERDICT_FAIL:
        out.notes.append("No plan: the model failed its health checks, so there is nothing to "
                         "plan on.")  # fmt: skip
        return out

    down: list[RpcFailure] = []  # a service that cannot be reached is not asked again
    failed: dict[str, str] = {}  # what → the note; noted in the order below, whoever ends first

    def ask(what: str, call: Callable[[], Any], kind: Callable[[bytes], M]) -> M | None:
        try:
            if down:
                raise down[0]
            return kind(bytes(call()))
        except RpcFailure as failure:
            if failure.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                down[:1] = [failure]
            failed[what] = f"No {what} in this report: SurfacingService answered {failure}"
            return None

    analysis_id = analysis.analysis_id
    # The same total as spent, moved to where it earns most.
    current = sum(c.spend.amount for c in result.channels)
    cur = next((c.spend.currency_code for c in result.channels if c.spend.currency_code), "")
    design_what = ""
    # Recommend, OptimizeBudget and PredictPerformance are independent: asked at once, the plan
    # waits for the slowest rather than for the sum (R17-F4: 4 calls one after another, 1.8 s).
    # The design follows Recommend (its channel is Recommend's test action, where it has one)
    # while the other two run. Sync stubs on one channel are safe to share between threads.
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="liftos-plan")
    try:
        recommended = pool.submit(
            ask, "recommendations",
            lambda: client.recommend([analysis_id], value_per_outcome=value_per_outcome),
            surfacing_pb.RecommendResponse.FromString,
        )  # fmt: skip
        budget = pool.submit(
            ask, "budget shift",
            lambda: client.optimize_budget(analysis_id, budget=current, currency=cur),
            surfacing_pb.OptimizeBudgetResponse.FromString,
        )  # fmt: skip
        forecast = pool.submit(
            ask, "forecast",
            lambda: client.predict(analysis_id, days=FORECAST_DAYS, fan_levels=FAN_LEVELS),
            surfacing_pb.PredictPerformanceResponse.FromString,
        )  # fmt: skip
        out.recommendations = recommended.result()
        channel, why = channel_to_test(result, out.recommendations)
        # The design on the analysis's own data cut (its window), not on whatever memory holds
        # by the time the page is rendered: the same analysis gives the same design every time,
        # unless the window's data changed (then the design's warnings, and the page, say so).
        window = _window(result)
        if channel:
            out.design_channel, out.design_why = channel, why
            design_what = f"experiment design for {channel}"
            out.design = ask(
                design_what,
                lambda: client.design_experiment(channel, analysis_id=analysis_id,
                                                 history=window, alpha=DESIGN_ALPHA),
                surfacing_pb.DesignExperimentResponse.FromString,
            )  # fmt: skip
        out.budget, out.forecast = budget.result(), forecast.result()
    finally:
        # on Ctrl-C, not waiting here: closing the client's channels cancels what is in flight
        pool.shutdown(wait=False, cancel_futures=True)
    for what in ("recommendations", "budget shift", "forecast", design_what):
        if what in failed:
            print(f"note: {failed[what]}", file=sys.stderr)
            out.notes.append(failed[what])
    return out


def _window(result: causal_pb.AttributionResult) -> tuple[dt.date, dt.date] | None:
    """The analysis's window (None where it does not say: the design then reads all history)."""
    start, end = result.date_range.start_date, result.date_range.end_date
    if not (start.year and end.year):
        return None
    return dt.date(start.year, start.month, start.day), dt.date(end.year, end.month, end.day)


def plan_products(
    client: LiftOS, analysis: causal_pb.Analysis, *, value_per_outcome: float = 0.0
) -> Planning:
    """Recommend's product actions for a product analysis (a note in their place when the
    surfacing service does not answer)."""
    out = Planning()
    try:
        reply = client.recommend(
            [analysis.analysis_id], design_tests=False, value_per_outcome=value_per_outcome
        )
    except RpcFailure as failure:
        note = f"No recommendations in this report: SurfacingService answered {failure}"
        print(f"note: {note}", file=sys.stderr)
        out.notes.append(note)
        return out
    out.recommendations = surfacing_pb.RecommendResponse.FromString(bytes(reply))
    return out


def page_server(html: str, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 answering every GET with the page (call serve_forever)."""
    body = html.encode("utf-8")

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a quick look needs no access log

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)


def run(args: argparse.Namespace, peers: Any) -> int:
    if bool(args.analysis_id) == bool(args.latest):
        print("error: give an ANALYSIS_ID or --latest (one of them)", file=sys.stderr)
        return 2
    with timeouts.client(args, peers) as client:
        try:
            analysis = fetch(client, args.analysis_id, latest=args.latest)
        except LookupError as exc:  # no analysis to report: refused, as a missing id is
            print(f"error: {exc}", file=sys.stderr)
            return exits.REFUSED
        which = analysis.WhichOneof("result")
        explanation = None if args.no_explain else explain(client, analysis.analysis_id)
        registered = experiment(client, analysis)
        if args.no_plan or which not in ("attribution", "products"):
            planning = Planning()
        elif which == "products":
            planning = plan_products(client, analysis, value_per_outcome=args.value_per_outcome)
        else:
            planning = plan(client, analysis, value_per_outcome=args.value_per_outcome)
    from mesh.report import render_report  # matplotlib: only the verb that renders loads it

    try:
        html = render_report(
            analysis, explanation=explanation, budget=planning.budget,
            forecast=planning.forecast, design=planning.design,
            recommendations=planning.recommendations, notes=planning.notes,
            design_channel=planning.design_channel, design_why=planning.design_why,
            rendered=dt.datetime.now(dt.UTC), value_per_outcome=args.value_per_outcome,
            experiment=registered,
        )  # fmt: skip
    except UnsupportedAnalysis as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exits.REFUSED
    if args.serve:
        server = page_server(html, args.port)
        print(f"serving analysis {analysis.analysis_id} at http://127.0.0.1:{server.server_port}/ "
              "(Ctrl-C to stop)", flush=True)  # fmt: skip
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    out = args.out or Path(f"report-{analysis.analysis_id}.html")
    try:
        size = write_durably(out, html)
    except OSError as exc:
        # A full disk must not leave half a page where last week's report was (s20 R49-F8).
        print(f"error: cannot write {out}: {exc.strerror or exc}; the file there (if any) is "
              "unchanged", file=sys.stderr)  # fmt: skip
        return exits.RETRY if exc.errno in NO_SPACE else exits.REFUSED
    print(f"wrote {out} ({size / 1e6:.2f} MB) for analysis {analysis.analysis_id}")
    return 0
