"""The second half of `liftos demo`: what each channel caused, in words, and what to do next.

Every step is one RPC as an external client sends it: ``AnalyzeAttribution`` with its live
progress, the attribution table set beside the simulator's truth, ``Explain`` streamed line by
line, ``Recommend``, ``OptimizeBudget`` and ``DesignExperiment``, then the attribution report
with those answers in it. A planning step that fails is reported and the demo goes on: the
attribution is still worth showing without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure

Out = Callable[[str], None]
_VERDICT = {1: "PASS", 2: "REVIEW", 3: "FAIL"}
_KIND = {1: "scale", 2: "cut", 3: "reallocate", 4: "test", 5: "investigate", 6: "hold"}


@dataclass
class Plan:
    """What the second half of the demo got back (the demo test checks it)."""

    attribution: dc.AttributionResult | None = None
    truth_iroas: dict[str, float] = field(default_factory=dict)
    explanation: dc.ExplanationDone | None = None
    recommendations: dc.RecommendResponse | None = None
    budget: dc.OptimizeBudgetResponse | None = None
    design: dc.DesignExperimentResponse | None = None
    report: Path | None = None
    failures: list[str] = field(default_factory=list)


def true_iroas(world: Path, org_id: str) -> dict[str, float]:
    """The simulator's expected incremental revenue over spend per channel with spend."""
    truth = json.loads((world / "truth.json").read_text())
    channels = truth["orgs"][org_id]["channels"]
    return {c: w[0]["iroas"] for c, w in channels.items() if w[0].get("iroas") is not None}


def _iv(i: dc.Interval | None, fmt: str = "{:.2f}") -> str:
    if i is None:
        return "—"
    return f"{fmt.format(i.estimate)} [{fmt.format(i.lower)}, {fmt.format(i.upper)}]"


def attribution(client: LiftOS, world: Path, org_id: str, out: Out, plan: Plan) -> None:
    out("== attribution: what each channel caused (AnalyzeAttribution, live progress)")

    def show(p: dc.AnalysisProgress) -> None:
        out(f"  [{p.fraction:4.0%}] {p.stage:<14} {p.message}")

    r = client.analyze(on_progress=show, holdout_days=28)
    plan.attribution = r
    plan.truth_iroas = truth = true_iroas(world, org_id)
    verdict = _VERDICT.get(int(r.health.verdict), "?") if r.health else "?"
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
    for c in r.channels:
        spend = c.spend.amount if c.spend else 0.0
        if spend <= 0:
            continue
        iv = c.incremental_roas
        naive = c.naive_regression_roas
        t = truth.get(c.channel)
        inside = "" if t is None or iv is None else ("yes" if iv.lower <= t <= iv.upper else "NO")
        flag = "" if c.identified else "  (not identified)"
        out(f"  {c.channel:<18}{spend:>12,.0f}  {_iv(iv):<24}{c.platform_reported_roas:>9.2f}"
            f"{'—' if naive is None else f'{naive:.2f}':>8}"
            f"{'—' if t is None else f'{t:.2f}':>8}  {inside}{flag}")  # fmt: skip
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
    for w in r.warnings:
        out(f"  warning: {w}")


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


def recommendations(client: LiftOS, analysis_id: str, out: Out, plan: Plan) -> None:
    out("== recommendations (SurfacingService.Recommend)")
    r = client.recommend([analysis_id], max_results=5)
    plan.recommendations = r
    if not r.recommendations:
        out("  none")
    for rec in r.recommendations:
        kind = _KIND.get(int(rec.kind), "?")
        out(f"  {rec.priority:2d}. [{kind}] {rec.action}")
        out(f"      impact {_iv(rec.expected_impact, '{:+,.0f}')}, "
            f"confidence {rec.confidence:.0%}: {rec.rationale}")  # fmt: skip


