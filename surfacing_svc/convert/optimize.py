"""OptimizeBudget: the question and the plan."""

from __future__ import annotations

import math
import re

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.quoting import shown
from surfacing_svc.convert.fields import (
    BOUND_STATUS,
    MAX_HORIZON_DAYS,
    MAX_LIST,
    MAX_MONEY,
    METRIC_TO_PROTO,
    FieldChecks,
)
from surfacing_svc.convert.forecast import interval_to_proto
from surfacing_svc.errors import InvalidRequest
from surfacing_svc.optimizer import BudgetPlan, Objective
from surfacing_svc.planning import (
    DEFAULT_MAX_CHANGE,
    BoundRequest,
    CampaignBoundRequest,
    OptimizeQuestion,
)

# -- OptimizeBudget -----------------------------------------------------------------------


# An ISO 4217 alphabetic code: three ASCII letters (compared case-insensitively, as before).
_ISO_4217 = re.compile("[A-Za-z]{3}")


def check_budget_currency(request: pb.OptimizeBudgetRequest, currency: str) -> None:
    """A budget in another currency than the analysis's amounts would be planned as if it were
    theirs: refused, naming both (no currency given: the analysis's is meant). A code that
    is not ISO 4217's shape is refused as such, quoted escaped (R7-F4: control characters
    and terminal escapes were echoed raw, and reported as a mismatch)."""
    given = request.total_budget.currency_code if request.HasField("total_budget") else ""
    if given and not _ISO_4217.fullmatch(given):
        raise InvalidRequest(
            f"total_budget.currency_code {shown(given)} is not an ISO 4217 currency code "
            "(three letters, e.g. USD)",
            field="total_budget.currency_code",
        )
    if given and currency and given.upper() != currency.upper():
        raise InvalidRequest(
            f"total_budget is in {given} and the analysis's amounts are in {currency}: give the "
            f"budget in {currency} (LiftOS converts a channel's spend with the org's registered "
            "rates, not a request's budget)",
            field="total_budget.currency_code",
        )


def _margin(value: float, check: FieldChecks) -> float:
    """profit_margin: the share of the (revenue) outcome that is profit, a fraction in (0, 1].
    It once read "(0, 100]", so 30 meant as 30% was taken as 30 × revenue and gave the
    opposite plan (s18 R32); a margin above 1 (profit above revenue) is refused naming the
    fraction it likely meant."""
    if math.isfinite(value) and value > 1.0:
        meant = f"{value / 100:g} for a {value:g}% margin" if value <= 100 else "0.3 for 30%"
        check.add(
            "profit_margin",
            f"profit_margin {value:g} is above 1: it is the profit share of revenue, a fraction "
            f"in (0, 1] ({meant}); {value:g} would read as profit of {value:g} × revenue",
        )
        return value
    return check.number(value, "profit_margin", 0.0, 1.0, open_low=True)


def optimize_question(request: pb.OptimizeBudgetRequest) -> OptimizeQuestion:
    check = FieldChecks()
    check.org(request.org_id)
    if not request.analysis_id:
        check.add("analysis_id", "analysis_id is required")
    target = None
    if request.HasField("target_marginal_roas"):
        target = check.number(request.target_marginal_roas, "target_marginal_roas", 0.0, 1e6,
                              open_low=True)  # fmt: skip
    budget = None
    if request.HasField("total_budget"):
        budget = check.number(request.total_budget.amount, "total_budget.amount", 0.0, MAX_MONEY,
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
        margin = _margin(request.profit_margin, check)
        objective = Objective.PROFIT
        if target is not None:
            check.add("profit_margin", "profit_margin and target_marginal_roas are exclusive")
    level = check.level(request.alpha, "alpha", 0.9)
    max_change = DEFAULT_MAX_CHANGE
    if request.HasField("max_change"):
        max_change = check.number(request.max_change, "max_change", 0.0, 10.0)
    risk = check.risk(request)
    if len(request.constraints) > MAX_LIST:
        check.add("constraints", f"at most {MAX_LIST} constraints")
    bounds = []
    for i, c in enumerate(request.constraints[:MAX_LIST]):
        at = f"constraints[{i}]"
        if not c.channel:
            check.add(f"{at}.channel", "channel is required")
        values = _bound_values(c, at, check)
        if c.HasField("cost_per_input"):
            values["cost_per_input"] = check.number(c.cost_per_input, f"{at}.cost_per_input",
                                                    0.0, MAX_MONEY, open_low=True)  # fmt: skip
        bounds.append(BoundRequest(c.channel, at, **values))
    if len(request.campaign_constraints) > MAX_LIST:
        check.add("campaign_constraints", f"at most {MAX_LIST} campaign_constraints")
    campaign_bounds = []
    for i, k in enumerate(request.campaign_constraints[:MAX_LIST]):
        at = f"campaign_constraints[{i}]"
        if not k.campaign_id:
            check.add(f"{at}.campaign_id", "campaign_id is required")
        campaign_bounds.append(
            CampaignBoundRequest(k.campaign_id, at, **_bound_values(k, at, check))
        )
    check.done()
    return OptimizeQuestion(
        org_id=request.org_id, analysis_id=request.analysis_id, budget=budget,
        horizon_days=request.horizon_days, objective=objective, metric=metric, margin=margin,
        target_roas=target, level=level, bounds=tuple(bounds), max_change=max_change,
        campaign_bounds=tuple(campaign_bounds), risk=risk,
    )  # fmt: skip


def _bound_values(
    c: pb.ChannelConstraint | pb.CampaignConstraint, at: str, check: FieldChecks
) -> dict[str, float]:
    values = {}
    for name in ("min_spend", "max_spend", "min_ratio", "max_ratio"):
        if c.HasField(name):
            values[name] = check.number(getattr(c, name), f"{at}.{name}", 0.0,
                                        MAX_MONEY if "spend" in name else 1e3)  # fmt: skip
    return values


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
        status = pb.BOUND_STATUS_HELD if c.held else BOUND_STATUS[c.bound]
        campaigns = [
            pb.CampaignAllocation(
                campaign_id=k.campaign_id, current_spend=k.current_spend,
                optimal_spend=k.optimal_spend, min_spend=k.lower_bound, max_spend=k.upper_bound,
                bound_status=BOUND_STATUS[k.bound],  # type: ignore[arg-type]
            )
            for k in plan.campaigns
            if k.channel == c.channel
        ]  # fmt: skip
        allocations.append(pb.ChannelAllocation(
            channel=c.channel, current_spend=c.current_spend, optimal_spend=c.optimal_spend,
            expected_outcome=interval_to_proto(c.optimal_outcome),
            marginal_roas=c.marginal_optimal.estimate,
            current_outcome=interval_to_proto(c.current_outcome),
            marginal_roas_current=interval_to_proto(c.marginal_current),
            marginal_roas_optimal=interval_to_proto(c.marginal_optimal),
            bound_status=status,  # type: ignore[arg-type]
            min_spend=c.lower_bound, max_spend=c.upper_bound, note=c.note, campaigns=campaigns,
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
        converged=plan.converged, risk_aversion=plan.risk,
    )  # fmt: skip
