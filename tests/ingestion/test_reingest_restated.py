"""An export re-sent with a later pull time keeps the platform's restated numbers (audit R19
#1): within the export a restated day is a preliminary line and then the platform's re-send;
the re-send was stored the first time, so the second pull's preliminary line must not be
written back over it. Real memory + ingestion over gRPC."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import grpc
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_ingest_service import _request


def _spend(memory: memory_grpc.MemoryServiceStub) -> dict[str, float]:
    return {
        r.natural_key: r.spend
        for b in memory.Scan(memory_pb.ScanRequest(org_id="acme"), timeout=30)
        for r in b.records
    }


def _with(row: dict[str, Any], spend: str) -> str:
    out = copy.deepcopy(row)
    out["spend"] = spend
    return dumps(out)


def test_a_re_sent_export_keeps_the_platforms_restatement(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    export = world.raw["meta"]
    day = export.base_row(3)
    key = export.row_key(3)
    # the export: 10 days, day 3 first as the preliminary 264.24, re-sent later as 272.41
    lines = [dumps(export.base_row(k)) for k in range(10)]
    lines[3] = _with(day, "264.24")
    lines.append(_with(day, "272.41"))
    (first,) = ingestion.Ingest(iter([_request(world, lines, "pull-1", pulled_at=PULLED)]))
    assert (first.accepted_count, first.superseded_count, first.duplicate_count) == (11, 1, 0)
    assert _spend(memory)[key] == 272.41

    # The same export, pulled again an hour later (the SDK's default; a copied file's mtime).
    later = PULLED + dt.timedelta(hours=1)
    (again,) = ingestion.Ingest(iter([_request(world, lines, "pull-2", pulled_at=later)]))
    assert _spend(memory)[key] == 272.41, "the preliminary number was written back"
    assert (again.accepted_count, again.duplicate_count, again.superseded_count) == (11, 10, 1)
    assert again.restated_count == 0

    # A genuine restatement in a later pull still replaces it ...
    newer = [*lines, _with(day, "280.00")]
    (restated,) = ingestion.Ingest(
        iter([_request(world, newer, "pull-3", pulled_at=later + dt.timedelta(hours=1))])
    )
    assert restated.restated_count == 1 and _spend(memory)[key] == 280.0
    # ... and a re-send of the latest content is a duplicate.
    (dup,) = ingestion.Ingest(
        iter(
            [
                _request(
                    world, [_with(day, "280.00")], "pull-4", pulled_at=later + dt.timedelta(hours=2)
                )
            ]
        )
    )
    assert (dup.duplicate_count, dup.restated_count) == (1, 0)
    assert _spend(memory)[key] == 280.0
