"""Proto ↔ domain for the memory service. Bad input raises InvalidInput naming the field.
The stored payload's bytes (a record with its enrichment) are :mod:`.payload`'s."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import table_pb2 as table_pb

from memory_svc.convert.payload import serialiser as serialiser  # the write path's callers
from memory_svc.errors import BatchTooLarge, InvalidQuery, InvalidRecord, UnknownFilterValue
from memory_svc.graph import EDGE_TYPES, Neighbourhood
from memory_svc.org_graphs import SpaceSummary
from memory_svc.org_sums import ColumnRows
from memory_svc.product_table import (
    CATALOGUE_COLUMNS,
    FRAME_COLUMNS,
    SALES_COLUMNS,
    SPEND_COLUMNS,
    ProductAggregate,
)
from memory_svc.refusals import WHOLE, Listed, Refusal, RefusalList
from memory_svc.search import SearchResult
from memory_svc.spaces import SPACES, region_keys
from memory_svc.store import Aggregate, CampaignGeoDays, RecordFilter, ScanRow
from memory_svc.writer import MEASURES, WriteOutcome, record_days
from mesh.runtime import record_rules
from mesh.runtime.aggregates import RECORDS, campaign_column, sum_column
from mesh.runtime.exceptions import FieldViolation, shown
from mesh.runtime.frames import enum_name, records_to_frame
from mesh.runtime.frames.gc_pause import gc_paused
from mesh.runtime.protoconv import date_from_proto, instant_from_proto, require_org

MAX_RECORDS_PER_REQUEST = 10_000
MAX_K = 1000
DEFAULT_SCAN_BATCH = 1000
MAX_SCAN_BATCH = 10_000
# A filter's campaign/geo/channel values are each looked up in the org's graph; ingestion's
# widest history scan names a batch's campaigns × geos (hundreds).
MAX_FILTER_VALUES = 10_000
MAX_ID_CHARS = 256
# What the engine reads: causal profile, text, graph roles, store columns, validation.
_WRITE_GROUPS = ("core", "holidays", "confounders")


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """A checked WriteRequest: the records to store, their frame and any embeddings they
    carry; the records refused (``memory_svc.refusals``: not in ``records``), and for each
    record kept its index in the message (None when none was refused)."""

    org_id: str
    records: list[md_pb.CausalMarketingData]
    frame: pd.DataFrame
    given_vectors: list[np.ndarray | None]
    refusals: list[Refusal] = field(default_factory=list)
    indexes: np.ndarray | None = None


def write_batch(
    request: memory_pb.WriteRequest | memory_pb.WriteStreamRequest, stream_org: str | None
) -> WriteBatch:
    """Check one message of a Write stream: the message as a whole (its org, the same in
    every message; its size) or it is refused; then each record, those breaking a rule of
    ``mesh.runtime.record_rules`` refused on their own (``WriteBatch.refusals``)."""
    org_id = require_org(request.org_id)
    if stream_org is not None and org_id != stream_org:
        raise InvalidRecord(
            f"every message of a Write stream must carry org_id {stream_org!r}", field="org_id"
        )
    n = len(request.records)
    if n > MAX_RECORDS_PER_REQUEST:
        raise BatchTooLarge(
            f"{n} records in one WriteRequest; at most {MAX_RECORDS_PER_REQUEST} are accepted"
        )
    with gc_paused():  # a GC-tracked upb wrapper per record, alive until the batch is stored
        records = list(request.records)
        frame = records_to_frame(records, groups=_WRITE_GROUPS)
        if any(r.HasField("product") for r in records):
            frame = _with_products(frame, records)
        refusals = [
            Refusal(i, records[i].id, f or WHOLE, why)
            for i, f, why in record_rules.refused_rows(frame, org_id, records)
        ]
        given = _given_vectors(records, refusals)
        if not refusals:
            return WriteBatch(org_id, records, frame, given)
        return _without_refused(org_id, records, frame, given, refusals)


def _without_refused(
    org_id: str,
    records: list[md_pb.CausalMarketingData],
    frame: pd.DataFrame,
    given: list[np.ndarray | None],
    refusals: list[Refusal],
) -> WriteBatch:
    """The batch less its refused records (one refusal each, the first found)."""
    first: dict[int, Refusal] = {}
    for r in refusals:
        first.setdefault(r.index, r)
    keep = np.ones(len(records), dtype=bool)
    keep[list(first)] = False
    indexes = np.flatnonzero(keep)
    kept = indexes.tolist()
    return WriteBatch(
        org_id,
        [records[i] for i in kept],
        frame.iloc[indexes].reset_index(drop=True),
        [given[i] for i in kept],
        sorted(first.values(), key=lambda r: r.index),
        indexes,
    )


def _given_vectors(
    records: list[md_pb.CausalMarketingData], refusals: list[Refusal]
) -> list[np.ndarray | None]:
    """Each record's embedding when it carries one (a NaN or inf refuses the record)."""
    given: list[np.ndarray | None] = []
    for i, r in enumerate(records):
        if len(r.embedding_vector):
            vec = np.asarray(r.embedding_vector, dtype=np.float32)
            if not np.isfinite(vec).all():
                refusals.append(Refusal(i, r.id, "embedding_vector", "embedding has NaN or inf"))
            given.append(vec)
        else:
            given.append(None)
    return given