def budget(client: LiftOS, analysis_id: str, out: Out, plan: Plan) -> None:
    out("== budget: the same total, spent where it earns most (SurfacingService.OptimizeBudget)")
    assert plan.attribution is not None
    current = sum(c.spend.amount for c in plan.attribution.channels if c.spend)
    r = client.optimize_budget(analysis_id, budget=current)
    plan.budget = r
    total = r.total_budget.amount if r.total_budget else 0.0
    out(f"  budget {total:,.0f} over {r.horizon_days} days; each channel within ±30% of its "
        "current spend unless bounded")  # fmt: skip
    out(f"  {'channel':<18}{'current':>12}{'proposed':>12}{'change':>8}{'mROAS now':>11}"
        f"{'after':>7}")  # fmt: skip
    for a in r.allocations:
        change = a.optimal_spend / a.current_spend - 1 if a.current_spend else math.nan
        now = a.marginal_roas_current.estimate if a.marginal_roas_current else math.nan
        out(f"  {a.channel:<18}{a.current_spend:>12,.0f}{a.optimal_spend:>12,.0f}{change:>+8.0%}"
            f"{now:>11.2f}{a.marginal_roas:>7.2f}")  # fmt: skip
    out(f"  expected uplift {_iv(r.uplift, '{:+,.0f}')}; better in {r.probability_better:.0%} "
        "of the model's draws")  # fmt: skip
    for w in r.warnings:
        out(f"  warning: {w}")


def _channel_to_test(plan: Plan) -> str:
    """The channel the recommendations say to test, else the one whose iROAS interval is
    widest relative to its estimate (where an experiment would teach the most)."""
    if plan.recommendations:
        for rec in plan.recommendations.recommendations:
            if int(rec.kind) == 4 and rec.channel:
                return rec.channel
    assert plan.attribution is not None
    paid = [c for c in plan.attribution.channels
            if c.incremental_roas and c.spend and c.spend.amount > 0]  # fmt: skip
    width = {c.channel: c.incremental_roas.upper - c.incremental_roas.lower for c in paid}  # type: ignore[union-attr]
    return max(width, key=lambda k: width[k]) if width else ""


def design(client: LiftOS, analysis_id: str, out: Out, plan: Plan) -> None:
    channel = _channel_to_test(plan)
    if not channel:
        return
    out(f"== next experiment: a geo holdout for {channel} (SurfacingService.DesignExperiment)")
    r = client.design_experiment(channel, duration_days=[14, 28, 42], analysis_id=analysis_id)
    plan.design = r
    for c in r.cells:
        out(f"  {len(c.treatment_units)} treatment geos ({c.outcome_share:.0%} of the outcome), "
            f"{len(r.control_units)} control; pre-period correlation "
            f"{c.pre_period_correlation:.2f}")  # fmt: skip
        for p in c.power_curve:
            power = "—" if math.isnan(p.power) else f"{p.power:.0%}"
            out(f"    {p.duration_days:3d} days: power {power:>4} at the expected effect; "
                f"minimum detectable lift {p.minimum_detectable_lift:.1%}")  # fmt: skip
        out(f"  recommended: {c.recommended_duration_days} days"
            + ("" if c.feasible else f" (not reachable: {c.reason})"))  # fmt: skip


def write_attribution_report(
    client: LiftOS, analysis_id: str, data_dir: Path, out: Out, plan: Plan
) -> None:
    from mesh.cli.report import fetch
    from mesh.report import render_report

    def wire(message: Any, kind: Any) -> Any:
        return None if message is None else kind.FromString(bytes(message))

    analysis = fetch(client, analysis_id, latest=False)
    html = render_report(
        analysis,
        explanation=wire(plan.explanation, llm_pb.ExplanationDone),
        budget=wire(plan.budget, surfacing_pb.OptimizeBudgetResponse),
        design=wire(plan.design, surfacing_pb.DesignExperimentResponse),
        recommendations=wire(plan.recommendations, surfacing_pb.RecommendResponse),
    )
    path = data_dir / f"report-{analysis_id}.html"
    path.write_text(html, encoding="utf-8")
    plan.report = path
    out(f"== attribution report: {path}")


def run_plan(client: LiftOS, world: Path, org_id: str, data_dir: Path, out: Out) -> Plan:
    """Attribution, then each planning step; a failed planning step is said and skipped."""
    plan = Plan()
    attribution(client, world, org_id, out, plan)
    r = plan.attribution
    if r is None or not r.channels:
        return plan
    aid = r.analysis_id
    steps: list[tuple[str, Callable[[], None]]] = [
        ("Explain", lambda: explanation(client, aid, out, plan)),
        ("Recommend", lambda: recommendations(client, aid, out, plan)),
        ("OptimizeBudget", lambda: budget(client, aid, out, plan)),
        ("DesignExperiment", lambda: design(client, aid, out, plan)),
        ("report", lambda: write_attribution_report(client, aid, data_dir, out, plan)),
    ]
    for name, step in steps:
        try:
            step()
        except RpcFailure as exc:
            plan.failures.append(f"{name}: {exc}")
            out(f"  {name} failed ({exc}); the demo goes on without it")
    return plan
