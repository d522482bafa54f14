"""`liftos analyze` and `liftos counterfactual`: attribution through the mesh.

``liftos analyze --org ORG --start 2024-01-01 --end 2024-12-31 [--outcome revenue]`` shows the
streamed progress, then the attribution table — the causal iROAS with its interval beside what
the platforms claim and what a naive regression says — and the model's health verdict.
``liftos counterfactual ANALYSIS_ID --set meta=0.5 --set google_ads=1.2`` predicts the outcome
under a changed spend plan, after saying what changed under the analysis's window since it was
made (:mod:`mesh.cli.analysis_data`).

An analysis that fails its health checks reports no ROIs, and recommend refuses it; a weekly
job then had no plan and no hint (R42-F4). ``analyze`` names the org's latest healthy analysis
of the same outcome (id, window, when made), in the text and as ``latestHealthy`` in --json
(the analysis itself where it is healthy), so the job can plan on that one instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import sys
from collections.abc import Sequence
from typing import Any

from liftos.v1 import common_pb2 as common_pb

from mesh.cli import timeouts
from mesh.cli.analysis_data import print_data_check
from mesh.cli.json_out import document, print_json
from mesh.sdk.client import LiftOS, dc


def add_parsers(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("analyze", help="causal attribution of every channel and campaign")
    p.add_argument("--org", default="default")
    p.add_argument("--start", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    p.add_argument("--end", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    p.add_argument("--outcome", choices=("revenue", "conversions"), default="revenue")
    p.add_argument(
        "--channel", action="append", default=[],
        help="fit a model of only these channels (repeat; default: every channel): the other "
        "channels' spend is left out of the model, not just the table, and their effect can "
        "be credited to the channels fitted (the omitted_channels health check names them)",
    )  # fmt: skip
    p.add_argument(
        "--holdout-days",
        type=int,
        default=0,
        help="0: the default (28, or the longest a shorter window allows, 14 at least)",
    )
    p.add_argument(
        "--max-lag-days", type=int, default=0, metavar="DAYS",
        help="the longest carry-over the model looks for, 1-120 days (0: the default, 28): an "
        "effect arriving later after the spend (a B2B sales cycle of 60-90 days) is not seen, "
        "and the lag_beyond_window health check names a channel that looks like one. The "
        "carry-over still peaks in the first days, so a longer window does not recover an "
        "effect that starts weeks after the spend (analyse leads: --outcome conversions); it "
        "takes longer to fit",
    )  # fmt: skip
    p.add_argument(
        "--identification", choices=("auto", "national", "geo"), default="auto",
        help="which spend variation identifies the channels: auto (default: geo where the "
        "window shows budgets not chasing demand and geos flighted independently, else "
        "national; the identification line says which and why), national (safe when "
        "budgets chase local demand) or geo (cross-geo differences within each day: more "
        "precise when each geo's spend varies on its own schedule, biased when budgets chase "
        "local demand; the budget_response health check says so)",
    )  # fmt: skip
    p.add_argument("--campaigns", action="store_true", help="also print the campaign table")
    p.add_argument("--json", action="store_true", help="the result as JSON")
    p.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="how long the analysis may take (default: LIFTOS_ANALYSIS_TIMEOUT, else 900; "
        "0: no limit)",
    )  # fmt: skip
    common(p)
    p.set_defaults(func=run_analyze)

    c = sub.add_parser("counterfactual", help="the outcome under a changed spend plan")
    c.add_argument("analysis_id")
    c.add_argument("--org", default="default")
    c.add_argument("--set", action="append", default=[], metavar="CHANNEL=MULTIPLIER",
                   help="spend × multiplier (0: without the channel); repeat")  # fmt: skip
    c.add_argument("--spend", action="append", default=[], metavar="CHANNEL=AMOUNT",
                   help="absolute spend over the period; repeat")  # fmt: skip
    c.add_argument("--start", type=dt.date.fromisoformat, default=None)
    c.add_argument("--end", type=dt.date.fromisoformat, default=None)
    c.add_argument("--future-days", type=int, default=0, help="the next N days instead")
    c.add_argument("--alpha", type=float, default=0.1,
                   help="1 - the interval's level (default 0.1: the 90%% of the analysis's table)")  # fmt: skip
    c.add_argument("--json", action="store_true")
    timeouts.add_timeout(c)
    common(c)
    c.set_defaults(func=run_counterfactual)


def _pairs(items: list[str], flag: str) -> dict[str, float]:
    """``CHANNEL=NUMBER`` items as a dict; a channel given twice is refused (the server
    refuses it too, but a dict would keep the last one silently)."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: {flag} takes CHANNEL=NUMBER, got {item!r}")
        name = name.strip()
        if name in out:
            raise SystemExit(f"error: {flag} names {name!r} twice; give each channel once")
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f"error: {flag} {item!r}: {value!r} is not a number") from None
    return out


