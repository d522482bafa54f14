"""Proto ↔ domain for the causal service. Bad input raises InvalidInput naming the field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.default_graph import default_marketing_graph
from causal_svc.errors import InvalidGraph, InvalidSpec
from causal_svc.estimators.registry import EstimationOptions
from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from causal_svc.graph import CausalGraph, GraphAnalysis, Node, NodeRole
from causal_svc.identification import Strategy
from causal_svc.record_tables import Aggregation
from mesh.runtime.protoconv import date_from_proto
from mesh.tables import table_to_frame

_METHODS = {
    causal_pb.ESTIMATION_METHOD_AUTO: Method.AUTO,
    causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS: Method.DIFFERENCE_IN_MEANS,
    causal_pb.ESTIMATION_METHOD_DID: Method.DID,
    causal_pb.ESTIMATION_METHOD_EVENT_STUDY: Method.EVENT_STUDY,
    causal_pb.ESTIMATION_METHOD_STAGGERED_DID: Method.STAGGERED_DID,
    causal_pb.ESTIMATION_METHOD_IV: Method.IV,
    causal_pb.ESTIMATION_METHOD_RDD: Method.RDD,
    causal_pb.ESTIMATION_METHOD_MATCHING: Method.MATCHING,
    causal_pb.ESTIMATION_METHOD_IPW: Method.IPW,
    causal_pb.ESTIMATION_METHOD_AIPW: Method.AIPW,
    causal_pb.ESTIMATION_METHOD_SYNTHETIC_CONTROL: Method.SYNTHETIC_CONTROL,
    causal_pb.ESTIMATION_METHOD_DML: Method.DML,
    causal_pb.ESTIMATION_METHOD_BSTS: Method.BSTS,
    causal_pb.ESTIMATION_METHOD_NAIVE_REGRESSION: Method.NAIVE_REGRESSION,
}
METHOD_TO_PROTO = {v: k for k, v in _METHODS.items()}
_ESTIMANDS = {
    causal_pb.ESTIMAND_ATE: Estimand.ATE,
    causal_pb.ESTIMAND_ATT: Estimand.ATT,
    causal_pb.ESTIMAND_LATE: Estimand.LATE,
    causal_pb.ESTIMAND_CATE: Estimand.CATE,
}
ESTIMAND_TO_PROTO = {v: k for k, v in _ESTIMANDS.items()}
CHECK_KIND_TO_PROTO = {k: causal_pb.CheckKind.Value(f"CHECK_KIND_{k.name}") for k in CheckKind}
CHECK_OUTCOME_TO_PROTO = {
    o: causal_pb.CheckOutcome.Value(f"CHECK_OUTCOME_{o.name}") for o in CheckOutcome
}


def method_from_proto(value: int) -> Method:
    if value == causal_pb.ESTIMATION_METHOD_UNSPECIFIED:
        raise InvalidSpec(
            "method is required (use ESTIMATION_METHOD_AUTO to let LiftOS choose)", field="method"
        )
    try:
        return _METHODS[value]  # type: ignore[index]  # enum ValueType is an int at runtime
    except KeyError:
        raise InvalidSpec(f"unknown method {value}", field="method") from None


def spec_from_proto(roles: causal_pb.EffectRoles, estimand: int) -> EffectSpec:
    if not roles.outcome:
        raise InvalidSpec("roles.outcome is required", field="roles.outcome")
    if not roles.treatment:
        raise InvalidSpec("roles.treatment is required", field="roles.treatment")
    return EffectSpec(
        outcome=roles.outcome,
        treatment=roles.treatment,
        unit=roles.unit or None,
        time=roles.time or None,
        covariates=tuple(roles.covariates),
        instruments=tuple(roles.instruments),
        running_variable=roles.running_variable or None,
        cutoff=roles.cutoff if roles.HasField("cutoff") else None,
        cluster=roles.cluster or None,
        weights=roles.weights or None,
        effect_modifiers=tuple(roles.effect_modifiers),
        pre_outcome=roles.pre_outcome or None,
        estimand=_ESTIMANDS.get(estimand, Estimand.ATE),  # type: ignore[call-overload]
    )


def estimand_given(estimand: int) -> bool:
    return estimand != causal_pb.ESTIMAND_UNSPECIFIED


def alpha_from_proto(alpha: float) -> float:
    if alpha == 0:
        return 0.05
    if not 0 < alpha < 1 or math.isnan(alpha):
        raise InvalidSpec(f"alpha {alpha} must be in (0, 1)", field="alpha")
    return alpha


def frame_from_request(request: causal_pb.EstimateEffectRequest) -> pd.DataFrame:
    """The inline table (``records`` queries are read from memory by the service)."""
    if request.WhichOneof("data") == "table":
        frame = table_to_frame(request.table, field="table")
        if frame.empty:
            raise InvalidSpec("table has no rows", field="table.row_count")
        return frame
    raise InvalidSpec("data is required: an inline table or a records query", field="table")


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """What to read from memory and how to aggregate it."""

    start: dt.date | None
    end: dt.date | None
    sources: list[int]
    campaign_ids: list[str]
    channels: list[str]
    experiment_id: str
    aggregation: Aggregation


_AGGREGATIONS = {
    causal_pb.AGGREGATION_LEVEL_UNSPECIFIED: Aggregation.GEO_DAY,
    causal_pb.AGGREGATION_LEVEL_GEO_DAY: Aggregation.GEO_DAY,
    causal_pb.AGGREGATION_LEVEL_CAMPAIGN_DAY: Aggregation.CAMPAIGN_DAY,
    causal_pb.AGGREGATION_LEVEL_CHANNEL_DAY: Aggregation.CHANNEL_DAY,
    causal_pb.AGGREGATION_LEVEL_DAY: Aggregation.DAY,
    causal_pb.AGGREGATION_LEVEL_RECORD: Aggregation.RECORD,
}


def record_query_from_proto(query: causal_pb.RecordQuery) -> RecordQuery:
    where = "records.date_range."
    start = date_from_proto(query.date_range.start_date, where + "start_date", required=False)
    end = date_from_proto(query.date_range.end_date, where + "end_date", required=False)
    if start and end and end < start:
        raise InvalidSpec(f"end_date {end} is before start_date {start}", field=where + "end_date")
    if query.aggregation not in _AGGREGATIONS:
        raise InvalidSpec(f"unknown aggregation {query.aggregation}", field="records.aggregation")
    return RecordQuery(
        start=start,
        end=end,
        sources=list(query.sources),
        campaign_ids=list(query.campaign_ids),
        channels=list(query.channels),
        experiment_id=query.experiment_id,
        aggregation=_AGGREGATIONS[query.aggregation],
    )


def _opt(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def estimate_to_proto(
    estimate: EffectEstimate, *, outcome: str, treatment: str, summary: str
) -> causal_pb.EffectEstimate:
    """The domain estimate as the contract; non-finite optional figures are left unset."""
    out = causal_pb.EffectEstimate(
        method=METHOD_TO_PROTO[estimate.method],
        estimand=ESTIMAND_TO_PROTO[estimate.estimand],
        point_estimate=estimate.point_estimate,
        std_error=estimate.stderr,
        ci_lower=estimate.ci_lower,
        ci_upper=estimate.ci_upper,
        alpha=estimate.alpha,
        p_value=estimate.pvalue,
        n=estimate.nobs,
        n_treated=estimate.n_treated or 0,
        n_control=estimate.n_control or 0,
        supported=estimate.supported,
        warnings=list(estimate.warnings),
        statistics={k: float(v) for k, v in estimate.statistics.items() if math.isfinite(float(v))},
        summary=summary,
        outcome=outcome,
        treatment=treatment,
    )
    for check in estimate.checks:
        c = out.checks.add(
            name=check.name,
            kind=CHECK_KIND_TO_PROTO[check.kind],
            outcome=CHECK_OUTCOME_TO_PROTO[check.outcome],
            interpretation=check.interpretation,
        )
        for attr in ("statistic", "p_value", "threshold", "new_effect"):
            value = _opt(getattr(check, attr))
            if value is not None:
                setattr(c, attr, value)
    for row in estimate.coefficients:
        out.coefficients.add(
            name=row.name,
            estimate=row.estimate,
            std_error=row.stderr,
            ci_lower=row.ci_lower,
            ci_upper=row.ci_upper,
            p_value=row.p_value,
            n=row.nobs or 0,
        )
    for series in estimate.series:
        out.series.add(
            name=series.name,
            index=list(series.index),
            values=list(series.values),
            lower=list(series.lower or ()),
            upper=list(series.upper or ()),
        )
    for name, weights in estimate.weights.items():
        out.weights.add(name=name, weights={str(k): float(v) for k, v in weights.items()})
    for bal in estimate.balance:
        b = out.balance.add(
            covariate=bal.covariate,
            smd_before=bal.smd_before,
            smd_after=bal.smd_after,
            mean_treated=bal.mean_treated,
            mean_control=bal.mean_control,
        )
        if bal.variance_ratio is not None and math.isfinite(bal.variance_ratio):
            b.variance_ratio = bal.variance_ratio
    return out


# -- graphs -------------------------------------------------------------------------------------

_ROLE_FROM_PROTO = {
    md_pb.NODE_ROLE_TREATMENT: NodeRole.TREATMENT,
    md_pb.NODE_ROLE_OUTCOME: NodeRole.OUTCOME,
    md_pb.NODE_ROLE_CONFOUNDER: NodeRole.CONFOUNDER,
    md_pb.NODE_ROLE_MEDIATOR: NodeRole.MEDIATOR,
    md_pb.NODE_ROLE_INSTRUMENT: NodeRole.INSTRUMENT,
    md_pb.NODE_ROLE_COVARIATE: NodeRole.COVARIATE,
    md_pb.NODE_ROLE_EXPERIMENT: NodeRole.EXPERIMENT,
    md_pb.NODE_ROLE_UNSPECIFIED: NodeRole.COVARIATE,
}


def _node_from_proto(node: md_pb.CausalNode, field: str) -> Node:
    if not node.id:
        raise InvalidGraph("node id is required", field=f"{field}.id")
    if node.role == md_pb.NODE_ROLE_COLLIDER:
        role = NodeRole.COVARIATE  # a collider is a property of a question, derived, not declared
    else:
        role = _ROLE_FROM_PROTO.get(node.role, NodeRole.COVARIATE)
    return Node(node.id, role, node.observed, node.column or None, node.label)


def _edges(edges: Sequence[md_pb.CausalEdge], field: str) -> list[tuple[str, str]]:
    out = []
    for i, e in enumerate(edges):
        if not e.source or not e.target:
            raise InvalidGraph("edge needs source and target", field=f"{field}[{i}]")
        out.append((e.source, e.target))
    return out


def graph_from_proto(graph: md_pb.CausalGraph, field: str = "graph") -> CausalGraph | None:
    """A caller-supplied graph, or None when the message is empty."""
    if not graph.nodes and not graph.edges:
        return None
    nodes = [_node_from_proto(n, f"{field}.nodes[{i}]") for i, n in enumerate(graph.nodes)]
    known = {n.name for n in nodes}
    for a, b in _edges(graph.edges, f"{field}.edges"):
        for end in (a, b):
            if end not in known:
                nodes.append(Node(end))
                known.add(end)
    return CausalGraph(tuple(nodes), tuple(_edges(graph.edges, f"{field}.edges")))


def build_graph_from_request(request: causal_pb.BuildGraphRequest) -> CausalGraph:
    """The default DAG (unless excluded) merged with the caller's nodes and edge edits."""
    base = CausalGraph((), ()) if request.exclude_default_graph else default_marketing_graph()
    existing = set(base.names())
    new_nodes: list[Node] = []
    observed: list[str] = []
    unobserved: list[str] = []
    for i, node in enumerate(request.nodes):
        parsed = _node_from_proto(node, f"nodes[{i}]")
        if parsed.name in existing and node.role == md_pb.NODE_ROLE_UNSPECIFIED and not node.column:
            (observed if node.observed else unobserved).append(parsed.name)
        else:
            if parsed.name in existing and node.role == md_pb.NODE_ROLE_UNSPECIFIED:
                parsed = Node(
                    parsed.name,
                    base.node(parsed.name).role,
                    parsed.observed,
                    parsed.column,
                    parsed.description,
                )
            new_nodes.append(parsed)
    return base.with_edits(
        add_nodes=new_nodes,
        remove_edges=_edges(request.remove_edges, "remove_edges"),
        add_edges=_edges(request.add_edges, "add_edges"),
        observed=observed,
        unobserved=unobserved,
    )


