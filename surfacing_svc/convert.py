"""Proto ↔ domain for the surfacing service: each request checked field by field into a
question (:mod:`surfacing_svc.planning`), each answer back into its response."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import holidays
import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.exceptions import FieldViolation, InvalidInput
from mesh.runtime.protoconv import collect, date_from_proto, date_to_proto, require_org
from surfacing_svc.curves import HillCurve
from surfacing_svc.design import (
    AssignmentMethod,
    CellDesign,
    CellSpec,
    DesignSpec,
    ExperimentDesign,
    PowerPoint,
    TreatmentKind,
)
from surfacing_svc.errors import NotAnAttribution
from surfacing_svc.forecast import Forecast
from surfacing_svc.intervals import Interval
from surfacing_svc.optimizer import BoundStatus, BudgetPlan, Objective
from surfacing_svc.planning import (
    DEFAULT_MAX_CHANGE,
    BoundRequest,
    DesignQuestion,
    ForecastQuestion,
    OptimizeQuestion,
    PlanEntry,
    PlanningModel,
    Recommendations,
    RecommendQuestion,
)
from surfacing_svc.recommend import ActionKind

__all__ = [
    "design_question",
    "design_to_proto",
    "forecast_question",
    "forecast_to_proto",
    "optimize_question",
    "plan_to_proto",
    "planning_model",
    "proposed_experiment",
    "recommend_question",
    "recommendations_to_proto",
]

_METRICS: dict[int, str | None] = {
    common_pb.OUTCOME_METRIC_UNSPECIFIED: None,
    common_pb.OUTCOME_METRIC_REVENUE: "revenue",
    common_pb.OUTCOME_METRIC_CONVERSIONS: "conversions",
}
METRIC_TO_PROTO = {"revenue": common_pb.OUTCOME_METRIC_REVENUE,
                   "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS}  # fmt: skip
_CELL_KINDS = {
    md_pb.TREATMENT_TYPE_UNSPECIFIED: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_HOLDOUT: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_BUDGET_DECREASE: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_BUDGET_INCREASE: TreatmentKind.HEAVY_UP,
}
_ASSIGNMENT = {
    pb.ASSIGNMENT_METHOD_UNSPECIFIED: AssignmentMethod.MATCHED_MARKETS,
    pb.ASSIGNMENT_METHOD_MATCHED_MARKETS: AssignmentMethod.MATCHED_MARKETS,
    pb.ASSIGNMENT_METHOD_STRATIFIED: AssignmentMethod.STRATIFIED,
}
_BOUND_STATUS = {
    BoundStatus.NONE: pb.BOUND_STATUS_INTERIOR,
    BoundStatus.LOWER: pb.BOUND_STATUS_LOWER,
    BoundStatus.UPPER: pb.BOUND_STATUS_UPPER,
}
_KINDS = {
    ActionKind.SCALE: pb.RECOMMENDATION_KIND_INCREASE_BUDGET,
    ActionKind.CUT: pb.RECOMMENDATION_KIND_DECREASE_BUDGET,
    ActionKind.HOLD: pb.RECOMMENDATION_KIND_HOLD,
    ActionKind.REALLOCATE: pb.RECOMMENDATION_KIND_REALLOCATE,
    ActionKind.TEST: pb.RECOMMENDATION_KIND_RUN_EXPERIMENT,
}
_COUNTRIES = frozenset(holidays.list_supported_countries())
MAX_DURATION_DAYS = 182
MAX_HORIZON_DAYS = 365
MAX_CELLS = 5
MAX_LIST = 1000
# Money and multipliers: finite and far inside what a double holds exactly in cents.
_MAX_MONEY = 1e13


class _Check:
    """Collects field violations so one error names every bad field."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, message: str) -> None:
        self.violations.append(FieldViolation(field, message))

    def org(self, org_id: str) -> None:
        try:
            require_org(org_id)
        except InvalidInput as exc:
            self.violations.extend(exc.violations)

    def number(self, value: float, field: str, low: float, high: float, *,
               open_low: bool = False, open_high: bool = False) -> float:  # fmt: skip
        ok = (
            math.isfinite(value)
            and (value > low if open_low else value >= low)
            and (value < high if open_high else value <= high)
        )
        if not ok:
            lo, hi = (
                ("(" if open_low else "[") + f"{low:g}",
                f"{high:g}" + (")" if open_high else "]"),
            )
            self.add(field, f"{field} {value!r} must be in {lo}, {hi}")
        return value

    def level(self, alpha: float, field: str, default: float) -> float:
        if alpha == 0.0:
            return default
        self.number(alpha, field, 0.0, 0.5, open_low=True, open_high=True)
        return 1.0 - alpha

    def metric(self, value: int, field: str) -> str | None:
        if value not in _METRICS:
            self.add(field, f"{field} must be OUTCOME_METRIC_REVENUE or OUTCOME_METRIC_CONVERSIONS")
            return None
        return _METRICS[value]

    def done(self) -> None:
        collect(self.violations)


