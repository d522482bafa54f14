"""Proto ↔ domain for the surfacing service, one module per RPC (and the attribution model
plans read). Bad input raises InvalidInput naming every field at fault."""

from surfacing_svc.convert.design import (
    cell_experiment,
    design_id,
    design_question,
    design_to_proto,
    proposed_experiment,
    shared_control,
)
from surfacing_svc.convert.forecast import forecast_country, forecast_question, forecast_to_proto
from surfacing_svc.convert.models import budget_response_share, planning_model
from surfacing_svc.convert.optimize import check_budget_currency, optimize_question, plan_to_proto
from surfacing_svc.convert.recommend import (
    effect_evidence,
    listed_analyses,
    recommend_question,
    recommendations_to_proto,
)

__all__ = [
    "budget_response_share",
    "cell_experiment",
    "check_budget_currency",
    "design_id",
    "design_question",
    "design_to_proto",
    "effect_evidence",
    "forecast_country",
    "forecast_question",
    "forecast_to_proto",
    "listed_analyses",
    "optimize_question",
    "plan_to_proto",
    "planning_model",
    "proposed_experiment",
    "recommend_question",
    "recommendations_to_proto",
    "shared_control",
]
