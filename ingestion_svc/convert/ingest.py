"""Ingest: the request decoded and checked (account, mapping, rows) into a RawBatch, its fingerprint, and the ack."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc import batch_parts, rejection_list
from ingestion_svc.calendar import supported_countries
from ingestion_svc.convert.struct_numbers import exact_numbers, inexact_key, json_keys, key_paths
from ingestion_svc.convert.text import COUNTRY, MAX_TEXT, text_bound
from ingestion_svc.currencies import ISO_4217
from ingestion_svc.errors import BatchTooLarge, InvalidIngestRequest
from ingestion_svc.parse import (
    MAX_DEPTH,
    MAX_ROW_CHARS,
    ROW,
    canonical_json,
    parse_json_rows,
    row_problem,
)
from ingestion_svc.pipeline import BatchResult, memory_refused
from ingestion_svc.raw_batch import (
    MAPPED_SOURCES,
    MAX_BATCH_ROWS,
    Account,
    ColumnMap,
    RawBatch,
    Rejection,
)
from mesh.runtime.exceptions import FieldViolation, InvalidInput, shown
from mesh.runtime.frames import enum_value
from mesh.runtime.protoconv import (
    enum_from_proto,
    int_in_range,
    require_org,
    timestamp_from_proto,
)

_log = logging.getLogger(__name__)

SOURCES = {
    common_pb.DATA_SOURCE_META: "meta",
    common_pb.DATA_SOURCE_GOOGLE_ADS: "google_ads",
    common_pb.DATA_SOURCE_KLAVIYO: "klaviyo",
    common_pb.DATA_SOURCE_TIKTOK: "tiktok",
    common_pb.DATA_SOURCE_GENERIC: "generic",
    common_pb.DATA_SOURCE_GENERIC_MEDIA: "generic_media",
    common_pb.DATA_SOURCE_SHOPIFY_ORDERS: "shopify_orders",
    common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS: "shopify_products",
    common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING: "google_ads_shopping",
    common_pb.DATA_SOURCE_META_PRODUCTS: "meta_products",
}
SOURCE_ENUM = {name: value for value, name in SOURCES.items()}
MAX_BATCH_ID = 256
# Bounds on what a request may carry besides its rows (each far above real use).
MAX_GEO_KEYS = 100_000  # every US zip code is 42k
# A row's version is pulled_at in µs (≤ 7.3e15 up to 2200) + row_offset + its index: a
# trillion lines keeps it far inside int64 and orders any real export.
MAX_ROW_OFFSET = 10**12
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
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


def _check_media_mapping(m: ingestion_pb.ColumnMapping, violations: list[FieldViolation]) -> None:
    """A media channel's rows need its name and what it bought: without them its rows would
    be spend of no channel, or a channel of no spend."""
    if not m.channel or m.channel == "first_party":
        violations.append(FieldViolation(
            "mapping.channel", "a generic_media source needs its channel's name (channel=tv): "
            "the label its spend is attributed under"))  # fmt: skip
    if not (m.spend or m.impressions):
        violations.append(FieldViolation(
            "mapping.spend", "a generic_media source needs a spend or impressions column: "
            "what the channel bought each day"))  # fmt: skip


def _check_account(
    account: ingestion_pb.AccountInfo, source: str, violations: list[FieldViolation]
) -> None:
    if text_bound(account.account_id, "account.account_id", violations) and not (
        account.account_id.isprintable()
    ):
        violations.append(
            FieldViolation(
                "account.account_id", f"{shown(account.account_id)} holds control characters"
            )
        )
    zone = text_bound(account.timezone, "account.timezone", violations)
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
    if (source == "klaviyo" or source in MAPPED_SOURCES) and not account.account_id:
        violations.append(
            FieldViolation("account.account_id", f"{source} rows carry no account: required")
        )
    if account.country_code and (
        not COUNTRY.match(account.country_code) or account.country_code not in supported_countries()
    ):
        violations.append(
            FieldViolation(
                "account.country_code",
                f"{shown(account.country_code)} is not a supported ISO 3166-1 alpha-2 code",
            )
        )
    _check_tax(account, source, violations)
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
    elif keys and not "".join(keys.values()).isprintable():
        # the code becomes the records' geo: the character rule of ids (account_id, batch_id),
        # so no NUL or terminal escape is stored and served back (audit R7-F8)
        bad = next(k for k, v in keys.items() if not v.isprintable())
        violations.append(
            FieldViolation(
                f"account.geo_keys[{shown(bad, 60)}]",
                f"geo code {shown(keys[bad], 60)} holds control (non-printable) characters; "
                f"a geo code is at most {MAX_TEXT} printable characters",
            )
        )


def _check_tax(
    account: ingestion_pb.AccountInfo, source: str, violations: list[FieldViolation]
) -> None:
    """A tax rate is a fraction below 1; a tax-inclusive shop's catalogue needs one: its prices
    hold the tax, which the products endpoint neither states nor says is there, and the
    orders' net sales are stored without it (a rate is never assumed)."""
    rate = account.tax_rate if account.HasField("tax_rate") else None
    if rate is not None and not (math.isfinite(rate) and 0.0 <= rate < 1.0):
        violations.append(
            FieldViolation("account.tax_rate", f"{rate!r} is not a fraction in [0, 1), e.g. 0.2")
        )
    elif rate is None and source == "shopify_products" and account.taxes_included:
        violations.append(
            FieldViolation(
                "account.tax_rate",
                "a tax-inclusive shop's catalogue (account.taxes_included) needs the rate its "
                "prices hold, e.g. 0.2 for 20% VAT (Shopify countries.json: the shop country's "
                "tax): they are stored net of it, as the orders' net sales are",
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
        text_bound(getattr(m, f.name), f"mapping.{f.name}", violations)
    if source in MAPPED_SOURCES and len(m.channel) <= MAX_TEXT and not m.channel.isprintable():
        # the label becomes the records' channel and campaign id: the character rule of ids
        violations.append(
            FieldViolation(
                "mapping.channel",
                f"mapping.channel {shown(m.channel, 60)} holds control (non-printable) characters",
            )
        )
    if source in MAPPED_SOURCES and not m.date:
        violations.append(FieldViolation("mapping.date", "a generic source needs a date column"))
    if source == "generic_media":
        _check_media_mapping(m, violations)
    pulled_at = now
    try:
        stamp = timestamp_from_proto(request.pulled_at, "pulled_at")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    else:
        if stamp is not None:
            pulled_at = stamp
            if pulled_at > now + skew:
                violations.append(FieldViolation("pulled_at", _future_words(pulled_at, now, skew)))
            elif pulled_at < _EPOCH:  # rows' versions count µs from it; memory's are >= 0
                violations.append(
                    FieldViolation(
                        "pulled_at", f"pulled_at {pulled_at:%Y-%m-%dT%H:%M:%SZ} is before 1970"
                    )
                )
    check(lambda: int_in_range(request.row_offset, "row_offset", 0, MAX_ROW_OFFSET))
    return source, pulled_at, violations


def struct_rows(
    rows: Sequence[struct_pb2.Struct],
    keys: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any] | None], list[bytes], list[Rejection]]:
    """Struct rows → (rows, the bytes each is hashed as, rejections), like
    :func:`ingestion_svc.parse.parse_json_rows`: a row too large or too deep, one protobuf
    could not decode, or one holding a NaN or infinite number (not JSON) is rejected. A
    whole number within 2^53 reads as the int JSON gives; a number in a key field ``keys``
    that is not one (:mod:`ingestion_svc.convert.struct_numbers`) rejects its row."""
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
                value = exact_numbers(json_format.MessageToDict(r))
            except ValueError:  # a NaN or infinite number_value has no JSON form
                why = "a number in the row is NaN or infinite (not JSON)"
            else:
                why = row_problem(value, 0)
        if why is None and value is not None and (bad := inexact_key(i, value, keys)):
            out.append(None)
            raw.append(canonical_json([value])[0])
            rejections.append(bad)
        elif why is None and value is not None:
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
    account = request.account
    m = request.mapping
    assert source is not None
    mapping = ColumnMap(
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
    )
    keys = key_paths(source, mapping)
    structured, structured_raw, struct_rejections = struct_rows(request.rows, keys)
    parsed, raw, rejections = parse_json_rows(request.json_rows, first_index=len(structured))
    # an id written as a float literal reads as the Struct path reads it (whole within 2^53:
    # the integer; past it, or with a fraction: the row's rejection naming the field)
    for k, row in enumerate(parsed):
        if row is not None and keys and (bad := json_keys(len(structured) + k, row, keys)):
            parsed[k] = None
            rejections.append(bad)
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
            taxes_included=(account.taxes_included if account.HasField("taxes_included") else None),
            tax_rate=account.tax_rate if account.HasField("tax_rate") else None,
        ),
        pulled_at=pulled_at,
        row_offset=request.row_offset,
        mapping=mapping,
        parse_rejections=[*struct_rejections, *rejections],
        restore_replaced=request.restore_replaced,
    )


