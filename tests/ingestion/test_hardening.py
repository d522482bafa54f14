"""The hostile probe's findings (issue 13), each through a real Ingest stream on real ingestion
and memory servers: a bad row is that row's rejection — field and reason — while the good rows
of its batch and of every later batch are stored; a bad request is INVALID_ARGUMENT naming the
field, never INTERNAL."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.internal import encoder
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from tests.ingestion.conftest import PULLED, dumps, rich_error
from tests.ingestion.fuzzing import request

MALFORMED = ingestion_pb.REJECTION_REASON_MALFORMED
INVALID_NUMBER = ingestion_pb.REJECTION_REASON_INVALID_NUMBER
INVALID = grpc.StatusCode.INVALID_ARGUMENT
ORG = "probe"


class _Corpus:
    """Clean rows of one source and their natural keys (the fuzzing corpus's shape)."""

    def __init__(self, world: sim.SimResult, source: str) -> None:
        from tests.ingestion.fuzzing import corpus

        self.corpus = corpus(world, source)

    def lines(self, start: int, n: int) -> list[str]:
        return [dumps(r) for r in self.corpus.clean[start : start + n]]

    def keys(self, start: int, n: int) -> set[str]:
        return set(self.corpus.keys[start : start + n])

    def row(self, k: int) -> dict[str, Any]:
        return copy.deepcopy(self.corpus.clean[k])

    def request(self, lines: list[str], batch_id: str, offset: int) -> ingestion_pb.IngestRequest:
        return request(self.corpus, lines, batch_id, org=ORG, pulled=PULLED, offset=offset)


def _channels(services) -> tuple[grpc.Channel, memory_grpc.MemoryServiceStub]:  # type: ignore[no-untyped-def]
    channel = grpc.insecure_channel(services["ingestion"].address)
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    return channel, memory


def _stored(memory: memory_grpc.MemoryServiceStub) -> set[str]:
    return {
        r.natural_key
        for reply in memory.Scan(memory_pb.ScanRequest(org_id=ORG), timeout=60)
        for r in reply.records
    }


def _three_batches(
    services,
    c: _Corpus,
    bad_line: str,  # type: ignore[no-untyped-def]
) -> tuple[list[ingestion_pb.IngestResponse], set[str], set[str]]:
    """Batch 2 of 3 holds ``bad_line`` between good rows; returns (acks, good keys, stored)."""
    b1 = c.lines(0, 10)
    b2 = [*c.lines(10, 5), bad_line, *c.lines(15, 5)]
    b3 = c.lines(20, 10)
    channel, memory = _channels(services)
    stub = ingestion_grpc.IngestionServiceStub(channel)
    requests = [c.request(b1, "a", 0), c.request(b2, "b", 10), c.request(b3, "c", 21)]
    acks = list(stub.Ingest(iter(requests), timeout=60))
    return acks, c.keys(0, 30), _stored(memory)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _meta_with(field: str, value: Any) -> Callable[[_Corpus], str]:
    def build(c: _Corpus) -> str:
        row = c.row(40)
        row[field] = value
        return json.dumps(row)

    return build


def _tiktok_objective(value: Any) -> Callable[[_Corpus], str]:
    def build(c: _Corpus) -> str:
        row = c.row(40)
        row["metrics"]["objective_type"] = value
        return json.dumps(row)

    return build


FINDINGS = [
    # (source, bad line, rejected field, reason, words in the message)
    ("meta", lambda c: _nested(5000), "$", MALFORMED, "nested more than 20"),
    ("meta", lambda c: '{"a":' * 5000 + "1" + "}" * 5000, "$", MALFORMED, "nested more than 20"),
    ("meta", _meta_with("objective", {}), "objective", MALFORMED, "JSON object"),
    ("meta", _meta_with("objective", []), "objective", MALFORMED, "JSON array"),
    ("tiktok", _tiktok_objective({}), "metrics.objective_type", MALFORMED, "JSON object"),
    ("tiktok", _tiktok_objective([]), "metrics.objective_type", MALFORMED, "JSON array"),
    ("meta", _meta_with("spend", int("9" * 400)), "spend", INVALID_NUMBER, "finite"),
    ("meta", _meta_with("spend", "9" * 400), "spend", INVALID_NUMBER, "finite"),
    ("meta", _meta_with("spend", "1e13"), "spend", INVALID_NUMBER, "at most 1e12"),
]


@pytest.mark.parametrize(
    ("source", "bad", "field", "reason", "words"),
    FINDINGS,
    ids=[
        "nested-5000-arrays",
        "nested-5000-objects",
        "meta-objective-{}",
        "meta-objective-[]",
        "tiktok-objective-{}",
        "tiktok-objective-[]",
        "spend-400-digit-int",
        "spend-400-digit-string",
        "spend-above-1e12",
    ],
)
def test_a_bad_row_is_its_rejection_and_the_stream_goes_on(
    services,
    world: sim.SimResult,
    source: str,
    bad,
    field: str,
    reason: int,
    words: str,  # type: ignore[no-untyped-def]
) -> None:
    c = _Corpus(world, source)
    acks, good, stored = _three_batches(services, c, bad(c))
    assert [a.batch_id for a in acks] == ["a", "b", "c"]
    (rejection,) = acks[1].rejections
    assert (rejection.row_index, rejection.field, rejection.reason) == (5, field, reason)
    assert words in rejection.message
    assert [a.accepted_count for a in acks] == [10, 10, 10]
    assert good <= stored


def _struct_field(body: bytes) -> bytes:
    """An IngestRequest's ``rows`` field holding ``body`` (a client may send what protobuf
    refuses to build: a Struct nested deeper than it decodes)."""
    return b"\x22" + encoder._VarintBytes(len(body)) + body


def _deep_struct(depth: int) -> struct_pb2.Struct:
    root = struct_pb2.Struct()
    node = root
    for _ in range(depth):
        node = node.fields["a"].struct_value
    node.fields["b"].number_value = 1
    return root


@pytest.mark.parametrize("depth", [25, 150])
def test_a_struct_row_nested_too_deep_is_its_rejection(
    services,
    world: sim.SimResult,
    depth: int,  # type: ignore[no-untyped-def]
) -> None:
    """25 levels: decoded, refused as too deep; 150: beyond protobuf's decoder (~32), which
    used to fail the whole stream as INTERNAL."""
    c = _Corpus(world, "meta")
    good = struct_pb2.Struct()
    good.update(c.row(10))
    first = c.request(c.lines(0, 10), "a", 0)
    second = c.request(c.lines(11, 9), "b", 10)
    second.rows.append(good)
    wire = [
        first.SerializeToString(),
        second.SerializeToString() + _struct_field(_deep_struct(depth).SerializeToString()),
        c.request(c.lines(20, 10), "c", 21).SerializeToString(),
    ]
    channel, memory = _channels(services)
    call = channel.stream_stream(
        "/liftos.v1.IngestionService/Ingest",
        request_serializer=None,
        response_deserializer=ingestion_pb.IngestResponse.FromString,
    )
    acks = list(call(iter(wire), timeout=60))
    assert [a.batch_id for a in acks] == ["a", "b", "c"]
    (rejection,) = acks[1].rejections
    # Rows count Struct rows first: the good Struct is row 0, the deep one row 1.
    assert (rejection.row_index, rejection.field, rejection.reason) == (1, "$", MALFORMED)
    assert "nested" in rejection.message
    assert [a.accepted_count for a in acks] == [10, 10, 10]
    assert c.keys(0, 30) <= _stored(memory)


def test_a_message_that_is_no_ingest_request_is_invalid_argument(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    c = _Corpus(world, "meta")
    channel, memory = _channels(services)
    call = channel.stream_stream(
        "/liftos.v1.IngestionService/Ingest",
        request_serializer=None,
        response_deserializer=ingestion_pb.IngestResponse.FromString,
    )
    wire = [c.request(c.lines(0, 10), "a", 0).SerializeToString(), b"\xff\xff\xff\xff"]
    acks: list[ingestion_pb.IngestResponse] = []
    with pytest.raises(grpc.RpcError) as err:
        for ack in call(iter(wire), timeout=60):
            acks.append(ack)
    assert [a.batch_id for a in acks] == ["a"]
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (INVALID, "INVALID_INGEST_REQUEST")
    assert c.keys(0, 10) <= _stored(memory)


def _offset(r: ingestion_pb.IngestRequest) -> None:
    r.row_offset = 2**63 - 1


def _nanos(r: ingestion_pb.IngestRequest) -> None:
    r.pulled_at.nanos = -5


def _big_nanos(r: ingestion_pb.IngestRequest) -> None:
    r.pulled_at.nanos = 1_000_000_000


def _seconds(r: ingestion_pb.IngestRequest) -> None:
    r.pulled_at.seconds = -(10**12)


def _year_9999(r: ingestion_pb.IngestRequest) -> None:
    r.pulled_at.seconds = 253_402_300_000


def refused_second_batch(
    services, c: _Corpus, change: Callable[[ingestion_pb.IngestRequest], None]
) -> tuple[list[ingestion_pb.IngestResponse], grpc.RpcError, Any]:  # type: ignore[no-untyped-def]
    """One stream of two batches, rows 0-9 then rows 10-14 with ``change`` made to the
    request: the acks read before the stream ended, its error, and a memory stub."""
    channel, memory = _channels(services)
    stub = ingestion_grpc.IngestionServiceStub(channel)
    bad = c.request(c.lines(10, 5), "b", 10)
    change(bad)
    acks: list[ingestion_pb.IngestResponse] = []
    with pytest.raises(grpc.RpcError) as err:
        for ack in stub.Ingest(iter([c.request(c.lines(0, 10), "a", 0), bad]), timeout=60):
            acks.append(ack)
    return acks, err.value, memory


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (_offset, "row_offset", "between 0 and 1,000,000,000,000"),
        (_nanos, "pulled_at.nanos", "0-999,999,999"),
        (_big_nanos, "pulled_at.nanos", "0-999,999,999"),
        (_seconds, "pulled_at.seconds", "supported range"),
        (_year_9999, "pulled_at.seconds", "supported range"),
    ],
    ids=["row_offset-2^63-1", "nanos-negative", "nanos-1e9", "seconds-minus-1e12", "year-9999"],
)
def test_edge_request_fields_are_invalid_argument(
    services,
    world: sim.SimResult,
    change,
    field: str,
    words: str,  # type: ignore[no-untyped-def]
) -> None:
    c = _Corpus(world, "meta")
    acks, error, memory = refused_second_batch(services, c, change)
    assert [a.batch_id for a in acks] == ["a"]  # the batch before it is still acked
    code, reason, violations, _ = rich_error(error)
    assert (code, reason) == (INVALID, "INVALID_INGEST_REQUEST")
    assert [f for f, _ in violations] == [field]
    assert words in violations[0][1]
    assert c.keys(0, 10) <= _stored(memory)