def graph_to_proto(graph: CausalGraph, analysis: GraphAnalysis | None = None) -> md_pb.CausalGraph:
    """The graph with each node's role for the question asked (when an analysis is given)."""
    roles: dict[str, int] = {}
    if analysis is not None:
        roles.update({n: md_pb.NODE_ROLE_CONFOUNDER for n in analysis.confounders})
        roles.update({n: md_pb.NODE_ROLE_MEDIATOR for n in analysis.mediators})
        roles.update({i.name: md_pb.NODE_ROLE_INSTRUMENT for i in analysis.instruments})
        roles[analysis.treatment] = md_pb.NODE_ROLE_TREATMENT
        roles[analysis.outcome] = md_pb.NODE_ROLE_OUTCOME
    out = md_pb.CausalGraph()
    for n in graph.nodes:
        default = (
            md_pb.NODE_ROLE_EXPERIMENT
            if n.role is NodeRole.EXPERIMENT
            else md_pb.NODE_ROLE_COVARIATE
        )
        out.nodes.add(
            id=n.name, label=n.description or n.name, role=roles.get(n.name, default),
            observed=n.observed, column=n.data_column,
        )  # fmt: skip
    for a, b in graph.edges:
        out.edges.add(source=a, target=b)
    return out


def build_graph_response(
    graph: CausalGraph, analysis: GraphAnalysis
) -> causal_pb.BuildGraphResponse:
    response = causal_pb.BuildGraphResponse(
        graph=graph_to_proto(graph, analysis),
        confounders=list(analysis.confounders),
        mediators=list(analysis.mediators),
        instruments=[i.name for i in analysis.instruments],
        identifiable=analysis.identifiable,
        identification_reason=analysis.reason,
        frontdoor_available=analysis.frontdoor_set is not None,
        frontdoor_set=list(analysis.frontdoor_set or ()),
    )
    seen: set[tuple[str, ...]] = set()
    for variables, minimal in (
        (analysis.minimal_adjustment_set, True),
        (analysis.optimal_adjustment_set, False),
    ):
        if variables is not None and tuple(variables) not in seen:
            seen.add(tuple(variables))
            response.adjustment_sets.add(variables=list(variables), minimal=minimal)
    return response


