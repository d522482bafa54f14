"""Experiments: CreateExperiment's message ↔ the registry's Experiment, ListExperiments' request,
RecordExperimentResult's result checked against the stored experiment."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

from google.protobuf.message import Message
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.convert.text import MAX_TEXT
from ingestion_svc.experiments import Experiment
from mesh.runtime import record_rules
from mesh.runtime.exceptions import FieldViolation, InvalidInput, shown
from mesh.runtime.geo_units import same_place
from mesh.runtime.protoconv import (
    collect,
    date_from_proto,
    int_in_range,
    require_org,
)
from mesh.runtime.usual_days import refuse_same_channel, registered_any

_MAX_EXPERIMENT_ID = 63
_EXPERIMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_EXPERIMENT_ID_RULE = "1-63 letters, digits, '-' or '_', starting with a letter or digit"

# Tokens this server issues are ~120 characters (ingestion_svc.experiments).
MAX_PAGE_TOKEN = 512


def list_experiments_request(
    request: ingestion_pb.ListExperimentsRequest,
) -> tuple[str, int, str, dt.date | None]:
    """(org, page_size, page_token, active_on) of a ListExperimentsRequest; a page_size above
    the registry's maximum is lowered to it there (AIP-158), a negative one refused here."""
    violations: list[FieldViolation] = []
    for check in (
        lambda: require_org(request.org_id),
        lambda: int_in_range(request.page_size, "page_size", 0, 2**31 - 1),
        lambda: date_from_proto(request.active_on, "active_on", required=False),
    ):
        try:
            check()
        except InvalidInput as exc:
            violations.extend(exc.violations)
    if len(request.page_token) > MAX_PAGE_TOKEN:
        violations.append(
            FieldViolation("page_token", "page_token is not a token this server issued")
        )
    collect(violations)
    active_on = date_from_proto(request.active_on, "active_on", required=False)
    return request.org_id, request.page_size, request.page_token, active_on


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
                f"experiment_id must be {_EXPERIMENT_ID_RULE}",
            )
        )
    start, end = _date_pair(message, prefix, violations)
    _check_pre_period(message, start, prefix, violations)
    if message.randomization_unit == common_pb.RANDOMIZATION_UNIT_UNSPECIFIED:
        violations.append(
            FieldViolation(prefix + "randomization_unit", "randomization_unit is required")
        )
    share = message.treatment_share
    if not 0.0 <= share < 1.0:
        violations.append(
            FieldViolation(prefix + "treatment_share", f"treatment_share {share} must be in (0, 1)")
        )
    _check_experiment_values(message, violations)
    overlap = _in_both_arms(message)
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
        treatment_intensity=_intensity(message, message.treatment_config, 1.0),
        control_intensity=_intensity(message, message.control_config, 0.0),
        create_time=now,
        payload=stored.SerializeToString(),
    )
    return experiment, stored


def overlap_check(
    stored: md_pb.CausalExperiment, existing: Sequence[Experiment], *, allow: bool = False
) -> list[str]:
    """A new experiment against the org's registered ones whose windows meet it (drafts
    included): raises ExperimentsOverlap (FAILED_PRECONDITION) where one of the same channel
    shares units in which either moves spend, naming both, the units, the days and the fix;
    returns, in words, the overlaps with experiments of other channels, and with every one
    where the request ``allow``s them (R26-F3: accepted without a word, and the later one's
    rows carried the earlier one's id and arm)."""
    test = registered_any(stored)
    if test is None:
        return []
    others = []
    for e in existing:
        message = md_pb.CausalExperiment.FromString(e.payload)
        if (other := registered_any(message)) is not None:
            others.append(other)
    return refuse_same_channel(test, others, allow=allow)


# What an experiment may hold: lists of units and campaigns, each id, and free text.
MAX_EXPERIMENT_LIST = 10_000
MAX_FREE_TEXT = 10_000