def _with_products(frame: pd.DataFrame, records: list[md_pb.CausalMarketingData]) -> pd.DataFrame:
    """The frame with the product dimension's columns (``product_table.FRAME_COLUMNS``), which
    the product table's rows are read from."""
    columns: dict[str, list[object]] = {name: [] for name in FRAME_COLUMNS}
    for r in records:
        p = r.product
        for name in FRAME_COLUMNS:
            if name == "unit_cost":
                columns[name].append(p.unit_cost if p.HasField("unit_cost") else np.nan)
            else:
                columns[name].append(getattr(p, name))
    extra = pd.DataFrame(
        {n: np.asarray(v, dtype=FRAME_COLUMNS[n]) for n, v in columns.items()}, index=frame.index
    )
    return pd.concat([frame, extra], axis=1)


def _set_counts(
    reply: memory_pb.WriteResponse | memory_pb.WriteStreamResponse, outcome: WriteOutcome
) -> None:
    reply.inserted_count = outcome.inserted
    reply.replaced_count = outcome.replaced
    reply.unchanged_count = outcome.unchanged
    reply.stale_count = outcome.stale
    reply.org_record_count = outcome.org_record_count


def _rejection(x: Listed) -> memory_pb.RecordRejection:
    return memory_pb.RecordRejection(
        message_index=x.message,
        record_index=x.index,
        record_id=x.record_id,
        field=x.field,
        reason=x.reason,
    )


def _set_refusals(
    reply: memory_pb.WriteResponse | memory_pb.WriteStreamResponse, refused: RefusalList
) -> None:
    reply.refused_count = refused.count
    reply.rejections.extend(_rejection(x) for x in refused.listed)
    reply.unlisted_rejection_count = refused.unlisted
    reply.rejection_summaries.extend(
        memory_pb.RecordRejectionSummary(
            field=str(g.key),
            record_count=g.count,
            first=_rejection(g.first),
            last_message_index=g.last.message,
            last_record_index=g.last.index,
        )
        for g in refused.groups
    )


def write_response(outcome: WriteOutcome, refused: RefusalList) -> memory_pb.WriteResponse:
    """A Write stream's answer: its messages' counts summed, their refusals bounded."""
    reply = memory_pb.WriteResponse()
    _set_counts(reply, outcome)
    if refused.count:
        _set_refusals(reply, refused)
    return reply


def write_stream_response(outcome: WriteOutcome, message: int) -> memory_pb.WriteStreamResponse:
    """The answer to the ``message``-th message of a WriteStream."""
    reply = memory_pb.WriteStreamResponse()
    _set_counts(reply, outcome)
    if outcome.refusals:
        refused = RefusalList()
        refused.add(message, outcome.refusals)
        _set_refusals(reply, refused)
        reply.refused_record_indexes.extend(r.index for r in outcome.refusals)
    return reply


