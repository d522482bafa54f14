"""PredictPerformance: the question and the forecast."""

from __future__ import annotations

from dataclasses import replace

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.protoconv import date_to_proto
from surfacing_svc.convert.fields import (
    COUNTRIES,
    MAX_HORIZON_DAYS,
    MAX_LIST,
    MAX_MONEY,
    METRIC_TO_PROTO,
    FieldChecks,
)
from surfacing_svc.forecast import Forecast
from surfacing_svc.intervals import Interval
from surfacing_svc.planning import (
    ForecastQuestion,
    PlanEntry,
    PlanningModel,
)

MAX_FAN_LEVELS = 10

# -- PredictPerformance -------------------------------------------------------------------


def forecast_question(request: pb.PredictPerformanceRequest) -> ForecastQuestion:
    check = FieldChecks()
    check.org(request.org_id)
    if not 1 <= request.horizon_days <= MAX_HORIZON_DAYS:
        check.add(
            "horizon_days", f"horizon_days {request.horizon_days} must be 1..{MAX_HORIZON_DAYS}"
        )
    # 90%, as every other figure of an analysis (table, Recommend, OptimizeBudget,
    # Counterfactual): a 95% forecast beside them read as more uncertain than it is (R20-F7).
    level = check.level(request.alpha, "alpha", 0.9)
    metric = check.metric(request.outcome, "outcome") or "revenue"
    # unset: the analysis's calendar, else the US (forecast_country, once the analysis is read)
    country = request.country_code
    if country and country not in COUNTRIES:
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
            check.number(p.daily_spend, f"{at}.daily_spend", 0.0, MAX_MONEY)
        if p.HasField("multiplier"):
            check.number(p.multiplier, f"{at}.multiplier", 0.0, 100.0)
        for k, v in enumerate(p.daily[: MAX_HORIZON_DAYS + 1]):
            check.number(v, f"{at}.daily[{k}]", 0.0, MAX_MONEY)
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
        check.number(value, f"{at}.max_spend", 0.0, MAX_MONEY)
        entries.append(PlanEntry(c.channel, at, value))
    channels = [e.channel for e in entries]
    for i, name in enumerate(channels):
        if name and channels.index(name) != i:
            check.add(f"{entries[i].field}.channel", f"channel {name!r} is planned twice")
    fan = tuple(request.fan_levels)
    if len(fan) > MAX_FAN_LEVELS:
        check.add("fan_levels", f"at most {MAX_FAN_LEVELS} fan_levels")
    for i, q in enumerate(fan[: MAX_FAN_LEVELS + 1]):
        check.number(q, f"fan_levels[{i}]", 0.0, 1.0, open_low=True, open_high=True)
        if q in fan[:i]:
            check.add(f"fan_levels[{i}]", f"fan_levels[{i}] {q!r} is asked twice")
    if entries and not request.analysis_id:
        check.add("analysis_id", "a spend plan needs an attribution analysis to read it with")
    check.done()
    return ForecastQuestion(request.org_id, request.analysis_id, request.horizon_days, level,
                            tuple(entries), metric, country, fan)  # fmt: skip


def forecast_country(
    question: ForecastQuestion, model: PlanningModel | None
) -> tuple[ForecastQuestion, tuple[str, ...]]:
    """The question with the country whose holidays the forecast knows, and what to say of it.

    The request's country_code where it names one; else the holidays the analysis controlled
    (its holiday_calendar_country: an Australian org's analysis forecasts with Australia Day,
    not Thanksgiving), said, since the caller did not choose it; else the US, said when an
    analysis was read but does not name its calendar (stored before it did).
    """
    if question.country:
        return question, ()
    if model is None:
        return replace(question, country="US"), ()
    aid, ask = model.analysis_id, "for another, set country_code (liftos predict --country)"
    if model.holiday_country in COUNTRIES:
        return replace(question, country=model.holiday_country), (
            f"holiday calendar: {model.holiday_country}, the one analysis {aid!r} controlled "
            f"(the country of most of its {model.outcome}); {ask}",
        )
    return replace(question, country="US"), (
        f"holiday calendar: US, the default: analysis {aid!r} does not say whose holidays it "
        f"controlled (it was stored before analyses said so); {ask}",
    )


def interval_to_proto(value: Interval) -> common_pb.Interval:
    return common_pb.Interval(estimate=value.estimate, lower=value.lower, upper=value.upper,
                              level=value.level)  # fmt: skip


def forecast_to_proto(
    forecast: Forecast, metric: str, warnings: tuple[str, ...] = ()
) -> pb.PredictPerformanceResponse:
    fans = forecast.daily_fan or ((),) * len(forecast.daily)
    days = forecast.dates.astype("datetime64[D]")
    points = [
        pb.ForecastPoint(
            date=date_to_proto(d.item()),
            outcome=interval_to_proto(v),
            fan=[interval_to_proto(b) for b in fan],
        )
        for d, v, fan in zip(days, forecast.daily, fans, strict=True)
    ]
    return pb.PredictPerformanceResponse(
        points=points, total=interval_to_proto(forecast.total),
        baseline_total=interval_to_proto(forecast.baseline_total),
        media_total=interval_to_proto(forecast.media_total),
        warnings=list(warnings) + list(forecast.warnings),
        outcome=METRIC_TO_PROTO[metric],  # type: ignore[arg-type]
        total_fan=[interval_to_proto(b) for b in forecast.total_fan],
        baseline_total_fan=[interval_to_proto(b) for b in forecast.baseline_total_fan],
        media_total_fan=[interval_to_proto(b) for b in forecast.media_total_fan],
    )  # fmt: skip