def _day(d: dc.Date | None) -> dt.date | None:
    return dt.date(d.year, d.month, d.day) if d and d.year else None


def period_lines(r: dc.CounterfactualResponse, args: argparse.Namespace) -> list[str]:
    """Which days the plan changes and which the outcome is counted over: the evaluated
    period runs on past the changed days by the carry-over the model allows (up to the end of
    the data), so a one-day change is read against many days of outcome."""
    p = r.evaluated_period
    first, last = _day(p.start_date if p else None), _day(p.end_date if p else None)
    if first is None or last is None:
        return []
    days = (last - first).days + 1
    if args.future_days:
        # The template is the last analysed days unless they are a registered test's window
        # (R10-F1); a warning then says which days and why, so no "last" here.
        return [f"period:            the next {args.future_days} days, modelled on the "
                f"analysed days {first}..{last}"]  # fmt: skip
    changed_end = min(args.end, last) if args.end else last
    changed = (changed_end - first).days + 1
    out = [f"spend changed:     {first}..{changed_end} ({changed} day{'s' * (changed != 1)})"]
    tail = days - changed
    why = f"; the changed days and {tail} day(s) of carry-over after them" if tail else ""
    out.append(f"outcome counted:   {first}..{last} ({days} day{'s' * (days != 1)}{why})")
    return out


def interval_text(i: dc.Interval | common_pb.Interval | None, fmt: str = "{:.2f}") -> str:
    """``estimate [lower, upper]`` of an interval (SDK dataclass or wire message), or —."""
    if i is None:
        return "—"
    return (
        f"{number_text(i.estimate, fmt)} [{number_text(i.lower, fmt)}, {number_text(i.upper, fmt)}]"
    )


def number_text(x: float, fmt: str = "{:.2f}") -> str:
    """``x`` in ``fmt``, a value that rounds to zero without a sign: "0", not "+0" or "-0"
    (a signed format's zero difference is no change, and −0.0 is zero)."""
    text = fmt.format(x)
    if text[:1] in "+-" and "0" in text and not any(d in text for d in "123456789"):
        return text[1:]
    return text


_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def short(x: float) -> str:
    """1,234 → 1.23k, 3,400,000 → 3.4M, 3.17e15 → 3,170T: an interval's bounds beside a full
    estimate (the report's tick formatter, ``mesh.report._plan_plots.compact``, without
    matplotlib). Three significant digits within a unit; from 1,000 of the largest unit,
    whole units with separators (R30 F4: a trillion printed "3.17e+03B"; JPY, KRW or IDR
    accounts reach it at ordinary sizes); a value that rounds up to the next unit takes it
    (999,999 → 1M, not "1e+03k"); nan and ±inf as themselves."""
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    for div, suffix in _UNITS:
        if ax >= div * 0.9995:  # rounds to 1.00 of this unit at three digits
            v = x / div
            return (f"{v:.3g}" if abs(v) < 999.5 else f"{v:,.0f}") + suffix
    return f"{x:.3g}"


def outcome_text(i: dc.Interval | None) -> str:
    """``8,407,792 [2.2M, 14.6M]``: an outcome in full, its interval short (the table's width)."""
    if i is None:
        return "—"
    return f"{i.estimate:,.0f} [{short(i.lower)}, {short(i.upper)}]"


def calibration_text(r: dc.AttributionResult) -> list[str]:
    """One line per lift test: what it measured, what the calibrated model says for the same
    cells (and said without the tests), and how far the channel's iROAS moved for them."""
    channels = {c.channel: c for c in r.channels}
    out = []
    for check in r.calibration:
        line = (f"calibrated by {check.experiment_id} ({check.channel}): measured lift "
                f"{check.measured_lift:,.0f} ± {check.measured_std_error:,.0f} s.e.; model "
                f"{check.predicted_lift:,.0f}")  # fmt: skip
        if check.predicted_lift_uncalibrated is not None:
            line += f" (without lift tests {short(check.predicted_lift_uncalibrated)})"
        c = channels.get(check.channel)
        if c is not None and c.uncalibrated_roas is not None and c.incremental_roas is not None:
            ratio, _, fmt = ratio_format(r)
            line += (f"; {ratio} {fmt.format(c.uncalibrated_roas)} → "
                     f"{fmt.format(c.incremental_roas.estimate)}")  # fmt: skip
        out.append(line)
    return out