def _date(value: common_pb.Date, field: str, check: _Check) -> dt.date | None:
    try:
        return date_from_proto(value, field, required=False)
    except InvalidInput as exc:
        check.violations.extend(exc.violations)
        return None


# -- DesignExperiment ---------------------------------------------------------------------


def _cells(request: pb.DesignExperimentRequest, check: _Check) -> tuple[CellSpec, ...]:
    raw = list(request.cells) or [
        pb.DesignCell(
            treatment_type=request.treatment_type, spend_multiplier=request.spend_multiplier
        )
    ]
    prefix = "cells" if request.cells else ""
    if len(raw) > MAX_CELLS:
        check.add("cells", f"at most {MAX_CELLS} cells, got {len(raw)}")
    out = []
    for i, cell in enumerate(raw):
        at = f"{prefix}[{i}]." if prefix else ""
        kind = _CELL_KINDS.get(cell.treatment_type)
        if kind is None:
            check.add(f"{at}treatment_type",
                      "treatment_type must be HOLDOUT, BUDGET_DECREASE or BUDGET_INCREASE")  # fmt: skip
            continue
        m = cell.spend_multiplier
        if cell.treatment_type == md_pb.TREATMENT_TYPE_BUDGET_DECREASE:
            check.number(m, f"{at}spend_multiplier", 0.0, 1.0, open_low=True, open_high=True)
        elif kind is TreatmentKind.GO_DARK and m != 0.0:
            check.add(
                f"{at}spend_multiplier", "a holdout turns spend off: spend_multiplier must be 0"
            )
        elif kind is TreatmentKind.HEAVY_UP:
            if m == 0.0 and not request.HasField("budget"):
                check.add(f"{at}spend_multiplier",
                          "a heavy-up needs spend_multiplier > 1 or a budget")  # fmt: skip
            elif m != 0.0:
                check.number(m, f"{at}spend_multiplier", 1.0, 100.0, open_low=True)
        out.append(CellSpec(kind, m))
    return tuple(out)


