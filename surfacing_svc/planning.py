"""What each surfacing RPC asks of the domain, once its request is converted: the questions,
the attribution model they read (:class:`PlanningModel`), and one function per RPC that puts
history, curves, optimiser, forecast and design together. Pure: the servicer fetches the
analysis and the history from its peers and hands them here, off the event loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from surfacing_svc.actions import EffectEvidence, effect_channel
from surfacing_svc.campaign_bounds import CampaignBoundRequest, campaign_bounds, tighter
from surfacing_svc.campaigns import CampaignSpend, campaign_plans
from surfacing_svc.curves import HillCurve
from surfacing_svc.design import CellSpec, DesignSpec, ExperimentDesign, TreatmentKind
from surfacing_svc.design import design_experiment as _design
from surfacing_svc.design.returns import added_return, lag_past_test
from surfacing_svc.errors import InvalidRequest, NotAnAttribution
from surfacing_svc.flighted_actions import flighted
from surfacing_svc.forecast import MIN_HISTORY_DAYS, Forecast, predict_performance
from surfacing_svc.history import GeoHistory, history_from_frame, refuse_start_within
from surfacing_svc.observed_days import observed_days
from surfacing_svc.optimizer import (
    DEFAULT_MAX_CHANGE,
    DEFAULT_RISK,
    BudgetPlan,
    ChannelBounds,
    Objective,
    change_bounds,
    change_scale,
    optimize_budget,
)
from surfacing_svc.proposed_tests import checked_against_peaks, propose_tests
from surfacing_svc.recommend import (
    Action,
    ActionKind,
    AnalysisEffect,
    Units,
    identification_at_risk,
    over_draws,
    recommend,
    recommend_plans,
)
from surfacing_svc.registered_holds import awaiting_read_out, held_channels, hold_warnings
from surfacing_svc.unproven_bounds import (
    UNPROVEN_FIELD,
    unproven,
    unproven_bounds,
    unproven_notes,
)
from surfacing_svc.usual_spend import (
    RanDays,
    RegisteredTest,
    RegisteredTests,
    input_note,
    input_plan,
    optimize_current_note,
    predict_note,
    run_rate_notes,
    usual_days,
)

__all__ = [
    "DEFAULT_MAX_CHANGE",
    "MAX_REVENUE_VALUE",
    "BoundRequest",
    "DesignQuestion",
    "EffectEvidence",
    "ForecastQuestion",
    "OptimizeQuestion",
    "PlanEntry",
    "PlanningModel",
    "RecommendQuestion",
    "answer_design",
    "answer_forecast",
    "answer_optimize",
    "answer_recommend",
    "effect_channel",
    "outcome_value",
]

# How each RPC asks for the other outcome, said when the history carries only that one.
_SWITCH_DESIGN = "DesignExperiment's metric; `liftos design --metric {other}`"
_SWITCH_PREDICT = ("PredictPerformance's outcome; from the CLI, name an analysis of {other}: "
                   "`liftos predict AN_ID`")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlanningModel:
    """An attribution analysis as the planner reads it: one response curve per channel over
    the analysis window, and the baseline outcome over that window."""

    analysis_id: str
    outcome: str  # "revenue" or "conversions"
    start: dt.date
    end: dt.date
    curves: tuple[HillCurve, ...]
    baseline_total: float
    currency: str = ""
    warnings: tuple[str, ...] = ()
    # Campaigns the analysis reports, with their spend over the window.
    campaigns: tuple[CampaignSpend, ...] = ()
    # Channels seen without spend (input: impressions or sends), curves in input units.
    unpriced: tuple[HillCurve, ...] = ()
    # The attribution table's rows (what ``analyze`` shows), which Recommend quotes.
    effects: tuple[AnalysisEffect, ...] = ()
    # Share of geo-days on which the analysis found paid budgets moving with demand (its
    # budget-response finding; None: not assessed), the channels a lift test calibrates, and
    # the experiments whose results calibrate it (their ids).
    budget_response_share: float | None = None
    calibrated: tuple[str, ...] = ()
    calibrated_by: tuple[str, ...] = ()
    # Its omitted_channels check and spend_scale REVIEW (a unit in doubt), in their words.
    omitted: str = ""
    spend_in_doubt: str = ""
    # ISO country whose holidays the analysis controlled ("" where it predates saying so)
    holiday_country: str = ""
    # Channels that started or stopped inside the window (the analysis's note on them, read).
    ran: Mapping[str, RanDays] = field(default_factory=dict)

    @property
    def period_days(self) -> int:
        return (self.end - self.start).days + 1

    def notes(self, priced: Sequence[str] = ()) -> tuple[str, ...]:
        """The model's warnings, and which channels without spend a plan leaves out."""
        left = [c.channel for c in self.unpriced if c.channel not in priced]
        if not left:
            return self.warnings
        return (*self.warnings, "channels without spend are not planned (their input is "
                "impressions or sends; constraints[].cost_per_input prices one): "
                + ", ".join(left))  # fmt: skip

    def at_risk(self) -> dict[str, str]:
        """Channels whose identification the analysis puts at risk, with why
        (:func:`surfacing_svc.recommend.identification_at_risk`)."""
        return identification_at_risk(
            self.curves, self.budget_response_share, self.calibrated, self.omitted
        )

    def channel(self, name: str) -> HillCurve | None:
        return next((c for c in self.curves if c.channel == name), None)

    def horizon(self, days: int) -> tuple[HillCurve, ...]:
        """The curves over the next ``days`` days (0: the analysis window replayed)."""
        return self.curves if days == 0 else tuple(c.over(days) for c in self.curves)


