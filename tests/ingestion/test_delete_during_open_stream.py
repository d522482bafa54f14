"""DeleteRecords + ForgetBatches while an Ingest stream of the org is open (s18 V1 F9): a
connector's long stream, or ``liftos ingest`` of a big file, re-sending an export when the
account is deleted. The stream's batches after the delete carry rows equal to the deleted
records; they must be written again (memory no longer holds them), not counted duplicates of
what the stream loaded before, and no ack of a batch that read the old records is replayed.
Real memory and ingestion servers (and a second ingestion replica on the same data dir);
Shopify orders as well as ad rows."""

from __future__ import annotations

import datetime as dt
import json
import queue
from collections.abc import Iterator
from pathlib import Path

import grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from ingestion_svc.ledger import BatchLedger
from mesh.runtime.inprocess import RunningService, running_services
from tests.ingestion.conftest import PULLED, dumps, peers_of
from tests.ingestion.test_ingest_service import _request
from tests.products import test_order_edits as orders

LATER = PULLED + dt.timedelta(hours=1)


def _count(memory: memory_grpc.MemoryServiceStub) -> int:
    try:
        return sum(len(b.records) for b in memory.Scan(memory_pb.ScanRequest(org_id="acme")))
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
        return 0


def _stub(service: RunningService) -> ingestion_grpc.IngestionServiceStub:
    return ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(service.address))


def _delete_during_a_stream(
    services: dict[str, RunningService],
    world: sim.SimResult,
    streaming: ingestion_grpc.IngestionServiceStub,
    deleting: ingestion_grpc.IngestionServiceStub,
) -> tuple[list[ingestion_pb.IngestResponse], memory_grpc.MemoryServiceStub, list[str]]:
    """10 rows stored; the export re-sent on one stream of ``streaming`` in two batches of 5,
    the org's records deleted (and ``deleting`` told to forget) between them."""
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    lines = [dumps(world.raw["meta"].base_row(k)) for k in range(10)]
    list(streaming.Ingest(iter([_request(world, lines, "p0")])))
    assert _count(memory) == 10
    q: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()
    q.put(_request(world, lines[:5], "p1-0", pulled_at=LATER))

    def requests() -> Iterator[ingestion_pb.IngestRequest]:
        while (r := q.get()) is not None:
            yield r

    acks = streaming.Ingest(requests())
    first = next(acks)
    assert (first.accepted_count, first.duplicate_count) == (5, 5)  # stored, nothing written
    memory.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id="acme", all_records=True))
    deleting.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id="acme"))
    assert _count(memory) == 0
    q.put(_request(world, lines[5:], "p1-1", pulled_at=LATER, row_offset=5))
    q.put(None)
    return [first, *acks], memory, lines


def test_rows_sent_after_a_delete_on_an_open_stream_are_written(
    services: dict[str, RunningService], world: sim.SimResult
) -> None:
    ingestion = _stub(services["ingestion"])
    acks, memory, lines = _delete_during_a_stream(services, world, ingestion, ingestion)
    second = acks[1]
    # before: (5, 5) — the stream's history still held the deleted records
    assert (second.accepted_count, second.duplicate_count) == (5, 0)
    assert _count(memory) == 5
    # the batch that ran before the delete is written again, not replayed
    again = list(ingestion.Ingest(iter([_request(world, lines[:5], "p1-0", pulled_at=LATER)])))
    assert [(a.accepted_count, a.duplicate_count, a.replayed) for a in again] == [(5, 0, False)]
    assert _count(memory) == 10


def test_a_stream_on_another_replica_reloads_after_a_delete(
    services: dict[str, RunningService], world: sim.SimResult, tmp_path: Path
) -> None:
    # a second ingestion replica on the same data dir (its ledger file shared)
    with running_services(
        {"ingestion": ingestion_build}, tmp_path, peers=peers_of(services)
    ) as replica:
        acks, memory, _ = _delete_during_a_stream(
            services, world, _stub(replica["ingestion"]), _stub(services["ingestion"])
        )
    assert (acks[1].accepted_count, acks[1].duplicate_count) == (5, 0)
    assert _count(memory) == 5


def test_an_ack_of_a_batch_begun_before_a_forget_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger, other = BatchLedger(path), BatchLedger(path)  # two replicas' ledgers on one file
    try:
        ledger.put("o", "old", "fp", b"old ack")
        began = ledger.generation("o")
        assert ledger.reserve("o", "b", "fp", ledger.owner("s")) is None
        assert other.forget("o") == 1  # records of the org deleted while "b" was written
        assert ledger.generation("o") == other.generation("o") == began + 1
        assert ledger.generation("another org") == 0
        assert not ledger.put("o", "b", "fp", b"ack", began)
        assert ledger.get("o", "b") is None and ledger.get("o", "old") is None
        # the reservation went with it: a re-send runs again
        assert ledger.reserve("o", "b", "fp", ledger.owner("s2")) is None
        assert ledger.put("o", "b", "fp", b"ack", ledger.generation("o"))
        assert ledger.get("o", "b") is not None
        assert ledger.put("o", "c", "fp", b"ack")  # unchecked: kept
    finally:
        ledger.close()
        other.close()


def test_an_order_sent_after_a_delete_on_an_open_stream_is_written(
    services: dict[str, RunningService],
) -> None:
    # the product book (orders the stream loaded) is dropped as the history is
    ingestion = _stub(services["ingestion"])
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    rows = {o["id"]: json.dumps(o) for o in (orders.ORIGINAL, orders.OTHER)}

    def request(batch_id: str, *ids: int) -> ingestion_pb.IngestRequest:
        return ingestion_pb.IngestRequest(
            org_id=orders.ORG, source=common_pb.DATA_SOURCE_SHOPIFY_ORDERS, batch_id=batch_id,
            json_rows=[rows[i] for i in ids], account=orders.ACCOUNT,
        )  # fmt: skip

    list(ingestion.Ingest(iter([request("p0", 5001, 5002)])))
    q: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()
    q.put(request("p1-0", 5002))

    def requests() -> Iterator[ingestion_pb.IngestRequest]:
        while (r := q.get()) is not None:
            yield r

    acks = ingestion.Ingest(requests())
    next(acks)  # its day's stored orders loaded
    memory.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id=orders.ORG, all_records=True))
    ingestion.ForgetBatches(ingestion_pb.ForgetBatchesRequest(org_id=orders.ORG))
    q.put(request("p1-1", 5001))
    q.put(None)
    list(acks)
    # before: NOT_FOUND (the order was taken for one stored)
    orders._assert_sums(orders._sales(memory), orders._expected(orders.ORIGINAL))