def design_question(request: pb.DesignExperimentRequest) -> DesignQuestion:
    """DesignExperimentRequest → DesignQuestion; every bad field named at once."""
    check = _Check()
    check.org(request.org_id)
    if not request.channel:
        check.add("channel", "channel is required")
    if request.unit not in (
        common_pb.RANDOMIZATION_UNIT_UNSPECIFIED,
        common_pb.RANDOMIZATION_UNIT_GEO,
    ):
        check.add("unit", "only geo experiments are designed (unit RANDOMIZATION_UNIT_GEO)")
    metric = check.metric(request.metric, "metric") or "revenue"
    lift = request.minimum_detectable_lift
    if lift:
        check.number(lift, "minimum_detectable_lift", 0.0, 1.0, open_low=True, open_high=True)
    alpha = 1.0 - check.level(request.alpha, "alpha", 0.95)
    power = request.power or 0.8
    check.number(power, "power", 0.5, 0.99)
    if len(request.duration_days) > 52:
        check.add("duration_days", "at most 52 durations")
    for i, d in enumerate(request.duration_days):
        if not 7 <= d <= MAX_DURATION_DAYS:
            check.add(f"duration_days[{i}]", f"duration {d} must be 7..{MAX_DURATION_DAYS} days")
    start = _date(request.history.start_date, "history.start_date", check)
    end = _date(request.history.end_date, "history.end_date", check)
    if start and end and end < start:
        check.add("history.end_date", f"history ends {end} before it starts {start}")
    cells = _cells(request, check)
    share = request.treatment_share or len(cells) / (len(cells) + 1)
    check.number(share, "treatment_share", 0.0, 1.0, open_low=True, open_high=True)
    budget = None
    if request.HasField("budget"):
        budget = check.number(
            request.budget.amount, "budget.amount", 0.0, _MAX_MONEY, open_low=True
        )
    roas = None
    if request.HasField("expected_roas"):
        roas = check.number(request.expected_roas, "expected_roas", 0.0, 1e6)
    if request.pre_period_days and not 28 <= request.pre_period_days <= 365:
        check.add("pre_period_days", f"pre_period_days {request.pre_period_days} must be 28..365")
    if request.experiment_id and (
        len(request.experiment_id) > 50
        or not all(c.isalnum() or c in "-_" for c in request.experiment_id)
    ):
        check.add("experiment_id", "experiment_id must be 1-50 letters, digits, '-' or '_'")
    if request.seed < 0:
        check.add("seed", f"seed {request.seed} must be >= 0")
    begin = _date(request.start_date, "start_date", check)
    if len(request.name) > 200:
        check.add("name", "name must be at most 200 characters")
    check.done()
    spec = DesignSpec(
        channel=request.channel, cells=cells, method=_ASSIGNMENT.get(
            request.assignment, AssignmentMethod.MATCHED_MARKETS),
        treatment_share=share, alpha=alpha, target_power=power, lift=lift or None,
        budget=budget, durations=tuple(request.duration_days),
        pre_period_days=request.pre_period_days, seed=request.seed,
    )  # fmt: skip
    return DesignQuestion(
        org_id=request.org_id, spec=spec, metric=metric, history_start=start,
        history_end=end, analysis_id=request.analysis_id, expected_roas=roas,
        save=request.save, experiment_id=request.experiment_id, start_date=begin,
        name=request.name,
    )  # fmt: skip


def _power_point(p: PowerPoint) -> pb.PowerPoint:
    return pb.PowerPoint(
        duration_days=p.duration_days, power=p.power,
        minimum_detectable_lift=p.mde_lift, minimum_detectable_effect=p.mde_absolute,
        spend_change=p.spend_change, minimum_detectable_roas=p.min_detectable_roas,
        expected_lift=p.expected_lift, power_at_expected=p.power_at_expected,
        placebo_windows=p.placebo_windows,
    )  # fmt: skip


def _treatment_type(cell: CellDesign) -> int:
    if cell.spec.kind is TreatmentKind.HEAVY_UP:
        return md_pb.TREATMENT_TYPE_BUDGET_INCREASE
    return (
        md_pb.TREATMENT_TYPE_HOLDOUT
        if cell.spend_multiplier == 0
        else md_pb.TREATMENT_TYPE_BUDGET_DECREASE
    )


