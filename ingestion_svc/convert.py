"""Proto ↔ domain for the ingestion service. Bad input raises InvalidInput naming the field."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError, Message
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.calendar import CalendarDay, supported_countries
from ingestion_svc.currencies import ISO_4217
from ingestion_svc.errors import BatchTooLarge, InvalidCalendarRequest, InvalidIngestRequest
from ingestion_svc.experiments import Experiment
from ingestion_svc.external_factors import MAX_VALUES as MAX_FACTOR_VALUES
from ingestion_svc.external_factors import FactorSeries, FactorTable, join_factors
from ingestion_svc.history import HISTORY_COLUMNS, day_numbers
from ingestion_svc.parse import (
    MAX_DEPTH,
    MAX_ROW_CHARS,
    ROW,
    canonical_json,
    parse_json_rows,
    row_problem,
)
from ingestion_svc.pipeline import BatchResult
from ingestion_svc.raw_batch import MAX_BATCH_ROWS, Account, ColumnMap, RawBatch, Rejection
from mesh.runtime import record_rules
from mesh.runtime.exceptions import FieldViolation, InvalidInput, shown
from mesh.runtime.frames import date_column, enum_name, enum_value
from mesh.runtime.protoconv import (
    collect,
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    int_in_range,
    require_org,
    timestamp_from_proto,
)

_EXPERIMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# ISO 3166-2's part after the country (CA, NSW, 75), or one of the holidays package's own
# subdivision names ("Stadt Zurich", "São Paulo Capital").
_SUBDIVISION = re.compile(r"^\w[\w .'-]{0,31}$")
_SEASONS = {
    "winter": md_pb.SEASON_WINTER,
    "spring": md_pb.SEASON_SPRING,
    "summer": md_pb.SEASON_SUMMER,
    "autumn": md_pb.SEASON_AUTUMN,
}


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


def calendar_request(
    request: ingestion_pb.GetCalendarRequest,
) -> tuple[str, dt.date, dt.date, str | None]:
    violations: list[FieldViolation] = []
    reasons: list[str] = []
    start = end = None
    try:
        start = date_from_proto(request.start_date, "start_date")
    except InvalidInput as exc:  # collect every bad field, not just the first
        violations.extend(exc.violations)
        reasons.append(exc.reason)
    try:
        end = date_from_proto(request.end_date, "end_date")
    except InvalidInput as exc:
        violations.extend(exc.violations)
        reasons.append(exc.reason)
    if not request.country:
        violations.insert(0, FieldViolation("country", "country is required (ISO 3166-1 alpha-2)"))
    elif not _COUNTRY.match(request.country.upper()):
        violations.insert(
            0,
            FieldViolation(
                "country", f"country {shown(request.country)} is not an ISO 3166-1 alpha-2 code"
            ),
        )
    if request.subdivision and not _SUBDIVISION.match(request.subdivision):
        violations.append(
            FieldViolation(
                "subdivision",
                f"subdivision {shown(request.subdivision)} is not an ISO 3166-2 subdivision code",
            )
        )
    if violations:  # a date's reason (DATE_OUT_OF_RANGE, INVALID_DATE) when it is the first
        first = reasons[0] if reasons and len(reasons) == len(violations) else None
        raise InvalidCalendarRequest(violations[0].description, violations=violations, reason=first)
    assert start is not None and end is not None
    return request.country, start, end, request.subdivision or None


def calendar_day_to_proto(day: CalendarDay) -> md_pb.CalendarDimension:
    return md_pb.CalendarDimension(
        date=date_to_proto(day.date),
        year=day.year,
        quarter=day.quarter,
        month=day.month,
        week=day.week,
        day_of_week=md_pb.DayOfWeek.ValueType(day.day_of_week),  # ISO numbering = the enum's
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
    _check_experiment_values(message, violations)
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
        treatment_intensity=_intensity(message, message.treatment_config, 1.0),
        control_intensity=_intensity(message, message.control_config, 0.0),
        create_time=now,
        payload=stored.SerializeToString(),
    )
    return experiment, stored


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


# ------------------------------------------------------------------------------- ingest

SOURCES = {
    common_pb.DATA_SOURCE_META: "meta",
    common_pb.DATA_SOURCE_GOOGLE_ADS: "google_ads",
    common_pb.DATA_SOURCE_KLAVIYO: "klaviyo",
    common_pb.DATA_SOURCE_TIKTOK: "tiktok",
    common_pb.DATA_SOURCE_GENERIC: "generic",
}
SOURCE_ENUM = {name: value for value, name in SOURCES.items()}
MAX_BATCH_ID = 256
# Bounds on what a request may carry besides its rows (each far above real use).
MAX_TEXT = 256  # account id, time zone, a mapping's column name, a geo key or code
MAX_GEO_KEYS = 100_000  # every US zip code is 42k
# A row's version is pulled_at in µs (≤ 7.3e15 up to 2200) + row_offset + its index: a
# trillion lines keeps it far inside int64 and orders any real export.
MAX_ROW_OFFSET = 10**12
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# The key of the placeholder Struct that stands for a row protobuf could not decode (see
# decode_ingest_request), and the batch id of a request it could not.
UNDECODABLE = "\x00liftos.undecodable"


# Ingest's request deserializer: ``IngestRequest.FromString``, except that one row protobuf
# cannot decode (a Struct nested past its depth limit) costs only that row, not the stream.
_ROWS = ingestion_pb.IngestRequest.DESCRIPTOR.fields_by_name["rows"].number


def decode_ingest_request(data: bytes) -> ingestion_pb.IngestRequest:
    """``IngestRequest.FromString``, except where protobuf refuses the message.

    Protobuf decodes messages nested at most 100 deep, so a Struct row nested deeper than
    about 32 levels fails the whole message. Then each row is decoded alone and one that
    fails becomes a placeholder Struct (its one key ``UNDECODABLE``, its value the row's
    hash, so different rows make different batches) that the batch rejects as malformed;
    the rest of the batch is kept. A message that is not an IngestRequest even so comes back
    with ``batch_id = UNDECODABLE``, which the servicer refuses as INVALID_ARGUMENT.
    """
    try:
        return ingestion_pb.IngestRequest.FromString(data)
    except DecodeError:
        pass
    rows: list[struct_pb2.Struct] = []
    rest = bytearray()
    try:
        for number, start, body, end in _fields(data):
            if number != _ROWS or body < 0:
                rest += data[start:end]
                continue
            try:
                rows.append(struct_pb2.Struct.FromString(data[body:end]))
            except DecodeError:
                digest = hashlib.sha256(data[body:end]).hexdigest()
                placeholder = struct_pb2.Struct()
                placeholder.fields[UNDECODABLE].string_value = digest
                rows.append(placeholder)
        request = ingestion_pb.IngestRequest.FromString(bytes(rest))
    except (DecodeError, ValueError):
        return ingestion_pb.IngestRequest(batch_id=UNDECODABLE)
    request.rows.extend(rows)
    return request


def _fields(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start, start of a length-delimited value or -1, end) of each top-level
    field of a protobuf message; ValueError if it is not one."""
    pos, size = 0, len(data)
    while pos < size:
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        body = -1
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            body, pos = pos, pos + length
        elif wire == 5:
            pos += 4
        else:  # groups: never in an IngestRequest
            raise ValueError(f"wire type {wire}")
        if pos > size or number == 0:
            raise ValueError("truncated message")
        yield number, start, body, pos


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


