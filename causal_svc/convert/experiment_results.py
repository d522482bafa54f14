"""EstimateEffect's ``record_experiment_result``: the request checked for it, the registry's
experiment as the domain's :class:`GeoExperiment`, a :class:`MeasuredLift` as the contract's
``ExperimentResult``."""

from __future__ import annotations

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.errors import InvalidSpec
from causal_svc.experiment_result import GeoExperiment, MeasuredLift
from mesh.runtime.protoconv import date_from_proto, set_date_range

FIELD = "record_experiment_result"
# The outcomes a lift test calibrates attribution on (the first-party KPI columns).
_METRICS = {
    "revenue": common_pb.OUTCOME_METRIC_REVENUE,
    "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS,
}
TREATMENT = "treated_post"


def wants_record(request: causal_pb.EstimateEffectRequest) -> bool:
    """Whether the estimate is to be recorded as its experiment's result; INVALID_ARGUMENT
    naming ``record_experiment_result`` when the request cannot produce one (checked before
    any data is read)."""
    if not request.record_experiment_result:
        return False
    q = request.records
    if request.WhichOneof("data") != "records" or not q.experiment_id:
        raise InvalidSpec(
            "record_experiment_result records the estimate as a registered experiment's "
            "result: it needs records with records.experiment_id",
            field=FIELD,
        )
    if q.aggregation not in (
        causal_pb.AGGREGATION_LEVEL_UNSPECIFIED,
        causal_pb.AGGREGATION_LEVEL_GEO_DAY,
    ):
        raise InvalidSpec(
            "record_experiment_result reads a geo experiment's effect per treated geo-day: "
            "records.aggregation must be geo x day",
            field=FIELD,
        )
    if request.roles.treatment != TREATMENT:
        raise InvalidSpec(
            f"record_experiment_result needs the treatment {TREATMENT!r} (the experiment's "
            f"treated geo-days), not {request.roles.treatment!r}",
            field=FIELD,
        )
    if request.roles.outcome not in _METRICS:
        raise InvalidSpec(
            "record_experiment_result calibrates attribution, which models revenue or "
            f"conversions: the outcome {request.roles.outcome!r} is neither",
            field=FIELD,
        )
    return True


def geo_experiment(e: md_pb.CausalExperiment) -> GeoExperiment:
    """The registry's experiment as the conversion reads it; one without a channel cannot
    be a lift test of one (INVALID_ARGUMENT naming ``records.experiment_id``)."""
    if not e.channel:
        raise InvalidSpec(
            f"experiment {e.experiment_id!r} names no channel in the registry: its result "
            "cannot calibrate one (register the channel it tested)",
            field="records.experiment_id",
        )
    start = date_from_proto(e.start_date, "experiment.start_date")
    end = date_from_proto(e.end_date, "experiment.end_date")
    assert start is not None and end is not None  # required: unset raises
    return GeoExperiment(
        experiment_id=e.experiment_id,
        channel=e.channel,
        start=start,
        end=end,
        treatment_units=tuple(e.treatment_units),
        control_units=tuple(e.control_units),
    )


def experiment_result(m: MeasuredLift, currency: str = "") -> md_pb.ExperimentResult:
    """A measured lift as the registry's ``ExperimentResult``."""
    r = md_pb.ExperimentResult(
        experiment_id=m.experiment_id,
        channel=m.channel,
        metric=_METRICS[m.outcome],
        lift_absolute=m.lift,
        lift_std_error=m.stderr,
        lift_interval=common_pb.Interval(
            estimate=m.lift, lower=m.lift_lower, upper=m.lift_upper, level=m.level
        ),
        lift_relative=m.lift_relative,
        spend=common_pb.Money(amount=m.spend, currency_code=currency),
        spend_baseline=m.spend_baseline,
        spend_delta=m.spend_delta,
        incremental_roas=common_pb.Interval(
            estimate=m.iroas, lower=m.iroas_lower, upper=m.iroas_upper, level=m.level
        ),
        unit=common_pb.RANDOMIZATION_UNIT_GEO,
        treatment_unit_count=m.treatment_units,
        control_unit_count=m.control_units,
        scope=md_pb.CALIBRATION_SCOPE_IMMEDIATE,
        confidence=m.confidence,
        analysis_id=m.analysis_id,
    )
    set_date_range(r.window, m.start, m.end)
    return r
