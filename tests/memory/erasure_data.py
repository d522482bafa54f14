"""An org with two accounts for the erasure tests: act-1 (kept) and 777000777, whose one
campaign has a name and id found nowhere else (``SECRET``, ``SECRET_ID``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import record_id, synthetic_records

ORG = "agency-client"
ERASED = "777000777"
SECRET = "Zebra-Client-Secret-Campaign"
SECRET_ID = "999000111222333"
KEPT, ERASED_COUNT = 2000, 600
Metadata = tuple[tuple[str, str], ...]


@contextmanager
def serving(data: Path) -> Iterator[memory_grpc.MemoryServiceStub]:
    """A real memory server (SQLite, FAISS) on ``data``."""
    with (
        running_services({"memory": build}, data) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        yield memory_grpc.MemoryServiceStub(channel)


def write_both(stub: memory_grpc.MemoryServiceStub, metadata: Metadata = ()) -> None:
    """Both accounts' records, written in turns so that their rows share pages."""
    keep = synthetic_records(ORG, KEPT, seed=7, campaigns=6, geos=4)
    erase = synthetic_records(ORG, ERASED_COUNT, seed=8, campaigns=1, geos=4)
    for r in erase:
        r.account_id = ERASED
        r.campaign_id = SECRET_ID
        r.campaign_name = SECRET
        r.natural_key = r.natural_key.replace("|act-1|c0|", f"|{ERASED}|{SECRET_ID}|")
        r.id = record_id(ORG, r.natural_key)
    step = KEPT // 5
    for i in range(0, KEPT, step):
        part = erase[i * ERASED_COUNT // KEPT : (i + step) * ERASED_COUNT // KEPT]
        for records in (keep[i : i + step], part):
            request = memory_pb.WriteRequest(org_id=ORG, records=records)
            reply = stub.Write(iter([request]), timeout=60, metadata=metadata)
            assert reply.refused_count == 0


def erase(
    stub: memory_grpc.MemoryServiceStub, metadata: Metadata = ()
) -> memory_pb.DeleteRecordsResponse:
    done = stub.DeleteRecords(
        memory_pb.DeleteRecordsRequest(org_id=ORG, account_id=ERASED),
        timeout=60,
        metadata=metadata,
    )
    assert done.deleted_count == ERASED_COUNT
    return done
