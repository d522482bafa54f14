"""Proto ↔ domain for the causal service. Bad input raises InvalidInput naming the field."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import table_pb2 as table_pb

from causal_svc import limits
from causal_svc.attribution import (
    AttributionReport,
    CounterfactualResult,
    Interval,
    LiftTest,
    ModelSpec,
    SpendChange,
    Verdict,
)
from causal_svc.attribution.planning import ResponseModel
from causal_svc.default_graph import default_marketing_graph
from causal_svc.errors import InvalidGraph, InvalidSpec, NotAnAttribution
from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    Coefficient,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from causal_svc.graph import CausalGraph, GraphAnalysis, Node, NodeRole
from causal_svc.identification import Strategy
from causal_svc.jobs import EstimateJob
from causal_svc.methods import METHODS, EstimationOptions
from causal_svc.record_tables import Aggregation
from mesh.runtime.exceptions import shown
from mesh.runtime.protoconv import date_from_proto, enum_from_proto, int_in_range, require_org
from mesh.runtime.tables import table_to_frame

# Domain enums and the wire's share member names (``Method.DID`` ↔ ``ESTIMATION_METHOD_DID``);
# a test checks that every member has its counterpart.
METHOD_TO_PROTO = {
    m: causal_pb.EstimationMethod.Value(f"ESTIMATION_METHOD_{m.name}") for m in Method
}
_METHODS = {v: k for k, v in METHOD_TO_PROTO.items()}
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


# -- requests: every field checked at the edge, before any work -------------------------------


def _text(value: str, field: str, limit: int = limits.MAX_NAME_CHARS) -> str:
    if len(value) > limit:
        raise InvalidSpec(
            f"{field} is {len(value):,} characters; at most {limit:,} are allowed "
            f"(starts {shown(value[:40])})",
            field=field,
        )
    return value


def _texts(values: Sequence[str], field: str, most: int) -> tuple[str, ...]:
    if len(values) > most:
        raise InvalidSpec(
            f"{field} has {len(values):,} entries; at most {most:,} are allowed", field=field
        )
    return tuple(_text(v, f"{field}[{i}]") for i, v in enumerate(values))


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise InvalidSpec(f"{field} must be a finite number, got {value}", field=field)
    return float(value)


def method_from_proto(value: int) -> Method:
    if value == causal_pb.ESTIMATION_METHOD_UNSPECIFIED:
        raise InvalidSpec(
            "method is required (use ESTIMATION_METHOD_AUTO to let LiftOS choose)", field="method"
        )
    enum_from_proto(value, causal_pb.EstimationMethod.DESCRIPTOR, "method")
    return _METHODS[value]  # type: ignore[index]  # enum ValueType is an int at runtime


def estimand_from_proto(value: int) -> Estimand | None:
    """The requested estimand, or None for the method's default (ESTIMAND_UNSPECIFIED)."""
    enum_from_proto(value, causal_pb.Estimand.DESCRIPTOR, "estimand")
    return _ESTIMANDS.get(value)  # type: ignore[call-overload]


def spec_from_proto(roles: causal_pb.EffectRoles, estimand: int) -> EffectSpec:
    if not roles.outcome:
        raise InvalidSpec("roles.outcome is required", field="roles.outcome")
    if not roles.treatment and not roles.running_variable:
        raise InvalidSpec(
            "roles.treatment is required (only a sharp regression discontinuity, named by "
            "roles.running_variable and roles.cutoff, may leave it empty)",
            field="roles.treatment",
        )
    for name in ("outcome", "treatment", "unit", "time", "running_variable", "cluster",
                 "weights", "pre_outcome"):  # fmt: skip
        _text(getattr(roles, name), f"roles.{name}")
    return EffectSpec(
        outcome=roles.outcome,
        treatment=roles.treatment,
        unit=roles.unit or None,
        time=roles.time or None,
        covariates=_texts(roles.covariates, "roles.covariates", limits.MAX_COVARIATES),
        instruments=_texts(roles.instruments, "roles.instruments", limits.MAX_INSTRUMENTS),
        running_variable=roles.running_variable or None,
        cutoff=_finite(roles.cutoff, "roles.cutoff") if roles.HasField("cutoff") else None,
        cluster=roles.cluster or None,
        weights=roles.weights or None,
        effect_modifiers=_texts(
            roles.effect_modifiers, "roles.effect_modifiers", limits.MAX_EFFECT_MODIFIERS
        ),
        pre_outcome=roles.pre_outcome or None,
        estimand=estimand_from_proto(estimand) or Estimand.ATE,
    )


