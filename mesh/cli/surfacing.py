"""`liftos optimize`, `liftos predict`, `liftos design` and `liftos recommend`: what to do next.

``liftos optimize ANALYSIS_ID --budget 1e6 [--days 30] [--bound meta=0.5:2] [--risk 0.5]``
allocates a budget on the analysis's response curves and says which bounds bind; ``liftos predict
[ANALYSIS_ID] --days 28 [--set meta=1.5] [--daily tiktok=500@2024-11-01..2024-12-31]``
forecasts the outcome under a spend plan (a flight: spend on the dates given, 0 on the rest);
``liftos design --org ORG --channel meta --weeks 4`` powers a geo experiment on the org's
history (``--save`` registers it); ``liftos recommend [ANALYSIS_ID]`` ranks the actions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from typing import TYPE_CHECKING, Any

from liftos.v1 import causal_pb2 as causal_pb

from mesh.cli import timeouts
from mesh.cli.attribution import interval_text, number_text
from mesh.cli.flights import Flight, flights, per_day, plan_line
from mesh.cli.json_out import document, print_json
from mesh.runtime.drift_words import WINDOW_CHANGED
from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure

if TYPE_CHECKING:  # money needs numpy: `liftos --help` starts without it (R17-F1)
    from mesh.runtime.money import ChannelConversion

COMMANDS = ("optimize", "predict", "design", "recommend")
_METRIC = {1: "conversions", 2: "revenue"}
# The return a design cell's smallest detectable figure is of, by its treatment type (R13-F5):
# turning spend off reveals the average return (iROAS), a cut or a heavy-up the return of the
# spend removed or added (the design's own words, surfacing_svc.design.plan._return_name).
_CELL_RETURN = {1: "iROAS", 2: "added-spend ROAS", 3: "removed-spend ROAS"}
_BOUND = {2: "at lower bound", 3: "at upper bound", 4: "held"}
# What a recommendation's confidence is, by kind (surfacing_svc.recommend).
_CONFIDENCE = {
    "SCALE": " (share of the model's draws in which the move gains)",
    "CUT": " (share of the model's draws in which the move gains)",
    "REALLOCATE": " (share of the model's draws in which the move gains)",
    "TEST": " (the proposed test's power against a channel that just pays for itself)",
    "HOLD": " (how evenly the model's draws split on more spend: 100% is a coin flip, so a "
    "high figure means the model cannot tell, not that holding is sure to be right)",
}


def confidence_text(confidence: float, kind: str) -> str:
    """A recommendation's confidence in words; a test with no designed experiment has none."""
    if math.isnan(confidence):
        return "confidence unknown (no experiment could be designed; the warnings say why)"
    return f"confidence {confidence:.0%}{_CONFIDENCE.get(kind, '')}"


RECOMMENDATION_KINDS = {
    1: "SCALE",
    2: "CUT",
    3: "REALLOCATE",
    4: "TEST",
    5: "INVESTIGATE",
    6: "HOLD",
    7: "SHIFT PRODUCT SPEND",
    8: "STOP PROMOTION",
    9: "CUT PRODUCT SPEND",
}