def _check_message(message: Message, path: str, violations: list[FieldViolation]) -> None:
    """Every enum a value its enum defines, every double finite, every string and list
    within bounds, anywhere in ``message`` (depth is bounded by protobuf's decoder)."""
    for f, value in message.ListFields():
        name = f"{path}{f.name}"
        repeated = f.is_repeated
        items = list(value) if repeated else [value]
        if repeated and len(items) > MAX_EXPERIMENT_LIST:
            violations.append(
                FieldViolation(name, f"{len(items):,} entries; at most {MAX_EXPERIMENT_LIST:,}")
            )
            continue
        for k, item in enumerate(items):
            where = f"{name}[{k}]" if repeated else name
            if f.message_type is not None:
                _check_message(item, where + ".", violations)
            elif f.enum_type is not None and item not in f.enum_type.values_by_number:
                violations.append(
                    FieldViolation(where, f"{item} is not a {f.enum_type.full_name} value")
                )
            elif f.cpp_type == f.CPPTYPE_DOUBLE and not math.isfinite(item):
                violations.append(FieldViolation(where, f"{item} is not a finite number"))
            elif f.cpp_type == f.CPPTYPE_STRING and len(item) > MAX_FREE_TEXT:
                violations.append(
                    FieldViolation(where, f"{len(item):,} characters; at most {MAX_FREE_TEXT:,}")
                )
            if len(violations) >= 20:
                return


def _check_experiment_values(
    message: md_pb.CausalExperiment, violations: list[FieldViolation]
) -> None:
    """Enums, finite numbers and bounded text anywhere; and the numbers assignment reads in
    range (an arm's dose becomes its records' treatment_intensity: mesh.runtime.record_rules)."""
    prefix = "experiment."
    _check_message(message, prefix, violations)
    for name in ("treatment_units", "control_units", "campaign_ids"):
        for k, unit in enumerate(getattr(message, name)):
            if len(unit) > MAX_TEXT or not unit.isprintable():
                violations.append(
                    FieldViolation(
                        f"{prefix}{name}[{k}]",
                        f"an id is at most {MAX_TEXT} printable characters: {shown(unit, 60)}",
                    )
                )
                break
    for arm in ("treatment_config", "control_config"):
        config = getattr(message, arm)
        for name in ("intensity", "spend_multiplier"):
            x = getattr(config, name)
            if math.isfinite(x) and not 0.0 <= x <= record_rules.MAX_INTENSITY:
                violations.append(
                    FieldViolation(
                        f"{prefix}{arm}.{name}",
                        f"{name} {x:g} must be in [0, {record_rules.MAX_INTENSITY:g}]",
                    )
                )
    power = message.statistical_power
    for name in ("target_power", "alpha", "achieved_power"):
        x = getattr(power, name)
        if math.isfinite(x) and not 0.0 <= x <= 1.0:
            violations.append(
                FieldViolation(
                    f"{prefix}statistical_power.{name}", f"{name} {x:g} must be in [0, 1]"
                )
            )
    for name in ("sample_size_units", "duration_days"):
        if getattr(power, name) < 0:
            violations.append(
                FieldViolation(f"{prefix}statistical_power.{name}", f"{name} must not be negative")
            )


_BUDGET_TESTS = (md_pb.TREATMENT_TYPE_BUDGET_INCREASE, md_pb.TREATMENT_TYPE_BUDGET_DECREASE)


def _intensity(
    message: md_pb.CausalExperiment, arm: md_pb.TreatmentConfig, default: float
) -> float:
    """The dose recorded on an arm's rows: its explicit intensity; for budget tests its spend
    multiplier (the dose is the budget); otherwise 1 for treatment and 0 for control."""
    if arm.intensity:
        return arm.intensity
    if message.treatment_type in _BUDGET_TESTS and arm.spend_multiplier:
        return arm.spend_multiplier
    return default


def experiment_to_proto(experiment: Experiment) -> md_pb.CausalExperiment:
    return md_pb.CausalExperiment.FromString(experiment.payload)