def cell_experiment(
    question: DesignQuestion, design: ExperimentDesign, cell: CellDesign, history_end: dt.date
) -> md_pb.CausalExperiment:
    """One cell as a registry experiment (status DRAFT), starting after the history."""
    base = question.experiment_id or f"design-{uuid.uuid4().hex[:12]}"
    eid = base if cell.index == 1 else f"{base}-cell{cell.index}"
    start = question.start_date or history_end + dt.timedelta(days=1)
    point = cell.recommended
    end = start + dt.timedelta(days=point.duration_days - 1)
    target = design.target_lift if design.target_lift is not None else abs(point.expected_lift)
    kind = "go-dark" if cell.spec.kind is TreatmentKind.GO_DARK else "heavy-up"
    return md_pb.CausalExperiment(
        experiment_id=eid, org_id=question.org_id,
        name=question.name or f"{design.channel} geo {kind}" + (
            f" (cell {cell.index})" if len(design.cells) > 1 else ""),
        start_date=date_to_proto(start), end_date=date_to_proto(end),
        treatment_type=_treatment_type(cell),  # type: ignore[arg-type]
        treatment_config=md_pb.TreatmentConfig(
            spend_multiplier=cell.spend_multiplier, intensity=1.0,
            description=f"{design.channel} spend × {cell.spend_multiplier:g} in treatment geos"),
        control_config=md_pb.TreatmentConfig(
            spend_multiplier=1.0, intensity=0.0, description="business as usual"),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
        statistical_power=md_pb.StatisticalPower(
            target_power=design.target_power, alpha=design.alpha,
            minimum_detectable_effect=point.mde_absolute / max(point.duration_days, 1)
            / max(len(cell.treatment_geos), 1),
            minimum_detectable_lift=point.mde_lift,
            expected_effect=target if math.isfinite(target) else 0.0,
            achieved_power=point.power if math.isfinite(point.power) else point.power_at_expected
            if math.isfinite(point.power_at_expected) else 0.0,
            sample_size_units=len(cell.treatment_geos) + len(design.control_geos),
            duration_days=point.duration_days),
        treatment_units=list(cell.treatment_geos), control_units=list(design.control_geos),
        channel=design.channel,
        primary_metric=METRIC_TO_PROTO.get(question.metric, common_pb.OUTCOME_METRIC_REVENUE),  # type: ignore[arg-type]
        status=md_pb.EXPERIMENT_STATUS_DRAFT,
        hypothesis=f"{kind} of {design.channel} changes first-party {question.metric} in the "
        f"treatment geos; powered at {design.target_power:.0%} for a {point.mde_lift:.1%} change "
        f"over {point.duration_days} days (TBR, one-sided alpha {design.alpha:g})",
    )  # fmt: skip


def proposed_experiment(
    org_id: str, design: ExperimentDesign, metric: str, after: dt.date
) -> md_pb.CausalExperiment:
    """A recommended test's design as a (not registered) experiment starting after ``after``."""
    question = DesignQuestion(
        org_id, DesignSpec(design.channel), metric, None, None,
        experiment_id=f"test-{design.channel}"[:50].replace("_", "-"),
    )  # fmt: skip
    return cell_experiment(question, design, design.cells[0], after)


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
    curves, skipped = [], []
    for m in result.response_models:
        row = spend.get(m.channel)
        if row is None or row.spend.amount <= 0 or m.reference_spend <= 0 or not m.scale:
            skipped.append(m.channel)
            continue
        identified = m.identified and row.identified and m.channel not in unidentified
        curves.append(HillCurve(
            channel=m.channel, reference_spend=m.reference_spend, period_days=m.period_days,
            scale=np.asarray(m.scale), half_saturation=np.asarray(m.half_saturation),
            shape=np.asarray(m.shape), nodes=np.asarray(m.nodes),
            node_weights=np.asarray(m.node_weights),
            carryover=np.asarray(m.carryover) if m.carryover else np.ones(1),
            identified=identified,
            note=m.note or ("" if identified else "the model could not identify its effect"),
        ))  # fmt: skip
    if skipped:
        warnings.append(
            "channels without spend are not planned (their input is impressions or sends): "
            + ", ".join(skipped)
        )
    if not curves:
        raise NotAnAttribution(
            f"analysis {aid!r} has no channel with spend and a response model to plan with",
            subject="analysis",
        )
    dr = result.date_range
    start = dt.date(dr.start_date.year, dr.start_date.month, dr.start_date.day)
    end = dt.date(dr.end_date.year, dr.end_date.month, dr.end_date.day)
    baseline = next((m.baseline_outcome for m in result.response_models if m.baseline_outcome), 0.0)
    currency = next((c.spend.currency_code for c in result.channels if c.spend.currency_code), "")
    return PlanningModel(
        analysis_id=aid, outcome=_OUTCOMES.get(result.outcome, "revenue"), start=start, end=end,
        curves=tuple(curves), baseline_total=baseline or result.baseline_outcome.estimate,
        currency=currency, warnings=tuple(warnings),
    )  # fmt: skip