# ----------------------------------------------------------------------- filters


def _us(ts: timestamp_pb2.Timestamp, field: str) -> int:
    """Microseconds since the epoch of an instant inside the supported range."""
    instant_from_proto(ts, field)
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def _filter_values(
    message: memory_pb.ScanRequest | memory_pb.SearchFilter, prefix: str
) -> list[FieldViolation]:
    """Bounds on the filter's lists: each value is looked up in the graph, one by one."""
    found = []
    for name in ("campaign_ids", "geos", "channels"):
        values = getattr(message, name)
        if len(values) > MAX_FILTER_VALUES:
            found.append(
                FieldViolation(
                    f"{prefix}{name}",
                    f"{len(values):,} {name}; a filter takes at most {MAX_FILTER_VALUES:,}",
                )
            )
            continue
        found += [
            FieldViolation(f"{prefix}{name}[{i}]", f"{name} value is longer than {MAX_ID_CHARS}")
            for i, v in enumerate(values)
            if len(v) > MAX_ID_CHARS
        ]
    if len(message.experiment_id) > MAX_ID_CHARS:
        found.append(
            FieldViolation(f"{prefix}experiment_id", f"experiment_id is longer than {MAX_ID_CHARS}")
        )
    return found


def _filter(message: memory_pb.ScanRequest | memory_pb.SearchFilter, prefix: str) -> RecordFilter:
    violations = _filter_values(message, prefix)
    start = end = None
    tr = message.time_range
    if message.HasField("time_range"):
        where = f"{prefix}time_range."
        start = _us(tr.start_time, where + "start_time") if tr.HasField("start_time") else None
        end = _us(tr.end_time, where + "end_time") if tr.HasField("end_time") else None
        if start is not None and end is not None and end <= start:
            violations.append(
                FieldViolation(
                    f"{prefix}time_range", "time_range.end_time must be after start_time"
                )
            )
    sources = []
    for i, s in enumerate(message.sources):
        name = enum_name("data_source", s)
        if s == common_pb.DATA_SOURCE_UNSPECIFIED or name == "unknown":
            violations.append(FieldViolation(f"{prefix}sources[{i}]", f"{s} is not a data source"))
        sources.append(name)
    groups = []
    for i, g in enumerate(message.treatment_groups):
        name = enum_name("treatment_group", g)
        if g == md_pb.TREATMENT_GROUP_UNSPECIFIED or name == "unknown":
            violations.append(
                FieldViolation(f"{prefix}treatment_groups[{i}]", f"{g} is not a treatment group")
            )
        groups.append(name)
    region = ""
    min_quality = None
    if isinstance(message, memory_pb.SearchFilter):
        region = message.conceptual_region
        if region and region not in region_keys():
            raise UnknownFilterValue(
                f"conceptual_region {shown(region)} is not a space/region; known: "
                + ", ".join(sorted(region_keys())),
                field=f"{prefix}conceptual_region",
            )
        if message.HasField("min_quality_score"):
            min_quality = message.min_quality_score
            if not (math.isfinite(min_quality) and 0.0 <= min_quality <= 1.0):
                violations.append(
                    FieldViolation(
                        f"{prefix}min_quality_score", "min_quality_score must be in [0, 1]"
                    )
                )
    if violations:
        raise InvalidQuery(violations[0].description, violations=violations)
    return RecordFilter(
        start_us=start,
        end_us=end,
        sources=tuple(sources),
        campaign_ids=tuple(message.campaign_ids),
        experiment_id=message.experiment_id,
        treatment_groups=tuple(groups),
        geos=tuple(message.geos),
        channels=tuple(message.channels),
        region=region,
        min_quality=min_quality,
    )


@dataclass(frozen=True, slots=True)
class ScanQuery:
    """A validated ScanRequest."""

    org_id: str
    filter: RecordFilter
    batch_size: int
    with_embeddings: bool
    # Unknown campaign ids / geos / channels match nothing instead of being refused.
    allow_unknown: bool