def add_parsers(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    o = sub.add_parser("optimize", help="allocate a budget on an analysis's response curves")
    o.add_argument("analysis_id")
    o.add_argument("--org", default="default")
    o.add_argument(
        "--budget",
        type=float,
        default=None,
        help="total over the horizon, in the analysis's currency (the one `liftos analyze` "
        "states; required unless --target-roas is given)",
    )
    o.add_argument("--days", type=int, default=0, help="the next N days (0: the analysis window)")
    o.add_argument("--bound", action="append", default=[], metavar="CHANNEL=LO:HI",
                   help="spend between LO and HI × current (either may be empty); repeat")  # fmt: skip
    o.add_argument("--spend-bound", action="append", default=[], metavar="CHANNEL=LO:HI",
                   help="spend between LO and HI (amounts); repeat")  # fmt: skip
    o.add_argument("--profit-margin", type=float, default=None,
                   help="maximise margin × outcome − spend; the budget becomes a cap")  # fmt: skip
    o.add_argument("--target-roas", type=float, default=None,
                   help="the largest budget whose marginal return is at least this")  # fmt: skip
    o.add_argument("--campaign-bound", action="append", default=[], metavar="CAMPAIGN=LO:HI",
                   help="a campaign's spend between LO and HI × its current; repeat")  # fmt: skip
    o.add_argument("--cost", action="append", default=[], metavar="CHANNEL=AMOUNT",
                   help="spend per unit of input of a channel without spend (sends, impressions)")  # fmt: skip
    o.add_argument("--max-change", type=float, default=None,
                   help="channels without --bound stay within ± this × current (default 0.3; 0: none)")  # fmt: skip
    o.add_argument("--risk", type=float, default=None, metavar="Z",
                   help="maximise the gain less Z sd of it over the model's draws "
                        "(default 1; 0: the posterior mean)")  # fmt: skip
    o.add_argument("--json", action="store_true")
    timeouts.add_timeout(o)
    common(o)
    o.set_defaults(func=run_optimize)

    p = sub.add_parser("predict", help="forecast the outcome under a spend plan")
    p.add_argument("analysis_id", nargs="?", default="")
    p.add_argument("--org", default="default")
    p.add_argument("--days", type=int, required=True)
    p.add_argument("--set", action="append", default=[], metavar="CHANNEL=MULTIPLIER",
                   help="recent daily spend × multiplier; repeat")  # fmt: skip
    p.add_argument("--daily", action="append", default=[],
                   metavar="CHANNEL=AMOUNT[@START..END]",
                   help="spend per day, on every day of the horizon or on the dates given "
                   "(a flight: 0 on the others); repeat")  # fmt: skip
    p.add_argument("--alpha", type=float, default=0.0,
                   help="1 − the intervals' level (default 0.10: 90%%, as analyze, recommend, "
                   "optimize and counterfactual)")  # fmt: skip
    p.add_argument("--fan", default="", metavar="LEVELS",
                   help="comma-separated interval levels of a fan, e.g. 0.5,0.8,0.95")  # fmt: skip
    p.add_argument("--country", default="", metavar="CC",
                   help="ISO 3166 country whose holidays the forecast knows (default: the "
                   "analysis's holiday calendar, else US)")  # fmt: skip
    p.add_argument("--json", action="store_true")
    timeouts.add_timeout(p)
    common(p)
    p.set_defaults(func=run_predict)

    d = sub.add_parser("design", help="power a geo experiment on the org's history")
    d.add_argument("--org", default="default")
    d.add_argument("--channel", required=True)
    d.add_argument("--weeks", type=int, action="append", default=[],
                   help="test length in weeks; repeat (default: 1-8 weeks)")  # fmt: skip
    d.add_argument("--lift", type=float, default=0.0, help="relative effect to detect, e.g. 0.05")
    d.add_argument("--power", type=float, default=0.0, help="target power (default 0.8)")
    d.add_argument("--alpha", type=float, default=0.0, help="one-sided (default 0.05)")
    d.add_argument("--heavy-up", type=float, default=None, metavar="MULTIPLIER",
                   help="scale spend up instead of a holdout")  # fmt: skip
    d.add_argument("--budget", type=float, default=None, help="cap on a heavy-up's added spend")
    d.add_argument("--cell", action="append", default=[], metavar="KIND=MULTIPLIER",
                   help="a cell (holdout, decrease, heavy_up); repeat for multi-cell")  # fmt: skip
    d.add_argument("--stratified", action="store_true", help="stratified, not matched markets")
    d.add_argument("--analysis", default="", help="attribution analysis for the expected effect")
    d.add_argument("--expected-roas", type=float, default=None)
    d.add_argument("--metric", choices=("revenue", "conversions"), default="",
                   help="outcome to power on (default: the --analysis's outcome, else revenue)")  # fmt: skip
    d.add_argument("--save", action="store_true", help="register it in the experiment registry")
    d.add_argument("--id", default="", help="experiment id to register under")
    d.add_argument("--start", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true")
    timeouts.add_timeout(d)
    common(d)
    d.set_defaults(func=run_design)

    r = sub.add_parser("recommend", help="ranked actions from an attribution analysis")
    r.add_argument("analysis_id", nargs="?", default="", help="default: the org's latest")
    r.add_argument("--org", default="default")
    r.add_argument("--max", type=int, default=0, help="at most N actions (default 10)")
    r.add_argument("--value-per-outcome", type=float, default=0.0, metavar="VALUE",
                   help="what one unit of outcome is worth against spend: on revenue a margin "
                        "(default 1); on conversions what one conversion is worth in the "
                        "spend's currency (required there)")  # fmt: skip
    r.add_argument("--days", type=int, default=0, help="size actions for N days")
    r.add_argument("--no-design", action="store_true", help="skip the proposed experiments")
    r.add_argument("--risk", type=float, default=None, metavar="Z",
                   help="the reallocation's risk weight, as optimize --risk (default 1)")  # fmt: skip
    r.add_argument("--json", action="store_true")
    timeouts.add_timeout(r)
    common(r)
    r.set_defaults(func=run_recommend)


def _number(text: str, flag: str, item: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise SystemExit(f"error: {flag} {item!r}: {text!r} is not a number") from None


def _once(out: dict[str, Any], name: str, items: list[str], flag: str) -> str:
    """``name``, refused when ``out`` has it already: a repeated flag for one channel is a
    contradiction to resolve, not one to settle silently by keeping the last."""
    if name in out:
        given = [i for i in items if i.partition("=")[0].strip() == name]
        raise SystemExit(f"error: {flag} names {name!r} more than once ({', '.join(given)}); "
                         "give each once")  # fmt: skip
    return name


def _ranges(items: list[str], flag: str) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        lo, colon, hi = value.partition(":")
        if not sep or not colon:
            raise SystemExit(f"error: {flag} takes CHANNEL=LO:HI, got {item!r}")
        out[_once(out, name.strip(), items, flag)] = (_number(lo, flag, item),
                                                      _number(hi, flag, item))  # fmt: skip
    return out


def _pairs(items: list[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        number = _number(value, flag, item) if sep else None
        if number is None:
            raise SystemExit(f"error: {flag} takes CHANNEL=NUMBER, got {item!r}")
        out[_once(out, name.strip(), items, flag)] = number
    return out


def _iv(i: dc.Interval | None, fmt: str = "{:,.0f}") -> str:
    return interval_text(i, fmt)


def _ivl(i: dc.Interval | None, fmt: str = "{:,.0f}") -> str:
    """The interval with its level: ``estimate [lower, upper] 90%``."""
    return interval_text(i, fmt) + (f" {i.level:.0%}" if i is not None and i.level else "")


def _json(message: Any, currency: str, analysis_id: str = "") -> None:
    """The answer as JSON (json_out: zeros kept, non-finite as null), with the currency its
    amounts are in ("" unknown) and the analysis it answers from: the text says "amounts in
    USD", the proto answer said it nowhere (R41-F5). Keys added in the answer's camelCase."""
    doc = document(message)
    if analysis_id and "analysisId" not in doc:
        doc["analysisId"] = analysis_id
    doc["currencyCode"] = currency
    print_json(doc)


# A --budget this far below or above the current spend over the same days is taken for a
# typing slip ("600.000", German for 600,000, read as 600; a figure in cents) and said.
BUDGET_SCALE = 100.0


def budget_scale(budget: float | None, current: float, r: Any) -> str | None:
    """Why ``budget`` looks mistyped: under 1/BUDGET_SCALE (1%) or over BUDGET_SCALE times
    the planned channels' ``current`` spend over the horizon, naming both; None otherwise.
    The plan is still made: a test of a much smaller or larger budget is a real question."""
    if budget is None or current <= 0 or current / BUDGET_SCALE <= budget <= current * BUDGET_SCALE:
        return None
    cur = (
        f" {r.total_budget.currency_code}"
        if r.total_budget and r.total_budget.currency_code
        else ""
    )
    share = budget / current
    said = f"{share:.2%}" if share < 1 else f"{share:,.0f}×"
    return (
        f"--budget {budget:,.10g}{cur} is {said} of the planned channels' current spend, "
        f"{current:,.0f}{cur} over the same {r.horizon_days} days: is it mistyped? Write amounts "
        "without thousands separators ('600.000' is read as 600, not 600000) and in whole "
        "currency units, not cents"
    )


def run_optimize(args: argparse.Namespace, peers: Any) -> int:
    if args.budget is None and args.target_roas is None:
        # Said in the CLI's flags before the call: the server's refusal names the request's
        # fields (total_budget, target_marginal_roas), which no flag is called (R18-F15).
        raise SystemExit(
            "error: --budget is required (the total to allocate over the horizon), or give "
            "--target-roas R to spend each channel up to where its next unit returns R"
        )
    campaign_bounds = _ranges(args.campaign_bound, "--campaign-bound")
    with timeouts.client(args, peers) as client:
        analysis = _analysis(client, args.analysis_id) if campaign_bounds else None
        if campaign_bounds:
            campaign_bounds = _campaign_ids(campaign_bounds, analysis)
        r = client.optimize_budget(
            args.analysis_id, budget=args.budget, days=args.days,
            bounds=_ranges(args.bound, "--bound"),
            spend_bounds=_ranges(args.spend_bound, "--spend-bound"),
            profit_margin=args.profit_margin, target_marginal_roas=args.target_roas,
            max_change=args.max_change, risk_aversion=args.risk,
            campaign_bounds=campaign_bounds,
            input_costs=_pairs(args.cost, "--cost"),
        )  # fmt: skip
        scale = budget_scale(args.budget, sum(a.current_spend for a in r.allocations), r)
        if scale is not None:
            print(f"warning: {scale}", file=sys.stderr)
        if args.json:
            cur = r.total_budget.currency_code if r.total_budget else ""
            _json(r, cur, args.analysis_id)
            return 0
        if analysis is None:
            analysis = _analysis(client, args.analysis_id)
    changed, rest = data_changed(list(r.warnings))
    for w in changed:  # before the plan: it is the analysis's as made (R33-F1)
        print(f"warning: {w}")
    table = _table_mroas(analysis)
    converted = _conversions(analysis)
    budget = r.total_budget.amount if r.total_budget else 0.0
    cur = r.total_budget.currency_code if r.total_budget else ""
    # R31-F3: every amount is in the analysis currency, which a converted channel's platform
    # does not bill in; said once here, and per converted channel under its row.
    if cur:
        print(f"amounts in {cur}")
    print(f"budget {budget:,.0f}{f' {cur}' if cur else ''} over {r.horizon_days} days; "
          + (f"risk weight {r.risk_aversion:g} (the gain less {r.risk_aversion:g} sd over the "
             "model's draws)" if r.risk_aversion else "risk weight 0 (the posterior mean)"))  # fmt: skip
    # Two next-unit returns per channel: the planning curve's mean over the model's draws (what
    # the plan is computed on) and the analysis table's point fit (what `analyze` prints); they
    # can sit on opposite sides of break-even, so both are shown, each named (R2-F4).
    print(f"{'channel':18s} {f'current {cur}'.strip():>12s} {f'optimal {cur}'.strip():>12s} {'change':>8s} "
          f"{'mROAS now':>10s} {'after':>7s} {'analysis':>9s}  bound")  # fmt: skip
    for a in r.allocations:
        change = a.optimal_spend / a.current_spend - 1 if a.current_spend else math.nan
        now = a.marginal_roas_current.estimate if a.marginal_roas_current else math.nan
        shown = table.get(a.channel)
        fit = "—" if shown is None else _ret(shown)
        print(f"{a.channel:18s} {a.current_spend:12,.0f} {a.optimal_spend:12,.0f} {number_text(change, '{:+.0%}'):>8s} "
              f"{_ret(now):>10s} {_ret(a.marginal_roas):>7s} {fit:>9s}  {_BOUND.get(int(a.bound_status), '')}")  # fmt: skip
        for k in a.campaigns:
            print(f"  {k.campaign_id:16s} {k.current_spend:12,.0f} {k.optimal_spend:12,.0f}"
                  f"{'':32s}{_BOUND.get(int(k.bound_status), '')}")  # fmt: skip
        for c in converted.get(a.channel, []):
            print(f"  {_in_platform_currency(c, a.current_spend, a.optimal_spend, 'optimal')}")
    print("mROAS now, after: the planning curve's mean over the model's parameter draws, what "
          "the plan is computed on; analysis: the attribution table's mROAS (its point fit, as "
          "`liftos analyze` prints it)")  # fmt: skip
    level = r.uplift.level if r.uplift else 0.9
    # What the figures compare: profit is net of spend; an outcome is not (the server warns
    # with the net change when the plan's spend differs from today's). Either is the planned
    # channels' incremental part on the planning curve, not the org's total.
    what = ("profit (margin × outcome − spend)" if args.profit_margin is not None
            else f"incremental {_METRIC.get(int(r.outcome), 'outcome')}")  # fmt: skip
    print(f"\n{what} of the planned channels (planning curve mean)")
    print(f"  now:            {_iv(r.current_outcome)}")
    print(f"  planned:        {_iv(r.optimal_outcome)}")
    print(f"  uplift:         {_iv(r.uplift, '{:+,.0f}')} ({level:.0%}); higher in "
          f"{r.probability_better:.0%} of the model's draws")  # fmt: skip
    if r.probability_better == 0.0 and (r.uplift is None or r.uplift.upper <= 0.0):
        # The optimiser's tie rule (a gain within float noise is none): said as the report says it.
        print("  no reallocation beats the current mix within this model's uncertainty")
    of = (f"of the risk-adjusted objective (the gain's mean less {r.risk_aversion:g} sd over "
          "the draws, so it need not match any channel's mean marginal return)"
          if r.risk_aversion else "of the objective")  # fmt: skip
    # What one more unit of total budget adds through this RPC: the default bound and the
    # ceilings follow the budget (a warning gives the figure with them held, R10-F15).
    print(
        f"shadow price of the budget: {_ret(r.shadow_price)} per unit, {of}, with the bounds "
        "this request sets at that budget" + ("" if r.budget_binds else " (budget not all spent)")
    )
    for w in rest:
        print(f"warning: {w}")
    return 0


def _analysis(client: LiftOS, analysis_id: str) -> causal_pb.Analysis | None:
    """The analysis as stored, or None where it cannot be read (what needs it is skipped)."""
    try:
        return causal_pb.Analysis.FromString(bytes(client.get_analysis(analysis_id)))
    except RpcFailure:
        return None


def _campaign_ids(
    bounds: dict[str, tuple[float | None, float | None]], analysis: causal_pb.Analysis | None
) -> dict[str, tuple[float | None, float | None]]:
    """``--campaign-bound`` keyed by campaign id: a key that is no campaign id but the name of
    exactly one of the analysis's campaigns becomes its id (said on stderr); a name two
    campaigns carry (one per account: names repeat, ids do not, R31-F6) is refused naming
    them. Anything else goes as given: the server's refusal lists the campaigns."""
    if analysis is None:
        return bounds
    campaigns = list(analysis.attribution.campaigns)
    ids = {c.campaign_id for c in campaigns}
    out: dict[str, tuple[float | None, float | None]] = {}
    for key, value in bounds.items():
        named = [c for c in campaigns if key not in ids and c.campaign_name == key]
        if len(named) > 1:
            which = ", ".join(f"{c.campaign_id} ({c.channel}, spend {c.spend.amount:,.0f})"
                              for c in named)  # fmt: skip
            raise SystemExit(f"error: --campaign-bound {key!r} is ambiguous: {len(named)} "
                             f"campaigns carry that name ({which}); give the campaign id")  # fmt: skip
        if named:
            print(f"note: --campaign-bound {key!r} is campaign {named[0].campaign_id} "
                  f"({named[0].channel})", file=sys.stderr)  # fmt: skip
            key = named[0].campaign_id
        if key in out:
            raise SystemExit(f"error: --campaign-bound names campaign {key!r} more than once "
                             "(by id and by name); give each once")  # fmt: skip
        out[key] = value
    return out


def _table_mroas(analysis: causal_pb.Analysis | None) -> dict[str, float]:
    """The attribution table's mROAS per channel (its point fit); empty where the analysis
    cannot be read (the plan is printed without the column's figures)."""
    if analysis is None:
        return {}
    return {c.channel: c.marginal_roas.estimate for c in analysis.attribution.channels
            if c.HasField("marginal_roas")}  # fmt: skip


def _conversions(analysis: causal_pb.Analysis | None) -> dict[str, list[ChannelConversion]]:
    """Per channel, the currencies the analysis converted its money from (its warnings say)."""
    from mesh.runtime.money import converted_channels

    out: dict[str, list[ChannelConversion]] = {}
    if analysis is not None:
        for c in converted_channels(list(analysis.attribution.warnings)):
            out.setdefault(c.channel, []).append(c)
    return out


def _in_platform_currency(c: ChannelConversion, current: float, new: float, word: str) -> str:
    """A converted channel's amounts in the currency its platform bills in, at the window's
    rate (what the analysis converted at): a planner types these into the platform."""
    rate = f"{c.rate:.4g} {c.to} per {c.frm} over the analysis window, {c.series}"
    if c.part:  # some of its accounts only: the plan does not split the channel by account
        return (
            f"({c.frm}: part of this channel's accounts bill in {c.frm}, converted at "
            f"{rate}; their share of these amounts ÷ {c.rate:.4g} is their {c.frm} budget)"
        )
    return (
        f"in {c.frm}, what the platform bills in (÷ {rate}): current "
        f"{current / c.rate:,.0f} {c.frm}, {word} {new / c.rate:,.0f} {c.frm}"
    )


def run_predict(args: argparse.Namespace, peers: Any) -> int:
    plain, dated = flights(args.daily)
    with timeouts.client(args, peers) as client:
        r = client.predict(
            args.analysis_id, days=args.days, daily_spend=_pairs(plain, "--daily"),
            multipliers=_pairs(args.set, "--set"), alpha=args.alpha, country=args.country,
            fan_levels=[_number(v, "--fan", args.fan) or 0.0 for v in args.fan.split(",") if v],
            daily_plan=_flown(client, args, dated),
        )  # fmt: skip
        if args.json:
            analysis = _analysis(client, args.analysis_id) if args.analysis_id else None
            _json(r, _currency(analysis), args.analysis_id)
            return 0
    for p in r.points:
        d = p.date
        assert d is not None
        print(f"{d.year:04d}-{d.month:02d}-{d.day:02d}  {_ivl(p.outcome)}"
              + "".join(f"  {_ivl(b)}" for b in p.fan))  # fmt: skip
    print(f"total: {_ivl(r.total)} (media {_ivl(r.media_total)})")
    for b in r.total_fan:
        print(f"total at {b.level:.0%}: {_iv(b)}")
    for w in r.warnings:
        print(f"warning: {w}")
    return 0


def _flown(
    client: LiftOS, args: argparse.Namespace, dated: dict[str, list[Flight]]
) -> dict[str, list[float]]:
    """The dated ``--daily`` ranges as one spend per horizon day, which starts the day after
    the analysis's window (read from the analysis); each plan said on stderr."""
    if not dated:
        return {}
    analysis = _analysis(client, args.analysis_id) if args.analysis_id else None
    if analysis is None or analysis.WhichOneof("result") != "attribution":
        raise SystemExit("error: --daily CHANNEL=AMOUNT@START..END needs an attribution "
                         "analysis id: the horizon starts the day after its window")  # fmt: skip
    end = analysis.attribution.date_range.end_date
    first = dt.date(end.year, end.month, end.day) + dt.timedelta(days=1)
    plan = {c: per_day(c, ranges, first, args.days) for c, ranges in dated.items()}
    for channel, ranges in dated.items():
        print(plan_line(channel, ranges, args.days), file=sys.stderr)
    return plan


def run_design(args: argparse.Namespace, peers: Any) -> int:
    cells = []
    for item in args.cell:
        kind, _, value = item.partition("=")
        if kind not in ("holdout", "decrease", "heavy_up"):
            raise SystemExit(f"error: --cell kind must be holdout, decrease or heavy_up: {item!r}")
        cells.append((kind, _number(value, "--cell", item) or 0.0))
    with timeouts.client(args, peers) as client:
        r = client.design_experiment(
            args.channel, duration_days=[7 * w for w in args.weeks], lift=args.lift,
            power=args.power, alpha=args.alpha, heavy_up=args.heavy_up, budget=args.budget,
            cells=cells, stratified=args.stratified, analysis_id=args.analysis,
            expected_roas=args.expected_roas, save=args.save, experiment_id=args.id,
            start=args.start, seed=args.seed, metric=args.metric,
        )  # fmt: skip
        if args.json:
            analysis = _analysis(client, args.analysis) if args.analysis else None
            _json(r, _currency(analysis), args.analysis)
            return 0
    print(f"{args.channel}: {len(r.control_units)} control geos, {r.history_days} days of "
          f"history, {r.pre_period_days}-day pre-period")  # fmt: skip
    hinted = False
    for c in r.cells:
        print(f"\ncell {c.cell}: {len(c.treatment_units)} treatment geos "
              f"({c.outcome_share:.0%} of the outcome), spend × {c.spend_multiplier:g}; "
              f"pre-period correlation {c.pre_period_correlation:.2f}")  # fmt: skip
        # A design read from an analysis also gives, per duration, the effect at the lower
        # bound of the analysis's interval and the power there: two more columns.
        low = c.conservative != "" and any(
            math.isfinite(p.conservative_lift) for p in c.power_curve
        )
        least = f"min {_CELL_RETURN.get(int(c.treatment_type), 'return')}"
        width = max(10, len(least))
        print(f"  {'days':>5s} {'power':>7s} {'MDE':>7s} {'MDE (abs)':>12s} {'spend change':>13s} "
              f"{least:>{width}s} {'expected':>9s}"
              + (f" {'lower':>8s} {'power@lower':>12s}" if low else ""))  # fmt: skip
        for p in c.power_curve:
            power = "—" if math.isnan(p.power) else f"{p.power:.0%}"
            expected = _pct(p.expected_lift, "+.1%")
            line = (f"  {p.duration_days:5d} {power:>7s} {p.minimum_detectable_lift:7.1%} "
                    f"{p.minimum_detectable_effect:12,.0f} {p.spend_change:13,.0f} "
                    f"{_ret(p.minimum_detectable_roas):>{width}s} {expected:>9s}")  # fmt: skip
            if low:
                line += f" {_pct(p.conservative_lift, '+.1%'):>8s} {_pct(p.power_at_conservative, '.0%'):>12s}"
            print(line)
        if all(math.isnan(p.power) for p in c.power_curve) and not hinted:
            # No effect to power against: say why the column is empty and how to fill it.
            hinted = True
            print("  power —: no expected effect to power against (no --analysis, --lift or "
                  "--expected-roas), so the recommendation is the most sensitive duration; "
                  "pass --analysis ID to read the effect from an attribution analysis, or "
                  "--lift X (e.g. 0.05) for a relative effect of your own")  # fmt: skip
        if c.feasible:
            print(f"  recommended: {c.recommended_duration_days} days")
        else:  # R48-F3: "recommended: 49 days — not reachable" at 6% power
            print(f"  no duration checked reaches the target power: {c.reason}")
            print(f"  (--save would register {c.recommended_duration_days} days, the longest "
                  "checked: a test that may well come back null)")  # fmt: skip
        # The power at the analysis interval's lower bound qualifies the recommendation, so
        # what it means for it is printed under it.
        if c.conservative:
            print(f"  {c.conservative}")
        print(f"  treatment: {', '.join(c.treatment_units)}")
    print(f"control: {', '.join(r.control_units)}")
    control = r.shared_control  # several cells: the control is the design's own record
    shared = [control.experiment_id] if control is not None and control.experiment_id else []
    cell_ids = [c.experiment.experiment_id for c in r.cells if c.experiment is not None]
    if shared:
        print(f"control records carry experiment {shared[0]} (shared by cells "
              f"{', '.join(cell_ids)})")  # fmt: skip
    if r.saved and r.experiment:
        print("registered as " + ", ".join(shared + cell_ids))
    print(f"analysis: {r.analysis}")
    # The warnings repeat each cell's lower-bound note (for callers that predate the field):
    # printed once, in place, above.
    notes = {(f"cell {c.cell}: " if len(r.cells) > 1 else "") + c.conservative for c in r.cells}
    for w in r.warnings:
        if w not in notes:
            print(f"warning: {w}")
    return 0


def _ret(value: float) -> str:
    """A return to three significant digits, as `liftos analyze` prints conversions per unit
    of spend (R13-F6: two decimals printed 0.00117 as 0.00)."""
    return f"{value:.3g}"


def _pct(value: float, fmt: str) -> str:
    # A figure that rounds to zero prints unsigned: a lower bound of 0 on a go-dark is -0.0,
    # and -0.04% at one decimal is no change (R20-F5: never "-0").
    return "—" if math.isnan(value) else number_text(value, "{:" + fmt + "}")


def run_recommend(args: argparse.Namespace, peers: Any) -> int:
    if not args.no_design:  # a quicker answer, for a call out of time (exits.deadline_hint)
        args.faster = "skip the proposed experiments with --no-design"
    with timeouts.client(args, peers) as client:
        r = client.recommend(
            [args.analysis_id] if args.analysis_id else [], max_results=args.max,
            value_per_outcome=args.value_per_outcome, days=args.days,
            design_tests=not args.no_design, risk_aversion=args.risk,
        )  # fmt: skip
        ids = next((list(rec.analysis_ids) for rec in r.recommendations if rec.analysis_ids), [])
        analysis = _analysis(client, ids[0]) if ids else None
        if args.json:
            _json(r, _currency(analysis))
            return 0
    # Which analysis the actions come from, and when it was made (R33-F7: with no id the
    # latest is taken, and a pasted recommendation must trace back to it); then what changed
    # under its window since (R33-F1).
    if analysis is not None:
        print(analysis_line(analysis))
    changed, rest = data_changed(list(r.warnings))
    for w in changed:
        print(f"warning: {w}")
    period = _period(analysis, args.days)
    converted = _conversions(analysis)
    cur = _currency(analysis)
    if cur:
        print(f"amounts in {cur}" + (" (the analysis's currency; converted channels are said "
                                      "in their platform's currency under each action)"
                                      if converted else ""))  # fmt: skip
    if not r.recommendations:
        print("no recommendations")
    kinds = [RECOMMENDATION_KINDS.get(int(rec.kind), "?") for rec in r.recommendations]
    if "REALLOCATE" in kinds and {"SCALE", "CUT", "HOLD", "TEST"} & set(kinds):
        # Two plans, not one list (R6-F3): the impacts must not be added up.
        which = ", ".join(str(rec.priority) for rec, k in zip(r.recommendations, kinds,
                                                                strict=True) if k == "REALLOCATE")  # fmt: skip
        print(f"note: {which} (reallocate) is an alternative to the per-channel actions, not a "
              "step with them: it keeps the total spend and may move a channel another action "
              "holds or moves by another amount; act on one or the other, and do not add their "
              "impacts")  # fmt: skip
    for rec, kind in zip(r.recommendations, kinds, strict=True):
        print(f"{rec.priority:2d}. [{kind}] {rec.action}")
        print(f"    impact {_iv(rec.expected_impact, '{:+,.0f}')}{impact_unit(kind, period)}, "
              f"{confidence_text(rec.confidence, kind)}")  # fmt: skip
        print(f"    why: {rec.rationale}")
        for channel, conversions in converted.items():
            # a reallocation names its channels in its action, not in its channel field
            if channel == rec.channel or (not rec.channel and channel in rec.action):
                for c in conversions:
                    if channel == rec.channel and rec.current_spend:
                        line = _in_platform_currency(c, rec.current_spend, rec.proposed_spend,
                                                     "proposed")  # fmt: skip
                    else:
                        line = (f"{channel} bills in {c.frm}: its amounts here ÷ {c.rate:.4g} "
                                f"({c.to} per {c.frm} over the analysis window, {c.series}) "
                                f"are its {c.frm} budget")  # fmt: skip
                    print(f"    {line}")
        # The value of testing the channel first: it is what orders the tests among themselves
        # (surfacing_svc.test_value), and the list of facts before it is long.
        for f in sorted(rec.facts, key=lambda f: f.name != "test_value"):
            print(f"    - {fact_text(f)}")
    for w in rest:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def data_changed(warnings: list[str]) -> tuple[list[str], list[str]]:
    """The warnings that say the data under the analysis changed since it was made, or that
    it could not be checked (printed first: the answer is the analysis's as made), and the
    others, each in order. The service words them with the same shared words."""
    changed = [w for w in warnings if WINDOW_CHANGED in w]
    return changed, [w for w in warnings if w not in changed]


def analysis_line(analysis: causal_pb.Analysis) -> str:
    """ "from analysis an-… (window …, made …)": the analysis an answer was computed from."""
    r = analysis.attribution
    start, end = r.date_range.start_date, r.date_range.end_date
    window = (f"window {start.year:04d}-{start.month:02d}-{start.day:02d}.."
              f"{end.year:04d}-{end.month:02d}-{end.day:02d}, " if start.year else "")  # fmt: skip
    made = (f"made {analysis.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d %H:%M} UTC"
            if analysis.HasField("create_time") else "made at an unrecorded time")  # fmt: skip
    return f"from analysis {analysis.analysis_id} ({window}{made})"


def fact_text(f: Any) -> str:
    """A fact as a line: its text, or, where the text is only a label (a product action's
    "over the period (USD)", R25-F4), the fact's name and figure before it."""
    value = f.value
    if value is None or any(ch.isdigit() for ch in f.text):
        return str(f.text)
    fmt = (
        "{:,.2f}"
        if max(abs(value.estimate), abs(value.lower), abs(value.upper)) < 100
        else "{:,.0f}"
    )
    return f"{f.name}: {_iv(value, fmt)} — {f.text}"


def _currency(analysis: causal_pb.Analysis | None) -> str:
    """The analysis's currency: its amounts' (every Money carries the one); "" unknown."""
    if analysis is None:
        return ""
    a = analysis.attribution
    monies = [c.spend for c in a.channels] + [k.spend for k in a.campaigns]
    return next((m.currency_code for m in monies if m.currency_code), "")


def _period(analysis: causal_pb.Analysis | None, days: int) -> str:
    """The days a recommendation's impact is over: ``--days``, else the analysis window (read
    from the analysis; "the analysis window" where it cannot be read)."""
    if days:
        return f"{days} days"
    if analysis is None:
        return "the analysis window"
    window = analysis.attribution
    start, end = window.date_range.start_date, window.date_range.end_date
    if not (start.year and end.year):
        return "the analysis window"
    n = (dt.date(end.year, end.month, end.day) - dt.date(start.year, start.month, start.day)).days
    return f"the analysis window's {n + 1} days"


def impact_unit(kind: str, period: str) -> str:
    """What a budget action's impact measures (R6-F5): value · outcome change less the spend
    change (revenue at face value unless --value-per-outcome), over the period."""
    if kind not in ("SCALE", "CUT", "REALLOCATE", "HOLD", "TEST"):
        return ""
    return f" (outcome value change less spend change, over {period})"