ANALYSIS_TEXT = (
    "time-based regression: the treatment geos' daily outcome total regressed on the control "
    "geos' over the pre-period, the gap over the test period is the effect; one-sided test at "
    "alpha against the spread of the same analysis in placebo windows of the org's history, "
    "over re-randomisations of the design"
)


def design_to_proto(
    design: ExperimentDesign,
    experiments: list[md_pb.CausalExperiment],
    *,
    saved: bool,
) -> pb.DesignExperimentResponse:
    cells = []
    for cell, exp in zip(design.cells, experiments, strict=True):
        cells.append(pb.CellDesign(
            cell=cell.index, treatment_type=_treatment_type(cell),  # type: ignore[arg-type]
            spend_multiplier=cell.spend_multiplier, treatment_units=list(cell.treatment_geos),
            power_curve=[_power_point(p) for p in cell.power_curve],
            recommended_duration_days=cell.recommended_duration_days, feasible=cell.feasible,
            reason=cell.reason, pre_period_correlation=cell.pre_period_correlation,
            outcome_share=cell.outcome_share, experiment=exp,
        ))  # fmt: skip
    return pb.DesignExperimentResponse(
        experiment=experiments[0], power_curve=cells[0].power_curve, cells=cells,
        control_units=list(design.control_geos), feasible=design.feasible,
        pre_period_days=design.pre_period_days, history_days=design.history_days, saved=saved,
        warnings=list(design.warnings), analysis=ANALYSIS_TEXT,
    )  # fmt: skip


# -- PredictPerformance -------------------------------------------------------------------


def forecast_question(request: pb.PredictPerformanceRequest) -> ForecastQuestion:
    check = _Check()
    check.org(request.org_id)
    if not 1 <= request.horizon_days <= MAX_HORIZON_DAYS:
        check.add(
            "horizon_days", f"horizon_days {request.horizon_days} must be 1..{MAX_HORIZON_DAYS}"
        )
    level = check.level(request.alpha, "alpha", 0.95)
    metric = check.metric(request.outcome, "outcome") or "revenue"
    country = request.country_code or "US"
    if country not in _COUNTRIES:
        check.add("country_code",
                  "country_code must be an ISO 3166 alpha-2 code the holidays package knows, e.g. US")  # fmt: skip
    entries: list[PlanEntry] = []
    if len(request.plan) + len(request.daily_spend) > MAX_LIST:
        check.add("plan", f"at most {MAX_LIST} plan entries")
    for i, p in enumerate(request.plan):
        at = f"plan[{i}]"
        given = sum([p.HasField("daily_spend"), bool(p.daily), p.HasField("multiplier")])
        if not p.channel:
            check.add(f"{at}.channel", "channel is required")
        if given != 1:
            check.add(at, "give exactly one of daily_spend, daily or multiplier")
        if p.HasField("daily_spend"):
            check.number(p.daily_spend, f"{at}.daily_spend", 0.0, _MAX_MONEY)
        if p.HasField("multiplier"):
            check.number(p.multiplier, f"{at}.multiplier", 0.0, 100.0)
        for k, v in enumerate(p.daily[: MAX_HORIZON_DAYS + 1]):
            check.number(v, f"{at}.daily[{k}]", 0.0, _MAX_MONEY)
        entries.append(PlanEntry(p.channel, at, p.daily_spend if p.HasField("daily_spend") else None,
                                 tuple(p.daily), p.multiplier if p.HasField("multiplier") else None))  # fmt: skip
    for i, c in enumerate(request.daily_spend):
        at = f"daily_spend[{i}]"
        value = (
            c.max_spend
            if c.HasField("max_spend")
            else c.min_spend
            if c.HasField("min_spend")
            else None
        )
        if value is None:
            check.add(at, "set max_spend (the channel's daily spend)")
            continue
        check.number(value, f"{at}.max_spend", 0.0, _MAX_MONEY)
        entries.append(PlanEntry(c.channel, at, value))
    channels = [e.channel for e in entries]
    for i, name in enumerate(channels):
        if name and channels.index(name) != i:
            check.add(f"{entries[i].field}.channel", f"channel {name!r} is planned twice")
    if entries and not request.analysis_id:
        check.add("analysis_id", "a spend plan needs an attribution analysis to read it with")
    check.done()
    return ForecastQuestion(request.org_id, request.analysis_id, request.horizon_days, level,
                            tuple(entries), metric, country)  # fmt: skip