VERDICT = {int(v): v.name for v in dc.HealthVerdict if v is not dc.HealthVerdict.UNSPECIFIED}


def result_currency(r: dc.AttributionResult) -> str:
    """The currency of the result's amounts: its spend's (every Money carries the one
    currency; "" from an analysis stored before they did)."""
    monies = [c.spend for c in r.channels] + [k.spend for k in r.campaigns]
    return next((m.currency_code for m in monies if m is not None and m.currency_code), "")


def ratio_format(r: dc.AttributionResult) -> tuple[str, str, str]:
    """(column, marginal column, format) of the table's per-spend ratios: a revenue
    analysis's iROAS and mROAS to two decimals; a conversions analysis's conversions per
    unit of spend (0.00496, not 0.00) to three significant digits."""
    if int(r.outcome) == 1:  # OUTCOME_METRIC_CONVERSIONS
        return "conv/spend", "marg.", "{:.3g}"
    return "iROAS", "mROAS", "{:.2f}"


def print_result(
    r: dc.AttributionResult, *, campaigns: bool = False, fallback: str | None = None
) -> None:
    """The result as the terminal shows it; ``fallback``: the line naming the analysis to use
    instead when this one failed (:func:`fallback_line`)."""
    health = r.health
    verdict = VERDICT.get(int(health.verdict), "?") if health else "?"
    window = ""
    if r.date_range and r.date_range.start_date and r.date_range.end_date:
        a, b = r.date_range.start_date, r.date_range.end_date
        window = f"{a.year:04d}-{a.month:02d}-{a.day:02d}..{b.year:04d}-{b.month:02d}-{b.day:02d}"
    print(f"\nanalysis {r.analysis_id}: {r.record_count:,} records, {r.geo_count} geos × "
          f"{r.day_count} days {window}; model {r.model_version}")  # fmt: skip
    currency = result_currency(r)
    if currency:
        print(f"amounts in {currency}")
    spend_head = f"spend {currency}".strip()
    print(f"health: {verdict}")
    if health:
        for check in health.checks:
            if int(check.verdict) != 1:
                print(f"  - {check.message}")
    if not r.channels:
        print("no ROIs: the model failed its health checks")
        if fallback is not None:
            print(fallback)
    else:
        level = (
            r.channels[0].incremental_outcome.level if r.channels[0].incremental_outcome else 0.9
        )
        ratio, marginal, fmt = ratio_format(r)
        # ≤ 120 columns: the incremental outcome in full, its interval short.
        print(f"\n{'channel':18s} {spend_head:>12s} {f'incremental [{level:.0%}]':>26s} "
              f"{ratio + f' [{level:.0%}]':>22s} {marginal:>6s} {'platform':>12s} {'naive':>7s} "
              f"{'share':>6s}")  # fmt: skip
        for c in r.channels:
            spend = c.spend.amount if c.spend else 0.0
            inc = outcome_text(c.incremental_outcome)
            roas = interval_text(c.incremental_roas, fmt) if spend > 0 else "(no spend)"
            mroas = (f"{number_text(c.marginal_roas.estimate, fmt):>6s}" if c.marginal_roas
                     else "     —")  # fmt: skip
            naive = (
                f"{number_text(c.naive_regression_roas):>7s}"
                if c.naive_regression_roas is not None
                else "      —"
            )
            flag = "" if c.identified else "  (not identified)"
            platform = platform_text(c, spend)
            print(f"{c.channel:18s} {spend:12,.0f} {inc:>26s} {roas:>22s} {mroas} "
                  f"{platform:>12s} {naive} {c.contribution_share:6.1%}{flag}")  # fmt: skip
        if r.baseline_outcome:
            print(f"{'baseline':18s} {'':12s} {outcome_text(r.baseline_outcome):>26s}")
        for line in calibration_text(r):
            print(line)
        for line in unreported_lines(r.channels):
            print(line)
    if campaigns and r.campaigns:
        # the name last and whole: a re-issued campaign differs from the ended one only by its
        # id and the end of its name ("… | Sales #1" and "… | Sales #1 | Holiday")
        wid = max(11, *(len(k.campaign_id) for k in r.campaigns))  # ids whole (ULIDs are 26)
        print(f"\n{'campaign id':{wid}s} {'channel':18s} {spend_head:>12s} {'incremental':>26s} "
              f"{ratio_format(r)[0]:>22s}  name")  # fmt: skip
        for k in r.campaigns:
            spend = k.spend.amount if k.spend else 0.0
            print(f"{k.campaign_id:{wid}s} {k.channel:18s} {spend:12,.0f} "
                  f"{outcome_text(k.incremental_outcome):>26s} "
                  f"{interval_text(k.incremental_roas, ratio_format(r)[2]):>22s}  "
                  f"{k.campaign_name or '—'}")  # fmt: skip
    for line in warning_lines(r):
        print(line)


