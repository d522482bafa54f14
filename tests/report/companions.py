"""Attribution analyses, explanations and surfacing answers for the report tests.

- ``attribution_analysis``: the attribution domain (causal_svc.attribution.analyze) on a
  simulated world, through the causal service's converter (as AnalyzeAttribution stores it).
- ``explanation``: the LLM service's grounded writer on the analysis, as Explain's final message.
- ``budget`` / ``forecast`` / ``design`` / ``recommendations``: surfacing answers shaped from
  the attribution's own figures (current spend and curves) — synthetic, so the tests need no
  running surfacing service.
- ``big_attribution``: 30 channels over a year, for the size/open-time bench.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

CREATED = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)


def _interval(
    out: common_pb.Interval, estimate: float, lower: float, upper: float, level: float
) -> None:
    out.estimate, out.lower, out.upper, out.level = estimate, lower, upper, level


def attribution_analysis(seed: int = 1, analysis_id: str = "an-attribution") -> causal_pb.Analysis:
    """The attribution domain on a simulated world, converted by the causal service's own
    converter (what AnalyzeAttribution stores)."""
    from causal_svc import convert
    from causal_svc.attribution import analyze
    from tests.causal.attribution.world import world

    w = world("demo", seed)
    report = analyze(w.panel)
    context = convert.ReportContext(analysis_id, "acme", 0, "test", currency="USD")
    analysis = causal_pb.Analysis(
        analysis_id=analysis_id, org_id="acme", kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=convert.report_to_proto(report, context),
    )  # fmt: skip
    analysis.create_time.FromDatetime(CREATED)
    return analysis


def explanation(analysis: causal_pb.Analysis) -> llm_pb.ExplanationDone:
    """What LlmService.Explain's grounded writer answers for the analysis."""
    from llm_svc.convert import analysis_from_proto, done_response
    from llm_svc.evidence import Audience
    from llm_svc.explain import Done, explain_grounded

    async def run() -> Done:
        last = None
        async for event in explain_grounded([analysis_from_proto(analysis)], Audience.ANALYST):
            last = event
        assert isinstance(last, Done)
        return last

    # A thread of its own: Playwright's sync API keeps an event loop on the test's thread.
    with ThreadPoolExecutor(1) as pool:
        return done_response(pool.submit(lambda: asyncio.run(run())).result()).done


def budget(
    analysis: causal_pb.Analysis, *, shift: float = 0.25
) -> surfacing_pb.OptimizeBudgetResponse:
    """Spend moved from channels returning less than the median marginal ROAS to those returning
    more, within ±50% bounds: the shape of an OptimizeBudget answer."""
    channels = list(analysis.attribution.channels)
    mroas = np.array(
        [c.marginal_roas.estimate if c.HasField("marginal_roas") else 0.0 for c in channels]
    )
    median = float(np.median(mroas))
    out = surfacing_pb.OptimizeBudgetResponse(horizon_days=28, probability_better=0.91,
                                              shadow_price=1.4, budget_binds=True, converged=True)  # fmt: skip
    total = 0.0
    for c, m in zip(channels, mroas, strict=True):
        spend = c.spend.amount
        factor = 1.0 + shift if m > median else 1.0 - shift
        optimal = spend * (1.5 if m == mroas.max() else factor)
        a = out.allocations.add(channel=c.channel, current_spend=spend, optimal_spend=optimal,
                                min_spend=0.5 * spend, max_spend=1.5 * spend, marginal_roas=float(m))  # fmt: skip
        a.bound_status = (
            surfacing_pb.BOUND_STATUS_UPPER
            if m == mroas.max()
            else surfacing_pb.BOUND_STATUS_INTERIOR
        )
        total += spend
    out.total_budget.amount, out.total_budget.currency_code = total, "USD"
    _interval(out.uplift, 0.04 * total, 0.01 * total, 0.07 * total, 0.9)
    return out