def scan_request(request: memory_pb.ScanRequest) -> ScanQuery:
    org_id = require_org(request.org_id)
    size = request.batch_size or DEFAULT_SCAN_BATCH
    if not 1 <= size <= MAX_SCAN_BATCH:
        raise InvalidQuery(
            f"batch_size must be 1..{MAX_SCAN_BATCH} (0 for {DEFAULT_SCAN_BATCH})",
            field="batch_size",
        )
    return ScanQuery(
        org_id,
        _filter(request, ""),
        size,
        request.include_embeddings,
        request.allow_unknown_values,
    )


def scan_response(rows: list[ScanRow]) -> memory_pb.ScanResponse:
    out = memory_pb.ScanResponse()
    for row in rows:
        r = out.records.add()
        r.ParseFromString(row.payload)
        if row.embedding is not None:
            r.embedding_vector.extend(np.frombuffer(row.embedding, dtype=np.float32).tolist())
    return out


# ------------------------------------------------------------------------ search


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated SearchRequest."""

    org_id: str
    text: str | None
    vector: np.ndarray | None
    filter: RecordFilter
    k: int
    include_records: bool


def search_request(request: memory_pb.SearchRequest) -> SearchQuery:
    org_id = require_org(request.org_id)
    if not 1 <= request.k <= MAX_K:
        raise InvalidQuery(f"k must be 1..{MAX_K}, got {request.k}", field="k")
    which = request.WhichOneof("query")
    text = vector = None
    if which is None:
        raise InvalidQuery("a text or vector query is required", field="query")
    if which == "text":
        if not request.text.strip():
            raise InvalidQuery("text must not be blank", field="text")
        if len(request.text) > 10_000:
            raise InvalidQuery("text is longer than 10000 characters", field="text")
        text = request.text
    else:
        vector = np.asarray(request.vector.values, dtype=np.float32)
        if len(vector) == 0:
            raise InvalidQuery("vector has no values", field="vector.values")
        if not np.isfinite(vector).all():
            raise InvalidQuery("vector has NaN or infinite values", field="vector.values")
    return SearchQuery(
        org_id, text, vector, _filter(request.filter, "filter."), request.k, request.include_records
    )


def search_response(result: SearchResult) -> memory_pb.SearchResponse:
    out = memory_pb.SearchResponse(
        index_kind=(
            memory_pb.INDEX_KIND_EXACT if result.index_kind == "exact" else memory_pb.INDEX_KIND_IVF
        ),
        index_size=result.index_size,
        filtered_count=result.filtered_count,
    )
    for hit in result.hits:
        h = out.hits.add(record_id=hit.record_id, score=hit.score)
        if hit.payload is not None:
            h.record.ParseFromString(hit.payload)
    return out


# ------------------------------------------------------------------------- graph

_EDGE_ENUM = {
    name: memory_pb.GraphEdgeType.Value(f"GRAPH_EDGE_TYPE_{name.upper()}") for name in EDGE_TYPES
}
_EDGE_NAME = {v: k for k, v in _EDGE_ENUM.items()}
_NODE_ENUM = {
    name: memory_pb.GraphNodeType.Value(f"GRAPH_NODE_TYPE_{name.upper()}")
    for name in (
        "org",
        "campaign",
        "channel",
        "experiment",
        "treatment_group",
        "confounder",
        "conceptual_region",
        "time_period",
        "data_source",
        "geo",
    )
}


def query_graph_request(
    request: memory_pb.QueryGraphRequest,
) -> tuple[str, str, int, frozenset[str], int]:
    org_id = require_org(request.org_id)
    violations = []
    if not request.node_id:
        violations.append(FieldViolation("node_id", "node_id is required, e.g. 'campaign:123'"))
    elif len(request.node_id) > MAX_ID_CHARS + 32:
        violations.append(FieldViolation("node_id", f"node_id is longer than {MAX_ID_CHARS + 32}"))
    depth = request.depth or 1
    if not 1 <= depth <= 4:
        violations.append(FieldViolation("depth", "depth must be 1..4 (0 for 1)"))
    max_nodes = request.max_nodes or 200
    if not 1 <= max_nodes <= 5000:
        violations.append(FieldViolation("max_nodes", "max_nodes must be 1..5000 (0 for 200)"))
    edges = set()
    for i, e in enumerate(request.edge_types):
        if e not in _EDGE_NAME:
            violations.append(FieldViolation(f"edge_types[{i}]", f"{e} is not an edge type"))
        else:
            edges.add(_EDGE_NAME[e])
    if violations:
        raise InvalidQuery(violations[0].description, violations=violations)
    return org_id, request.node_id, depth, frozenset(edges), max_nodes


def query_graph_response(result: Neighbourhood) -> memory_pb.QueryGraphResponse:
    out = memory_pb.QueryGraphResponse(truncated=result.truncated)
    for n in result.nodes:
        out.nodes.add(
            id=n.node_id,
            type=_NODE_ENUM[n.type],
            label=n.label,
            record_count=n.record_count,
            properties=n.properties,
        )
    for e in result.edges:
        out.edges.add(source=e.source, target=e.target, type=_EDGE_ENUM[e.type], weight=e.weight)
    return out


def spaces_response(
    summaries: list[SpaceSummary], next_page_token: str = ""
) -> memory_pb.ListConceptualSpacesResponse:
    """The spaces of ``summaries``, in their order, with their regions' counts."""
    specs = {space.name: space for space in SPACES}
    out = memory_pb.ListConceptualSpacesResponse(next_page_token=next_page_token)
    for summary in summaries:
        space = specs[summary.name]
        s = out.spaces.add(name=space.name, description=space.description)
        for d in space.dimensions:
            s.dimensions.add(name=d.name, description=d.description)
        for r in space.regions:
            s.regions.add(
                name=r.name,
                prototype=list(r.prototype),
                record_count=summary.counts.get(r.name, 0),
                description=r.description,
            )
    return out


