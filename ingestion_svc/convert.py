"""Proto ↔ domain for the ingestion service. Bad input raises InvalidInput naming the field."""

from __future__ import annotations

import datetime as dt
import re

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.calendar import CalendarDay
from ingestion_svc.experiments import Experiment
from mesh.errors import FieldViolation, InvalidInput
from mesh.runtime.protoconv import collect, date_from_proto, date_to_proto, require_org

_EXPERIMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_SEASONS = {
    "winter": md_pb.SEASON_WINTER,
    "spring": md_pb.SEASON_SPRING,
    "summer": md_pb.SEASON_SUMMER,
    "autumn": md_pb.SEASON_AUTUMN,
}


def calendar_request(
    request: ingestion_pb.GetCalendarRequest,
) -> tuple[str, dt.date, dt.date, str | None]:
    violations: list[FieldViolation] = []
    start = end = None
    try:
        start = date_from_proto(request.start_date, "start_date")
    except InvalidInput as exc:  # collect every bad field, not just the first
        violations.extend(exc.violations)
    try:
        end = date_from_proto(request.end_date, "end_date")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    if not request.country:
        violations.insert(0, FieldViolation("country", "country is required (ISO 3166-1 alpha-2)"))
    collect(violations)
    assert start is not None and end is not None
    return request.country, start, end, request.subdivision or None


def calendar_day_to_proto(day: CalendarDay) -> md_pb.CalendarDimension:
    return md_pb.CalendarDimension(
        date=date_to_proto(day.date),
        year=day.year,
        quarter=day.quarter,
        month=day.month,
        week=day.week,
        day_of_week=day.day_of_week,  # ISO numbering matches the DayOfWeek enum
        is_weekend=day.is_weekend,
        is_holiday=day.is_holiday,
        holiday_name=day.holiday_name,
        season=_SEASONS[day.season],
        country_code=day.country_code,
        iso_year=day.iso_year,
        day_of_year=day.day_of_year,
        days_to_next_holiday=day.days_to_next_holiday,
        next_holiday_name=day.next_holiday_name,
        days_since_last_holiday=day.days_since_last_holiday,
        is_month_start=day.is_month_start,
        is_month_end=day.is_month_end,
    )


def experiment_from_proto(
    message: md_pb.CausalExperiment, now: dt.datetime
) -> tuple[Experiment, md_pb.CausalExperiment]:
    """Validate a new experiment; returns the domain view and the stored contract."""
    violations: list[FieldViolation] = []
    prefix = "experiment."
    try:
        require_org(message.org_id, prefix + "org_id")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    if not message.experiment_id:
        violations.append(FieldViolation(prefix + "experiment_id", "experiment_id is required"))
    elif not _EXPERIMENT_ID.match(message.experiment_id):
        violations.append(
            FieldViolation(
                prefix + "experiment_id",
                "experiment_id must be 1-63 letters, digits, '-' or '_', starting with a letter or digit",
            )
        )
    dates: dict[str, dt.date | None] = {}
    for name in ("start_date", "end_date"):
        try:
            dates[name] = date_from_proto(getattr(message, name), prefix + name)
        except InvalidInput as exc:
            violations.extend(exc.violations)
            dates[name] = None
    start, end = dates["start_date"], dates["end_date"]
    if start and end and end < start:
        violations.append(
            FieldViolation(prefix + "end_date", f"end_date {end} is before start_date {start}")
        )
    if message.randomization_unit == common_pb.RANDOMIZATION_UNIT_UNSPECIFIED:
        violations.append(
            FieldViolation(prefix + "randomization_unit", "randomization_unit is required")
        )
    share = message.treatment_share
    if not 0.0 <= share < 1.0:
        violations.append(
            FieldViolation(prefix + "treatment_share", f"treatment_share {share} must be in (0, 1)")
        )
    overlap = set(message.treatment_units) & set(message.control_units)
    if overlap:
        violations.append(
            FieldViolation(
                prefix + "control_units",
                f"units in both arms: {', '.join(sorted(overlap)[:5])}",
            )
        )
    collect(violations)
    assert start is not None and end is not None
    stored = md_pb.CausalExperiment()
    stored.CopyFrom(message)
    stored.create_time.FromDatetime(now)
    if stored.status == md_pb.EXPERIMENT_STATUS_UNSPECIFIED:
        stored.status = md_pb.EXPERIMENT_STATUS_DRAFT
    if stored.treatment_share == 0.0 and not (stored.treatment_units or stored.control_units):
        stored.treatment_share = 0.5
    experiment = Experiment(
        org_id=message.org_id,
        experiment_id=message.experiment_id,
        start_date=start,
        end_date=end,
        randomization_unit=common_pb.RandomizationUnit.Name(message.randomization_unit),
        treatment_units=tuple(message.treatment_units),
        control_units=tuple(message.control_units),
        treatment_share=stored.treatment_share,
        data_sources=tuple(common_pb.DataSource.Name(s) for s in message.data_sources),
        campaign_ids=tuple(message.campaign_ids),
        treatment_intensity=(
            message.treatment_config.intensity if message.HasField("treatment_config") else 1.0
        ),
        control_intensity=message.control_config.intensity,
        create_time=now,
        payload=stored.SerializeToString(),
    )
    return experiment, stored


def experiment_to_proto(experiment: Experiment) -> md_pb.CausalExperiment:
    return md_pb.CausalExperiment.FromString(experiment.payload)
