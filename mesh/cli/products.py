"""`liftos products ANALYSIS_ID` and `liftos analyze-products`: the product view.

``liftos analyze-products --org ORG [--start …] [--end …] [--channel …]`` runs AnalyzeProducts
(progress as it streams) and prints the view; ``liftos products ANALYSIS_ID`` prints a stored
one: what each channel's spend caused per category (revenue, and margin net of refunds, with
intervals), which products each channel really sells, which promotions mostly cannibalise, and
where to move spend between product campaigns (SurfacingService.Recommend's product actions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.cli import exits, timeouts
from mesh.cli.json_out import print_json
from mesh.report.products import (
    NO_MOVE,
    PRODUCT_ROWS_NOTE,
    SIGN_NOTE,
    below_spend_cells,
    channel_sells,
    margin_verdict,
    net_margin,
    promotions,
    refund_rates,
    refund_words,
    titles,
)
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure

_PRODUCT_KINDS = (
    surfacing_pb.RECOMMENDATION_KIND_SHIFT_PRODUCT_SPEND,
    surfacing_pb.RECOMMENDATION_KIND_STOP_PROMOTION,
    surfacing_pb.RECOMMENDATION_KIND_CUT_PRODUCT_SPEND,
)


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:  # 0 listed nothing and then said no product was distinguishable from zero
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_parsers(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("products", help="a stored product analysis: what each channel sells")
    p.add_argument("analysis_id")
    p.add_argument("--org", default="default")
    p.add_argument("--top", type=_positive, default=5, help="products listed per channel (≥ 1)")
    p.add_argument("--no-recommend", action="store_true", help="skip SurfacingService.Recommend")
    p.add_argument("--json", action="store_true", help="the result as JSON")
    timeouts.add_timeout(p)
    common(p)
    p.set_defaults(func=run_products)

    a = sub.add_parser("analyze-products", help="run AnalyzeProducts, then show the product view")
    a.add_argument("--org", default="default")
    a.add_argument("--start", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    a.add_argument("--end", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    a.add_argument("--channel", action="append", default=[], help="repeat; default: all")
    a.add_argument("--country", default="", help="holiday calendar (default US)")
    a.add_argument("--top", type=_positive, default=5, help="products listed per channel (≥ 1)")
    a.add_argument("--no-recommend", action="store_true")
    a.add_argument("--json", action="store_true")
    a.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="how long the analysis may take (default: LIFTOS_ANALYSIS_TIMEOUT, else 900; "
        "0: no limit)",
    )  # fmt: skip
    common(a)
    a.set_defaults(func=run_analyze_products)


def _span(i: Any, fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(i.estimate)} [{fmt.format(i.lower)}, {fmt.format(i.upper)}]"


def _revenue_basis(r: causal_pb.ProductAnalysisResult) -> str:
    """What "revenue" means in the view (R9-F5): net sales after discounts and before
    refunds, each refund dated on its order's day, and how much was refunded; the margin is
    net of refunds, at the rate per category the line names (issue 20)."""
    net = sum(c.revenue for c in r.categories)
    refunds = sum(c.refunds for c in r.categories)
    share = f", {refunds / net:.1%} of net sales" if net > 0 else ""
    return (
        f"  revenue is net sales (after discounts, before refunds; test, cancelled and gift-card "
        f"orders left out): {net:,.0f} {r.currency_code}; refunds {refunds:,.0f}{share}, dated "
        "on their order's day, are not taken off the incremental revenue\n"
        "  the incremental margin is net of refunds, its category's refund rate taken off (the "
        f"extra sales assumed refunded at that rate, the goods restocked): {refund_words(r)}"
    )


def _outside_attribution(r: causal_pb.ProductAnalysisResult) -> str:
    """Where this spend stands to the attribution (R10-F13): AnalyzeAttribution reads the
    campaign exports and leaves the product reports out (its warnings give the amount), so a
    reader of both does not take these channels for part of its table, nor its for these."""
    spent: dict[str, float] = {}
    for c in r.cells:
        spent[c.channel] = spent.get(c.channel, 0.0) + c.spend.amount
    each = ", ".join(f"{ch} {v:,.0f}" for ch, v in sorted(spent.items(), key=lambda x: -x[1]))
    return (
        f"  this spend ({each} {r.currency_code}) is the product reports': the attribution "
        "(`liftos analyze`) reads the campaign exports and leaves product reports out (its "
        "warnings give the amount), so these channels' effects are not in its table unless the "
        "campaign export carries the same campaigns"
    )


def render(
    analysis_id: str,
    r: causal_pb.ProductAnalysisResult,
    recommendations: surfacing_pb.RecommendResponse | None,
    note: str = "",
    *,
    top: int = 5,
) -> str:
    cur = r.currency_code
    a, b = r.date_range.start_date, r.date_range.end_date
    lines = [
        f"product analysis {analysis_id}: {r.record_count:,} records, {len(r.products)} products, "
        f"{r.day_count} days {a.year:04d}-{a.month:02d}-{a.day:02d}..{b.year:04d}-{b.month:02d}-"
        f"{b.day:02d}, {cur}; {r.interval_level:.0%} intervals, pairs claimed at "
        f"{r.claim_level:.0%}",
        _revenue_basis(r),
        _outside_attribution(r),
        *(f"  warning: {w}" for w in r.warnings),
        "",
        "What each channel's spend caused, by category (net of halo and cannibalisation):",
        f"  {'channel':18s} {'category':14s} {'spend':>10s} {'incremental revenue':>28s} "
        f"{'margin net of refunds':>28s} {'iROAS':>6s} {'next-unit return (mROAS)':>24s}",
    ]
    rates = refund_rates(r)
    for c in sorted(r.cells, key=lambda c: (c.channel, -c.incremental_revenue.estimate)):
        roas = f"{c.incremental_roas.estimate:6.2f}" if c.HasField("incremental_roas") else "     –"
        # the slope at the period's spend: what a move between categories is decided on
        mroas = _span(c.marginal_roas, "{:.2f}") if c.HasField("marginal_roas") else "–"
        flag = "" if c.significant or c.spend.amount == 0 else "  (interval includes 0)"
        kept = net_margin(c, rates)
        if c.spend.amount > 0 and kept.upper < c.spend.amount:
            flag += "  (margin below spend)"
        elif c.spend.amount > 0 and kept.estimate < c.spend.amount:
            flag += "  (margin below spend on the point; interval includes it)"
        lines.append(
            f"  {c.channel:18s} {c.category[:14]:14s} {c.spend.amount:10,.0f} "
            f"{_span(c.incremental_revenue):>28s} {_span(kept):>28s} {roas} "
            f"{mroas:>24s}{flag}"
        )
    # "loses money" only where the margin's interval is below the spend (R10-F6)
    lines += [f"  note: {margin_verdict(c, rates, r.interval_level, cur)}"
              for c in below_spend_cells(r)]  # fmt: skip
    lines.append(f"  {SIGN_NOTE}")
    name = titles(r)
    lines += ["", "Which products each channel really sells (interval above zero):",
              f"  ({PRODUCT_ROWS_NOTE})"]  # fmt: skip
    sells = channel_sells(r, top)
    for channel in r.channels:
        found = sells.get(channel, [])
        if not found:
            lines.append(f"  {channel}: no product distinguishable from zero")
            continue
        lines.append(f"  {channel}:")
        lines += [f"    {name.get(p.product_id, p.product_id):36s} {p.category[:14]:14s} "
                  f"spend {p.spend.amount:9,.0f}  "
                  f"incremental {_span(p.incremental_revenue)}" for p in found]  # fmt: skip
    lines += ["", "Promotions and their cannibalisation (claimed pairs only):"]
    promo = promotions(r)
    if not promo:
        lines.append("  no cannibalisation is claimed")
    for p in promo:
        lines.append(
            f"  {name.get(p.product_id, p.product_id)} ({p.category}): lift {p.lift:,.0f} {cur}, "
            f"{p.cannibalised:,.0f} ({p.share:.0%}) taken from "
            f"{', '.join(name.get(v, v) for v in p.victims)}: {p.verdict(cur)}"
        )
    lines += ["", "Where to move or cut spend on product campaigns (Recommend):"]
    if recommendations is None:
        lines.append(f"  {note or 'not asked'}")
    else:
        recs = [x for x in recommendations.recommendations if x.kind in _PRODUCT_KINDS]
        if not recs:
            lines.append(f"  {NO_MOVE}")
        for x in recs:
            i = x.expected_impact
            # The impact's interval level is the tables' (R2-F14); the confidence is the
            # chance the margin gain is above zero, which agrees with that interval.
            # A cut's impact is not a margin gained: the spend it saves less the margin it
            # gives up, at its floor (surfacing_svc.products).
            what = (
                "spend saved less margin lost, at least"
                if x.kind == surfacing_pb.RECOMMENDATION_KIND_CUT_PRODUCT_SPEND
                else "margin"
            )
            lines.append(f"  {x.priority}. {x.action}: {what} {i.estimate:+,.0f} "
                         f"[{i.lower:+,.0f}, {i.upper:+,.0f}] {cur} ({i.level:.0%}), "
                         f"confidence {x.confidence:.0%}")  # fmt: skip
            lines.append(f"     {x.rationale}")
    return "\n".join(lines)


def _recommend(client: LiftOS, analysis_id: str) -> tuple[surfacing_pb.RecommendResponse | None, str]:  # fmt: skip
    try:
        reply = client.recommend([analysis_id], design_tests=False)
    except RpcFailure as failure:
        return None, f"SurfacingService did not answer: {failure}"
    return surfacing_pb.RecommendResponse.FromString(bytes(reply)), ""


def _show(client: LiftOS, analysis_id: str, args: argparse.Namespace) -> int:
    analysis = causal_pb.Analysis.FromString(bytes(client.get_analysis(analysis_id)))
    if analysis.WhichOneof("result") != "products":
        print(f"error: analysis {analysis_id} is not a product analysis", file=sys.stderr)
        return exits.REFUSED
    recs, note = (
        (None, "skipped (--no-recommend)") if args.no_recommend else _recommend(client, analysis_id)
    )
    if args.json:
        # json_out keeps zero-valued fields; a Recommend that did not answer is said in the
        # document (it was only missing, with exit 0), "" when it answered or was skipped
        out: dict[str, Any] = {"analysis": analysis.products}
        if recs is not None:
            out["recommendations"] = recs
        out["recommendations_note"] = "" if recs is not None or args.no_recommend else note
        print_json(out)
    else:
        print(render(analysis_id, analysis.products, recs, note, top=args.top))
    return 0


# A failed call is said and given its exit status by main() (mesh.cli.exits); these printed it
# and exited 1 whatever its class.
def run_products(args: argparse.Namespace, peers: Any) -> int:
    with timeouts.client(args, peers) as client:
        return _show(client, args.analysis_id, args)


def run_analyze_products(args: argparse.Namespace, peers: Any) -> int:
    with LiftOS(peers, org_id=args.org) as client:
        result = client.analyze_products(
            start=args.start, end=args.end, channels=args.channel, country=args.country,
            timeout=args.timeout, on_progress=lambda e: print(f"[{e.stage}] {e.message}", file=sys.stderr),
        )  # fmt: skip
        return _show(client, result.analysis_id, args)