def warning_lines(r: dc.AttributionResult) -> list[str]:
    """The analysis's warnings as printed. The budget-response line, which every analysis
    keeps (what the window's budgets did), is a "note:" where its health check passed — below
    the share at which the identification is at risk — and a "warning:" only where it did not
    (R30 F5: "warning: ... on 0 of 4,380 geo-days (0.0%)" on every run taught users to skip
    the one that matters). A line the check could not weigh (not assessed) stays a warning."""
    checks = r.health.checks if r.health else []
    chase = next((c for c in checks if c.name == "budget_response"), None)
    quiet = chase is not None and int(chase.verdict) == 1  # HEALTH_VERDICT_PASS
    return [
        f"{'note' if quiet and w.startswith('budget response:') else 'warning'}: {w}"
        for w in r.warnings
    ]


def platform_text(c: dc.ChannelAttribution, spend: float) -> str:
    """The platform ROAS cell: unknown where the platform reported no conversions (its 0 is
    no claim), marked partial where it reported some of the spend's."""
    share = c.platform_unreported_share or 0.0
    if share >= _ALL_UNREPORTED:
        return "not reported"
    if spend <= 0:  # without spend a platform ROAS is undefined, not 0 (it may claim plenty)
        return "—"
    return f"{c.platform_reported_roas:.2f}" + (" partial" if share > 0 else "")


# a share this close to 1 is all of it (spend in floating point)
_ALL_UNREPORTED = 1 - 1e-9


def unreported_lines(channels: Sequence[dc.ChannelAttribution]) -> list[str]:
    """What the platform column leaves out, per channel with unreported conversions."""
    out = []
    for c in channels:
        share = c.platform_unreported_share or 0.0
        if share >= _ALL_UNREPORTED:
            out.append(f"platform: {c.channel}'s platform reported no conversions for its "
                       "spend (e.g. Meta's region breakdown): its platform figures are "
                       "unknown, not 0")  # fmt: skip
        elif share > 0:
            out.append(f"platform: {c.channel}'s platform did not report conversions for "
                       f"{share:.0%} of its spend: its platform ROAS is over the reported "
                       f"{1 - share:.0%} only")  # fmt: skip
    return out


# Stored analyses read (GetAnalysis) at most when looking for a healthy one, newest first: the
# summaries do not carry the health verdict, and each read is a whole stored result.
HEALTHY_LOOKUPS = 20

_FAIL = int(dc.HealthVerdict.FAIL)


def _healthy(r: dc.AttributionResult | None) -> bool:
    """Whether recommend and the plans can use the result: not FAIL, with ROIs."""
    return (
        r is not None
        and r.health is not None
        and int(r.health.verdict) != _FAIL
        and bool(r.channels)
    )


def _same_channels(r: dc.AttributionResult, channels: Sequence[str]) -> bool:
    """Whether ``r`` modelled the channels a request of ``channels`` (empty: every channel)
    models: a --channel subset credits the channels it left out to the ones it fitted, so
    its ROIs are another model's, not a stand-in for a full one (s19 V3 F2)."""
    if channels:
        return {c.channel for c in r.channels} == set(channels)
    checks = r.health.checks if r.health is not None else []
    return not any(c.name == "omitted_channels" for c in checks)


