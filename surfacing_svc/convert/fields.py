"""What every surfacing request shares: the checks that collect field violations, metrics, dates and bounds."""

from __future__ import annotations

import datetime as dt
import math

import holidays
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.exceptions import FieldViolation, InvalidInput
from mesh.runtime.protoconv import collect, date_from_proto, require_org
from surfacing_svc.design import (
    AssignmentMethod,
    TreatmentKind,
)
from surfacing_svc.optimizer import DEFAULT_RISK, MAX_RISK, BoundStatus
from surfacing_svc.recommend import ActionKind

_METRICS: dict[int, str | None] = {
    common_pb.OUTCOME_METRIC_UNSPECIFIED: None,
    common_pb.OUTCOME_METRIC_REVENUE: "revenue",
    common_pb.OUTCOME_METRIC_CONVERSIONS: "conversions",
}
METRIC_TO_PROTO = {"revenue": common_pb.OUTCOME_METRIC_REVENUE,
                   "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS}  # fmt: skip
CELL_KINDS = {
    md_pb.TREATMENT_TYPE_UNSPECIFIED: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_HOLDOUT: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_BUDGET_DECREASE: TreatmentKind.GO_DARK,
    md_pb.TREATMENT_TYPE_BUDGET_INCREASE: TreatmentKind.HEAVY_UP,
}
ASSIGNMENT = {
    pb.ASSIGNMENT_METHOD_UNSPECIFIED: AssignmentMethod.MATCHED_MARKETS,
    pb.ASSIGNMENT_METHOD_MATCHED_MARKETS: AssignmentMethod.MATCHED_MARKETS,
    pb.ASSIGNMENT_METHOD_STRATIFIED: AssignmentMethod.STRATIFIED,
}
BOUND_STATUS = {
    BoundStatus.NONE: pb.BOUND_STATUS_INTERIOR,
    BoundStatus.LOWER: pb.BOUND_STATUS_LOWER,
    BoundStatus.UPPER: pb.BOUND_STATUS_UPPER,
}
ACTION_KINDS = {
    ActionKind.SCALE: pb.RECOMMENDATION_KIND_INCREASE_BUDGET,
    ActionKind.CUT: pb.RECOMMENDATION_KIND_DECREASE_BUDGET,
    ActionKind.HOLD: pb.RECOMMENDATION_KIND_HOLD,
    ActionKind.REALLOCATE: pb.RECOMMENDATION_KIND_REALLOCATE,
    ActionKind.TEST: pb.RECOMMENDATION_KIND_RUN_EXPERIMENT,
}
COUNTRIES = frozenset(holidays.list_supported_countries())
MAX_DURATION_DAYS = 182
MAX_HORIZON_DAYS = 365
MAX_CELLS = 5
MAX_LIST = 1000
# Money and multipliers: finite and far inside what a double holds exactly in cents.
MAX_MONEY = 1e13


class FieldChecks:
    """Collects field violations so one error names every bad field."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, message: str) -> None:
        self.violations.append(FieldViolation(field, message))

    def org(self, org_id: str) -> None:
        try:
            require_org(org_id)
        except InvalidInput as exc:
            self.violations.extend(exc.violations)

    def number(self, value: float, field: str, low: float, high: float, *,
               open_low: bool = False, open_high: bool = False) -> float:  # fmt: skip
        ok = (
            math.isfinite(value)
            and (value > low if open_low else value >= low)
            and (value < high if open_high else value <= high)
        )
        if not ok:
            lo, hi = (
                ("(" if open_low else "[") + f"{low:g}",
                f"{high:g}" + (")" if open_high else "]"),
            )
            self.add(field, f"{field} {value!r} must be in {lo}, {hi}")
        return value

    def risk(self, request: pb.OptimizeBudgetRequest | pb.RecommendRequest) -> float:
        """The request's ``risk_aversion`` (unset: the services' default)."""
        if not request.HasField("risk_aversion"):
            return DEFAULT_RISK
        return self.number(request.risk_aversion, "risk_aversion", 0.0, MAX_RISK)

    def level(self, alpha: float, field: str, default: float) -> float:
        if alpha == 0.0:
            return default
        self.number(alpha, field, 0.0, 0.5, open_low=True, open_high=True)
        return 1.0 - alpha

    def metric(self, value: int, field: str) -> str | None:
        if value not in _METRICS:
            self.add(field, f"{field} must be OUTCOME_METRIC_REVENUE or OUTCOME_METRIC_CONVERSIONS")
            return None
        return _METRICS[value]

    def done(self) -> None:
        collect(self.violations)


def date_field(value: common_pb.Date, field: str, check: FieldChecks) -> dt.date | None:
    try:
        return date_from_proto(value, field, required=False)
    except InvalidInput as exc:
        check.violations.extend(exc.violations)
        return None