def _text_bound(value: str, field: str, violations: list[FieldViolation]) -> bool:
    if len(value) > MAX_TEXT:
        violations.append(
            FieldViolation(field, f"{field} is {len(value):,} characters; at most {MAX_TEXT}")
        )
        return False
    return True


def _check_account(
    account: ingestion_pb.AccountInfo, source: str, violations: list[FieldViolation]
) -> None:
    if _text_bound(account.account_id, "account.account_id", violations) and not (
        account.account_id.isprintable()
    ):
        violations.append(
            FieldViolation(
                "account.account_id", f"{shown(account.account_id)} holds control characters"
            )
        )
    zone = _text_bound(account.timezone, "account.timezone", violations)
    if zone and account.timezone:
        try:
            ZoneInfo(account.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            violations.append(
                FieldViolation(
                    "account.timezone", f"{shown(account.timezone)} is not an IANA time zone"
                )
            )
    elif zone and source != "google_ads":  # Google rows carry the customer's zone themselves
        violations.append(
            FieldViolation("account.timezone", "the account's IANA time zone is required")
        )
    if account.currency_code and account.currency_code not in ISO_4217:
        violations.append(
            FieldViolation(
                "account.currency_code", f"{shown(account.currency_code)} is not an ISO 4217 code"
            )
        )
    if source == "klaviyo" and not account.currency_code:
        violations.append(
            FieldViolation("account.currency_code", "Klaviyo rows carry no currency: required")
        )
    if source in ("klaviyo", "generic") and not account.account_id:
        violations.append(
            FieldViolation("account.account_id", f"{source} rows carry no account: required")
        )
    if account.country_code and (
        not _COUNTRY.match(account.country_code)
        or account.country_code not in supported_countries()
    ):
        violations.append(
            FieldViolation(
                "account.country_code",
                f"{shown(account.country_code)} is not a supported ISO 3166-1 alpha-2 code",
            )
        )
    keys = account.geo_keys
    if len(keys) > MAX_GEO_KEYS:
        violations.append(
            FieldViolation("account.geo_keys", f"{len(keys):,} geo keys; at most {MAX_GEO_KEYS:,}")
        )
    elif keys and max(map(len, [*keys, *keys.values()])) > MAX_TEXT:
        long = next(k for k, v in keys.items() if max(len(k), len(v)) > MAX_TEXT)
        violations.append(
            FieldViolation(
                f"account.geo_keys[{shown(long, 60)}]",
                f"a geo key and its code are at most {MAX_TEXT} characters each",
            )
        )


def _check_request(
    request: ingestion_pb.IngestRequest, now: dt.datetime, skew: dt.timedelta
) -> tuple[str | None, dt.datetime, list[FieldViolation]]:
    """(source, pulled_at, violations) of an IngestRequest's fields other than its rows."""
    violations: list[FieldViolation] = []

    def check(fn: Callable[[], object]) -> None:
        try:
            fn()
        except InvalidInput as exc:
            violations.extend(exc.violations)

    check(lambda: require_org(request.org_id))
    source = None
    try:
        enum_from_proto(request.source, common_pb.DataSource.DESCRIPTOR, "source")
        source = SOURCES.get(request.source)
    except InvalidInput:
        pass
    if source is None:
        violations.append(
            FieldViolation(
                "source",
                f"source must be one of {', '.join(common_pb.DataSource.Name(s) for s in SOURCES)}",
            )
        )
    if not request.batch_id:
        violations.append(FieldViolation("batch_id", "batch_id is required"))
    elif len(request.batch_id) > MAX_BATCH_ID:
        violations.append(
            FieldViolation("batch_id", f"batch_id is longer than {MAX_BATCH_ID} characters")
        )
    elif not request.batch_id.isprintable():
        violations.append(
            FieldViolation(
                "batch_id", f"batch_id {shown(request.batch_id)} holds control characters"
            )
        )
    if source is not None:
        _check_account(request.account, source, violations)
    m = request.mapping
    for f in ingestion_pb.ColumnMapping.DESCRIPTOR.fields:
        _text_bound(getattr(m, f.name), f"mapping.{f.name}", violations)
    if source == "generic" and not m.date:
        violations.append(FieldViolation("mapping.date", "a generic source needs a date column"))
    pulled_at = now
    try:
        stamp = timestamp_from_proto(request.pulled_at, "pulled_at")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    else:
        if stamp is not None:
            pulled_at = stamp
            if pulled_at > now + skew:
                violations.append(
                    FieldViolation(
                        "pulled_at", f"pulled_at {pulled_at:%Y-%m-%dT%H:%M:%SZ} is in the future"
                    )
                )
    check(lambda: int_in_range(request.row_offset, "row_offset", 0, MAX_ROW_OFFSET))
    return source, pulled_at, violations


def struct_rows(
    rows: Sequence[struct_pb2.Struct],
) -> tuple[list[dict[str, Any] | None], list[bytes], list[Rejection]]:
    """Struct rows → (rows, the bytes each is hashed as, rejections), like
    :func:`ingestion_svc.parse.parse_json_rows`: a row too large or too deep, one protobuf
    could not decode, or one holding a NaN or infinite number (not JSON) is rejected."""
    out: list[dict[str, Any] | None] = []
    raw: list[bytes] = []
    rejections: list[Rejection] = []
    for i, r in enumerate(rows):
        why = None
        value: dict[str, Any] | None = None
        if UNDECODABLE in r.fields:
            why = f"row is nested too deep for protobuf to decode; at most {MAX_DEPTH} levels"
        elif (size := r.ByteSize()) > MAX_ROW_CHARS:
            why = f"row is {size:,} bytes; at most {MAX_ROW_CHARS:,}"
        else:
            try:
                value = json_format.MessageToDict(r)
            except ValueError:  # a NaN or infinite number_value has no JSON form
                why = "a number in the row is NaN or infinite (not JSON)"
            else:
                why = row_problem(value, 0)
        if why is None and value is not None:
            out.append(value)
            raw.append(canonical_json([value])[0])
        else:
            out.append(None)
            raw.append(r.SerializeToString(deterministic=True))
            rejections.append(Rejection(i, ROW, "malformed", why or "row is not a JSON object"))
    return out, raw, rejections


def ingest_batch(
    request: ingestion_pb.IngestRequest, now: dt.datetime, skew: dt.timedelta
) -> RawBatch:
    """Validate an IngestRequest and parse its rows (bad rows become rejections, a bad
    request InvalidIngestRequest naming every field, too many rows BatchTooLarge)."""
    if request.batch_id == UNDECODABLE:
        raise InvalidIngestRequest("the message is not an IngestRequest protobuf can decode")
    source, pulled_at, violations = _check_request(request, now, skew)
    if violations:
        raise InvalidIngestRequest(violations[0].description, violations=violations)
    n = len(request.rows) + len(request.json_rows)
    if n > MAX_BATCH_ROWS:
        raise BatchTooLarge(
            f"{n} rows in batch {request.batch_id!r}; at most {MAX_BATCH_ROWS} per batch — "
            "split it into several batches of the same stream"
        )
    structured, structured_raw, struct_rejections = struct_rows(request.rows)
    parsed, raw, rejections = parse_json_rows(request.json_rows, first_index=len(structured))
    account = request.account
    m = request.mapping
    assert source is not None
    return RawBatch(
        org_id=request.org_id,
        source=source,
        batch_id=request.batch_id,
        rows=[*structured, *parsed],
        raw=[*structured_raw, *raw],
        account=Account(
            account_id=account.account_id,
            timezone=account.timezone,
            currency=account.currency_code,
            country=account.country_code,
            geo_keys=dict(account.geo_keys),
        ),
        pulled_at=pulled_at,
        row_offset=request.row_offset,
        mapping=ColumnMap(
            date=m.date,
            campaign_id=m.campaign_id,
            campaign_name=m.campaign_name,
            geo=m.geo,
            spend=m.spend,
            impressions=m.impressions,
            clicks=m.clicks,
            conversions=m.conversions,
            revenue=m.revenue,
            currency_code=m.currency_code,
            channel=m.channel,
        ),
        parse_rejections=[*struct_rejections, *rejections],
    )


def fingerprint(request: ingestion_pb.IngestRequest) -> str:
    """What makes two requests the same batch (everything they carry)."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def ack(batch_id: str, result: BatchResult) -> ingestion_pb.IngestResponse:
    return ingestion_pb.IngestResponse(
        batch_id=batch_id,
        accepted_count=result.accepted,
        rejected_count=len(result.rejections),
        rejections=[
            ingestion_pb.RowRejection(
                row_index=r.row_index,
                field=r.field,
                reason=ingestion_pb.RejectionReason.Value("REJECTION_REASON_" + r.reason.upper()),
                message=r.message,
            )
            for r in result.rejections
        ],
        duplicate_count=result.duplicates,
        restated_count=result.restated,
        superseded_count=result.superseded,
        confounders=[
            ingestion_pb.ConfounderSummary(
                name=name,
                type=md_pb.ConfounderType.ValueType(enum_value("confounder_type", kind)),
                row_count=count,
            )
            for name, kind, count in result.confounders
        ],
        mean_quality_score=result.mean_quality,
        out_of_order_count=result.out_of_order,
        late_count=result.late,
    )


def replayed(stored: bytes) -> ingestion_pb.IngestResponse:
    reply = ingestion_pb.IngestResponse.FromString(stored)
    reply.replayed = True
    return reply


def history_rows(
    records: Sequence[md_pb.CausalMarketingData], account_key: str, first_day: int, last_day: int
) -> pd.DataFrame:
    """Stored records → the stream history's rows (one account, local days in range).

    Reads the ten fields it needs straight from the messages: a late row's scan brings a
    campaign's month back, and decoding whole frames of them is far slower, on the stage's
    critical path."""
    sources = {v: enum_name("data_source", v) for v in {r.data_source for r in records}}
    keep = [r for r in records if f"{sources[r.data_source]}|{r.account_id}" == account_key]
    days = day_numbers(date_column([r.local_date for r in keep]))  # NaT: far below any day
    inside = (days >= first_day) & (days <= last_day)
    if not inside.all():
        keep = [r for r, ok in zip(keep, inside.tolist(), strict=True) if ok]
        days = days[inside]
    if not keep:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    natural = [r.natural_key for r in keep]
    klaviyo = account_key.startswith("klaviyo|")
    return pd.DataFrame(
        {
            "series": [k.rsplit("|", 1)[0] for k in natural],
            "account_key": account_key,
            "day": days,
            "spend": np.fromiter((r.spend for r in keep), np.float64, len(keep)),
            "conversions": np.fromiter((r.conversions for r in keep), np.float64, len(keep)),
            "revenue": np.fromiter((r.revenue for r in keep), np.float64, len(keep)),
            "version": np.fromiter((r.version for r in keep), np.int64, len(keep)),
            "sha": np.array([r.causal_metadata.raw_row_sha256 for r in keep], dtype=object),
            "campaign_id": np.array([r.campaign_id for r in keep], dtype=object),
            "campaign_key": (
                [p[2] if len(p) > 2 else "" for p in (k.split("|") for k in natural)]
                if klaviyo
                else [r.campaign_name for r in keep]
            ),
        }
    )


# --------------------------------------------------------------------- external factors


def factor_series_from_proto(
    request: ingestion_pb.RegisterExternalFactorRequest,
) -> tuple[str, FactorSeries]:
    violations: list[FieldViolation] = []
    try:
        require_org(request.org_id)
    except InvalidInput as exc:
        violations.extend(exc.violations)
    s = request.series
    try:
        enum_from_proto(s.type, md_pb.ExternalFactorType.DESCRIPTOR, "series.type")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    for name in ("source", "unit", "geo"):
        _text_bound(getattr(s, name), f"series.{name}", violations)
    if len(s.values) > MAX_FACTOR_VALUES:  # before reading them one by one
        violations.append(
            FieldViolation(
                "series.values", f"{len(s.values):,} values; at most {MAX_FACTOR_VALUES:,}"
            )
        )
        collect(violations)
    values: list[tuple[dt.date, float]] = []
    for i, v in enumerate(s.values):
        if not math.isfinite(v.value):
            violations.append(
                FieldViolation(f"series.values[{i}].value", f"value {v.value} is not finite")
            )
        try:
            day = date_from_proto(v.date, f"series.values[{i}].date")
        except InvalidInput as exc:
            violations.extend(exc.violations)
            continue
        assert day is not None
        values.append((day, v.value))
        if len(violations) >= 20:
            break
    collect(violations)
    kind = enum_name("external_factor_type", s.type)
    return request.org_id, FactorSeries(
        name=s.name,
        type="" if kind == "unspecified" else kind,
        source=s.source,
        unit=s.unit,
        geo=s.geo,
        values=tuple(values),
    )


def factor_series_to_proto(series: FactorSeries) -> ingestion_pb.ExternalFactorSeries:
    return ingestion_pb.ExternalFactorSeries(
        name=series.name,
        type=md_pb.ExternalFactorType.ValueType(enum_value("external_factor_type", series.type)),
        source=series.source,
        unit=series.unit,
        geo=series.geo,
        values=[ingestion_pb.DatedValue(date=date_to_proto(d), value=v) for d, v in series.values],
    )


def add_market_conditions(
    days: list[md_pb.CalendarDimension], table: FactorTable, country: str, subdivision: str
) -> None:
    """Fill each calendar day's economic indicators and market conditions from the org's
    factors (all-geo series, or the subdivision's where it has one)."""
    if table.frame.empty or not days:
        return
    numbers = (
        np.array([dt.date(d.date.year, d.date.month, d.date.day).toordinal() for d in days])
        - dt.date(1970, 1, 1).toordinal()
    )
    geo = f"{country}-{subdivision}" if subdivision else ""
    geos = pd.Series([geo] * len(days), dtype=object)
    keys = pd.Series([subdivision] * len(days), dtype=object)
    for f in join_factors(table, numbers, geos, keys):
        for day, value in zip(days, f.value.tolist(), strict=True):
            if not np.isfinite(value):
                continue
            mc = day.market_conditions
            if f.type == "macro":
                day.economic_indicators.add(name=f.name, value=value, unit=f.unit, source=f.source)
            elif f.type == "demand" and not mc.demand_index:
                mc.demand_index = value
            elif f.type == "competitor" and not mc.competitor_index:
                mc.competitor_index = value
            elif f.type == "promotion" and value > 0 and not mc.promotion_active:
                mc.promotion_active = True
                mc.promotion_name = f.name