def experiment_target(org_id: str, experiment_id: str) -> tuple[str, str]:
    """(org, experiment_id) a GetExperiment or RecordExperimentResult names: an empty id is
    the caller's missing field (INVALID_ARGUMENT naming it, as every RPC names its missing
    id), not an experiment the registry lacks."""
    org = require_org(org_id)
    if not experiment_id:
        raise InvalidInput("experiment_id is required", field="experiment_id")
    # Bounded as causal bounds analysis_id (length, then a 40-character prefix quoted), at
    # the bound CreateExperiment stores ids under: an id outside it cannot name a stored
    # experiment, and NOT_FOUND would echo it (R14-F7).
    if len(experiment_id) > _MAX_EXPERIMENT_ID:
        raise InvalidInput(
            f"experiment_id is {len(experiment_id):,} characters; at most "
            f"{_MAX_EXPERIMENT_ID} are allowed (starts {shown(experiment_id[:40])})",
            field="experiment_id",
        )
    if not _EXPERIMENT_ID.match(experiment_id):
        raise InvalidInput(
            f"experiment_id {shown(experiment_id)} is not an experiment id: {_EXPERIMENT_ID_RULE}",
            field="experiment_id",
        )
    return org, experiment_id


def record_result_target(request: ingestion_pb.RecordExperimentResultRequest) -> tuple[str, str]:
    """(org, experiment_id) a RecordExperimentResult names (see :func:`experiment_target`)."""
    return experiment_target(request.org_id, request.experiment_id)


def experiment_with_result(
    request: ingestion_pb.RecordExperimentResultRequest,
    stored: md_pb.CausalExperiment,
    today: dt.date | None = None,
) -> md_pb.CausalExperiment:
    """The stored experiment with the request's result as its result (replacing an earlier
    one). The result is checked against the experiment: it must be usable as a lift test
    (finite, a positive standard error, a spend change), of the experiment's channel, inside
    its dates, over a window that has ended by ``today`` (default: the UTC date; a day's
    grace for account time zones ahead of UTC). Unset ids, channel and window are the
    experiment's."""
    r = request.result
    prefix = "result."
    violations: list[FieldViolation] = []
    if not request.HasField("result"):
        collect([FieldViolation("result", "result is required")])
    # Finite numbers, known enums and bounded text anywhere (as CreateExperiment checks).
    _check_message(r, prefix, violations)
    if r.experiment_id and r.experiment_id != stored.experiment_id:
        violations.append(FieldViolation(prefix + "experiment_id",
                                         f"experiment_id {shown(r.experiment_id, 63)} differs "
                                         f"from the request's {stored.experiment_id!r}"))  # fmt: skip
    if r.org_id and r.org_id != stored.org_id:
        violations.append(FieldViolation(prefix + "org_id", f"org_id {shown(r.org_id, 128)} "
                                         f"differs from the request's {stored.org_id!r}"))  # fmt: skip
    if math.isfinite(r.lift_std_error) and r.lift_std_error <= 0:
        violations.append(FieldViolation(prefix + "lift_std_error",
                                         f"lift_std_error {r.lift_std_error:g} must be positive"))  # fmt: skip
    if r.spend_delta == 0:
        violations.append(FieldViolation(
            prefix + "spend_delta",
            "spend_delta (the spend change the test caused) is required: a lift without it "
            "cannot calibrate a channel",
        ))  # fmt: skip
    if math.isfinite(r.spend_baseline) and r.spend_baseline < 0:
        violations.append(FieldViolation(prefix + "spend_baseline",
                                         f"spend_baseline {r.spend_baseline:g} must not be negative"))  # fmt: skip
    if math.isfinite(r.confidence) and not 0.0 <= r.confidence <= 1.0:
        violations.append(FieldViolation(prefix + "confidence",
                                         f"confidence {r.confidence:g} must be in [0, 1]"))  # fmt: skip
    for name in ("treatment_unit_count", "control_unit_count"):
        if getattr(r, name) < 0:
            violations.append(FieldViolation(prefix + name, f"{name} must not be negative"))
    if not stored.channel and not r.channel:
        # a lift test calibrates one channel: a result naming none would be stored and then
        # skipped by every analysis (R12-F13)
        violations.append(FieldViolation(
            prefix + "channel",
            f"experiment {stored.experiment_id!r} registers no channel and the result names "
            "none: a lift test calibrates one channel; set result.channel to the channel the "
            "test changed",
        ))  # fmt: skip
    if stored.channel and r.channel and r.channel != stored.channel:
        violations.append(FieldViolation(prefix + "channel",
                                         f"channel {shown(r.channel, 60)} is not the experiment's "
                                         f"channel {stored.channel!r}"))  # fmt: skip
    first = date_from_proto(stored.start_date, "experiment.start_date")
    last = date_from_proto(stored.end_date, "experiment.end_date")
    if r.HasField("window"):
        _check_window(r.window, first, last, violations)
    _check_ended(r, last, today, violations)
    collect(violations)
    out = md_pb.CausalExperiment()
    out.CopyFrom(stored)
    out.result.CopyFrom(r)
    out.result.experiment_id = stored.experiment_id
    out.result.org_id = stored.org_id
    if not out.result.channel:
        out.result.channel = stored.channel
    if not r.HasField("window"):
        out.result.window.start_date.CopyFrom(stored.start_date)
        out.result.window.end_date.CopyFrom(stored.end_date)
    return out


