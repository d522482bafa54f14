"""EstimateEffect: the request checked at the edge (roles, table or record query, options) and the estimate as EffectEstimate; the identification strategy."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import table_pb2 as table_pb

from causal_svc import limits
from causal_svc.convert.fields import finite, text, texts
from causal_svc.convert.graphs import graph_from_proto
from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    Coefficient,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
from causal_svc.identification import Strategy
from causal_svc.jobs import EstimateJob
from causal_svc.methods import METHODS, EstimationOptions
from causal_svc.record_tables import Aggregation
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
        text(getattr(roles, name), f"roles.{name}")
    return EffectSpec(
        outcome=roles.outcome,
        treatment=roles.treatment,
        unit=roles.unit or None,
        time=roles.time or None,
        covariates=texts(roles.covariates, "roles.covariates", limits.MAX_COVARIATES),
        instruments=texts(roles.instruments, "roles.instruments", limits.MAX_INSTRUMENTS),
        running_variable=roles.running_variable or None,
        cutoff=finite(roles.cutoff, "roles.cutoff") if roles.HasField("cutoff") else None,
        cluster=roles.cluster or None,
        weights=roles.weights or None,
        effect_modifiers=texts(
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
        text(column.name, f"{field}.columns[{i}].name")


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
            texts(query.campaign_ids, "records.campaign_ids", limits.MAX_CAMPAIGN_IDS)
        ),
        channels=list(texts(query.channels, "records.channels", limits.MAX_CHANNELS)),
        experiment_id=text(query.experiment_id, "records.experiment_id", limits.MAX_ID_CHARS),
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
        control_group=_control_group(o.control_group),
    )


_CLUSTER_INFERENCE = {
    causal_pb.CLUSTER_INFERENCE_UNSPECIFIED: "auto",
    causal_pb.CLUSTER_INFERENCE_CLUSTER_ROBUST: "cluster_robust",
    causal_pb.CLUSTER_INFERENCE_WILD_BOOTSTRAP: "wild_bootstrap",
}


def _cluster_inference(value: int) -> str:
    enum_from_proto(value, causal_pb.ClusterInference.DESCRIPTOR, "options.cluster_inference")
    return _CLUSTER_INFERENCE[value]  # type: ignore[index]  # enum ValueType is an int at runtime


_CONTROL_GROUP = {
    causal_pb.CONTROL_GROUP_UNSPECIFIED: None,
    causal_pb.CONTROL_GROUP_NEVER_TREATED: "never_treated",
    causal_pb.CONTROL_GROUP_NOT_YET_TREATED: "not_yet_treated",
}


def _control_group(value: int) -> str | None:
    enum_from_proto(value, causal_pb.ControlGroup.DESCRIPTOR, "options.control_group")
    return _CONTROL_GROUP[value]  # type: ignore[index]  # enum ValueType is an int at runtime
