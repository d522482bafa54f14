"""The surfacing converters: an attribution result read into curves, and requests checked."""

from __future__ import annotations

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.exceptions import InvalidInput
from surfacing_svc import convert
from surfacing_svc.errors import NotAnAttribution


def _analysis(verdict: int = causal_pb.HEALTH_VERDICT_PASS) -> causal_pb.Analysis:
    result = causal_pb.AttributionResult(
        analysis_id="a1", outcome=common_pb.OUTCOME_METRIC_REVENUE,
        health=causal_pb.ModelHealth(verdict=verdict, unidentified_channels=["tiktok"], checks=[
            causal_pb.HealthCheck(name="collinearity", verdict=causal_pb.HEALTH_VERDICT_REVIEW,
                                  message="tiktok & meta move together")]),
        channels=[
            causal_pb.ChannelAttribution(channel=c, spend=common_pb.Money(amount=s, currency_code="EUR"),
                                         identified=c != "tiktok")
            for c, s in (("meta", 100.0), ("tiktok", 50.0), ("email", 0.0))
        ],
        response_models=[
            causal_pb.ChannelResponseModel(
                channel=c, reference_spend=s or 9000.0, period_days=90, scale=[300.0, 320.0],
                half_saturation=[1.0, 1.1], shape=[1.0, 1.2], nodes=[0.5, 1.5],
                node_weights=[0.5, 0.5], carryover=[0.7, 0.3], identified=True,
                baseline_outcome=5000.0,
            )
            for c, s in (("meta", 100.0), ("tiktok", 50.0), ("email", 0.0))
        ],
    )  # fmt: skip
    result.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=1, day=1))
    result.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=3, day=30))
    return causal_pb.Analysis(analysis_id="a1", kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
                              attribution=result)  # fmt: skip


def test_an_attribution_reads_into_curves() -> None:
    model = convert.planning_model(_analysis())
    assert [c.channel for c in model.curves] == ["meta", "tiktok"]  # email has no spend
    meta, tiktok = model.curves
    assert meta.identified and not tiktok.identified
    assert (
        meta.reference_spend == 100.0 and meta.n_draws == 2 and list(meta.carryover) == [0.7, 0.3]
    )
    assert model.period_days == 90 and model.baseline_total == 5000.0 and model.currency == "EUR"
    assert model.outcome == "revenue"
    assert any("without spend" in w and "email" in w for w in model.notes())
    assert any("REVIEW" in w and "move together" in w for w in model.warnings)


def test_a_failed_model_or_an_estimate_is_not_planned_on() -> None:
    with pytest.raises(NotAnAttribution) as info:
        convert.planning_model(_analysis(causal_pb.HEALTH_VERDICT_FAIL))
    assert info.value.reason == "MODEL_FAILED_HEALTH_CHECKS"
    with pytest.raises(NotAnAttribution):
        convert.planning_model(
            causal_pb.Analysis(analysis_id="e", estimate=causal_pb.EffectEstimate())
        )


def test_relative_and_absolute_bounds_are_read() -> None:
    q = convert.optimize_question(pb.OptimizeBudgetRequest(
        org_id="o", analysis_id="a", total_budget=common_pb.Money(amount=10.0), alpha=0.2,
        constraints=[pb.ChannelConstraint(channel="meta", min_ratio=0.5, max_spend=80.0)],
        profit_margin=0.4))  # fmt: skip
    assert q.level == pytest.approx(0.8) and q.margin == 0.4 and q.objective.value == "profit"
    (b,) = q.bounds
    assert (b.min_ratio, b.max_spend, b.min_spend, b.max_ratio) == (0.5, 80.0, None, None)


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.OptimizeBudgetRequest(org_id="o", analysis_id="a", target_marginal_roas=1.0,
                                  profit_margin=0.3), ["profit_margin"]),
        (pb.PredictPerformanceRequest(org_id="o", horizon_days=400, country_code="usa"),
         ["horizon_days", "country_code"]),
        (pb.DesignExperimentRequest(org_id="o", channel="m", cells=[pb.DesignCell()] * 6),
         ["cells"]),
        (pb.DesignExperimentRequest(org_id="o", channel="m", treatment_type=2),
         ["spend_multiplier"]),
    ],
)  # fmt: skip
def test_bad_requests_name_every_field(request_, fields) -> None:
    parse = {
        pb.OptimizeBudgetRequest: convert.optimize_question,
        pb.PredictPerformanceRequest: convert.forecast_question,
        pb.DesignExperimentRequest: convert.design_question,
    }[type(request_)]
    with pytest.raises(InvalidInput) as info:
        parse(request_)
    assert [v.field for v in info.value.violations] == fields


def test_the_budget_response_share_is_read_from_the_analysis() -> None:
    # The causal service's own line (confounders_retro.BudgetResponse.line), as it is kept in
    # the analysis's warnings; a structured health check, where present, comes first.
    import numpy as np
    import pandas as pd

    from causal_svc.confounders_retro import BudgetResponse

    days = pd.date_range("2024-01-01", periods=10)
    flags = pd.DataFrame({"date": np.tile(days, 4), "geo": np.repeat(list("ABCD"), 10),
                          "budget_response": np.arange(40) % 5 == 0})  # fmt: skip
    line = BudgetResponse(flags, 2.08, 0.2425, ("meta",)).line()
    analysis = _analysis()
    assert convert.budget_response_share(analysis.attribution) is None  # not assessed
    analysis.attribution.warnings.extend(["something else", line])
    assert convert.budget_response_share(analysis.attribution) == pytest.approx(0.2)
    assert convert.planning_model(analysis).budget_response_share == pytest.approx(0.2)
    analysis.attribution.health.checks.add(name="budget_response", value=0.3)
    assert convert.budget_response_share(analysis.attribution) == pytest.approx(0.3)
    analysis.attribution.calibration.add(channel="meta", experiment_id="e1")
    assert convert.planning_model(analysis).calibrated == ("meta",)