@pytest.mark.parametrize("year", [1, 9999])
@pytest.mark.parametrize("which", ["start_date", "end_date"])
def test_calendar_dates_outside_1900_2200_are_invalid_argument(
    services,
    year: int,
    which: str,  # type: ignore[no-untyped-def]
) -> None:
    channel, _ = _channels(services)
    dates = {
        "start_date": common_pb.Date(year=2024, month=1, day=1),
        "end_date": common_pb.Date(year=2024, month=1, day=5),
    }
    dates[which] = common_pb.Date(year=year, month=1 if which == "start_date" else 12, day=31)
    with pytest.raises(grpc.RpcError) as err:
        ingestion_grpc.IngestionServiceStub(channel).GetCalendar(
            ingestion_pb.GetCalendarRequest(country="US", **dates), timeout=30
        )
    code, reason, violations, _ = rich_error(err.value)
    assert (code, reason) == (INVALID, "DATE_OUT_OF_RANGE")
    assert [f for f, _ in violations] == [which]


def test_the_first_supported_day_is_stored_and_the_day_before_rejected(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """1900-01-01 is a date memory takes; its history window (the 28 days before) is not,
    and used to make memory refuse the history scan: INTERNAL (found by the fuzz tests)."""
    c = _Corpus(world, "meta")
    lines = c.lines(0, 5)
    for day in ("1900-01-01", "1899-12-31", "0001-01-01"):
        row = c.row(6)
        row["date_start"] = row["date_stop"] = day
        lines.append(json.dumps(row))
    channel, memory = _channels(services)
    stub = ingestion_grpc.IngestionServiceStub(channel)
    (ack,) = stub.Ingest(iter([c.request(lines, "a", 0)]), timeout=60)
    assert [(r.row_index, r.field, r.reason) for r in ack.rejections] == [
        (6, "date_start", ingestion_pb.REJECTION_REASON_INVALID_DATE),
        (7, "date_start", ingestion_pb.REJECTION_REASON_INVALID_DATE),
    ]
    stored = _stored(memory)
    assert c.keys(0, 5) <= stored
    assert any(k.endswith("|1900-01-01") for k in stored)