def channels_text(channels: Sequence[str]) -> str:
    """The model choice a fallback shares with the failed request, in words."""
    return f"channels {', '.join(sorted(set(channels)))} only" if channels else "every channel"


def latest_healthy(
    client: LiftOS, failed_id: str, outcome: str, channels: Sequence[str] = ()
) -> tuple[dc.Analysis | None, int]:
    """The org's newest stored attribution analysis of ``outcome`` ("revenue",
    "conversions") other than ``failed_id`` that is healthy and modelled the same
    ``channels`` as the failed request (empty: every channel, none left out), or None; and
    how many were read to look (HEALTHY_LOOKUPS at most, of the 5 × HEALTHY_LOOKUPS newest
    summaries)."""
    read = 0
    listed = client.list_analyses(kind="attribution", page_size=100)
    for summary in itertools.islice(listed, 5 * HEALTHY_LOOKUPS):
        if summary.analysis_id == failed_id or summary.outcome != outcome:
            continue
        read += 1
        analysis = client.get_analysis(summary.analysis_id)
        r = analysis.attribution
        if r is not None and _healthy(r) and _same_channels(r, channels):
            return analysis, read
        if read >= HEALTHY_LOOKUPS:
            break
    return None, read


def _window(r: dc.DateRange | None) -> str:
    start, end = (r.start_date, r.end_date) if r is not None else (None, None)
    return f"{_iso(start) or '…'}..{_iso(end) or '…'}"


def _iso(d: dc.Date | None) -> str:
    day = _day(d)
    return day.isoformat() if day is not None else ""


def _made(t: dt.datetime | None) -> str:
    return (
        f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if t is not None else "at an unknown time"
    )


def fallback_line(
    found: dc.Analysis | None, read: int, org: str, outcome: str, channels: Sequence[str] = ()
) -> str:
    """What to use instead of a failed analysis, as the text says it."""
    kind = f"{outcome} analysis of org {org} modelling {channels_text(channels)}"
    if found is None or found.attribution is None:
        which = f"is healthy ({read} read, newest first)" if read else "is stored"
        return (f"no other {kind} {which}: none to plan on instead; "
                "fix what the checks above name and analyse again")  # fmt: skip
    r = found.attribution
    verdict = VERDICT.get(int(r.health.verdict), "?") if r.health else "?"
    return (f"latest healthy {kind}: {found.analysis_id} "
            f"({_window(r.date_range)}, made {_made(found.create_time)}, health {verdict}); "
            f"plan on it: liftos recommend {found.analysis_id} --org {org}")  # fmt: skip


def fallback_json(found: dc.Analysis | None) -> dict[str, Any] | None:
    """``latestHealthy`` of analyze --json: the proto JSON shapes of the document's own
    ``analysisId``, ``dateRange``, ``createTime`` and health verdict; None: none stored."""
    if found is None or found.attribution is None:
        return None
    r, doc = found.attribution, document(found)
    health = document(r.health) if r.health is not None else {}
    return {
        "analysisId": found.analysis_id, "dateRange": doc["attribution"].get("dateRange"),
        "createTime": doc.get("createTime", ""), "verdict": health.get("verdict", ""),
    }  # fmt: skip


def _fallback(
    client: LiftOS,
    result: dc.AttributionResult,
    made: dc.Analysis | None,
    outcome: str,
    channels: Sequence[str],
) -> tuple[dc.Analysis | None, int, str]:
    """The analysis to use in place of ``result`` (itself where healthy), the analyses read,
    and why none could be looked for ("" where it could)."""
    from mesh.sdk.failures import RpcFailure

    if _healthy(result):
        return made, 0, ""
    try:
        found, read = latest_healthy(client, result.analysis_id, outcome, channels)
    except RpcFailure as failure:  # the analysis stands: say what could not be looked up
        return None, 0, f"{failure.code}: {failure.message}"
    return found, read, ""


