"""Scan replies fit a default gRPC client (R1-F5): whatever the batch_size (up to 10,000 records
per reply, 13-23 MB in the audit), each reply is cut at MAX_SCAN_REPLY_BYTES, under the 4 MiB a
plain ``grpc.insecure_channel`` receives, and the stream still holds every record once, in
order."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.scan_replies import MAX_SCAN_REPLY_BYTES, scan_chunks
from memory_svc.store import ScanRow
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import write

ORG = "bulky"
DEFAULT_CLIENT_LIMIT = 4 * 1024 * 1024
N = 3000


@pytest.fixture(scope="module")
def written(stub: memory_grpc.MemoryServiceStub) -> int:
    records = synthetic_records(ORG, N, seed=3, campaigns=12, geos=10, start=dt.date(2024, 1, 1))
    assert write(stub, ORG, records).inserted_count == N
    return N


def test_a_full_batch_with_embeddings_reaches_a_default_client(server: str, written: int) -> None:
    """3,000 records with their embeddings (5 MB) are over 4 MiB in one reply: a default channel
    (no max_receive_message_length) receives them all, in several replies under the cap."""
    request = memory_pb.ScanRequest(org_id=ORG, batch_size=10_000, include_embeddings=True)
    with grpc.insecure_channel(server) as channel:  # the default 4 MiB receive limit
        replies = list(memory_grpc.MemoryServiceStub(channel).Scan(request, timeout=60))
    sizes = [r.ByteSize() for r in replies]
    assert sum(sizes) > DEFAULT_CLIENT_LIMIT, "the scan must be over one default reply"
    assert len(replies) >= 2 and max(sizes) <= MAX_SCAN_REPLY_BYTES < DEFAULT_CLIENT_LIMIT
    records = [rec for r in replies for rec in r.records]
    assert len(records) == written == len({rec.id for rec in records})
    keys = [(rec.timestamp.ToMicroseconds(), rec.id) for rec in records]
    assert keys == sorted(keys)
    assert all(len(rec.embedding_vector) > 0 for rec in records)


def test_small_batches_are_still_cut_by_count(server: str, written: int) -> None:
    request = memory_pb.ScanRequest(org_id=ORG, batch_size=1000)
    with grpc.insecure_channel(server) as channel:
        replies = list(memory_grpc.MemoryServiceStub(channel).Scan(request, timeout=60))
    assert [len(r.records) for r in replies] == [1000] * (written // 1000)


def test_chunks_keep_order_and_let_an_oversized_record_through_alone() -> None:
    rows = [ScanRow(i, i, f"r{i}", b"x" * size, None) for i, size in
            enumerate([40, 40, 200, 10, 10, 10])]  # fmt: skip
    chunks = scan_chunks(rows, limit=100)
    assert [[r.id for r in c] for c in chunks] == [["r0", "r1"], ["r2"], ["r3", "r4", "r5"]]