def fingerprint(request: ingestion_pb.IngestRequest) -> str:
    """What makes two requests the same batch (everything they carry: the whole request's
    hash), then each part a retry could change (:mod:`ingestion_svc.batch_parts`)."""
    rows = hashlib.sha256()
    for r in request.rows:
        b = r.SerializeToString(deterministic=True)
        rows.update(b"s%d:" % len(b) + b)
    for line in request.json_rows:
        b = line.encode("utf-8", "surrogatepass")
        rows.update(b"j%d:" % len(b) + b)
    parts = {
        "rows": rows.hexdigest()[:16],
        "pulled_at": request.pulled_at.ToJsonString() if request.HasField("pulled_at") else "",
        "row_offset": str(request.row_offset),
        "account": _digest(request.account),
        "mapping": _digest(request.mapping),
        "source": str(request.source),
    }
    return batch_parts.join(digest_of(request), parts)


def _digest(message: Any) -> str:
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()[:16]


def digest_of(request: ingestion_pb.IngestRequest) -> str:
    """The whole request's hash (alone, the fingerprint the ledger kept before parts)."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def _reason(name: str) -> ingestion_pb.RejectionReason.ValueType:
    return ingestion_pb.RejectionReason.Value("REJECTION_REASON_" + name.upper())


def _set_rejections(reply: ingestion_pb.IngestResponse, rejections: Sequence[Rejection]) -> None:
    """``reply``'s rejections within the bound: listed, the rest counted per field and reason."""
    bounded = rejection_list.bounded(rejections)
    reply.rejections.extend(
        ingestion_pb.RowRejection(
            row_index=r.row_index, field=r.field, reason=_reason(r.reason), message=r.message
        )
        for r in bounded.listed
    )
    reply.rejection_summaries.extend(
        ingestion_pb.RejectionSummary(
            field=s.field,
            reason=_reason(s.reason),
            row_count=s.row_count,
            first_row_index=s.first_row_index,
            last_row_index=s.last_row_index,
            first_message=s.first_message,
        )
        for s in bounded.summaries
    )
    reply.unlisted_rejection_count = bounded.unlisted