def run_analyze(args: argparse.Namespace, peers: Any) -> int:
    def show(p: dc.AnalysisProgress) -> None:
        print(f"[{p.fraction:4.0%}] {p.stage:15s} {p.message}", file=sys.stderr, flush=True)

    if args.channel and not args.json:
        # a model choice, not a display filter (R18 F16): said before the wait
        print(f"note: --channel fits a model of {', '.join(args.channel)} only; every other "
              "channel's spend is left out of it (see the omitted_channels health check)",
              file=sys.stderr)  # fmt: skip
    made = None
    with LiftOS(peers, org_id=args.org) as client:
        result = client.analyze(
            start=args.start, end=args.end, outcome=args.outcome, channels=args.channel,
            holdout_days=args.holdout_days, identification=args.identification,
            max_lag_days=args.max_lag_days, on_progress=None if args.json else show, timeout=args.timeout,
        )  # fmt: skip
        if args.json and result.analysis_id:
            made = client.get_analysis(result.analysis_id)
        # a FAIL names the analysis to plan on instead (R42-F4)
        found, read, unlisted = _fallback(client, result, made, args.outcome, args.channel or ())
    if unlisted:
        print(f"note: the org's stored analyses could not be read to name a healthy one "
              f"({unlisted}): `liftos analyses --org {args.org}` lists them",
              file=sys.stderr)  # fmt: skip
    if args.json:
        # json_out keeps zero-valued fields (proto3 JSON leaves them out, so a 0 estimate had
        # no key) and writes a non-finite figure as null; plus the currency of its amounts and
        # when the analysis was stored (R41-F5, F6: the result says neither), and the analysis
        # to plan on (this one, or where it failed the org's latest healthy one; null: none)
        print_json({**document(result), "currencyCode": result_currency(result),
                    "createTime": document(made).get("createTime", "") if made else "",
                    "latestHealthy": fallback_json(found)})  # fmt: skip
    else:
        line = None if unlisted else fallback_line(found, read, args.org, args.outcome,
                                                    args.channel or ())  # fmt: skip
        print_result(result, campaigns=args.campaigns, fallback=line)
    return 0


def run_counterfactual(args: argparse.Namespace, peers: Any) -> int:
    multipliers = _pairs(args.set, "--set")
    spend = _pairs(args.spend, "--spend")
    both = sorted(set(multipliers) & set(spend))
    if both:
        print(f"error: {', '.join(both)} given with both --set and --spend; give one",
              file=sys.stderr)  # fmt: skip
        return 2
    if not multipliers and not spend:
        print("error: give at least one --set CHANNEL=MULTIPLIER or --spend CHANNEL=AMOUNT",
              file=sys.stderr)  # fmt: skip
        return 2
    with timeouts.client(args, peers) as client:
        # The answer is the analysis's as made: what changed under its window since, first
        # (R33-F1); on stderr under --json, which keeps stdout one JSON document.
        print_data_check(client, args.analysis_id, out=sys.stderr if args.json else None)
        r = client.counterfactual(
            args.analysis_id, multipliers=multipliers, spend=spend, start=args.start,
            end=args.end, future_days=args.future_days, alpha=args.alpha,
        )  # fmt: skip
        if args.json:
            stored = client.get_analysis(args.analysis_id).attribution
            cur = result_currency(stored) if stored is not None else ""
            print_json({**document(r), "analysisId": args.analysis_id, "currencyCode": cur})
            return 0
    ref, cf, delta = r.reference_outcome, r.counterfactual_outcome, r.delta
    assert ref is not None and cf is not None and delta is not None
    for line in period_lines(r, args):
        print(line)
    if args.future_days:
        # Not the next days' outcome "as run": the template days' actual outcome, which the
        # next days are taken to repeat without the plan (R10-F1).
        print(f"without the plan:  {ref.estimate:16,.0f}  (the template days' outcome as run)")
    else:
        print(f"outcome as run:    {ref.estimate:16,.0f}")
    at = "  (at the template days' demand: not a forecast)" if args.future_days else ""
    print(f"under the plan:    {interval_text(cf, '{:,.0f}')}{at}")
    print(f"difference:        {interval_text(delta, '{:+,.0f}')}  ({delta.level:.0%} interval)")
    for c in r.channels:
        if c.reference_spend == 0 and c.counterfactual_spend == 0:
            # a channel without spend (email sends): its activity moved, not a spend (R20-F7)
            m = multipliers.get(c.channel)
            moved = f"activity × {m:g}" if m is not None else "activity as run"
            head = f"(no spend) {moved}"
        else:
            head = f"spend {c.reference_spend:12,.0f} → {c.counterfactual_spend:12,.0f}"
        print(f"  {c.channel:18s} {head}: {interval_text(c.outcome_delta, '{:+,.0f}')}")
    # Intervals the test of no effect widened (or could not check), and why.
    for w in r.warnings:
        print(f"warning: {w}")
    return 0