# -- DesignExperiment ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesignQuestion:
    org_id: str
    spec: DesignSpec
    metric: str | None  # None: the analysis's outcome, or revenue without one (design_metric)
    history_start: dt.date | None
    history_end: dt.date | None
    analysis_id: str = ""
    expected_roas: float | None = None
    save: bool = False
    experiment_id: str = ""
    start_date: dt.date | None = None
    name: str = ""


def _with_roas(curve: HillCurve, cell: CellSpec, effect: AnalysisEffect | None) -> CellSpec:
    """The cell with the channel's curve, which prices each duration at the multiplier it
    spends (R13-F1) and says how much of the effect a test of that length sees through the
    carry-over (R13-F4); its expected return at the cell's multiplier (a heavy-up left to the
    budget: the marginal return, the limit) and, where the analysis reports the channel's
    incremental effect with an interval, the same return at that interval's lower bound (the
    analysis's own gated figure: 0 where it did not establish an effect), scaled from the
    expected one: the design is powered at both. Both are the planning curve's returns (a
    mean over the draws), not the analysis table's iROAS, and the text says so."""
    left = cell.kind is TreatmentKind.HEAVY_UP and cell.spend_multiplier <= 1.0
    roas = added_return(curve, 1.0 if left else cell.spend_multiplier)
    cell = replace(cell, roas=roas, roas_from="planning curve", curve=curve)
    if effect is None or not effect.incremental.estimate > 0.0:
        return cell
    share = max(effect.incremental.lower, 0.0) / effect.incremental.estimate
    return replace(cell, roas_low=roas * share, level=effect.incremental.level)


def design_metric(question: DesignQuestion, model: PlanningModel | None) -> DesignQuestion:
    """The question with the outcome its power is computed on: the analysis's where the
    expected effect is read from one (its curve's return is in that outcome per unit of
    spend), else the metric asked for, revenue by default. A metric other than the
    analysis's is refused: its return divided by the other outcome's history is in no unit
    (R10-F10: conversions per USD over revenue read a 6% effect as 0.07%, power 5%)."""
    if model is None:
        return replace(question, metric=question.metric or "revenue")
    if question.metric is not None and question.metric != model.outcome:
        per = "conversions" if model.outcome == "conversions" else model.currency or "revenue"
        raise InvalidRequest(
            f"analysis {model.analysis_id!r} models {model.outcome} (its returns are {per} per "
            f"unit of spend), so its expected effect cannot be powered on the history's "
            f"{question.metric}: leave metric unset (the design then uses the analysis's "
            f"outcome) or set it to {model.outcome}",
            field="metric",
        )
    return replace(question, metric=model.outcome)