def payload_measures(
    payloads: list[bytes],
) -> list[tuple[int, float, float, float, float, str]]:
    """(local day, spend, impressions, conversions, revenue, currency) of stored payloads (the
    measures table's backfill for records stored before it existed)."""
    records = [md_pb.CausalMarketingData.FromString(p) for p in payloads]
    frame = records_to_frame(records, groups=("core",))
    days = record_days(frame).tolist()
    values = np.nan_to_num(frame[list(MEASURES)].to_numpy(np.float64)).tolist()
    return [(d, *v, r.currency_code) for d, v, r in zip(days, values, records, strict=True)]


def payload_currencies(payloads: list[bytes]) -> list[str]:
    """The currency_code of stored payloads (``measures.currency``'s backfill)."""
    return [md_pb.CausalMarketingData.FromString(p).currency_code for p in payloads]


def payload_skus(payloads: list[bytes]) -> list[str]:
    """The product.sku of stored payloads (``product_records.sku``'s one-off fill)."""
    return [md_pb.CausalMarketingData.FromString(p).product.sku for p in payloads]


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """An AggregateRecords request: org, inclusive local-day range, source short names, the
    sums geo_days carries (all four when the request names none) and whether the spend per
    day × geo × campaign is wanted too."""

    org_id: str
    start_day: int | None
    end_day: int | None
    sources: tuple[str, ...]
    measures: tuple[str, ...] = MEASURES
    campaign_geo: bool = False


_EPOCH = dt.date(1970, 1, 1)
_AGG_COLUMNS = ("spend", "impressions", "conversions", "revenue", "records")
_Dated = (memory_pb.AggregateRecordsRequest | memory_pb.AggregateProductsRequest
          | memory_pb.DeleteRecordsRequest)  # fmt: skip