def interval_to_proto(value: Interval) -> common_pb.Interval:
    return common_pb.Interval(estimate=value.estimate, lower=value.lower, upper=value.upper,
                              level=value.level)  # fmt: skip


def forecast_to_proto(
    forecast: Forecast, metric: str, warnings: tuple[str, ...] = ()
) -> pb.PredictPerformanceResponse:
    points = [
        pb.ForecastPoint(date=date_to_proto(d.item()), outcome=interval_to_proto(v))
        for d, v in zip(forecast.dates.astype("datetime64[D]"), forecast.daily, strict=True)
    ]
    return pb.PredictPerformanceResponse(
        points=points, total=interval_to_proto(forecast.total),
        baseline_total=interval_to_proto(forecast.baseline_total),
        media_total=interval_to_proto(forecast.media_total),
        warnings=list(warnings) + list(forecast.warnings),
        outcome=METRIC_TO_PROTO[metric],  # type: ignore[arg-type]
    )  # fmt: skip


# -- OptimizeBudget -----------------------------------------------------------------------


def optimize_question(request: pb.OptimizeBudgetRequest) -> OptimizeQuestion:
    check = _Check()
    check.org(request.org_id)
    if not request.analysis_id:
        check.add("analysis_id", "analysis_id is required")
    target = None
    if request.HasField("target_marginal_roas"):
        target = check.number(request.target_marginal_roas, "target_marginal_roas", 0.0, 1e6,
                              open_low=True)  # fmt: skip
    budget = None
    if request.HasField("total_budget"):
        budget = check.number(request.total_budget.amount, "total_budget.amount", 0.0, _MAX_MONEY,
                              open_low=True)  # fmt: skip
    elif target is None:
        check.add("total_budget", "total_budget is required (or set target_marginal_roas)")
    if not 0 <= request.horizon_days <= MAX_HORIZON_DAYS:
        check.add(
            "horizon_days", f"horizon_days {request.horizon_days} must be 0..{MAX_HORIZON_DAYS}"
        )
    metric = check.metric(request.objective, "objective")
    margin, objective = 1.0, Objective.REVENUE if metric != "conversions" else Objective.CONVERSIONS
    if request.HasField("profit_margin"):
        margin = check.number(request.profit_margin, "profit_margin", 0.0, 100.0, open_low=True)
        objective = Objective.PROFIT
        if target is not None:
            check.add("profit_margin", "profit_margin and target_marginal_roas are exclusive")
    level = check.level(request.alpha, "alpha", 0.9)
    max_change = DEFAULT_MAX_CHANGE
    if request.HasField("max_change"):
        max_change = check.number(request.max_change, "max_change", 0.0, 10.0)
    if len(request.constraints) > MAX_LIST:
        check.add("constraints", f"at most {MAX_LIST} constraints")
    bounds = []
    for i, c in enumerate(request.constraints[:MAX_LIST]):
        at = f"constraints[{i}]"
        if not c.channel:
            check.add(f"{at}.channel", "channel is required")
        values = {}
        for name in ("min_spend", "max_spend", "min_ratio", "max_ratio"):
            if c.HasField(name):
                values[name] = check.number(getattr(c, name), f"{at}.{name}", 0.0,
                                            _MAX_MONEY if "spend" in name else 1e3)  # fmt: skip
        bounds.append(BoundRequest(c.channel, at, **values))
    check.done()
    return OptimizeQuestion(
        org_id=request.org_id, analysis_id=request.analysis_id, budget=budget,
        horizon_days=request.horizon_days, objective=objective, metric=metric, margin=margin,
        target_roas=target, level=level, bounds=tuple(bounds), max_change=max_change,
    )  # fmt: skip


