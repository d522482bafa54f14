"""s18 V1 F1: R19's cross-batch re-send after 3400175 when the preliminary line was stored by
an EARLIER pull (daily pulls with overlapping windows): the replacing export holds the
preliminary line (a duplicate of the stored one) and the restatement in different batches;
the same export re-sent with a later pull time must keep the restatement: without saying it
corrects (the old rule: replaced content is a copy), and with restore_replaced too (the
replacing export held the preliminary line itself). Real memory + ingestion over gRPC."""

from __future__ import annotations

import datetime as dt

import grpc
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_reingest_split_batches import _SPLIT, _pull, _stored, _with, _written


def test_resend_keeps_restatement_when_prelim_came_from_an_earlier_pull(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    export = world.raw["meta"]
    day = export.base_row(3)
    key = export.row_key(3)
    lines = [dumps(export.base_row(k)) for k in range(10)]
    lines[3] = _with(day, "264.24")
    # yesterday's pull: the preliminary number, nothing restated
    _pull(ingestion, world, lines[:_SPLIT], "pull-0", PULLED - dt.timedelta(days=1))
    assert _stored(memory, key)[0] == 264.24
    # today's export: preliminary line (batch 1) and the platform's re-send (batch 2)
    today = [*lines, _with(day, "272.41")]
    first = _pull(ingestion, world, today, "pull-1", PULLED)
    assert sum(a.restated_count for a in first) == 1
    assert _stored(memory, key)[0] == 272.41
    # the same export sent again an hour later (SDK default pulled_at = now), same batches
    again = _pull(ingestion, world, today, "pull-2", PULLED + dt.timedelta(hours=1))
    print([(a.accepted_count, a.duplicate_count, a.restated_count, _written(a)) for a in again])
    print([n.message for a in again for n in a.notes])
    assert _stored(memory, key)[0] == 272.41, "the preliminary number was written back"
    # said to correct, later still: the export that restated the day held 264.24 itself
    fixed = _pull(ingestion, world, today, "pull-3", PULLED + dt.timedelta(hours=2), restore=True)
    assert sum(_written(a) for a in fixed) == 0
    assert _stored(memory, key)[0] == 272.41, "restore_replaced wrote the preliminary back"
