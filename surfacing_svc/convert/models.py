"""The attribution analysis a plan reads (the causal service's AttributionResult) as a PlanningModel."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from surfacing_svc.campaigns import CampaignSpend
from surfacing_svc.curves import HillCurve
from surfacing_svc.errors import NotAnAttribution
from surfacing_svc.intervals import Interval
from surfacing_svc.planning import (
    PlanningModel,
)
from surfacing_svc.recommend import AnalysisEffect
from surfacing_svc.usual_spend import RanDays

_OUTCOMES = {common_pb.OUTCOME_METRIC_REVENUE: "revenue",
             common_pb.OUTCOME_METRIC_CONVERSIONS: "conversions"}  # fmt: skip


def planning_model(analysis: causal_pb.Analysis) -> PlanningModel:
    """The attribution analysis as the planner reads it: one curve per channel with spend,
    from the result's response models (``ChannelResponseModel``).

    Raises
    ------
    NotAnAttribution
        The analysis is an effect estimate, its model failed its health checks (no curves
        are reported then), or it has no channel with spend.
    """
    aid = analysis.analysis_id
    if analysis.WhichOneof("result") != "attribution":
        raise NotAnAttribution(
            f"analysis {aid!r} is not an attribution model (AnalyzeAttribution makes one); "
            "budgets, forecasts and recommendations read its response curves",
            subject="analysis",
        )
    result = analysis.attribution
    health = result.health
    if health.verdict == causal_pb.HEALTH_VERDICT_FAIL:
        reasons = "; ".join(
            c.message for c in health.checks if c.verdict == causal_pb.HEALTH_VERDICT_FAIL
        )
        raise NotAnAttribution(
            f"analysis {aid!r} failed its health checks, so it reports no curves to plan with"
            + (f": {reasons}" if reasons else ""),
            subject="analysis",
            reason="MODEL_FAILED_HEALTH_CHECKS",
        )
    spend = {c.channel: c for c in result.channels}
    unidentified = set(health.unidentified_channels)
    warnings = [f"the model's health verdict is REVIEW: {c.message}" for c in health.checks
                if c.verdict == causal_pb.HEALTH_VERDICT_REVIEW]  # fmt: skip
    curves: list[HillCurve] = []
    unpriced: list[HillCurve] = []
    for m in result.response_models:
        row = spend.get(m.channel)
        if m.reference_spend <= 0 or not m.scale:
            continue
        identified = (
            m.identified and (row is None or row.identified) and m.channel not in unidentified
        )
        # A channel seen without spend: its curve is in input units (impressions, sends), to
        # be planned once the request prices the input.
        into = unpriced if row is None or row.spend.amount <= 0 else curves
        into.append(HillCurve(
            channel=m.channel, reference_spend=m.reference_spend, period_days=m.period_days,
            scale=np.asarray(m.scale), half_saturation=np.asarray(m.half_saturation),
            shape=np.asarray(m.shape), nodes=np.asarray(m.nodes),
            node_weights=np.asarray(m.node_weights),
            carryover=np.asarray(m.carryover) if m.carryover else np.ones(1),
            identified=identified,
            note=m.note or ("" if identified else "the model could not identify its effect"),
        ))  # fmt: skip
    if not curves:
        raise NotAnAttribution(
            f"analysis {aid!r} has no channel with spend and a response model to plan with",
            subject="analysis",
        )
    dr = result.date_range
    start = dt.date(dr.start_date.year, dr.start_date.month, dr.start_date.day)
    end = dt.date(dr.end_date.year, dr.end_date.month, dr.end_date.day)
    days = (end - start).days + 1
    effects = tuple(
        AnalysisEffect(c.channel, _interval(c.incremental_outcome),
                       _interval(c.incremental_roas) if c.HasField("incremental_roas") else None,
                       days, _interval(c.marginal_roas) if c.HasField("marginal_roas") else None)
        for c in result.channels if c.HasField("incremental_outcome")
    )  # fmt: skip
    baseline = next((m.baseline_outcome for m in result.response_models if m.baseline_outcome), 0.0)
    currency = next((c.spend.currency_code for c in result.channels if c.spend.currency_code), "")
    return PlanningModel(
        analysis_id=aid, outcome=_OUTCOMES.get(result.outcome, "revenue"), start=start, end=end,
        curves=tuple(curves), baseline_total=baseline or result.baseline_outcome.estimate,
        currency=currency, warnings=tuple(warnings), unpriced=tuple(unpriced),
        campaigns=tuple(CampaignSpend(c.campaign_id, c.channel, c.spend.amount)
                        for c in result.campaigns if c.spend.amount > 0),
        effects=effects, budget_response_share=budget_response_share(result),
        omitted=next((c.message for c in result.health.checks
                      if c.name == "omitted_channels"), ""),
        spend_in_doubt="; ".join(c.message for c in health.checks if c.name == "spend_scale"
                                 and c.verdict == causal_pb.HEALTH_VERDICT_REVIEW),
        calibrated=tuple(dict.fromkeys(c.channel for c in result.calibration if c.channel)),
        calibrated_by=tuple(c.experiment_id for c in result.calibration if c.experiment_id),
        holiday_country=result.holiday_calendar_country,
        # channels that started or stopped inside the window (R48-F2)
        ran={m.channel: RanDays(m.active_days, m.period_days, m.stopped)
             for m in result.response_models if 0 < m.active_days < m.period_days},
    )  # fmt: skip


# causal_svc.confounders_retro.BudgetResponse.line(), which the analysis keeps in its warnings:
# "budget response: paid budgets moved with demand by >= 25% (in logs) on 1,505 of 3,650
# geo-days (41.2%; …"
_BUDGET_RESPONSE = re.compile(
    r"^budget response: paid budgets moved with demand .* on ([\d,]+) of ([\d,]+) geo-days"
)


def budget_response_share(result: causal_pb.AttributionResult) -> float | None:
    """Share of the analysis's geo-days on which paid budgets moved with demand: a health
    check named ``budget_response`` with a value, where the causal service reports one, else
    its budget-response warning's counts; None where neither says (not assessed)."""
    check = next((c for c in result.health.checks if c.name == "budget_response"), None)
    if check is not None and check.HasField("value"):
        return float(check.value)
    for w in result.warnings:
        m = _BUDGET_RESPONSE.match(w)
        if m is not None:
            flagged, total = (int(g.replace(",", "")) for g in m.groups())
            return flagged / total if total else None
    return None


def _interval(i: common_pb.Interval) -> Interval:
    return Interval(i.estimate, i.lower, i.upper, i.level)
