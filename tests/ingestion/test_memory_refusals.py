"""A record memory refuses is its row's rejection in the Ingest ack: named, counted, replayed
the same, never dropped silently and never failing the batch (real memory + ingestion).

Ingestion checks every record with memory's field rules before sending it, so memory refuses
one only for what ingestion cannot see: here a natural key memory holds under another id
(written straight to memory by another writer)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.peers import WriteCounts
from ingestion_svc.stream import Staged, row_rejections
from tests.ingestion.conftest import dumps
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs


def _restated(world: sim.SimResult, k: int, spend: str) -> str:
    row = copy.deepcopy(world.raw["meta"].base_row(k))
    row["spend"] = spend
    return dumps(row)


def _steal_key(memory: memory_grpc.MemoryServiceStub, record: md_pb.CausalMarketingData) -> None:
    """Another writer moves ``record``'s id to another natural key and stores a record of
    its own under the key: ingestion's next version of the row names an id and a key that
    memory holds in two different records."""
    moved = copy.deepcopy(record)
    moved.version += 1
    moved.natural_key += "|moved"
    thief = copy.deepcopy(record)
    thief.id, thief.version = "thief", record.version + 1
    reply = memory.Write(
        iter(
            [
                memory_pb.WriteRequest(org_id="acme", records=[moved]),
                memory_pb.WriteRequest(org_id="acme", records=[thief]),
            ]
        ),
        timeout=30,
    )
    assert (reply.inserted_count, reply.replaced_count, reply.refused_count) == (1, 1, 0)


def test_a_record_memory_refuses_is_its_rows_rejection(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    (first,) = ingestion.Ingest(iter([_request(world, _meta_lines(world, 5), "b1")]))
    assert (first.accepted_count, first.rejected_count) == (5, 0)
    key = world.raw["meta"].row_key(3)
    record = next(r for r in _scan(memory) if r.natural_key == key)
    _steal_key(memory, record)

    lines = [_restated(world, 3, "1.23"), _restated(world, 4, "2.34")]
    request = _request(world, lines, "b2", row_offset=100)
    (ack,) = ingestion.Ingest(iter([request]))
    assert (ack.accepted_count, ack.rejected_count) == (1, 1)
    (rejection,) = ack.rejections
    assert (rejection.row_index, rejection.field) == (0, "$")
    assert rejection.reason == ingestion_pb.REJECTION_REASON_MALFORMED
    assert rejection.message.startswith("memory refused the record built from this row: ")
    assert "natural_key" in rejection.message and "belongs to stored record 'thief'" in (
        rejection.message
    )
    stored = {r.natural_key: r for r in _scan(memory)}
    assert stored[world.raw["meta"].row_key(4)].spend == 2.34  # the good row landed
    assert stored[key].id == "thief" and stored[key].spend == record.spend  # untouched

    # the ledger holds the ack as sent: a retry of the batch replays it, rejection included
    (again,) = ingestion.Ingest(iter([request]))
    assert again.replayed and (again.accepted_count, again.rejected_count) == (1, 1)
    assert [r.message for r in again.rejections] == [rejection.message]


def _answer(**kw: Any) -> memory_pb.WriteStreamResponse:
    return memory_pb.WriteStreamResponse(**kw)


def test_every_refused_record_is_read_listed_or_not() -> None:
    """Memory lists the first refusals and counts the rest per field; ingestion reads every
    refused index, with its own reason where listed and its summary's where not."""
    first = memory_pb.RecordRejection(record_index=2, field="spend", reason="spend must be 0+")
    reply = _answer(
        refused_count=3,
        refused_record_indexes=[0, 2, 7],
        rejections=[memory_pb.RecordRejection(record_index=0, field="id", reason="id required")],
        unlisted_rejection_count=2,
        rejection_summaries=[
            memory_pb.RecordRejectionSummary(
                field="spend", record_count=2, first=first, last_record_index=7
            )
        ],
    )
    assert WriteCounts(reply).refused == [
        (0, "id", "id required"),
        (2, "spend", "spend must be 0+ (or as 2 others)"),
        (7, "spend", "spend must be 0+ (or as 2 others)"),
    ]
    assert WriteCounts(_answer(inserted_count=4)).refused == []


def test_the_rows_after_a_refused_one_keep_their_place(services, world) -> None:  # type: ignore[no-untyped-def]
    """A refused record is mapped to its row by the batch's own record → row order: three
    rows, the middle one's record refused, the rows around it stored."""
    ingestion, memory = _stubs(services)
    (first,) = ingestion.Ingest(iter([_request(world, _meta_lines(world, 6), "b1")]))
    assert first.accepted_count == 6
    key = world.raw["meta"].row_key(4)
    _steal_key(memory, next(r for r in _scan(memory) if r.natural_key == key))
    lines = [_restated(world, k, f"{k}.5") for k in (3, 4, 5)]
    (ack,) = ingestion.Ingest(iter([_request(world, lines, "b2", row_offset=200)]))
    assert [(r.row_index, r.field) for r in ack.rejections] == [(1, "$")]
    assert ack.accepted_count == 2
    stored = {r.natural_key: r.spend for r in _scan(memory)}
    assert stored[world.raw["meta"].row_key(3)] == 3.5
    assert stored[world.raw["meta"].row_key(5)] == 5.5


def test_refusals_of_a_batch_written_in_several_messages_find_their_rows() -> None:
    """A product batch goes in several write messages (whole orders each): a refused
    record's index is its message's, offset by the records sent before it."""
    rows = np.array([0, 0, 1, 2, 2, 2, 5], dtype=np.int64)  # order lines → their rows
    staged = Staged("acme", "b1", "f", None, b"", 7, 2, rows, (3, 4))
    first = row_rejections(staged, 0, [(1, "product.sku", "holds control characters")])
    second = row_rejections(staged, 3, [(0, "natural_key", "taken"), (3, "id", "required")])
    assert [r.row_index for r in [*first, *second]] == [0, 2, 5]
    assert first[0].message == (
        "memory refused the record built from this row: product.sku: holds control characters"
    )
    with pytest.raises(RuntimeError):  # an index past what was sent is a bug, said so
        row_rejections(staged, 3, [(4, "id", "required")])
