"""The SDK's surfacing calls: budget, forecast, experiment design, recommendations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import liftos_dc.liftos.v1 as dc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.sdk._base import (
    ClientBase,
    _date_pb,
    as_number,
    as_whole,
    choice,
    numbers_by_name,
    required_date,
)
from mesh.sdk.failures import InvalidArgument


class SurfacingCalls(ClientBase):
    """SurfacingService, through LiftOS."""

    # -- surfacing: budgets, forecasts, experiments, recommendations ---------------------------
    def optimize_budget(
        self,
        analysis_id: str,
        *,
        budget: float | None = None,
        days: int = 0,
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        spend_bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        profit_margin: float | None = None,
        target_marginal_roas: float | None = None,
        max_change: float | None = None,
        risk_aversion: float | None = None,
        campaign_bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        input_costs: Mapping[str, float] | None = None,
        alpha: float = 0.0,
        currency: str = "",
        org_id: str | None = None,
    ) -> dc.OptimizeBudgetResponse:
        """The spend per channel that maximises the outcome of a stored attribution analysis:
        ``budget`` over the analysis window (``days=0``) or the next ``days`` days; ``bounds``
        channel → (min, max) as multiples of current spend, ``spend_bounds`` as amounts (None:
        open); ``profit_margin`` maximises margin × outcome − spend instead;
        ``target_marginal_roas`` finds the largest budget whose marginal return meets it;
        ``max_change`` bounds channels without bounds to ±that share of their current spend
        (scaled to the budget when it is the total to spend; under a profit or target cap only
        scaled down, when the cap is below today's total; server default 0.3; 0: unbounded); ``risk_aversion`` is how many
        sd of the plan's gain across the model's draws it gives up (server default 1; 0: the
        posterior mean; the reply's ``risk_aversion`` says which was used); ``campaign_bounds``
        campaign → (min, max) as multiples of its current spend (the channel's spend is split
        over its campaigns in current proportions as they allow); ``input_costs`` channel →
        spend per unit of input, for a channel the analysis saw without spend."""
        limits: dict[str, dict[str, float]] = {}
        for name, (lo, hi) in (bounds or {}).items():
            limits.setdefault(name, {}).update(
                {k: v for k, v in (("min_ratio", lo), ("max_ratio", hi)) if v is not None})  # fmt: skip
        for name, (lo, hi) in (spend_bounds or {}).items():
            limits.setdefault(name, {}).update(
                {k: v for k, v in (("min_spend", lo), ("max_spend", hi)) if v is not None})  # fmt: skip
        for name, cost in (input_costs or {}).items():
            limits.setdefault(name, {})["cost_per_input"] = cost
        campaigns = [
            surfacing_pb.CampaignConstraint(campaign_id=k, **{n: v for n, v in
                                            (("min_ratio", lo), ("max_ratio", hi)) if v is not None})
            for k, (lo, hi) in (campaign_bounds or {}).items()
        ]  # fmt: skip
        request = surfacing_pb.OptimizeBudgetRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, horizon_days=days, alpha=alpha,
            constraints=[surfacing_pb.ChannelConstraint(channel=c, **v) for c, v in limits.items()],
            campaign_constraints=campaigns,
        )  # fmt: skip
        if budget is not None:
            request.total_budget.CopyFrom(
                common_pb.Money(amount=as_number(budget, "budget"), currency_code=currency)
            )
        if profit_margin is not None:
            request.profit_margin = profit_margin
        if target_marginal_roas is not None:
            request.target_marginal_roas = target_marginal_roas
        if max_change is not None:
            request.max_change = max_change
        if risk_aversion is not None:
            request.risk_aversion = risk_aversion
        reply = self._unary(lambda: self._surfacing.OptimizeBudget(request))
        return dc.OptimizeBudgetResponse.parse(reply.SerializeToString())

    def predict(
        self,
        analysis_id: str = "",
        *,
        days: int,
        daily_spend: Mapping[str, float] | None = None,
        multipliers: Mapping[str, float] | None = None,
        alpha: float = 0.0,
        country: str = "",
        fan_levels: Sequence[float] = (),
        org_id: str | None = None,
        daily_plan: Mapping[str, Sequence[float]] | None = None,
    ) -> dc.PredictPerformanceResponse:
        """The next ``days`` days of outcome with intervals: under a plan of ``daily_spend``
        (channel → spend per day), ``multipliers`` (channel → × recent daily spend) and/or
        ``daily_plan`` (channel → one spend per horizon day, ``days`` of them: a flight, a
        launch, a channel paused for part of the horizon) read with a stored attribution
        analysis; without one, the outcome from its own history.
        ``fan_levels`` (e.g. 0.5, 0.8, 0.95) adds one interval per level to every point and
        total (``fan``, ``total_fan``), for a fan chart. ``country`` (ISO 3166, "AU") names
        whose holidays the forecast knows; "" the analysis's holiday calendar, else the US."""
        plan = [
            surfacing_pb.SpendPlan(channel=c, daily_spend=v)
            for c, v in numbers_by_name(daily_spend, "daily_spend").items()
        ]
        plan += [
            surfacing_pb.SpendPlan(channel=c, multiplier=v)
            for c, v in numbers_by_name(multipliers, "multipliers").items()
        ]
        plan += [
            surfacing_pb.SpendPlan(channel=c, daily=_per_day(v, f"daily_plan[{c!r}]", days))
            for c, v in (daily_plan or {}).items()
        ]
        named = [p.channel for p in plan]
        if twice := sorted({c for c in named if named.count(c) > 1}):
            raise InvalidArgument(
                f"{', '.join(twice)} is planned more than once: give each channel in one of "
                "daily_spend, multipliers and daily_plan",
                field="daily_plan",
            )
        request = surfacing_pb.PredictPerformanceRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, horizon_days=as_whole(days, "days"),
            alpha=alpha,
            plan=plan, country_code=country, fan_levels=list(fan_levels),
        )  # fmt: skip
        reply = self._unary(lambda: self._surfacing.PredictPerformance(request))
        return dc.PredictPerformanceResponse.parse(reply.SerializeToString())

    def design_experiment(
        self,
        channel: str,
        *,
        duration_days: Sequence[int] = (),
        lift: float = 0.0,
        power: float = 0.0,
        alpha: float = 0.0,
        heavy_up: float | None = None,
        budget: float | None = None,
        cells: Sequence[tuple[str, float]] = (),
        stratified: bool = False,
        treatment_share: float = 0.0,
        analysis_id: str = "",
        expected_roas: float | None = None,
        history: tuple[dt.date | str, dt.date | str] | None = None,
        save: bool = False,
        experiment_id: str = "",
        start: dt.date | str | None = None,
        seed: int = 0,
        metric: str = "",
        org_id: str | None = None,
    ) -> dc.DesignExperimentResponse:
        """A geo experiment for ``channel`` powered on the org's history: a holdout (default),
        a heavy-up at ``heavy_up`` × spend (or as much as ``budget`` buys), or ``cells`` of
        ("holdout" | "decrease" | "heavy_up", multiplier); power at ``lift`` (or at the effect
        ``analysis_id`` / ``expected_roas`` implies) over ``duration_days``; ``save``
        registers it; ``history`` (first, last day) and ``start`` are dates or ISO strings. ``metric`` ("revenue" | "conversions") is the outcome powered on: by
        default the analysis's (revenue without one); one other than the analysis's is refused."""
        kinds = {"holdout": md_pb.TREATMENT_TYPE_HOLDOUT,
                 "decrease": md_pb.TREATMENT_TYPE_BUDGET_DECREASE,
                 "heavy_up": md_pb.TREATMENT_TYPE_BUDGET_INCREASE}  # fmt: skip
        for kind, _ in cells:
            if kind not in kinds:
                raise InvalidArgument(f"cells: {kind!r} must be one of {', '.join(kinds)}",
                                      field="cells")  # fmt: skip
        request = surfacing_pb.DesignExperimentRequest(
            org_id=self._org(org_id), channel=channel, duration_days=list(duration_days),
            minimum_detectable_lift=lift, power=power, alpha=alpha,
            cells=[surfacing_pb.DesignCell(treatment_type=kinds[k],
                                           spend_multiplier=as_number(m, f"cells[{k!r}]"))
                   for k, m in cells],
            assignment=surfacing_pb.ASSIGNMENT_METHOD_STRATIFIED if stratified
            else surfacing_pb.ASSIGNMENT_METHOD_MATCHED_MARKETS,
            treatment_share=treatment_share, analysis_id=analysis_id, save=save,
            experiment_id=experiment_id, seed=seed,
            metric=choice(common_pb.OutcomeMetric, "OUTCOME_METRIC_", metric, "metric"),  # type: ignore[arg-type]
        )  # fmt: skip
        if heavy_up is not None or (budget is not None and not cells):
            request.treatment_type = md_pb.TREATMENT_TYPE_BUDGET_INCREASE
            request.spend_multiplier = heavy_up or 0.0
        if budget is not None:
            request.budget.CopyFrom(common_pb.Money(amount=as_number(budget, "budget")))
        if expected_roas is not None:
            request.expected_roas = expected_roas
        if history is not None:
            first, last = history
            request.history.start_date.CopyFrom(_date_pb(required_date(first, "history[0]")))
            request.history.end_date.CopyFrom(_date_pb(required_date(last, "history[1]")))
        if start is not None:
            request.start_date.CopyFrom(_date_pb(required_date(start, "start")))
        reply = self._unary(lambda: self._surfacing.DesignExperiment(request))
        return dc.DesignExperimentResponse.parse(reply.SerializeToString())

    def recommend(
        self,
        analysis_ids: Sequence[str] = (),
        *,
        max_results: int = 0,
        value_per_outcome: float = 0.0,
        days: int = 0,
        alpha: float = 0.0,
        design_tests: bool = True,
        risk_aversion: float | None = None,
        org_id: str | None = None,
    ) -> dc.RecommendResponse:
        """Ranked actions (scale, cut, hold, reallocate, test) from an attribution analysis
        (default: the org's latest), each with its impact, interval, confidence and facts;
        ``risk_aversion`` weighs the reallocation as in ``optimize_budget``."""
        request = surfacing_pb.RecommendRequest(
            org_id=self._org(org_id), analysis_ids=list(analysis_ids), max_results=max_results,
            value_per_outcome=value_per_outcome, horizon_days=days, alpha=alpha,
            design_tests=design_tests,
        )  # fmt: skip
        if risk_aversion is not None:
            request.risk_aversion = risk_aversion
        reply = self._unary(lambda: self._surfacing.Recommend(request))
        return dc.RecommendResponse.parse(reply.SerializeToString())

    def check_analysis_data(
        self, analysis_id: str, *, org_id: str | None = None
    ) -> dc.CheckAnalysisDataResponse:
        """What changed under a stored analysis's window since it was made (restated or late
        rows, a revised exchange rate, spend moved between days or geos), in the words
        ``recommend`` and ``optimize_budget`` put first; ``warnings`` is empty when nothing
        changed on the ``compared_days`` days compared (0: none could be: the analysis keeps
        no daily series, e.g. an effect estimate). ``counterfactual`` answers from the
        analysis as it was made and does not look: ask this first (``explain``'s text opens
        with these lines itself)."""
        request = surfacing_pb.CheckAnalysisDataRequest(
            org_id=self._org(org_id), analysis_id=analysis_id
        )
        reply = self._unary(lambda: self._surfacing.CheckAnalysisData(request))
        return dc.CheckAnalysisDataResponse.parse(reply.SerializeToString())


def _per_day(values: Sequence[float], argument: str, days: object) -> list[float]:
    """One spend per horizon day, each a number, as many as ``days``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidArgument(
            f"{argument} must be a sequence of daily spends, one per horizon day", field=argument
        )
    out = [as_number(v, f"{argument}[{i}]") for i, v in enumerate(values)]
    if len(out) != as_whole(days, "days"):
        raise InvalidArgument(
            f"{argument} has {len(out)} daily values for a {days}-day horizon: give one per day "
            "(0 on the days the channel does not spend)",
            field=argument,
        )
    return out
