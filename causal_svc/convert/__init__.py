"""Proto ↔ domain for the causal service, one module per RPC family. Bad input raises
InvalidInput naming the field."""

from causal_svc.convert.analyses import (
    analysis_id_from_proto,
    analysis_summary,
    delete_analyses_question,
    deleted_to_proto,
    list_analyses_question,
)
from causal_svc.convert.attribution import (
    ReportContext,
    attribution_question,
    code_version,
    counterfactual_question,
    counterfactual_response,
    lift_test,
    no_effect_tests,
    report_to_proto,
    require_usable_model,
    window_note,
)
from causal_svc.convert.estimates import (
    CHECK_KIND_TO_PROTO,
    CHECK_OUTCOME_TO_PROTO,
    ESTIMAND_TO_PROTO,
    METHOD_TO_PROTO,
    RecordQuery,
    estimate_question,
    estimate_to_proto,
    strategy_to_proto,
)
from causal_svc.convert.graphs import (
    build_graph_from_request,
    build_graph_response,
)

__all__ = [
    "CHECK_KIND_TO_PROTO",
    "CHECK_OUTCOME_TO_PROTO",
    "ESTIMAND_TO_PROTO",
    "METHOD_TO_PROTO",
    "RecordQuery",
    "ReportContext",
    "analysis_id_from_proto",
    "analysis_summary",
    "attribution_question",
    "build_graph_from_request",
    "build_graph_response",
    "code_version",
    "counterfactual_question",
    "counterfactual_response",
    "delete_analyses_question",
    "deleted_to_proto",
    "estimate_question",
    "estimate_to_proto",
    "lift_test",
    "list_analyses_question",
    "no_effect_tests",
    "report_to_proto",
    "require_usable_model",
    "strategy_to_proto",
    "window_note",
]
