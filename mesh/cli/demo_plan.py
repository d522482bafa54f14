"""The second half of `liftos demo`: what each channel caused, in words, and what to do next.

Every step is one RPC as an external client sends it: ``AnalyzeAttribution`` with its live
progress, the attribution table set beside the simulator's truth, ``Explain`` streamed line by
line, then the plan `liftos report` asks for (``Recommend``, ``OptimizeBudget``,
``PredictPerformance``, ``DesignExperiment``: :func:`mesh.cli.report.plan`) and the report with
all of it. A planning call that fails is said and the demo goes on: the attribution is still
worth showing without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.cli.attribution import VERDICT, interval_text, number_text, short
from mesh.cli.report import Planning
from mesh.cli.surfacing import RECOMMENDATION_KINDS, confidence_text, impact_unit
from mesh.runtime.durable_files import write_durably
from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure

Out = Callable[[str], None]


@dataclass
class Plan:
    """What the second half of the demo got back (the demo test checks it)."""

    attribution: dc.AttributionResult | None = None
    truth_iroas: dict[str, float] = field(default_factory=dict)
    truth_incremental: dict[str, float] = field(default_factory=dict)  # revenue, every channel
    explanation: dc.ExplanationDone | None = None
    planning: Planning | None = None  # SurfacingService's answers, as `liftos report` asks
    report: Path | None = None
    notes: list[str] = field(default_factory=list)  # what could not be given, and why


def true_iroas(world: Path, org_id: str) -> dict[str, float]:
    """The simulator's expected incremental revenue over spend per channel with spend."""
    truth = json.loads((world / "truth.json").read_text())
    channels = truth["orgs"][org_id]["channels"]
    return {c: w[0]["iroas"] for c, w in channels.items() if w[0].get("iroas") is not None}


def true_incremental(world: Path, org_id: str) -> dict[str, float]:
    """The simulator's expected incremental revenue per channel over the whole period, spend
    or not (an email channel has sends and no spend: no iROAS, but revenue it caused)."""
    truth = json.loads((world / "truth.json").read_text())
    channels = truth["orgs"][org_id]["channels"]
    return {c: w[0]["expected_incremental_revenue"] for c, w in channels.items()}


def attribution(client: LiftOS, world: Path, org_id: str, out: Out, plan: Plan) -> None:
    out("== attribution: what each channel caused (AnalyzeAttribution, live progress)")

    def show(p: dc.AnalysisProgress) -> None:
        out(f"  [{p.fraction:4.0%}] {p.stage:<14} {p.message}")

    r = client.analyze(on_progress=show, holdout_days=28)
    plan.attribution = r
    plan.truth_iroas = truth = true_iroas(world, org_id)
    plan.truth_incremental = truth_outcome = true_incremental(world, org_id)
    verdict = VERDICT.get(int(r.health.verdict), "?") if r.health else "?"
    out(f"  analysis {r.analysis_id}: {r.record_count:,} records, {r.geo_count} geos × "
        f"{r.day_count} days; model health {verdict}")  # fmt: skip
    if r.health:
        for check in r.health.checks:
            if int(check.verdict) != 1:
                out(f"    - {check.message}")
    if not r.channels:
        out("  no ROIs: the model failed its health checks")
        return
    level = r.channels[0].incremental_roas.level if r.channels[0].incremental_roas else 0.9
    out(f"  {'channel':<18}{'spend':>12}  {f'causal iROAS [{level:.0%}]':<24}{'platform':>9}"
        f"{'naive':>8}{'truth':>8}  truth inside")  # fmt: skip
    # Every channel the model scored: one without spend (email sends) has no iROAS, so its row
    # is in outcome units instead — its incremental revenue, the platform's claim and the truth's.
    unpaid = False
    for c in r.channels:
        spend = c.spend.amount if c.spend else 0.0
        flag = "" if c.identified else "  (not identified)"
        if spend <= 0:
            unpaid = True
            io, t = c.incremental_outcome, truth_outcome.get(c.channel)
            text = (
                "—"
                if io is None
                else f"{short(io.estimate)} [{short(io.lower)}, {short(io.upper)}] *"
            )
            inside = (
                "" if t is None or io is None else ("yes" if io.lower <= t <= io.upper else "NO")
            )
            out(f"  {c.channel:<18}{spend:>12,.0f}  {text:<24}{short(c.platform_reported_outcome):>9}"
                f"{'—':>8}{'—' if t is None else short(t):>8}  {inside}{flag}")  # fmt: skip
            continue
        iv = c.incremental_roas
        naive = c.naive_regression_roas
        t = truth.get(c.channel)
        inside = "" if t is None or iv is None else ("yes" if iv.lower <= t <= iv.upper else "NO")
        out(f"  {c.channel:<18}{spend:>12,.0f}  {interval_text(iv):<24}{c.platform_reported_roas:>9.2f}"
            f"{'—' if naive is None else f'{naive:.2f}':>8}"
            f"{'—' if t is None else f'{t:.2f}':>8}  {inside}{flag}")  # fmt: skip
    if unpaid:
        out("  * no spend: incremental revenue (not iROAS), beside the platform's claim and the "
            "truth's")  # fmt: skip
    rows = [(c, truth[c.channel]) for c in r.channels
            if c.incremental_roas and c.channel in truth and c.spend and c.spend.amount > 0]  # fmt: skip
    if rows:
        err = sum(abs(c.incremental_roas.estimate - t) for c, t in rows) / len(rows)  # type: ignore[union-attr]
        naive_rows = [(c.naive_regression_roas, t) for c, t in rows
                      if c.naive_regression_roas is not None]  # fmt: skip
        platform = sum(abs(c.platform_reported_roas - t) for c, t in rows) / len(rows)
        line = f"  mean |iROAS error| vs truth: causal {err:.2f}, platform-reported {platform:.2f}"
        if naive_rows:
            naive_err = sum(abs(n - t) for n, t in naive_rows) / len(naive_rows)
            line += f", naive regression {naive_err:.2f}"
        out(line)
    calibration_lines(r, out)
    for w in r.warnings:
        out(f"  warning: {w}")