def _day_span(request: _Dated) -> tuple[int | None, int | None]:
    """The request's optional date_range as days since 1970-01-01 (None: unbounded)."""
    if not request.HasField("date_range"):
        return None, None
    first = date_from_proto(request.date_range.start_date, "date_range.start_date", required=False)
    last = date_from_proto(request.date_range.end_date, "date_range.end_date", required=False)
    if first is not None and last is not None and last < first:
        raise InvalidQuery("date_range.end_date precedes start_date", field="date_range")
    return (
        None if first is None else (first - _EPOCH).days,
        None if last is None else (last - _EPOCH).days,
    )


def aggregate_request(request: memory_pb.AggregateRecordsRequest) -> AggregateQuery:
    org_id = require_org(request.org_id)
    start, end = _day_span(request)
    sources = []
    for i, s in enumerate(request.sources):
        name = enum_name("data_source", s)
        if s == common_pb.DATA_SOURCE_UNSPECIFIED or name == "unknown":
            raise InvalidQuery(f"{s} is not a data source", field=f"sources[{i}]")
        sources.append(name)
    for i, m in enumerate(request.measures):
        if m not in MEASURES:
            raise InvalidQuery(f"{shown(m)} is not a sum; one of {', '.join(MEASURES)}",
                               field=f"measures[{i}]")  # fmt: skip
    wanted = set(request.measures)
    measures = tuple(m for m in MEASURES if m in wanted) if wanted else MEASURES
    return AggregateQuery(org_id, start, end, tuple(sources), measures,
                          request.campaign_geo_spend)  # fmt: skip


def _column(table: table_pb.Table, name: str, values: np.ndarray | list[str]) -> None:
    """One column of ``values`` — an int64/float64 array or a list of str — without NaNs or
    missing values (sums never have them), packed as pandas-free as it is sent."""
    column = table.columns.add(name=name)
    if isinstance(values, np.ndarray):
        typed = column.int64s if values.dtype.kind in "iu" else column.doubles
        typed.SetInParent()  # an empty table's columns still say their type
        typed.values.extend(values.tolist())
    else:
        column.strings.SetInParent()
        column.strings.values.extend(values)


def _columns(rows: Sequence[tuple], n: int) -> list[Any]:  # type: ignore[type-arg]
    """A row sequence's columns: a ColumnRows' own, else unzipped (a list from another store)."""
    if isinstance(rows, ColumnRows):
        return list(rows.columns)
    unzipped = list(zip(*rows, strict=True)) or [()] * n
    return [list(c) if c and isinstance(c[0], str) else np.asarray(c) for c in unzipped]


def _typed(values: Any, dtype: type) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def aggregate_response(
    agg: Aggregate, measures: Sequence[str] = MEASURES
) -> memory_pb.AggregateRecordsResponse:
    """The sums as two Tables; geo_days keeps the columns of ``measures`` only."""
    response = memory_pb.AggregateRecordsResponse(record_count=agg.record_count)
    geo, campaign = response.geo_days, response.campaign_days
    geo.row_count = len(agg.geo_days)
    cols = _columns(agg.geo_days, 2 + len(agg.geo_columns))
    _column(geo, "date", _typed(cols[0], np.int64))
    _column(geo, "geo", list(map(str, cols[1])))
    for i, (source, channel, measure) in enumerate(agg.geo_columns):
        if measure in measures or measure == RECORDS:  # row presence goes with any sum
            _column(geo, sum_column(source, channel, measure), _typed(cols[2 + i], np.float64))
    campaign.row_count = len(agg.campaign_days)
    cols = _columns(agg.campaign_days, 4 + len(_AGG_COLUMNS))
    types = (np.int64, str, str, str, np.float64, np.float64, np.float64, np.float64, np.int64)
    for name, values, dtype in zip(("date", "campaign_id", "source", "channel", *_AGG_COLUMNS),
                                   cols, types, strict=True):  # fmt: skip
        _column(campaign, name, list(map(str, values)) if dtype is str else _typed(values, dtype))
    records, spend = _unreported(cols, agg)
    _column(campaign, "unreported_records", records)
    _column(campaign, "unreported_spend", spend)
    if agg.campaign_geo_days is not None:
        _campaign_geo_table(response.campaign_geo_days, agg.campaign_geo_days)
    _currencies_table(response.currencies, agg.currencies)
    names = response.campaign_names
    names.row_count = len(agg.campaign_names)
    _column(names, "campaign_id", [c for c, _ in agg.campaign_names])
    _column(names, "name", [n for _, n in agg.campaign_names])
    return response