def answer_design(
    frame: pd.DataFrame,
    question: DesignQuestion,
    model: PlanningModel | None,
    tests: Sequence[RegisteredTest] = (),
    seasons: Mapping[str, Mapping[dt.date, float]] | None = None,
) -> tuple[ExperimentDesign, GeoHistory]:
    """The design for the question on the org's history (and, with a model, the expected
    effect of each cell from the channel's curve); the org's registered ``tests`` keep a
    test window out of the channel's business-as-usual levels; its registered ``seasons`` and
    the analysis's holiday calendar (else the US, as a forecast) are the peaks a test is
    checked against (R51-F3)."""
    question = design_metric(question, model)
    assert question.metric is not None
    history = history_from_frame(frame, metric=question.metric, switch=_SWITCH_DESIGN)
    refuse_start_within(question.start_date, history)
    cells = question.spec.cells
    if model is not None:
        curve = model.channel(question.spec.channel)
        if curve is None:
            known = ", ".join(c.channel for c in model.curves)
            raise InvalidRequest(
                f"analysis {model.analysis_id!r} has no curve for channel "
                f"{question.spec.channel!r}; it has: {known}",
                field="channel",
            )
        effect = next((e for e in model.effects if e.channel == question.spec.channel), None)
        cells = tuple(_with_roas(curve, c, effect) for c in cells)
    elif question.expected_roas is not None:
        cells = tuple(replace(c, roas=question.expected_roas) for c in cells)
    country = model.holiday_country if model is not None else ""
    spec = checked_against_peaks(replace(question.spec, cells=cells), country, seasons)
    design = _design(history, spec, tests)
    notes = tests.note() if isinstance(tests, RegisteredTests) else []
    longest = max((p.duration_days for c in design.cells for p in c.power_curve), default=0)
    notes += lag_past_test(model.warnings if model else (), question.spec.channel, longest)
    weak = [c for c in design.cells if not c.feasible]
    if question.save and weak:  # saved as asked, but not quietly (R5-F7)
        notes.append(
            "saved to the registry (as a draft) although "
            + "; ".join(f"{f'cell {c.index}' if len(design.cells) > 1 else 'it'} is not "
                        f"reachable: power {c.recommended.power:.0%} at "
                        f"{c.recommended.duration_days} days" for c in weak)
            + f" against the {design.target_power:.0%} asked: a test this weak may well come "
            "back null, and the registry keeps the id"
        )  # fmt: skip
    return replace(design, warnings=(*design.warnings, *notes)), history