def calibration_lines(r: dc.AttributionResult, out: Out) -> None:
    """Which lift tests calibrated which channel, and how far each channel moved for it."""
    moved = {c.channel: c for c in r.channels if c.uncalibrated_roas is not None}
    for check in r.calibration:
        c = moved.get(check.channel)
        line = f"  calibrated by registry experiment {check.experiment_id} (measured lift " \
               f"{check.measured_lift:,.0f} ± {check.measured_std_error:,.0f} s.e.)"  # fmt: skip
        if c is not None and c.incremental_roas is not None:
            line += (f": {check.channel} iROAS {c.uncalibrated_roas:.2f} uncalibrated → "
                     f"{c.incremental_roas.estimate:.2f} calibrated")  # fmt: skip
        out(line)
    if not r.calibration:
        out("  no lift tests: the model ran uncalibrated")


def explanation(client: LiftOS, analysis_id: str, out: Out, plan: Plan) -> None:
    out("== explanation (LlmService.Explain, streamed; every number cited)")
    pending = [""]

    def on_delta(delta: str) -> None:
        # Whole lines as they complete, so the demo's output stays line-oriented.
        text = pending[0] + delta
        *lines, pending[0] = text.split("\n")
        for line in lines:
            out(f"  {line}")

    plan.explanation = client.explain(analysis_id, on_delta=on_delta)
    if pending[0]:
        out(f"  {pending[0]}")
    if plan.explanation.citations:
        out(f"  ({len(plan.explanation.citations)} citations back every figure above)")


def recommendations(r: surfacing_pb.RecommendResponse, out: Out, period: str) -> None:
    """Each action with its impact in the unit `liftos recommend` gives it (R20-F7: the demo's
    impact read as an outcome change beside Counterfactual's larger revenue figure);
    ``period``: the days the impact is over."""
    out("== recommendations (SurfacingService.Recommend)")
    if not r.recommendations:
        out("  none")
    for rec in r.recommendations:
        kind = RECOMMENDATION_KINDS.get(int(rec.kind), "?")
        out(f"  {rec.priority:2d}. [{kind.lower()}] {rec.action}")
        out(f"      impact {interval_text(rec.expected_impact, '{:+,.0f}')}"
            f"{impact_unit(kind, period)}, {confidence_text(rec.confidence, kind)}: "
            f"{rec.rationale}")  # fmt: skip


