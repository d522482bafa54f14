"""Proto ↔ domain for the causal service. Bad input raises InvalidInput naming the field."""

from __future__ import annotations

import math

import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import (
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
)
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
        return _METHODS[value]
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
        estimand=_ESTIMANDS.get(estimand, Estimand.ATE),
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
    kind = request.WhichOneof("data")
    if kind == "table":
        frame = table_to_frame(request.table, field="table")
        if frame.empty:
            raise InvalidSpec("table has no rows", field="table.row_count")
        return frame
    raise InvalidSpec(
        "data is required: send a table (records from memory need a RecordQuery)", field="table"
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
    for row in estimate.balance:
        b = out.balance.add(
            covariate=row.covariate,
            smd_before=row.smd_before,
            smd_after=row.smd_after,
            mean_treated=row.mean_treated,
            mean_control=row.mean_control,
        )
        if row.variance_ratio is not None and math.isfinite(row.variance_ratio):
            b.variance_ratio = row.variance_ratio
    return out