def forecast(
    days: int = 90, level: float = 50_000.0, seed: int = 0, fan: tuple[float, ...] = ()
) -> surfacing_pb.PredictPerformanceResponse:
    """A PredictPerformance answer; ``fan`` adds nested intervals at those levels."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    out = surfacing_pb.PredictPerformanceResponse(outcome=common_pb.OUTCOME_METRIC_REVENUE)
    start = dt.date(2026, 7, 1)
    for d in range(days):
        day = start + dt.timedelta(days=d)
        mean = level * (1 + 0.1 * np.sin(2 * np.pi * d / 7)) + rng.normal(0, level * 0.01)
        half = level * (0.05 + 0.002 * d)
        p = out.points.add()
        p.date.year, p.date.month, p.date.day = day.year, day.month, day.day
        _interval(p.outcome, mean, mean - half, mean + half, 0.9)
        for lv in fan:  # the same spread, at each level's normal quantile
            w = half * norm.ppf(0.5 + lv / 2) / norm.ppf(0.95)
            _interval(p.fan.add(), mean, mean - w, mean + w, lv)
    total = sum(p.outcome.estimate for p in out.points)
    _interval(out.total, total, 0.93 * total, 1.07 * total, 0.9)
    _interval(out.baseline_total, 0.7 * total, 0.66 * total, 0.74 * total, 0.9)
    _interval(out.media_total, 0.3 * total, 0.25 * total, 0.35 * total, 0.9)
    return out


def design() -> surfacing_pb.DesignExperimentResponse:
    out = surfacing_pb.DesignExperimentResponse(
        feasible=True, pre_period_days=90, history_days=365, control_units=[f"geo-{i}" for i in range(10)],
        analysis="Go-dark on meta_prospecting in half the geos, analysed by time-based regression.",
    )  # fmt: skip
    cell = out.cells.add(cell=1, treatment_units=[f"geo-{i}" for i in range(10, 20)],
                         recommended_duration_days=35, feasible=True, pre_period_correlation=0.93)  # fmt: skip
    for weeks in range(1, 9):
        mde = 0.12 / np.sqrt(weeks)
        power = float(1 - np.exp(-0.45 * weeks))
        point = surfacing_pb.PowerPoint(duration_days=7 * weeks, power=power, minimum_detectable_lift=float(mde),
                                        placebo_windows=40)  # fmt: skip
        out.power_curve.append(point)
        cell.power_curve.append(point)
    return out


def recommendations(analysis: causal_pb.Analysis) -> surfacing_pb.RecommendResponse:
    out = surfacing_pb.RecommendResponse()
    ranked = sorted(analysis.attribution.channels, key=lambda c: -c.marginal_roas.estimate)
    for priority, (c, kind, action) in enumerate(
        [
            (ranked[0], surfacing_pb.RECOMMENDATION_KIND_INCREASE_BUDGET, "Raise spend by 25%"),
            (ranked[-1], surfacing_pb.RECOMMENDATION_KIND_DECREASE_BUDGET, "Cut spend by 25%"),
            (
                ranked[len(ranked) // 2],
                surfacing_pb.RECOMMENDATION_KIND_RUN_EXPERIMENT,
                "Run a 5-week go-dark test",
            ),
        ],
        start=1,
    ):
        r = out.recommendations.add(
            recommendation_id=f"rec-{priority}", kind=kind, channel=c.channel, action=action,
            rationale=f"marginal ROAS {c.marginal_roas.estimate:.2f} "
            f"({c.marginal_roas.lower:.2f} to {c.marginal_roas.upper:.2f})",
            confidence=0.9 - 0.2 * priority, priority=priority, analysis_ids=[analysis.analysis_id],
        )  # fmt: skip
        _interval(r.expected_impact, 1000.0 / priority, 200.0 / priority, 1800.0 / priority, 0.9)
    return out


def big_attribution(n_channels: int = 30, seed: int = 0) -> causal_pb.Analysis:
    """A year of 30 channels: Hill response curves, intervals, platform over-claiming."""
    rng = np.random.default_rng(seed)
    result = causal_pb.AttributionResult(
        analysis_id="an-big", outcome=common_pb.OUTCOME_METRIC_REVENUE
    )
    health = result.health
    health.verdict, health.holdout_days = causal_pb.HEALTH_VERDICT_REVIEW, 28
    health.holdout_r_squared, health.holdout_mape, health.holdout_nrmse = 0.87, 0.064, 0.08
    health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS, value=0.87,
                      threshold=0.5, message="the held-out 28 days are predicted with R² 0.87")  # fmt: skip
    health.checks.add(name="collinearity", verdict=causal_pb.HEALTH_VERDICT_REVIEW, value=0.91,
                      threshold=0.9, message="two channels' spend moves together (r = 0.91)")  # fmt: skip
    families = ("meta", "google", "tiktok", "klaviyo", "pinterest", "snap")
    for k in range(n_channels):
        name = f"{families[k % len(families)]}_campaign_{k:02d}_prospecting"
        spend = float(rng.lognormal(11.5, 0.8))
        half, beta = spend * rng.uniform(0.6, 2.0), rng.uniform(0.8, 4.0) * spend
        grid = np.linspace(0, 2 * spend, 40)
        curve = beta * grid / (grid + half)
        incremental = float(beta * spend / (spend + half))
        row = result.channels.add(channel=name, platform_reported_outcome=incremental * rng.uniform(1.2, 3.0),
                                  contribution_share=1.0 / n_channels)  # fmt: skip
        row.spend.amount, row.spend.currency_code = spend, "USD"
        row.media_input, row.identified = spend, True
        _interval(row.incremental_outcome, incremental, 0.7 * incremental, 1.3 * incremental, 0.9)
        iroas = incremental / spend
        row.naive_regression_roas = iroas * rng.uniform(1.1, 2.5)
        row.platform_reported_roas = row.platform_reported_outcome / spend
        decay = rng.uniform(0.1, 0.7)
        weights = decay ** np.arange(14)
        result.response_models.add(channel=name, reference_spend=spend, period_days=365,
                                   carryover=list(weights / weights.sum()), identified=True,
                                   adstock=md_pb.ADSTOCK_TYPE_GEOMETRIC, adstock_params=[decay])  # fmt: skip
        _interval(row.incremental_roas, iroas, 0.7 * iroas, 1.3 * iroas, 0.9)
        m = beta * half / (spend + half) ** 2
        _interval(row.marginal_roas, m, 0.6 * m, 1.4 * m, 0.9)
        result.response_curves.add(channel=name, spend=list(grid), outcome=list(curve),
                                   lower=list(0.7 * curve), upper=list(1.3 * curve))  # fmt: skip
    _daily(result, rng, days=365)
    analysis = causal_pb.Analysis(analysis_id="an-big", org_id="acme",
                                  kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, attribution=result)  # fmt: skip
    analysis.create_time.FromDatetime(CREATED)
    return analysis


def _daily(result: causal_pb.AttributionResult, rng: np.random.Generator, days: int) -> None:
    """A year of daily series for the channels of ``result``: weekly and annual cycles in the
    baseline, each channel's total spread over its days, the model a little off the observed."""
    start = dt.date(2025, 7, 1)
    t = np.arange(days)
    season = 1 + 0.08 * np.sin(2 * np.pi * t / 7) + 0.2 * np.sin(2 * np.pi * (t - 300) / 365)
    baseline = 60_000.0 * season
    daily = result.daily
    media = np.zeros(days)
    for c in result.channels:
        weights = rng.gamma(4.0, 1.0, days) * season
        values = c.incremental_outcome.estimate * weights / weights.sum()
        daily.channels.add(channel=c.channel, contribution=list(values))
        media += values
    predicted = baseline + media
    actual = predicted * np.exp(rng.normal(0, 0.04, days))
    for d in range(days):
        day = start + dt.timedelta(days=d)
        daily.dates.add(year=day.year, month=day.month, day=day.day)
    daily.baseline_outcome.extend(baseline.tolist())
    daily.predicted_outcome.extend(predicted.tolist())
    daily.actual_outcome.extend(actual.tolist())
    daily.holdout.extend([d >= days - result.health.holdout_days for d in range(days)])
    daily.decomposition = "synthetic: baseline + channels = predicted"