def _unreported(cols: Sequence[Sequence[Any]], agg: Aggregate) -> tuple[np.ndarray, np.ndarray]:
    """Per campaign_days row: its records whose platform conversions were not reported, and
    their spend (capped at the row's: the two are read apart, memory_svc.unreported)."""
    n = len(agg.campaign_days)
    records, spend = np.zeros(n, dtype=np.int64), np.zeros(n)
    if not agg.unreported or not n:
        return records, spend
    found = {tuple(r[:4]): (r[4], r[5]) for r in agg.unreported}
    for i, key in enumerate(zip(*(list(c) for c in cols[:4]), strict=True)):
        hit = found.get((int(key[0]), *map(str, key[1:])))
        if hit is not None:
            records[i], spend[i] = hit
    np.minimum(records, np.asarray(cols[8], dtype=np.int64), out=records)
    np.minimum(spend, np.asarray(cols[4], dtype=np.float64), out=spend)
    return records, spend


_CURRENCY_COLUMNS = (("source", str), ("channel", str), ("currency", str),
                     ("spend", np.float64), ("revenue", np.float64), ("records", np.int64))  # fmt: skip


def _currencies_table(
    table: table_pb.Table, rows: Sequence[tuple[str, str, str, float, float, int]]
) -> None:
    """Money per (source, channel, currency), long."""
    table.row_count = len(rows)
    cols = list(zip(*rows, strict=True)) or [()] * len(_CURRENCY_COLUMNS)
    for (name, dtype), values in zip(_CURRENCY_COLUMNS, cols, strict=True):
        _column(table, name, list(values) if dtype is str else _typed(values, dtype))


def _campaign_geo_table(table: table_pb.Table, wide: CampaignGeoDays) -> None:
    """Spend per day × geo × campaign, wide: date, geo, one spend column per campaign."""
    table.row_count = len(wide.geo)
    _column(table, "date", _typed(wide.day, np.int64))
    _column(table, "geo", wide.geo)
    for j, (source, channel, campaign_id) in enumerate(wide.columns):
        _column(table, campaign_column(source, channel, campaign_id), wide.spend[:, j])


def aggregate_products_request(
    request: memory_pb.AggregateProductsRequest,
) -> tuple[str, int | None, int | None, bool]:
    """(org, first day, last day, spend only) of an AggregateProducts request (days since
    1970-01-01)."""
    org_id = require_org(request.org_id)
    start, end = _day_span(request)
    return org_id, start, end, request.spend_only


def _product_table(
    table: table_pb.Table, rows: Sequence[tuple], columns: Sequence[tuple[str, str]]
) -> None:  # type: ignore[type-arg]
    table.row_count = len(rows)
    cols = list(zip(*rows, strict=True)) or [()] * len(columns)
    for (name, kind), values in zip(columns, cols, strict=True):
        if kind == "str":
            _column(table, name, ["" if v is None else str(v) for v in values])
        elif kind == "int64":
            _column(table, name, np.asarray([0 if v is None else v for v in values], np.int64))
        else:
            _column(
                table, name, np.asarray([np.nan if v is None else v for v in values], np.float64)
            )


def aggregate_products_response(agg: ProductAggregate) -> memory_pb.AggregateProductsResponse:
    """The product sums as three Tables (``memory_svc.product_table``'s columns)."""
    response = memory_pb.AggregateProductsResponse(record_count=agg.record_count)
    _product_table(response.sales, agg.sales, SALES_COLUMNS)
    _product_table(response.spend, agg.spend, SPEND_COLUMNS)
    _product_table(response.catalogue, agg.catalogue, CATALOGUE_COLUMNS)
    return response