# -- PredictPerformance -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One channel's spend over the horizon: a constant, a daily series, or a multiplier of
    recent spend."""

    channel: str
    field: str
    daily_spend: float | None = None
    daily: tuple[float, ...] = ()
    multiplier: float | None = None


@dataclass(frozen=True, slots=True)
class ForecastQuestion:
    org_id: str
    analysis_id: str
    horizon: int
    level: float
    plan: tuple[PlanEntry, ...] = ()
    metric: str = "revenue"
    country: str = "US"  # "" from a request naming none: convert.forecast_country resolves it
    fan_levels: tuple[float, ...] = ()


def answer_forecast(
    frame: pd.DataFrame,
    question: ForecastQuestion,
    model: PlanningModel | None,
    promotions: Mapping[dt.date, float] | None = None,
    seasons: Mapping[str, Mapping[dt.date, float]] | None = None,
    tests: Sequence[RegisteredTest] = (),
) -> Forecast:
    """The forecast for the question from the org's history, (optionally) its model, and its
    registered calendar: promotions (day -> nonzero while a promotion runs), seasons (name
    -> day -> nonzero inside) and tests (a channel's test window is not its usual spend);
    None or empty: none registered.

    With a model the forecast starts after the analysis's window: ``frame``'s later rows are
    not read as history but compared with the forecast's days (:mod:`observed_days`)."""
    metric = model.outcome if model is not None else question.metric
    later = None
    if model is not None and not frame.empty:
        after = (pd.to_datetime(frame["local_date"]) > pd.Timestamp(model.end)).to_numpy()
        frame, later = frame.loc[~after], frame.loc[after]
    history = history_from_frame(frame, metric=metric, min_days=MIN_HISTORY_DAYS,
                                 switch=_SWITCH_PREDICT)  # fmt: skip
    spend = history.national_spend()
    curves = model.curves if model is not None else ()
    usual = {c.channel: usual_days(history.dates, c.channel, tests) for c in curves}
    # Channels without spend (email sends, impressions): a plan scales their input, as
    # Counterfactual's multiplier does; their curve is in input units, read on the input.
    unpriced = {c.channel: c for c in model.unpriced} if model is not None else {}
    known = {c.channel for c in curves} | set(unpriced)
    plan: dict[str, np.ndarray] = {}
    inputs = history.national_input()
    for entry in question.plan:
        if entry.channel not in known:
            raise InvalidRequest(
                f"the analysis has no curve for channel {entry.channel!r}; it has: "
                + (", ".join(sorted(known)) or "none"),
                field=f"{entry.field}.channel",
            )
        if entry.channel in unpriced:
            if entry.multiplier is None:
                raise InvalidRequest(
                    f"{entry.channel} has no spend (its input is impressions or sends): give a "
                    "multiplier of its recent input",
                    field=f"{entry.field}.{'daily' if entry.daily else 'daily_spend'}",
                )
            spend[entry.channel], plan[entry.channel] = input_plan(
                unpriced[entry.channel], inputs, history.n_days, question.horizon,
                entry.multiplier)  # fmt: skip
            curves = (*curves, unpriced[entry.channel])
            continue
        recent = spend.get(entry.channel, np.zeros(history.n_days))[usual[entry.channel].index]
        if entry.daily:
            if len(entry.daily) != question.horizon:
                raise InvalidRequest(
                    f"{len(entry.daily)} daily values for a {question.horizon}-day horizon",
                    field=f"{entry.field}.daily",
                )
            plan[entry.channel] = np.asarray(entry.daily, dtype=np.float64)
        elif entry.daily_spend is not None:
            plan[entry.channel] = np.full(question.horizon, entry.daily_spend)
        else:
            plan[entry.channel] = np.full(
                question.horizon, float(recent.mean()) * (entry.multiplier or 0.0)
            )
    # A channel without spend the plan does not name keeps its recent input (×1), as a
    # priced one keeps its spend: media and baseline then split the outcome as the analysis
    # does, baseline = every channel off (R20-F4: email's effect was counted as baseline).
    unset = sorted(set(unpriced) - set(plan))
    for name in unset:
        spend[name], plan[name] = input_plan(unpriced[name], inputs, history.n_days,
                                              question.horizon, 1.0)  # fmt: skip
        curves = (*curves, unpriced[name])
    promotion = None
    if promotions:
        days = [d.item() for d in history.dates.astype("datetime64[D]")]
        promotion = np.array([promotions.get(d, 0.0) for d in days])
    forecast = predict_performance(
        history.dates, history.national(), spend, curves, plan, horizon=question.horizon,
        baseline_total=model.baseline_total if model is not None else None,
        level=question.level, fan_levels=question.fan_levels, country=question.country or "US",
        promotion=promotion, seasons=seasons,
        usual_days={k: u.index for k, u in usual.items()},
    )  # fmt: skip
    kept = [c.channel for c in curves if c.channel not in plan]
    scaled = {e.channel for e in question.plan if e.multiplier is not None}
    notes = [u.note for k, u in usual.items() if u.note and (k in kept or k in scaled)]
    notes += [predict_note(history.dates, kept, bool(notes))] if kept else []
    notes += [input_note(unset)] if unset else []
    notes += tests.note() if isinstance(tests, RegisteredTests) and curves else []
    if later is not None:
        seen = observed_days(later, history.geos, metric, forecast.dates, forecast.daily)
        note = seen.note(metric, planned=bool(question.plan))
        notes += [note] if note else []
    return replace(forecast, warnings=(*history.warnings, *forecast.warnings, *notes))


# -- OptimizeBudget -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoundRequest:
    """A channel's bounds as asked: absolute and/or relative to its current spend."""

    channel: str
    field: str
    min_spend: float | None = None
    max_spend: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None
    cost_per_input: float | None = None


@dataclass(frozen=True, slots=True)
class OptimizeQuestion:
    org_id: str
    analysis_id: str
    budget: float | None
    horizon_days: int
    objective: Objective
    metric: str | None  # the outcome asked for (None: the model's)
    margin: float = 1.0
    target_roas: float | None = None
    level: float = 0.9
    bounds: tuple[BoundRequest, ...] = ()
    max_change: float = DEFAULT_MAX_CHANGE
    campaign_bounds: tuple[CampaignBoundRequest, ...] = ()
    risk: float = DEFAULT_RISK


def _absolute_bounds(
    requests: Sequence[BoundRequest],
    curves: Mapping[str, HillCurve],
    *,
    max_change: float,
    budget: float | None,
    cap: bool,
) -> list[ChannelBounds]:
    out, seen = [], set()
    for b in requests:
        if b.channel not in curves:
            raise InvalidRequest(
                f"the analysis has no channel {b.channel!r}; it has: {', '.join(curves)}",
                field=f"{b.field}.channel",
            )
        if b.channel in seen:
            raise InvalidRequest(
                f"channel {b.channel!r} has more than one constraint", field=f"{b.field}.channel"
            )
        seen.add(b.channel)
        lo, hi = tighter(curves[b.channel].reference_spend, b.min_spend, b.max_spend,
                          b.min_ratio, b.max_ratio)  # fmt: skip
        if lo is None and hi is None and b.cost_per_input is not None:
            continue  # a price only: the channel keeps the default bound
        out.append(ChannelBounds(b.channel, lo, hi, field=b.field))
    out += change_bounds(tuple(curves.values()), max_change, budget,
                         skip=[b.channel for b in out], cap=cap)  # fmt: skip
    return out


def answer_optimize(model: PlanningModel, question: OptimizeQuestion) -> tuple[BudgetPlan, int]:
    """The allocation and the days it covers."""
    if question.metric is not None and question.metric != model.outcome:
        raise InvalidRequest(
            f"the analysis models {model.outcome}; it cannot optimise {question.metric}",
            field="objective",
        )
    if question.objective is Objective.PROFIT and model.outcome != "revenue":
        raise InvalidRequest(
            "a profit objective needs an analysis of revenue", field="profit_margin"
        )
    curves = model.horizon(question.horizon_days) + _priced(model, question)
    if not curves:
        raise NotAnAttribution(
            f"analysis {model.analysis_id!r} has no channel with spend to allocate",
            subject="analysis",
        )
    # A profit objective or a target return may leave budget unspent: the budget caps the
    # spend there, and the default bound stays around current spend instead of the cap.
    cap = question.objective is Objective.PROFIT or question.target_roas is not None
    # Never more spend on a channel the analysis did not establish, as Recommend (R6-F2).
    unsure = unproven(curves, {e.channel: e for e in model.effects})
    asked = [b.channel for b in _absolute_bounds(
        question.bounds, {c.channel: c for c in curves}, max_change=question.max_change,
        budget=question.budget, cap=cap) if b.field != "max_change"]  # fmt: skip
    scale = question.horizon_days / model.period_days if question.horizon_days else 1.0

    def bounds_at(
        budget: float | None,
    ) -> tuple[list[ChannelBounds], dict[str, list[tuple[CampaignSpend, float, float | None, float | None]]]]:  # fmt: skip
        """Every channel's bounds at a total ``budget``: the request's, else the default
        bound and the ceilings, which follow the budget (so the shadow price is what a larger
        budget buys through this RPC: R10-F15)."""
        out = _absolute_bounds(
            question.bounds, {c.channel: c for c in curves}, max_change=question.max_change,
            budget=budget, cap=cap,
        )  # fmt: skip
        out = unproven_bounds(out, curves, unsure, asked, change_scale(curves, budget, cap=cap))
        return campaign_bounds(question.campaign_bounds, model.campaigns, curves, out, scale)

    bounds, per_campaign = bounds_at(question.budget)
    ratio = change_scale(curves, question.budget, cap=cap)
    plan = optimize_budget(
        curves, objective=question.objective, budget=question.budget, bounds=bounds,
        margin=question.margin, target_roas=question.target_roas, level=question.level,
        risk=question.risk, bounds_at=lambda b: bounds_at(b)[0],
    )  # fmt: skip
    capped = [
        p.channel for p, b in zip(plan.channels, _by_channel(bounds, plan), strict=True)
        if b is not None and p.bound.value != "none" and (b.field == "max_change" or (
            b.field == UNPROVEN_FIELD and p.bound.value == "lower"))
    ]  # fmt: skip
    plan = replace(plan, warnings=(*plan.warnings, *unproven_notes(plan, unsure, asked, ratio)))
    if capped:
        scale = change_scale(curves, question.budget, cap=cap)
        scaled = "" if abs(scale - 1.0) < 1e-9 else f" (scaled ×{scale:.3g} to the budget)"
        plan = replace(plan, warnings=(*plan.warnings, (
            f"held within ±{question.max_change:.0%} of current spend{scaled} by the default "
            f"bound: {', '.join(capped)}; a constraint or max_change widens it")))  # fmt: skip
    if question.target_roas is not None and model.outcome != "revenue":
        # The target is in the outcome's units per unit of spend: on conversions a "ROAS" of 1
        # is one conversion per unit of currency, a marginal cost per conversion of 1 (R4-F12).
        per = 1.0 / question.target_roas
        plan = replace(plan, warnings=(*plan.warnings, (
            f"the analysis models {model.outcome}: target_marginal_roas "
            f"{question.target_roas:g} is read as {model.outcome} per unit of spend, i.e. each "
            f"channel is spent until one more conversion costs {per:,.4g} "
            f"{model.currency or 'units of the spend currency'}, not as a return in money")))  # fmt: skip
    if per_campaign:
        spend = {p.channel: p.optimal_spend for p in plan.channels}
        plan = replace(plan, campaigns=tuple(
            c for name, rows in per_campaign.items()
            for c in campaign_plans(name, spend[name], rows)))  # fmt: skip
    if plan.budget_binds and any(c.identified for c in curves):
        # What the uplift is, and why Counterfactual on the same spends differs (R10-F5).
        draws = max(c.n_draws for c in curves)
        plan = replace(plan, warnings=(*plan.warnings, (
            f"uplift: {over_draws(draws, question.level)}; the share of draws that gain is of "
            "the same draws")))  # fmt: skip
    # Two verbs, two "current"s (R5-F4): named in the answer, as predict names its own.
    # Over the window itself the figures are its totals: said as "× its days", not as "mean
    # daily spend ... over that window" beside 120-day totals (R6-F9).
    days = question.horizon_days or model.period_days
    note = optimize_current_note(model.start, model.end, days)
    ran = run_rate_notes(
        ((p.channel, p.current_spend, p.optimal_spend) for p in plan.channels), model.ran, days
    )
    return replace(plan, warnings=(*plan.warnings, *ran, note)), days


def _priced(model: PlanningModel, question: OptimizeQuestion) -> tuple[HillCurve, ...]:
    """Channels seen without spend that the request prices (cost_per_input): their curve
    read in spend — spend = input × cost, so only the reference moves."""
    out = []
    for b in question.bounds:
        if b.cost_per_input is None:
            continue
        curve = next((c for c in model.unpriced if c.channel == b.channel), None)
        if curve is None:
            why = ("has spend: its curve is in spend already" if model.channel(b.channel)
                   else "is not in the analysis")  # fmt: skip
            raise InvalidRequest(
                f"cost_per_input is for a channel the analysis saw without spend; "
                f"{b.channel!r} {why}",
                field=f"{b.field}.cost_per_input",
            )
        curve = replace(curve, reference_spend=curve.reference_spend * b.cost_per_input)
        out.append(curve.over(question.horizon_days) if question.horizon_days else curve)
    return tuple(out)


def _by_channel(bounds: Sequence[ChannelBounds], plan: BudgetPlan) -> list[ChannelBounds | None]:
    named = {b.channel: b for b in bounds}
    return [named.get(p.channel) for p in plan.channels]


# -- Recommend ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecommendQuestion:
    org_id: str
    analysis_ids: tuple[str, ...]
    # None: not given (revenue is worth itself; a conversions analysis is refused without it).
    value_per_outcome: float | None = None
    horizon_days: int = 0
    level: float = 0.9
    max_results: int = 10
    design_tests: bool = True
    risk: float = DEFAULT_RISK


@dataclass(frozen=True, slots=True)
class Recommendations:
    actions: tuple[Action, ...]
    horizon_days: int
    warnings: tuple[str, ...] = field(default=())


# The most one unit of revenue may be valued at (a margin, or a multiplier of revenue).
MAX_REVENUE_VALUE = 100.0


def outcome_value(model: PlanningModel, question: RecommendQuestion) -> float:
    """What one unit of the model's outcome is worth against one unit of spend: the question's
    ``value_per_outcome``, or 1 for revenue at face value. A conversions analysis without it is
    refused: valued at 1 (one conversion worth one unit of currency), break-even would sit at
    one conversion per unit of spend, and every channel read as losing money with certainty
    (R4-F12: 'cut every channel, confidence 100%' at a 10 USD cost per conversion)."""
    value = question.value_per_outcome
    if model.outcome == "revenue":
        if value is not None and value > MAX_REVENUE_VALUE:
            raise InvalidRequest(
                f"value_per_outcome {value:g} must be in (0, {MAX_REVENUE_VALUE:g}] for a revenue "
                "analysis (the value of one unit of revenue: 1 at face value, a 30% margin 0.3)",
                field="value_per_outcome",
            )
        return 1.0 if value is None else value
    if value is None:
        currency = model.currency or "the spend's currency"
        raise InvalidRequest(
            f"analysis {model.analysis_id!r} models {model.outcome}, not money: give "
            f"value_per_outcome, what one conversion is worth in {currency} (an order's average "
            "value or margin; `liftos recommend --value-per-outcome 80`), so that a channel's "
            "conversions per unit of spend can be weighed against its cost; budget moves are "
            "not recommended without it",
            field="value_per_outcome",
        )
    return value


def answer_recommend(
    model: PlanningModel,
    question: RecommendQuestion,
    history: pd.DataFrame | None,
    evidence: Sequence[EffectEvidence] = (),
    tests: Sequence[RegisteredTest] = (),
    reallocate: bool = True,
    seasons: Mapping[str, Mapping[dt.date, float]] | None = None,
) -> Recommendations:
    """Ranked actions (the channels' alone without ``reallocate``); channels that need a test
    get a go-dark design on the org's history, designed as DesignExperiment designs one
    (:mod:`surfacing_svc.proposed_tests`): the org's registered ``tests`` are not business as
    usual nor placebo windows, its registered ``seasons`` and the analysis's holiday calendar
    are the peaks a test is checked against, and both are said in the warnings.
    A channel whose effect estimate failed its checks is tested, never moved, whatever the
    attribution model says of it; one whose registered test awaits its read-out is held."""
    value = outcome_value(model, question)
    failed = {e.channel: e for e in evidence if not e.supported}
    curves = tuple(
        replace(c, identified=False, note=f"its effect estimate {failed[c.channel].analysis_id!r} "
                f"failed its checks" + (f": {failed[c.channel].summary}"
                                        if failed[c.channel].summary else ""))
        if c.channel in failed and c.identified else c
        for c in model.horizon(question.horizon_days)
    )  # fmt: skip
    warnings = list(model.notes())
    if model.outcome == "revenue" and value > 1:
        # R12-F7: a conversion's value (README's 80) on a revenue analysis scaled every impact
        warnings.append(
            f"value_per_outcome {value:g} values each unit of revenue at {value:g}: a margin is "
            "at most 1 (0.3 for 30%), so above 1 only a lifetime-value multiple of first-order "
            "revenue makes sense; every impact and return here is scaled by it"
        )
    at_risk = {k: v for k, v in model.at_risk().items() if k not in failed}
    designs: dict[str, ExperimentDesign] = {}
    effects = {e.channel: e for e in model.effects}
    held, unmodelled = held_channels(awaiting_read_out(
        tests, model.start, model.end, model.calibrated_by), [c.channel for c in curves])  # fmt: skip
    # Budget moves are OptimizeBudget's answers with its default bound (recommend's
    # equal_budget_plan and break_even_plan), so the two RPCs agree on one analysis; made
    # once, as the actions are ranked twice where experiments are designed.
    plans = recommend_plans(
        curves, value_per_outcome=value, level=question.level, max_change=DEFAULT_MAX_CHANGE,
        risk=question.risk, effects=effects, at_risk=at_risk, under_test=held,
        reallocate=reallocate,
    )  # fmt: skip

    def ranked() -> tuple[Action, ...]:
        return flighted(recommend(
            curves, value_per_outcome=value, designs=designs,
            level=question.level, max_results=len(curves) + 1, max_change=DEFAULT_MAX_CHANGE,
            risk=question.risk, effects=effects, at_risk=at_risk, plans=plans,
            units=Units(value, model.outcome, model.currency), under_test=held, end=model.end,
        ), model.ran, question.horizon_days or model.period_days, plans.equal_budget)  # fmt: skip

    actions = ranked()
    # Channels tested: the unidentified, and those at risk whose draws asked for more spend.
    untested = [a.channel for a in actions if a.kind is ActionKind.TEST]
    if untested and question.design_tests and history is not None:
        # As `liftos design` designs them: the peaks it checks and the registry's caveats said.
        proposed, said = propose_tests(history, model.outcome, untested, tests,
                                       model.holiday_country, seasons)  # fmt: skip
        designs.update(proposed)
        warnings += said
        if designs:
            actions = ranked()
    warnings += hold_warnings(held, model.end, getattr(tests, "unread", "")) + unmodelled
    if at_risk:
        warnings.append(
            f"paid budgets moved with demand on {model.budget_response_share:.0%} of the "
            "analysis's geo-days, which puts its identification at risk: no channel that a lift "
            f"test does not calibrate is given more spend ({', '.join(at_risk)}); a test, or an "
            "analysis calibrated by one, can"
        )
    return Recommendations(
        actions[: question.max_results], question.horizon_days or model.period_days,
        tuple(warnings),
    )  # fmt: skip