# -- strategy -----------------------------------------------------------------------------------

_KIND = {
    Method.DIFFERENCE_IN_MEANS: causal_pb.IDENTIFICATION_KIND_RANDOMIZED,
    Method.DID: causal_pb.IDENTIFICATION_KIND_PARALLEL_TRENDS,
    Method.EVENT_STUDY: causal_pb.IDENTIFICATION_KIND_PARALLEL_TRENDS,
    Method.STAGGERED_DID: causal_pb.IDENTIFICATION_KIND_PARALLEL_TRENDS,
    Method.IV: causal_pb.IDENTIFICATION_KIND_INSTRUMENT,
    Method.RDD: causal_pb.IDENTIFICATION_KIND_DISCONTINUITY,
    Method.MATCHING: causal_pb.IDENTIFICATION_KIND_BACKDOOR,
    Method.IPW: causal_pb.IDENTIFICATION_KIND_BACKDOOR,
    Method.AIPW: causal_pb.IDENTIFICATION_KIND_BACKDOOR,
    Method.DML: causal_pb.IDENTIFICATION_KIND_BACKDOOR,
    Method.SYNTHETIC_CONTROL: causal_pb.IDENTIFICATION_KIND_SYNTHETIC_COUNTERFACTUAL,
    Method.BSTS: causal_pb.IDENTIFICATION_KIND_SYNTHETIC_COUNTERFACTUAL,
    Method.NAIVE_REGRESSION: causal_pb.IDENTIFICATION_KIND_NONE,
}