def budget(r: surfacing_pb.OptimizeBudgetResponse, out: Out) -> None:
    out("== budget: the same total, spent where it earns most (SurfacingService.OptimizeBudget)")
    out(f"  budget {r.total_budget.amount:,.0f} over {r.horizon_days} days; a channel without "
        "a bound stays within ±30% of its current spend")  # fmt: skip
    out(f"  {'channel':<18}{'current':>12}{'proposed':>12}{'change':>8}{'mROAS now':>11}"
        f"{'after':>7}")  # fmt: skip
    for a in r.allocations:
        change = a.optimal_spend / a.current_spend - 1 if a.current_spend else math.nan
        shown = number_text(change, "{:+.0%}")  # never "-0%"
        out(f"  {a.channel:<18}{a.current_spend:>12,.0f}{a.optimal_spend:>12,.0f}{shown:>8}"
            f"{a.marginal_roas_current.estimate:>11.2f}{a.marginal_roas:>7.2f}")  # fmt: skip
    out(f"  expected revenue uplift at the same total {interval_text(r.uplift, '{:+,.0f}')}; "
        f"revenue higher in {r.probability_better:.0%} of the model's draws")  # fmt: skip
    for w in r.warnings:
        out(f"  warning: {w}")


def forecast(r: surfacing_pb.PredictPerformanceResponse, out: Out) -> None:
    out(f"== forecast: the next {len(r.points)} days at today's spend "
        "(SurfacingService.PredictPerformance)")  # fmt: skip
    # The level on the headline (R20-F7: it was read as the 90% of every other figure while
    # the forecast's was 95%); media is every channel with an effect in the analysis.
    level = f" ({r.total.level:.0%})" if r.total.level else ""
    out(f"  total {interval_text(r.total, '{:,.0f}')}{level}, of which media "
        f"{interval_text(r.media_total, '{:,.0f}')}{level} (baseline: every channel off)")  # fmt: skip
    for band in r.total_fan:
        out(f"    {band.level:.0%} band {band.lower:,.0f} to {band.upper:,.0f}")


def design(r: surfacing_pb.DesignExperimentResponse, channel: str, why: str, out: Out) -> None:
    out(f"== next experiment: a geo holdout for {channel} (SurfacingService.DesignExperiment)")
    if why:
        out(f"  chosen because {why}")
    for c in r.cells:
        out(f"  {len(c.treatment_units)} treatment geos ({c.outcome_share:.0%} of the outcome), "
            f"{len(r.control_units)} control; pre-period correlation "
            f"{c.pre_period_correlation:.2f}")  # fmt: skip
        for p in c.power_curve:
            power = "—" if math.isnan(p.power) else f"{p.power:.0%}"
            out(f"    {p.duration_days:3d} days: power {power:>4} at the expected effect; "
                f"minimum detectable lift {p.minimum_detectable_lift:.1%}")  # fmt: skip
        if c.feasible:
            out(f"  recommended: {c.recommended_duration_days} days")
        else:  # as `liftos design` (R48-F3): no "recommended" for a test at a few % power
            out(f"  no duration checked reaches the target power: {c.reason}")
    # The power at the interval's lower bound, per duration, and whether the recommendation
    # holds there (no proto field carries it: the response's warnings do).
    for w in r.warnings:
        out(f"  warning: {w}")


def run_plan(client: LiftOS, world: Path, org_id: str, data_dir: Path, out: Out) -> Plan:
    """Attribution and its explanation, then the plan `liftos report` asks SurfacingService
    for (a call that fails is said and left out), then the report with all of it."""
    from mesh.cli.report import fetch
    from mesh.cli.report import plan as surfacing_plan
    from mesh.report import render_report

    result = Plan()
    attribution(client, world, org_id, out, result)
    r = result.attribution
    if r is None or not r.channels:
        return result
    try:
        explanation(client, r.analysis_id, out, result)
    except RpcFailure as exc:
        result.notes.append(f"Explain: {exc}")
        out(f"  no explanation ({exc}); the demo goes on without it")
    analysis = fetch(client, r.analysis_id, latest=False)
    planning = surfacing_plan(client, analysis)
    result.planning = planning
    for note in planning.notes:
        out(f"  {note}")
    result.notes += planning.notes
    if planning.recommendations is not None:
        recommendations(planning.recommendations, out,
                        f"the analysis window's {r.day_count} days")  # fmt: skip
    if planning.budget is not None:
        budget(planning.budget, out)
    if planning.forecast is not None:
        forecast(planning.forecast, out)
    if planning.design is not None:
        design(planning.design, planning.design_channel, planning.design_why, out)
    wire = None if result.explanation is None else bytes(result.explanation)
    html = render_report(
        analysis,
        explanation=None if wire is None else llm_pb.ExplanationDone.FromString(wire),
        budget=planning.budget, forecast=planning.forecast, design=planning.design,
        recommendations=planning.recommendations, notes=planning.notes,
        design_channel=planning.design_channel, design_why=planning.design_why,
    )  # fmt: skip
    result.report = data_dir / f"report-{r.analysis_id}.html"
    write_durably(result.report, html)
    out(f"== attribution report: {result.report}")
    return result