def amender(
    batch_id: str, result: BatchResult
) -> Callable[[list[Rejection], int | None, int], bytes]:
    """The serialised ack of the batch once memory refused some of its records (their rows'
    rejections given): :func:`ack` of :func:`ingestion_svc.pipeline.memory_refused`. Holds
    the result without its records and history rows, which are freed once sent."""
    slim = dataclasses.replace(result, records=pd.DataFrame(), history_rows=pd.DataFrame())

    def amend(refused: list[Rejection], replaced: int | None = None, unchanged: int = 0) -> bytes:
        return ack(batch_id, memory_refused(slim, refused, replaced, unchanged)).SerializeToString()

    return amend


# Notes an ack lists (note_count counts them all); each message at most 300 characters.
MAX_LISTED_NOTES = 1000


def ack(batch_id: str, result: BatchResult) -> ingestion_pb.IngestResponse:
    """The batch's ack; rejected_count counts every rejected row, ``rejections`` lists them
    within :data:`ingestion_svc.rejection_list.MAX_LISTED_BYTES` and
    ``rejection_summaries`` counts the rest; ``notes`` lists the first
    :data:`MAX_LISTED_NOTES` parts of accepted rows left out."""
    reply = ingestion_pb.IngestResponse(
        batch_id=batch_id,
        accepted_count=result.accepted,
        rejected_count=len(result.rejections),
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
        notes=[
            ingestion_pb.IngestNote(
                row_index=n.row_index,
                field=rejection_list.clipped(n.field, 120),
                kind=n.kind,
                message=rejection_list.clipped(n.message, 300),
            )
            for n in result.notes[:MAX_LISTED_NOTES]
        ],
        note_count=len(result.notes),
    )
    _set_rejections(reply, result.rejections)
    return reply


# An ack this large in the ledger was stored before acks were bounded (new ones stay under
# about 1.5 MiB: about 1 MiB of rejections and summaries, at most 1,000 notes of ~450 bytes):
# it is bounded as it would be now, not replayed undeliverable.
_UNBOUNDED_ACK_BYTES = 2 << 20


def replayed(stored: bytes) -> ingestion_pb.IngestResponse:
    """The ack first sent for a batch, marked replayed. One stored before
    ``rejection_summaries`` existed and bounded then keeps its stand-in RowRejections (one per
    field and reason, saying "not listed one by one"): it is replayed as it was sent."""
    reply = ingestion_pb.IngestResponse.FromString(stored)
    if len(stored) > _UNBOUNDED_ACK_BYTES:
        reasons = ingestion_pb.RejectionReason
        old = [
            Rejection(
                r.row_index,
                r.field,
                reasons.Name(r.reason).removeprefix("REJECTION_REASON_").lower(),
                r.message,
            )
            for r in reply.rejections
        ]
        del reply.rejections[:]
        _set_rejections(reply, old)
    reply.replayed = True
    return reply


def _future_words(pulled_at: dt.datetime, now: dt.datetime, skew: dt.timedelta) -> str:
    """A pull stamped after this server's clock (past the skew allowed): the client's clock is
    as likely to be right as ours, so name both and the check (s20 R49-F5: a server restored
    from a snapshot 2 h behind refused every fresh export as "in the future")."""
    ahead = int((pulled_at - now).total_seconds())
    gap = f"{ahead // 3600} h {ahead % 3600 // 60} min" if ahead >= 3600 else f"{ahead // 60} min"
    _log.warning("a request's pulled_at is %s after this server's clock (%s); check the clock",
                 gap, f"{now:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
    return (
        f"pulled_at {pulled_at:%Y-%m-%dT%H:%M:%SZ} is {gap} after this ingestion server's clock "
        f"({now:%Y-%m-%dT%H:%M:%SZ}; {skew.total_seconds() / 60:.0f} min allowed): if the export "
        "was pulled just now, the server's clock is behind (check its time sync, e.g. NTP); "
        "otherwise send the time of the pull"
    )
