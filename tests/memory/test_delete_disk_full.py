"""A deletion on a full disk (audit R49-F4): memory's answer says what the caller lost in a
deletion's words — nothing was deleted — not a Write's ("the batch was not stored"), and the
same deletion succeeds once there is room. Real memory server and SQLite store; the space
SQLite's temporary files may take is capped with ``PRAGMA temp.max_page_count`` on the
server's writer connection (SQLite's own SQLITE_FULL, the error a full temporary directory
gives the deletion's table of doomed records; test_disk_full caps the main file so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from mesh.runtime.channels import sync_channel
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import rich_error, scan_all, write

ORG = "gone"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[memory_grpc.MemoryServiceStub, Any]]:
    """A real memory server, and its record store (to fill its disk)."""
    held: list[Any] = []

    def keep(config):  # type: ignore[no-untyped-def]
        bindings, on_stop = build(config)
        held.append(bindings[0].servicer._engine.store)
        return bindings, on_stop

    with (
        running_services({"memory": keep}, tmp_path) as services,
        sync_channel(services["memory"].address) as channel,
    ):
        yield memory_grpc.MemoryServiceStub(channel), held[0]


def test_a_deletion_on_a_full_disk_says_nothing_was_deleted(
    served: tuple[memory_grpc.MemoryServiceStub, Any], tmp_path: Path
) -> None:
    stub, store = served
    assert (
        write(stub, ORG, synthetic_records(ORG, 1200, campaigns=4, geos=5)).inserted_count == 1200
    )
    writer = store._writer
    writer.execute("PRAGMA temp.max_page_count=2")
    request = memory_pb.DeleteRecordsRequest(org_id=ORG, all_records=True)
    with pytest.raises(grpc.RpcError) as err:
        stub.DeleteRecords(request, timeout=60)
    code, message, _ = rich_error(err.value)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, message
    assert f"memory's disk is full at {tmp_path / 'memory'}" in message
    assert "nothing was deleted — send the deletion again after freeing space" in message
    assert "batch" not in message
    assert len(scan_all(stub, org_id=ORG)) == 1200  # nothing was
    # the writer's own words are a Write's again
    assert writer.lost == "the batch was not stored — retry it"
    writer.execute("PRAGMA temp.max_page_count=1073741823")  # space freed
    assert stub.DeleteRecords(request, timeout=60).deleted_count == 1200
