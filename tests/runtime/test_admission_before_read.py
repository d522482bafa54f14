"""A unary request is read only after its caller is admitted (R14-F1).

grpc used to read a unary request whole, up to the server's maximum message size, before the
handler that checks the key ran: a keyless client made the server hold 64 MiB per call. On a
real memory server whose maximum message is 1 MiB, a keyless 2 MiB request shows the order:
refused UNAUTHENTICATED from its metadata (before: RESOURCE_EXHAUSTED, grpc's limit, read
first), while an admitted caller's 2 MiB request still meets grpc's limit when it is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService, private_files
from mesh.runtime.main import private_data_dir
from tests.support import error_details

KEYS = AuthConfig.parse("key-a:org_a,svc-ing:service=ingestion")
MAX_MESSAGE = 1 << 20
SEARCH = "/liftos.v1.MemoryService/Search"  # unary → unary
SCAN = "/liftos.v1.MemoryService/Scan"  # unary → stream
# Over the server's maximum message: grpc refuses it if, and only if, it reads it.
BIG = memory_pb.SearchRequest(org_id="org_a", text="x" * (2 * MAX_MESSAGE)).SerializeToString()
BIG_SCAN = memory_pb.ScanRequest(org_id="x" * (2 * MAX_MESSAGE)).SerializeToString()


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    data = tmp_path_factory.mktemp("before_read")
    config = ServerConfig(
        service="memory", host="127.0.0.1", port=0, data_dir=data,
        peers=PeerConfig.from_env(), auth=KEYS, max_message_bytes=MAX_MESSAGE, api_key="",
    )  # fmt: skip
    loop = BackgroundLoop()
    with private_files():
        private_data_dir(Path(data))
        running = RunningService(loop, "memory", memory_build, config)
        try:
            with grpc.insecure_channel(running.address) as ch:
                yield ch
        finally:
            running.stop()
            loop.close()


def _call(channel: grpc.Channel, method: str, payload: bytes, key: str | None) -> grpc.RpcError:
    md = auth_metadata(key) if key else ()
    with pytest.raises(grpc.RpcError) as info:
        if method == SCAN:
            scan: Any = channel.unary_stream(
                method, request_serializer=None, response_deserializer=None
            )
            list(scan(payload, metadata=md, timeout=30))
        else:
            search: Any = channel.unary_unary(
                method, request_serializer=None, response_deserializer=None
            )
            search(payload, metadata=md, timeout=30)
    return info.value


@pytest.mark.parametrize(("method", "payload"), [(SEARCH, BIG), (SCAN, BIG_SCAN)])
@pytest.mark.parametrize("key", [None, "stolen"])
def test_an_unknown_caller_is_refused_before_its_request_is_read(
    channel: grpc.Channel, method: str, payload: bytes, key: str | None
) -> None:
    error = _call(channel, method, payload, key)
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert error_details(error)[0] == "UNAUTHENTICATED"
    expected = "unknown API key" if key else "this server requires an API key"
    assert expected in (error.details() or "")


def test_a_key_without_the_scope_is_refused_before_its_request_is_read(
    channel: grpc.Channel,
) -> None:
    error = _call(channel, SEARCH, BIG, "svc-ing")  # ingestion's key may Scan, not Search
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert error_details(error)[0] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(("method", "payload"), [(SEARCH, BIG), (SCAN, BIG_SCAN)])
def test_an_admitted_callers_request_still_meets_the_message_limit(
    channel: grpc.Channel, method: str, payload: bytes
) -> None:
    error = _call(channel, method, payload, "key-a")
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (error.details() or "")


def test_an_admitted_callers_unary_request_reaches_the_service(channel: grpc.Channel) -> None:
    request = memory_pb.SearchRequest(org_id="org_a", text="spend", k=3).SerializeToString()
    error = _call(channel, SEARCH, request, "key-a")
    # read, decoded and answered by the service itself: org_a holds nothing yet
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert "org 'org_a' has no records" in (error.details() or "")
    # ...and its org is still checked in the body, once read
    other = memory_pb.SearchRequest(org_id="org_b", text="spend").SerializeToString()
    error = _call(channel, SEARCH, other, "key-a")
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "acts for org 'org_a', not 'org_b'" in (error.details() or "")


def test_a_unary_call_that_ends_without_its_message_is_invalid(channel: grpc.Channel) -> None:
    """A unary method is served as a request stream: a client that half-closes without the
    message (only a hand-made client can) is told so, not left waiting."""
    as_stream: Any = channel.stream_unary(
        SEARCH, request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.RpcError) as info:
        as_stream(iter(()), metadata=auth_metadata("key-a"), timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(info.value)[0] == "NO_REQUEST"