def _check_ended(
    r: md_pb.ExperimentResult,
    last: dt.date | None,
    today: dt.date | None,
    violations: list[FieldViolation],
) -> None:
    """A result is measured once its window has run: a window ending after today is a test
    that has not finished (R5-F7: a result was accepted for a test designed to start after
    the data), refused naming the window's end. A result whose window is after the org's
    newest rows is accepted: the test ran, the rows may come later (`liftos experiments
    record` says so)."""
    try:
        end = date_from_proto(r.window.end_date, "") if r.HasField("window") else last
    except InvalidInput:
        return  # a bad date is _check_window's to name
    now = today or dt.datetime.now(dt.UTC).date()
    if end is not None and end > now + dt.timedelta(days=1):
        field = "result.window.end_date" if r.HasField("window") else "result.window"
        violations.append(FieldViolation(field, (
            f"the test's window ends {end}, after today ({now}): a result is measured once the "
            "test has run; record the window it measured (result.window)")))  # fmt: skip


def _date_pair(
    message: md_pb.CausalExperiment | common_pb.DateRange,
    prefix: str,
    violations: list[FieldViolation],
) -> tuple[dt.date | None, dt.date | None]:
    """``message``'s start_date and end_date (None where invalid), each bad date and an
    end before the start added to ``violations`` under ``prefix``."""
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
    return start, end


def _check_pre_period(
    message: md_pb.CausalExperiment,
    start: dt.date | None,
    prefix: str,
    violations: list[FieldViolation],
) -> None:
    """The pre-period's first day, when set: a valid date before the test's first day."""
    if not message.HasField("pre_period_start"):
        return
    name = prefix + "pre_period_start"
    try:
        first = date_from_proto(message.pre_period_start, name, required=False)
    except InvalidInput as exc:
        violations.extend(exc.violations)
        return
    if start is not None and first is not None and first >= start:
        violations.append(
            FieldViolation(
                name,
                f"pre_period_start {first} must precede start_date {start}: the pre-period "
                "is the days before the test (leave it unset for one as long as the test)",
            )
        )


def _check_window(
    window: common_pb.DateRange,
    first: dt.date | None,
    last: dt.date | None,
    violations: list[FieldViolation],
) -> None:
    """A result's test window: both dates, in order, inside the experiment's dates."""
    start, end = _date_pair(window, "result.window.", violations)
    if start and end and end < start:
        return
    assert first is not None and last is not None
    if start and not first <= start <= last:
        violations.append(FieldViolation("result.window.start_date",
                                         f"start_date {start} is outside the experiment's dates "
                                         f"{first}..{last}"))  # fmt: skip
    if end and not first <= end <= last:
        violations.append(FieldViolation("result.window.end_date",
                                         f"end_date {end} is outside the experiment's dates "
                                         f"{first}..{last}"))  # fmt: skip


def _in_both_arms(message: md_pb.CausalExperiment) -> set[str]:
    """Treatment units that are also control units. Geo units compare as ingestion labels
    records (mesh.runtime.geo_units): "TX" and "us-tx" are one place; other units exactly."""
    control = list(message.control_units)
    if message.randomization_unit != common_pb.RANDOMIZATION_UNIT_GEO:
        return set(message.treatment_units) & set(control)
    return {t for t in message.treatment_units if any(same_place(t, c) for c in control)}


# ------------------------------------------------------------------------------- ingest