def alpha_from_proto(alpha: float) -> float:
    """0 (unset) is the default 0.05; the range is checked by :class:`EstimationOptions`."""
    return 0.05 if alpha == 0 else alpha


def _check_table_shape(table: table_pb.Table, field: str) -> None:
    """Shapes that cost more than their bytes: a huge declared row count, very many columns."""
    int_in_range(table.row_count, f"{field}.row_count", 1, limits.MAX_TABLE_ROWS)
    if len(table.columns) > limits.MAX_TABLE_COLUMNS:
        raise InvalidSpec(
            f"{field} has {len(table.columns):,} columns; at most "
            f"{limits.MAX_TABLE_COLUMNS:,} are allowed",
            field=f"{field}.columns",
        )
    for i, column in enumerate(table.columns):
        _text(column.name, f"{field}.columns[{i}].name")


def frame_from_request(request: causal_pb.EstimateEffectRequest) -> pd.DataFrame:
    """The inline table (``records`` queries are read from memory by the service)."""
    if request.WhichOneof("data") == "table":
        if request.table.row_count == 0:
            raise InvalidSpec("table has no rows", field="table.row_count")
        _check_table_shape(request.table, "table")
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
    enum_from_proto(query.aggregation, causal_pb.AggregationLevel.DESCRIPTOR, "records.aggregation")
    sources = [int(s) for s in query.sources]
    known = len(common_pb.DataSource.DESCRIPTOR.values)
    if len(sources) > known:
        raise InvalidSpec(
            f"records.sources has {len(sources):,} entries; there are only {known} sources",
            field="records.sources",
        )
    for i, source in enumerate(sources):
        enum_from_proto(source, common_pb.DataSource.DESCRIPTOR, f"records.sources[{i}]")
    return RecordQuery(
        start=start,
        end=end,
        sources=sources,
        campaign_ids=list(
            _texts(query.campaign_ids, "records.campaign_ids", limits.MAX_CAMPAIGN_IDS)
        ),
        channels=list(_texts(query.channels, "records.channels", limits.MAX_CHANNELS)),
        experiment_id=_text(query.experiment_id, "records.experiment_id", limits.MAX_ID_CHARS),
        aggregation=_AGGREGATIONS[query.aggregation],
    )


@dataclass(frozen=True, slots=True)
class EstimateQuestion:
    """An EstimateEffect request, every field checked: the job, and where its data come from."""

    org_id: str
    job: EstimateJob
    table: pd.DataFrame | None  # inline data, or None when ``records`` says what to read
    records: RecordQuery | None


def estimate_question(request: causal_pb.EstimateEffectRequest) -> EstimateQuestion:
    """Validate the whole request (InvalidSpec naming the field) before any data is read."""
    org = require_org(request.org_id)
    method = method_from_proto(request.method)
    spec = spec_from_proto(request.roles, request.estimand)
    alpha = alpha_from_proto(request.alpha)
    options = options_from_proto(request, alpha)
    graph = graph_from_proto(request.graph)
    o = request.options
    refutation_simulations = int_in_range(
        o.refutation_simulations,
        "options.refutation_simulations",
        0,
        limits.MAX_REFUTATION_SIMULATIONS,
    )
    job = EstimateJob(
        spec=spec,
        method=method,
        options=options,
        graph=graph,
        randomised=request.randomized,
        refutation_simulations=refutation_simulations,
        skip_refutation=o.skip_refutation,
    )
    if request.WhichOneof("data") == "records":
        return EstimateQuestion(org, job, None, record_query_from_proto(request.records))
    return EstimateQuestion(org, job, frame_from_request(request), None)