def plan_to_proto(
    plan: BudgetPlan,
    *,
    horizon_days: int,
    metric: str,
    currency: str,
    warnings: tuple[str, ...] = (),
) -> pb.OptimizeBudgetResponse:
    allocations = []
    for c in plan.channels:
        status = pb.BOUND_STATUS_HELD if c.held else _BOUND_STATUS[c.bound]
        allocations.append(pb.ChannelAllocation(
            channel=c.channel, current_spend=c.current_spend, optimal_spend=c.optimal_spend,
            expected_outcome=interval_to_proto(c.optimal_outcome),
            marginal_roas=c.marginal_optimal.estimate,
            current_outcome=interval_to_proto(c.current_outcome),
            marginal_roas_current=interval_to_proto(c.marginal_current),
            marginal_roas_optimal=interval_to_proto(c.marginal_optimal),
            bound_status=status,  # type: ignore[arg-type]
            min_spend=c.lower_bound, max_spend=c.upper_bound, note=c.note,
        ))  # fmt: skip
    return pb.OptimizeBudgetResponse(
        allocations=allocations, current_outcome=interval_to_proto(plan.current_outcome),
        optimal_outcome=interval_to_proto(plan.optimal_outcome),
        uplift=interval_to_proto(plan.uplift), probability_better=plan.probability_better,
        shadow_price=plan.shadow_price, budget_binds=plan.budget_binds,
        total_budget=common_pb.Money(amount=plan.budget, currency_code=currency),
        horizon_days=horizon_days, outcome=METRIC_TO_PROTO[metric],  # type: ignore[arg-type]
        warnings=list(warnings) + list(plan.warnings) + ([] if plan.converged else
                                        [f"the optimiser did not report convergence: {plan.message}"]),
        converged=plan.converged,
    )  # fmt: skip


# -- Recommend ----------------------------------------------------------------------------


def recommend_question(request: pb.RecommendRequest) -> RecommendQuestion:
    check = _Check()
    check.org(request.org_id)
    if len(request.analysis_ids) > 20:
        check.add("analysis_ids", "at most 20 analyses")
    for i, a in enumerate(request.analysis_ids[:20]):
        if not a:
            check.add(f"analysis_ids[{i}]", "analysis id is empty")
    max_results = request.max_results or 10
    if not 1 <= max_results <= 100:
        check.add("max_results", f"max_results {request.max_results} must be 1..100")
    value = request.value_per_outcome or 1.0
    check.number(value, "value_per_outcome", 0.0, 100.0, open_low=True)
    if not 0 <= request.horizon_days <= MAX_HORIZON_DAYS:
        check.add(
            "horizon_days", f"horizon_days {request.horizon_days} must be 0..{MAX_HORIZON_DAYS}"
        )
    level = check.level(request.alpha, "alpha", 0.9)
    check.metric(request.objective, "objective")
    check.done()
    design = request.design_tests if request.HasField("design_tests") else True
    return RecommendQuestion(request.org_id, tuple(request.analysis_ids), value,
                             request.horizon_days, level, max_results, design)  # fmt: skip


def recommendations_to_proto(
    answer: Recommendations,
    question: RecommendQuestion,
    experiments: dict[str, md_pb.CausalExperiment],
) -> pb.RecommendResponse:
    out = []
    for rank, a in enumerate(answer.actions, start=1):
        rec = pb.Recommendation(
            recommendation_id=f"{question.analysis_ids[0]}-{rank}", kind=_KINDS[a.kind],  # type: ignore[arg-type]
            channel=a.channel, action=a.action, rationale=a.rationale,
            expected_impact=interval_to_proto(a.impact), confidence=a.confidence,
            analysis_ids=list(question.analysis_ids), priority=rank,
            facts=[pb.Fact(name=f.name, text=f.text,
                           value=interval_to_proto(f.value) if f.value is not None else None)
                   for f in a.facts],
            current_spend=a.current_spend, proposed_spend=a.proposed_spend,
        )  # fmt: skip
        if a.channel in experiments and a.kind is ActionKind.TEST:
            rec.proposed_experiment.CopyFrom(experiments[a.channel])
        out.append(rec)
    return pb.RecommendResponse(recommendations=out, warnings=list(answer.warnings))
