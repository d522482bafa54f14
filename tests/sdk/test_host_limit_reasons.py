"""The SDK and CLI read the host-limit reasons s21 gave their own names (they reused
RESOURCE_EXHAUSTED and STORAGE_FULL before): out of file descriptors is OPEN_FILE_LIMIT with a
RetryInfo, so the SDK tries the call again after the server's delay; past the file-size limit
is FILE_SIZE_LIMIT without one, raised at once (retrying cannot help until the operator raises
the limit), its reason and fix on the CLI's error line, exit 4 as every RESOURCE_EXHAUSTED.

The failures are the servers' own (mesh.runtime.storage.storage_failure of the kernel's
EMFILE / EFBIG), sent by a real gRPC server as its interceptor sends them
(mesh.runtime.status.to_rpc_status)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_status import rpc_status

from mesh.cli import exits
from mesh.runtime.status import to_rpc_status
from mesh.runtime.storage import StorageFailure, storage_failure
from mesh.sdk import RpcFailure
from mesh.sdk._base import _call

METHOD = "/test.Store/Put"


def _failure(code: int, tmp_path: Path) -> StorageFailure:
    exc = OSError(code, os.strerror(code), str(tmp_path / "m.sqlite"))
    failure = storage_failure(exc, tmp_path, owner="memory", lost="nothing was stored — send it")
    assert failure is not None
    return failure


class _Store:
    """Fails its first ``fails`` calls with ``failure``, then answers."""

    def __init__(self, failure: StorageFailure, fails: int) -> None:
        self.failure, self.fails, self.calls = failure, fails, 0

    def put(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.calls += 1
        if self.calls <= self.fails:
            context.abort_with_status(rpc_status.to_status(to_rpc_status(self.failure)))
        return b"stored"


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[grpc.Server] = []

    def start(store: _Store) -> grpc.Channel:
        server = grpc.server(futures.ThreadPoolExecutor(2))
        handler = grpc.unary_unary_rpc_method_handler(store.put)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("test.Store", {"Put": handler}),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return grpc.insecure_channel(f"127.0.0.1:{port}")

    yield start
    for server in servers:
        server.stop(None)


def test_out_of_file_descriptors_is_retried_by_the_sdk(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = _Store(_failure(errno.EMFILE, tmp_path), fails=1)
    channel = serve(store)
    put = channel.unary_unary(METHOD)
    assert _call(lambda: put(b"x", timeout=30), retries=2) == b"stored"
    assert store.calls == 2  # refused once OPEN_FILE_LIMIT, then served


def test_past_the_file_size_limit_is_raised_at_once_with_its_reason_and_fix(  # type: ignore[no-untyped-def]
    serve, tmp_path: Path
) -> None:
    store = _Store(_failure(errno.EFBIG, tmp_path), fails=5)
    channel = serve(store)
    put = channel.unary_unary(METHOD)
    with pytest.raises(RpcFailure) as raised:
        _call(lambda: put(b"x", timeout=30), retries=2)
    failure = raised.value
    assert store.calls == 1  # no RetryInfo: not retried
    assert (failure.code, failure.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "FILE_SIZE_LIMIT")
    assert exits.exit_status(failure) == exits.RETRY
    text = exits.failure_text(failure)
    assert text.startswith("error [FILE_SIZE_LIMIT]: RESOURCE_EXHAUSTED: memory's file ")
    assert "ulimit -f unlimited" in text
