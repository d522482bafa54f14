"""One Ingest stream carries one org (R14-F4): a batch for another org is INVALID_ARGUMENT
naming org_id, after the batches before it are acked and kept; and a refusal by memory
reaches the caller as FAILED_PRECONDITION naming memory, never INTERNAL (real memory and
ingestion servers)."""

from __future__ import annotations

import asyncio
import copy

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb

import sim
from ingestion_svc.peers import MemoryClient
from mesh.runtime.exceptions import FailedPrecondition
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs


def test_a_batch_for_another_org_ends_the_stream_invalid_argument(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    m1 = _request(world, _meta_lines(world, 30), "m1", org_id="orgm1")
    m2 = _request(world, _meta_lines(world, 30, 30), "m2", org_id="orgm2", row_offset=30)
    m3 = _request(world, _meta_lines(world, 30, 60), "m3", org_id="orgm1", row_offset=60)
    call = ingestion.Ingest(iter([m1, m2, m3]), timeout=60)
    first = next(call)
    assert (first.batch_id, first.accepted_count, first.replayed) == ("m1", 30, False)
    with pytest.raises(grpc.RpcError) as err:
        list(call)
    code, reason, violations, _ = rich_error(err.value)
    details = err.value.details() or ""  # type: ignore[attr-defined]
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INGEST_REQUEST"), details
    assert [field for field, _ in violations] == ["org_id"]
    assert "'orgm2'" in details and "'orgm1'" in details and "one org" in details

    # the batch before the switch is stored and in the ledger; nothing of the other org is
    assert len(_scan(memory, "orgm1")) == 30
    with pytest.raises(grpc.RpcError) as none:
        _scan(memory, "orgm2")
    assert none.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    (again,) = ingestion.Ingest(iter([m1]), timeout=60)
    assert again.replayed and again.accepted_count == 30
    # the refused batch and the one after it were never reserved: each org's own stream
    # takes them
    assert [a.replayed for a in ingestion.Ingest(iter([m2]), timeout=60)] == [False]
    assert [a.replayed for a in ingestion.Ingest(iter([m3]), timeout=60)] == [False]
    assert len(_scan(memory, "orgm1")) == 60 and len(_scan(memory, "orgm2")) == 30


def test_memory_refusing_a_write_is_failed_precondition_naming_memory(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """Memory refuses a second org on one WriteStream: the writer's error is memory's
    refusal (FAILED_PRECONDITION MEMORY_REFUSED, memory's words), not a RuntimeError that the
    servicer would send as INTERNAL."""
    ingestion, memory = _stubs(services)
    list(ingestion.Ingest(iter([_request(world, _meta_lines(world, 1), "seed")]), timeout=60))
    (record,) = _scan(memory)
    other = copy.deepcopy(record)
    other.org_id = "orgb"

    async def write_two_orgs() -> FailedPrecondition:
        client = MemoryClient(services["memory"].address, timeout=30)
        try:
            writer = client.writer()
            for org, r in (("acme", record), ("orgb", other)):
                await writer.send(
                    memory_pb.WriteStreamRequest(org_id=org, records=[r]).SerializeToString()
                )
            assert (await writer.ack()).unchanged == 1
            with pytest.raises(FailedPrecondition) as refused:
                await writer.ack()
            await writer.close(failed=True)
            return refused.value
        finally:
            await client.close()

    refused = asyncio.run(write_two_orgs())
    assert (refused.reason, refused.subject) == ("MEMORY_REFUSED", "memory")
    assert "INVALID_ARGUMENT" in refused.message and "'acme'" in refused.message
