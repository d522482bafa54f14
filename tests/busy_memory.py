"""Memory busy as a running ingest makes it: a memory server started with max_inflight=1 has
its one slot held by an open WriteStream, so it sheds every other call with
RESOURCE_EXHAUSTED TOO_MANY_CALLS and a RetryInfo (its admission control)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc


def _drain(stream: Iterator[object]) -> None:
    try:
        for _ in stream:
            pass
    except grpc.RpcError:  # cancelled when the test lets memory go, or shed itself
        pass


@contextlib.contextmanager
def held(address: str, org_id: str) -> Iterator[None]:
    """Memory at ``address`` (max_inflight=1) busy while the block runs. A WriteStream opened
    while another call (a peer's) holds the slot is shed itself: then another is opened."""
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    probe = memory_pb.AggregateRecordsRequest(org_id=org_id)
    for _ in range(20):
        q: queue.Queue[memory_pb.WriteStreamRequest | None] = queue.Queue()
        stream: Any = stub.WriteStream(  # a call iterator and a future: done()
            iter(q.get, None), timeout=300
        )
        threading.Thread(target=_drain, args=(stream,), daemon=True).start()
        for _ in range(20):  # the slot is held once memory sheds a call of its own
            try:
                stub.AggregateRecords(probe, timeout=30)
            except grpc.RpcError as error:
                if error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and not stream.done():
                    try:
                        yield
                    finally:
                        q.put(None)
                        stream.cancel()
                    return
            if stream.done():
                break
            threading.Event().wait(0.1)
        q.put(None)
        stream.cancel()
    raise AssertionError("memory never shed a call while a WriteStream was open")