def strategy_to_proto(strategy: Strategy) -> causal_pb.IdentificationStrategy:
    return causal_pb.IdentificationStrategy(
        method=METHOD_TO_PROTO[strategy.method],
        kind=_KIND.get(strategy.method, causal_pb.IDENTIFICATION_KIND_UNSPECIFIED),
        reason=strategy.reason,
        assumptions=list(strategy.assumptions),
        adjustment_set=list(strategy.adjustment_set),
        alternatives=[METHOD_TO_PROTO[m] for m in strategy.alternatives if m in METHOD_TO_PROTO],
    )


def options_from_proto(request: causal_pb.EstimateEffectRequest, alpha: float) -> EstimationOptions:
    o = request.options
    if o.refutation_simulations < 0:
        raise InvalidSpec(
            "refutation_simulations must not be negative", field="options.refutation_simulations"
        )
    if o.HasField("caliper") and not o.caliper > 0:
        raise InvalidSpec("caliper must be positive", field="options.caliper")
    if o.HasField("bandwidth") and not o.bandwidth > 0:
        raise InvalidSpec("bandwidth must be positive", field="options.bandwidth")
    return EstimationOptions(
        alpha=alpha,
        estimand=_ESTIMANDS.get(request.estimand),
        seed=o.seed,
        event_study_leads=o.event_study_leads or None,
        event_study_lags=o.event_study_lags or None,
        caliper=o.caliper if o.HasField("caliper") else None,
        bandwidth=o.bandwidth if o.HasField("bandwidth") else None,
        dml_forest=o.dml_forest,
        propensity_trim=o.propensity_trim if o.HasField("propensity_trim") else None,
    )
