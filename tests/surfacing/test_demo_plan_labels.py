"""The demo's plan lines carry the labels `liftos recommend` / `optimize` / `predict` give the
same figures (audit R20-F7): the impact's unit, the forecast's level, no "-0%"."""

from __future__ import annotations

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.cli.demo_plan import budget, forecast, recommendations


def _printed(call, *args) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    call(*args, lines.append)
    return lines


def _iv(estimate: float, lower: float, upper: float, level: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=lower, upper=upper, level=level)


def test_an_impact_says_what_it_measures_and_over_which_days() -> None:
    r = pb.RecommendResponse(recommendations=[pb.Recommendation(
        priority=1, kind=pb.RECOMMENDATION_KIND_INCREASE_BUDGET, action="scale google_pmax",
        expected_impact=_iv(836052, -483506, 2031234, 0.9), confidence=0.88, rationale="why")])  # fmt: skip
    lines = []
    recommendations(r, lines.append, "the analysis window's 120 days")
    assert lines[2].startswith(
        "      impact +836,052 [-483,506, +2,031,234] (outcome value change less spend change, "
        "over the analysis window's 120 days), "
    )


def test_the_forecast_headline_names_its_level_and_what_baseline_is() -> None:
    r = pb.PredictPerformanceResponse(
        total=_iv(55577331, 51329982, 61031458, 0.9), media_total=_iv(13916379, 8874479, 18886970, 0.9)
    )  # fmt: skip
    lines = _printed(forecast, r)
    assert lines[1] == ("  total 55,577,331 [51,329,982, 61,031,458] (90%), of which media "
                        "13,916,379 [8,874,479, 18,886,970] (90%) (baseline: every channel off)")  # fmt: skip


def test_a_change_that_rounds_to_zero_has_no_sign() -> None:
    r = pb.OptimizeBudgetResponse(
        total_budget=common_pb.Money(amount=2e6, currency_code="USD"), horizon_days=120,
        allocations=[pb.ChannelAllocation(channel="meta_retargeting", current_spend=1106822.2,
                                          optimal_spend=1106822.1999999988),
                     pb.ChannelAllocation(channel="tiktok", current_spend=1e6, optimal_spend=8e5)],
    )  # fmt: skip
    lines = _printed(budget, r)
    row = next(line for line in lines if "meta_retargeting" in line)
    assert "-0%" not in row and row.split()[3] == "0%"
    assert next(line for line in lines if "tiktok" in line).split()[3] == "-20%"