# Check figures: domain attribute → proto field (the proto keeps its own spelling).
_CHECK_FIGURES = (
    ("statistic", "statistic"),
    ("pvalue", "p_value"),
    ("threshold", "threshold"),
    ("new_effect", "new_effect"),
)


def _opt(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _coefficient_to_proto(row: Coefficient, out: causal_pb.Coefficient) -> None:
    out.name = row.name
    out.estimate = row.estimate
    out.std_error = row.stderr
    out.ci_lower = row.ci_lower
    out.ci_upper = row.ci_upper
    out.p_value = row.pvalue
    out.n = row.nobs or 0


def estimate_to_proto(
    estimate: EffectEstimate,
    *,
    outcome: str,
    treatment: str,
    summary: str,
    naive: Coefficient | None = None,
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
        for attr, proto_field in _CHECK_FIGURES:
            value = _opt(getattr(check, attr))
            if value is not None:
                setattr(c, proto_field, value)
    for row in estimate.coefficients:
        _coefficient_to_proto(row, out.coefficients.add())
    if naive is not None:
        _coefficient_to_proto(naive, out.naive_estimate)
    for series in estimate.series:
        out.series.add(
            name=series.name,
            index=list(series.index),
            values=list(series.values),
            lower=list(series.lower or ()),
            upper=list(series.upper or ()),
            positions=list(series.positions or ()),
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
    _text(node.id, f"{field}.id")
    _text(node.column, f"{field}.column")
    _text(node.label, f"{field}.label", limits.MAX_LABEL_CHARS)
    enum_from_proto(node.role, md_pb.NodeRole.DESCRIPTOR, f"{field}.role")
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
        _text(e.source, f"{field}[{i}].source")
        _text(e.target, f"{field}[{i}].target")
        _text(e.rationale, f"{field}[{i}].rationale", limits.MAX_LABEL_CHARS)
        out.append((e.source, e.target))
    return out


def _check_graph_size(nodes: int, edges: int, field: str, edges_field: str) -> None:
    if nodes > limits.MAX_GRAPH_NODES:
        raise InvalidGraph(
            f"{field} has {nodes:,} nodes; at most {limits.MAX_GRAPH_NODES:,} are allowed",
            field=field,
        )
    if edges > limits.MAX_GRAPH_EDGES:
        raise InvalidGraph(
            f"{edges_field} has {edges:,} edges; at most {limits.MAX_GRAPH_EDGES:,} are allowed",
            field=edges_field,
        )


def graph_from_proto(graph: md_pb.CausalGraph, field: str = "graph") -> CausalGraph | None:
    """A caller-supplied graph, or None when the message is empty."""
    if not graph.nodes and not graph.edges:
        return None
    _check_graph_size(len(graph.nodes), len(graph.edges), f"{field}.nodes", f"{field}.edges")
    nodes = [_node_from_proto(n, f"{field}.nodes[{i}]") for i, n in enumerate(graph.nodes)]
    edges = _edges(graph.edges, f"{field}.edges")
    known = {n.name for n in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in known:
                nodes.append(Node(end))
                known.add(end)
    _check_graph_size(len(nodes), len(edges), f"{field}.nodes", f"{field}.edges")
    return CausalGraph(tuple(nodes), tuple(edges))


def build_graph_from_request(request: causal_pb.BuildGraphRequest) -> tuple[CausalGraph, str, str]:
    """The default DAG (unless excluded) merged with the caller's nodes and edge edits, and the
    treatment and outcome nodes the question names."""
    require_org(request.org_id)
    if not request.treatment:
        raise InvalidSpec("treatment node is required", field="treatment")
    if not request.outcome:
        raise InvalidSpec("outcome node is required", field="outcome")
    _text(request.treatment, "treatment")
    _text(request.outcome, "outcome")
    _check_graph_size(len(request.nodes), len(request.add_edges), "nodes", "add_edges")
    _check_graph_size(0, len(request.remove_edges), "nodes", "remove_edges")
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
    graph = base.with_edits(
        add_nodes=new_nodes,
        remove_edges=_edges(request.remove_edges, "remove_edges"),
        add_edges=_edges(request.add_edges, "add_edges"),
        observed=observed,
        unobserved=unobserved,
    )
    _check_graph_size(len(graph.nodes), len(graph.edges), "nodes", "add_edges")
    treatment = graph.resolve(request.treatment, "treatment")
    outcome = graph.resolve(request.outcome, "outcome")
    return graph, treatment, outcome


def analysis_id_from_proto(request: causal_pb.GetAnalysisRequest) -> tuple[str, str]:
    """(org, analysis id) of a GetAnalysis request."""
    org = require_org(request.org_id)
    if not request.analysis_id:
        raise InvalidSpec("analysis_id is required", field="analysis_id")
    return org, _text(request.analysis_id, "analysis_id", limits.MAX_ID_CHARS)


# Stored kinds (causal_svc.analyses) ↔ the wire's AnalysisKind.
_ANALYSIS_KINDS = {
    causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE: "effect_estimate",
    causal_pb.ANALYSIS_KIND_ATTRIBUTION: "attribution",
}


@dataclass(frozen=True, slots=True)
class ListAnalysesQuestion:
    """A ListAnalyses request, checked: org, stored kind ("" = all), page size and token."""

    org_id: str
    kind: str
    page_size: int
    page_token: str


def list_analyses_question(request: causal_pb.ListAnalysesRequest) -> ListAnalysesQuestion:
    org = require_org(request.org_id)
    enum_from_proto(request.kind, causal_pb.AnalysisKind.DESCRIPTOR, "kind")
    kind = _ANALYSIS_KINDS.get(request.kind, "")  # type: ignore[call-overload]
    return ListAnalysesQuestion(org, kind, request.page_size, request.page_token)


def analysis_summary(payload: bytes) -> causal_pb.AnalysisSummary:
    """What a list shows of a stored analysis (its serialised Analysis)."""
    analysis = causal_pb.Analysis.FromString(payload)
    out = causal_pb.AnalysisSummary(analysis_id=analysis.analysis_id, kind=analysis.kind)
    out.create_time.CopyFrom(analysis.create_time)
    if analysis.WhichOneof("result") == "estimate":
        e = analysis.estimate
        out.method, out.outcome, out.treatment = e.method, e.outcome, e.treatment
        out.supported = e.supported
    return out


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
    info.method: causal_pb.IdentificationKind.Value(
        f"IDENTIFICATION_KIND_{info.identification.name}"
    )
    for info in METHODS.values()
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
    """The request's knobs (0 / unset means the method's default); EstimationOptions checks them."""
    o = request.options
    return EstimationOptions(
        alpha=alpha,
        estimand=estimand_from_proto(request.estimand),
        seed=o.seed,
        event_study_leads=o.event_study_leads or None,
        event_study_lags=o.event_study_lags or None,
        caliper=o.caliper if o.HasField("caliper") else None,
        bandwidth=o.bandwidth if o.HasField("bandwidth") else None,
        dml_forest=o.dml_forest,
        propensity_trim=o.propensity_trim if o.HasField("propensity_trim") else None,
        rdd_fuzzy=o.rdd_fuzzy,
        cluster_inference=_cluster_inference(o.cluster_inference),
    )


_CLUSTER_INFERENCE = {
    causal_pb.CLUSTER_INFERENCE_UNSPECIFIED: "auto",
    causal_pb.CLUSTER_INFERENCE_CLUSTER_ROBUST: "cluster_robust",
    causal_pb.CLUSTER_INFERENCE_WILD_BOOTSTRAP: "wild_bootstrap",
}


def _cluster_inference(value: int) -> str:
    enum_from_proto(value, causal_pb.ClusterInference.DESCRIPTOR, "options.cluster_inference")
    return _CLUSTER_INFERENCE[value]  # type: ignore[index]  # enum ValueType is an int at runtime


# ---------------------------------------------------------------- attribution, counterfactual
#
# Lift tests from ``ExperimentResult``: the test compared the channel's spend as it ran in the
# treated cell with that spend changed by ``spend_delta`` (``spend_baseline`` the business-as-
# usual level): the counterfactual multiplier is ``1 + spend_delta / spend_baseline`` (0 for a
# go-dark test, and 0 when the two are unset). ``lift_absolute`` is read as spend-as-run minus
# counterfactual; a negative lift with a negative ``spend_delta`` is PyMC-Marketing's
# ``delta_y`` convention (outcome after minus before a cut) and is turned around.

DEFAULT_HOLDOUT_DAYS = 28
MAX_HOLDOUT_DAYS = 180
MAX_CHANNELS = 100
MAX_CALIBRATION = 200
MAX_FUTURE_DAYS = 3660
_OUTCOMES = {
    common_pb.OUTCOME_METRIC_UNSPECIFIED: "revenue",
    common_pb.OUTCOME_METRIC_REVENUE: "revenue",
    common_pb.OUTCOME_METRIC_CONVERSIONS: "conversions",
}
_VERDICTS = {
    Verdict.PASS: causal_pb.HEALTH_VERDICT_PASS,
    Verdict.REVIEW: causal_pb.HEALTH_VERDICT_REVIEW,
    Verdict.FAIL: causal_pb.HEALTH_VERDICT_FAIL,
}
_ADSTOCK = {"geometric": md_pb.ADSTOCK_TYPE_GEOMETRIC, "weibull": md_pb.ADSTOCK_TYPE_WEIBULL}


@dataclass(frozen=True, slots=True)
class AttributionQuestion:
    """A checked AnalyzeAttribution request."""

    org_id: str
    start: dt.date | None
    end: dt.date | None
    outcome: str
    channels: tuple[str, ...]
    spec: ModelSpec
    lift_tests: tuple[LiftTest, ...]
    seed: int = 0


def _date_range(rng: common_pb.DateRange, name: str) -> tuple[dt.date | None, dt.date | None]:
    start = date_from_proto(rng.start_date, f"{name}.start_date", required=False)
    end = date_from_proto(rng.end_date, f"{name}.end_date", required=False)
    if start is not None and end is not None and end < start:
        raise InvalidSpec(f"{name}: end_date {end} precedes start_date {start}", field=name)
    return start, end


def lift_test(r: md_pb.ExperimentResult, where: str, geos: tuple[str, ...] = ()) -> LiftTest:
    """A lift test from an experiment's measured result (see the module docstring)."""
    if not r.channel:
        raise InvalidSpec("a lift test names the channel it measured", field=f"{where}.channel")
    if not r.HasField("window"):
        raise InvalidSpec("a lift test needs its test window", field=f"{where}.window")
    start, end = _date_range(r.window, f"{where}.window")
    if start is None or end is None:
        raise InvalidSpec("the test window needs both dates", field=f"{where}.window")
    multiplier = 0.0
    if r.spend_baseline > 0:
        multiplier = max(0.0, 1.0 + r.spend_delta / r.spend_baseline)
    lift = r.lift_absolute
    if r.spend_delta < 0 and lift < 0:
        lift = -lift
    return LiftTest(
        channel=r.channel, start=start, end=end, lift=lift, stderr=r.lift_std_error, geos=geos,
        counterfactual_multiplier=multiplier, name=r.experiment_id or where,
    )  # fmt: skip


def attribution_question(request: causal_pb.AnalyzeAttributionRequest) -> AttributionQuestion:
    org = require_org(request.org_id)
    start, end = _date_range(request.date_range, "date_range")
    outcome = _OUTCOMES.get(request.outcome)
    if outcome is None:
        raise InvalidSpec(
            "attribution models revenue or conversions (the first-party outcome)",
            field="outcome",
        )
    if request.model_type not in (
        md_pb.ATTRIBUTION_MODEL_TYPE_UNSPECIFIED,
        md_pb.ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM,
    ):
        raise InvalidSpec("only ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM is served", field="model_type")
    if len(request.channels) > MAX_CHANNELS:
        raise InvalidSpec(f"at most {MAX_CHANNELS} channels", field="channels")
    for i, c in enumerate(request.channels):
        if not c.strip():
            raise InvalidSpec("a channel name is empty", field=f"channels[{i}]")
    if not 0 <= request.holdout_days <= MAX_HOLDOUT_DAYS:
        raise InvalidSpec(f"holdout_days must be 0..{MAX_HOLDOUT_DAYS} (0 for the default "
                          f"{DEFAULT_HOLDOUT_DAYS})", field="holdout_days")  # fmt: skip
    if len(request.calibration) > MAX_CALIBRATION:
        raise InvalidSpec(f"at most {MAX_CALIBRATION} lift tests", field="calibration")
    tests = []
    for i, r in enumerate(request.calibration):
        where = f"calibration[{i}]"
        if r.metric not in (common_pb.OUTCOME_METRIC_UNSPECIFIED, request.outcome or
                            common_pb.OUTCOME_METRIC_REVENUE):  # fmt: skip
            raise InvalidSpec("the lift test measured another outcome than the one modelled",
                              field=f"{where}.metric")  # fmt: skip
        tests.append(lift_test(r, where))
    spec = ModelSpec(holdout_days=request.holdout_days or DEFAULT_HOLDOUT_DAYS)
    return AttributionQuestion(org, start, end, outcome, tuple(request.channels), spec,
                               tuple(tests), int(request.seed))  # fmt: skip


def _attr_interval(i: Interval) -> common_pb.Interval:
    return common_pb.Interval(estimate=i.estimate, lower=i.lower, upper=i.upper, level=i.level)


def _proto_date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _response_model(m: ResponseModel, identified: bool) -> causal_pb.ChannelResponseModel:
    return causal_pb.ChannelResponseModel(
        channel=m.channel, reference_spend=m.reference_spend, period_days=m.period_days,
        scale=m.scale.tolist(), half_saturation=m.half_saturation.tolist(),
        shape=m.shape.tolist(), nodes=m.nodes.tolist(), node_weights=m.node_weights.tolist(),
        carryover=m.carryover.tolist(), identified=identified, note=m.note,
        adstock=_ADSTOCK.get(m.adstock, md_pb.ADSTOCK_TYPE_UNSPECIFIED),  # type: ignore[arg-type]
        adstock_params=list(m.adstock_params), baseline_outcome=m.baseline_outcome,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What the report does not know about itself: ids, org, data size, versions."""

    analysis_id: str
    org_id: str
    record_count: int
    code_version: str
    currency: str = ""
    extra_seconds: dict[str, float] = field(default_factory=dict)


def report_to_proto(r: AttributionReport, ctx: ReportContext) -> causal_pb.AttributionResult:
    """The domain report as the contract's AttributionResult."""
    unidentified = set(r.health.unidentified)
    out = causal_pb.AttributionResult(
        analysis_id=ctx.analysis_id,
        warnings=list(r.warnings),
        confounders=list(r.confounders),
        unobserved_confounders=list(r.unobserved_confounders),
        mediators=list(r.mediators),
        controls=list(r.controls),
        record_count=ctx.record_count,
        geo_count=r.n_geos,
        day_count=r.n_days,
        model_version=r.model_version,
        code_version=ctx.code_version,
        outcome=(
            common_pb.OUTCOME_METRIC_CONVERSIONS
            if r.outcome_name == "conversions"
            else common_pb.OUTCOME_METRIC_REVENUE
        ),
        demand_elasticity=r.demand_elasticity,
    )
    out.date_range.start_date.CopyFrom(_proto_date(r.start))
    out.date_range.end_date.CopyFrom(_proto_date(r.end))
    if r.baseline is not None:
        out.baseline_outcome.CopyFrom(_attr_interval(r.baseline))
    for c in r.channels:
        ch = out.channels.add(
            channel=c.channel, contribution_share=c.share, platform_reported_outcome=c.platform_outcome,
            platform_reported_roas=c.platform_roas or 0.0, media_input=c.media_input,
            identified=c.channel not in unidentified,
        )  # fmt: skip
        ch.spend.CopyFrom(common_pb.Money(amount=c.spend, currency_code=ctx.currency))
        ch.incremental_outcome.CopyFrom(_attr_interval(c.incremental))
        if c.iroas is not None:
            ch.incremental_roas.CopyFrom(_attr_interval(c.iroas))
        if c.marginal_roas is not None:
            ch.marginal_roas.CopyFrom(_attr_interval(c.marginal_roas))
        if c.naive_roas is not None:
            ch.naive_regression_roas = c.naive_roas
        if c.uncalibrated_iroas is not None:
            ch.uncalibrated_roas = c.uncalibrated_iroas
    for k in r.campaigns:
        cp = out.campaigns.add(campaign_id=k.campaign, channel=k.channel,
                               platform_reported_outcome=k.platform_outcome)  # fmt: skip
        cp.spend.CopyFrom(common_pb.Money(amount=k.spend, currency_code=ctx.currency))
        cp.incremental_outcome.CopyFrom(_attr_interval(k.incremental))
        if k.iroas is not None:
            cp.incremental_roas.CopyFrom(_attr_interval(k.iroas))
    for curve in r.curves:
        out.response_curves.add(
            channel=curve.channel, spend=curve.spend.tolist(), outcome=curve.outcome.tolist(),
            lower=curve.lower.tolist(), upper=curve.upper.tolist(),
        )  # fmt: skip
    for m in r.response_models:
        out.response_models.append(
            _response_model(m, m.identified and m.channel not in unidentified)
        )
    h = r.health
    health = out.health
    health.verdict = _VERDICTS[h.verdict]  # type: ignore[assignment]
    health.in_sample_r_squared = _finite_or_zero(h.in_sample_r_squared)
    health.unidentified_channels.extend(h.unidentified)
    if h.holdout is not None:
        health.holdout_days = h.holdout.days
        health.holdout_r_squared = _finite_or_zero(h.holdout.r_squared)
        health.holdout_mape = _finite_or_zero(h.holdout.mape)
        health.holdout_nrmse = _finite_or_zero(h.holdout.nrmse)
    for check in h.checks:
        hc = health.checks.add(name=check.name, verdict=_VERDICTS[check.verdict],  # type: ignore[arg-type]
                               message=check.message)  # fmt: skip
        if check.value is not None and np.isfinite(check.value):
            hc.value = float(check.value)
        if check.threshold is not None:
            hc.threshold = float(check.threshold)
    for row in r.calibration:
        cal = out.calibration.add(
            experiment_id=row.name, channel=row.channel, measured_lift=row.measured,
            measured_std_error=row.stderr, predicted_lift=row.predicted,
        )  # fmt: skip
        if row.predicted_uncalibrated is not None:
            cal.predicted_lift_uncalibrated = row.predicted_uncalibrated
    ident = out.identification
    ident.kind = causal_pb.IDENTIFICATION_KIND_BACKDOOR  # type: ignore[assignment]
    ident.reason = r.identification
    ident.assumptions.extend(r.assumptions)
    ident.adjustment_set.extend(r.controls)
    model = out.model
    model.model_id = ctx.analysis_id
    model.org_id = ctx.org_id
    model.model_type = md_pb.ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM  # type: ignore[assignment]
    model.model_config.outcome = out.outcome
    model.model_config.channels.extend(m.channel for m in r.models)
    model.model_config.controls.extend(r.controls)
    model.model_config.max_lag_days = (
        len(r.response_models[0].carryover) if r.response_models else 0
    )
    model.model_config.holdout_days = h.holdout.days if h.holdout else 0
    model.model_accuracy = _finite_or_zero(h.holdout.r_squared) if h.holdout else 0.0
    vm = model.validation_metrics
    vm.r_squared = _finite_or_zero(h.in_sample_r_squared)
    if h.holdout is not None:
        vm.holdout_r_squared = _finite_or_zero(h.holdout.r_squared)
        vm.holdout_mape = _finite_or_zero(h.holdout.mape)
        vm.nrmse = _finite_or_zero(h.holdout.nrmse)
    for c in r.channels:
        model.feature_importance.add(feature=c.channel, importance=c.share)
    for stage, seconds in {**ctx.extra_seconds, **r.stage_seconds}.items():
        out.stage_timings.add(stage=stage, seconds=seconds)
    return out


def _finite_or_zero(x: float) -> float:
    return float(x) if np.isfinite(x) else 0.0


@dataclass(frozen=True, slots=True)
class CounterfactualQuestion:
    org_id: str
    analysis_id: str
    changes: tuple[SpendChange, ...]
    start: dt.date | None
    end: dt.date | None
    future_days: int
    level: float


def counterfactual_question(request: causal_pb.CounterfactualRequest) -> CounterfactualQuestion:
    org = require_org(request.org_id)
    if not request.analysis_id:
        raise InvalidSpec("analysis_id is required", field="analysis_id")
    if not request.changes:
        raise InvalidSpec("a counterfactual needs at least one spend change", field="changes")
    changes = []
    for i, c in enumerate(request.changes):
        if not c.channel:
            raise InvalidSpec("the change names no channel", field=f"changes[{i}].channel")
        changes.append(SpendChange(
            c.channel,
            c.multiplier if c.HasField("multiplier") else None,
            c.spend if c.HasField("spend") else None,
        ))  # fmt: skip
    start = end = None
    if request.HasField("reference_period"):
        start, end = _date_range(request.reference_period, "reference_period")
    if not 0 <= request.future_days <= MAX_FUTURE_DAYS:
        raise InvalidSpec(f"future_days must be 0..{MAX_FUTURE_DAYS}", field="future_days")
    if request.future_days and request.HasField("reference_period"):
        raise InvalidSpec("give a reference_period or future_days, not both", field="future_days")
    alpha = request.alpha or 0.05
    if not 0 < alpha < 1:
        raise InvalidSpec("alpha must be in (0, 1)", field="alpha")
    return CounterfactualQuestion(org, request.analysis_id, tuple(changes), start, end,
                                  int(request.future_days), 1.0 - alpha)  # fmt: skip


def counterfactual_response(r: CounterfactualResult) -> causal_pb.CounterfactualResponse:
    out = causal_pb.CounterfactualResponse(
        reference_outcome=_attr_interval(r.reference_outcome),
        counterfactual_outcome=_attr_interval(r.counterfactual_outcome),
        delta=_attr_interval(r.delta),
    )
    for c in r.channels:
        out.channels.add(channel=c.channel, reference_spend=c.reference_spend,
                         counterfactual_spend=c.counterfactual_spend,
                         outcome_delta=_attr_interval(c.delta))  # fmt: skip
    out.evaluated_period.start_date.CopyFrom(_proto_date(r.start))
    out.evaluated_period.end_date.CopyFrom(
        _proto_date(r.start + dt.timedelta(days=r.evaluated_days - 1))
    )
    return out


def require_usable_model(payload: bytes, model: bytes | None, analysis_id: str) -> None:
    """A counterfactual needs an attribution analysis whose model passed its health checks.

    Raises
    ------
    NotAnAttribution
        An effect estimate, an attribution stored without its model, or a failed model.
    """
    analysis = causal_pb.Analysis.FromString(payload)
    if analysis.WhichOneof("result") != "attribution" or model is None:
        raise NotAnAttribution(
            f"analysis {analysis_id!r} is not an attribution model (AnalyzeAttribution makes "
            "one); counterfactuals read its response curves",
            subject="analysis_id",
        )
    if analysis.attribution.health.verdict == causal_pb.HEALTH_VERDICT_FAIL:
        raise NotAnAttribution(
            f"analysis {analysis_id!r} failed its health checks; its model gives no answers",
            subject="analysis_id",
            reason="ATTRIBUTION_MODEL_FAILED",
        )


def code_version() -> str:
    """The installed liftos version (and the commit, when LIFTOS_CODE_VERSION names one)."""
    try:
        version = importlib.metadata.version("liftos")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    commit = os.environ.get("LIFTOS_CODE_VERSION", "")
    return f"liftos {version}" + (f" ({commit})" if commit else "")
