"""An org with two accounts for the erasure tests: act-1 (kept) and 777000777, whose one
campaign has a name and id found nowhere else (``SECRET``, ``SECRET_ID``)."""

from __future__ import annotations

import time
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


def found_on_disk(data: Path) -> dict[str, dict[str, int]]:
    """Occurrences of the erased account's strings in each of memory's SQLite files
    (``data``: the memory folder)."""
    files = sorted(data.glob("memory.sqlite*"))
    return {
        needle: {f.name: f.read_bytes().count(needle.encode()) for f in files}
        for needle in (SECRET, SECRET_ID, ERASED)
    }


# A hang bound, not a timing: the clearing runs after DeleteRecords' reply (memory_svc.
# sqlite_erase), within a second or two when no reader holds the WAL.
CLEARED_BOUND_S = 120.0


def when_cleared(
    data: Path, needles: tuple[str, ...] = (SECRET, SECRET_ID, ERASED)
) -> dict[str, dict[str, int]]:
    """Polls until none of ``needles`` is in memory's files (or the hang bound passes);
    returns the last count."""
    stop = time.monotonic() + CLEARED_BOUND_S
    while True:
        found = found_on_disk(data)
        if not any(n for needle in needles for n in found[needle].values()):
            return found
        if time.monotonic() > stop:
            return found
        time.sleep(0.2)
