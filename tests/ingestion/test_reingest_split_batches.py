"""An export re-sent with a later pull time keeps the platform's restated numbers when the
preliminary line and the platform's re-send fall in different batches (audit R19 #1, the
cross-batch part): the preliminary line's batch cannot see the re-send, so ingestion
remembers the versions a record had replaced and never writes one back. Real memory +
ingestion over gRPC, each pull its own Ingest stream (a fresh working set: what is
remembered comes from ingestion's data dir)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_ingest_service import _request

_SPLIT = 6  # lines in the first batch: the preliminary line is in it, the re-send is not


def _pull(
    ingestion: ingestion_grpc.IngestionServiceStub,
    world: sim.SimResult,
    lines: list[str],
    name: str,
    pulled_at: dt.datetime,
    split: int = _SPLIT,
    restore: bool = False,
) -> list[ingestion_pb.IngestResponse]:
    """One pull of ``lines``, sent as two batches on one stream (``restore``: each says it
    corrects stored rows, IngestRequest.restore_replaced)."""
    parts = [(0, lines[:split]), (split, lines[split:])]
    requests = [
        _request(world, part, f"{name}-{k}", pulled_at=pulled_at, row_offset=start)
        for k, (start, part) in enumerate(parts)
        if part
    ]
    for request in requests:
        request.restore_replaced = restore
    return list(ingestion.Ingest(iter(requests)))


def _stored(memory: memory_grpc.MemoryServiceStub, key: str) -> tuple[float, int]:
    (record,) = [
        r
        for b in memory.Scan(memory_pb.ScanRequest(org_id="acme"), timeout=30)
        for r in b.records
        if r.natural_key == key
    ]
    return record.spend, record.version


def _with(row: dict[str, Any], spend: str) -> str:
    out = copy.deepcopy(row)
    out["spend"] = spend
    return dumps(out)


def _written(ack: ingestion_pb.IngestResponse) -> int:
    return ack.accepted_count - ack.duplicate_count - ack.superseded_count


def test_a_re_sent_export_split_in_batches_keeps_the_restatement(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    export = world.raw["meta"]
    day = export.base_row(3)
    key = export.row_key(3)
    # 10 days; day 3 is first the preliminary 264.24 (batch 1), re-sent as 272.41 (batch 2)
    lines = [dumps(export.base_row(k)) for k in range(10)]
    lines[3] = _with(day, "264.24")
    lines.append(_with(day, "272.41"))
    first = _pull(ingestion, world, lines, "pull-1", PULLED)
    assert [a.restated_count for a in first] == [0, 1]
    spend, version = _stored(memory, key)
    assert spend == 272.41

    # The same export pulled again an hour later, in the same two batches: nothing written.
    later = PULLED + dt.timedelta(hours=1)
    again = _pull(ingestion, world, lines, "pull-2", later)
    assert _stored(memory, key) == (272.41, version), "the preliminary number was written back"
    assert [(a.accepted_count, a.duplicate_count, a.restated_count) for a in again] == [
        (6, 6, 0),
        (5, 5, 0),
    ]
    assert sum(_written(a) for a in again) == 0
    (note,) = again[0].notes
    assert (note.row_index, note.kind) == (3, "superseded_version")
    assert key in note.message and "sent again" in note.message
    assert not again[1].notes

    # A re-send cut short after its first batch (a crash between the batches) leaves the
    # restated numbers stored too, on a stream of its own.
    (cut,) = _pull(ingestion, world, lines[:_SPLIT], "pull-3", later + dt.timedelta(hours=1))
    assert (_written(cut), cut.restated_count, len(cut.rejections)) == (0, 0, 0)
    assert _stored(memory, key) == (272.41, version)
    # and so does the first batch alone with the first pull's time (a retry after a crash):
    # the preliminary content is a copy of what was sent, not a stale correction
    (retry,) = _pull(ingestion, world, lines[:_SPLIT], "pull-4", PULLED)
    assert (retry.duplicate_count, len(retry.rejections)) == (_SPLIT, 0)
    assert _stored(memory, key) == (272.41, version)

    # A genuine restatement in a later pull still replaces it, and a re-send of the export
    # after it keeps it: the 272.41 it replaced is an old version now.
    newer = [*lines, _with(day, "280.00")]
    restated = _pull(ingestion, world, newer, "pull-5", later + dt.timedelta(hours=2))
    assert sum(a.restated_count for a in restated) == 1
    assert _stored(memory, key)[0] == 280.0
    last = _pull(ingestion, world, lines, "pull-6", later + dt.timedelta(hours=3), split=10)
    assert sum(_written(a) for a in last) == 0
    assert _stored(memory, key)[0] == 280.0
