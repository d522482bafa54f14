"""Which failures of a call to a peer mean the peer could not answer (the caller gets a
retryable UNAVAILABLE) and which are a broken contract (INTERNAL to the caller)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from grpc.aio import AioRpcError, Metadata

from mesh.runtime.exceptions import DependencyUnavailable
from mesh.runtime.peers import Peer, unavailable, unreachable


def _error(code: grpc.StatusCode, trailing: Metadata) -> AioRpcError:
    return AioRpcError(code, Metadata(), trailing, details="boom")


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED],
)
def test_a_peer_down_gone_or_too_slow_is_unreachable(code: grpc.StatusCode) -> None:
    assert unreachable(code, _error(code, Metadata()))
    assert unreachable(code)


def test_an_internal_error_the_peer_did_not_send_is_an_outage() -> None:
    assert unreachable(grpc.StatusCode.INTERNAL, _error(grpc.StatusCode.INTERNAL, Metadata()))


def test_the_peers_own_internal_error_and_other_codes_are_not() -> None:
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="boom")
    sent = Metadata(("grpc-status-details-bin", status.SerializeToString()))
    assert not unreachable(grpc.StatusCode.INTERNAL, _error(grpc.StatusCode.INTERNAL, sent))
    assert not unreachable(
        grpc.StatusCode.INVALID_ARGUMENT, _error(grpc.StatusCode.INVALID_ARGUMENT, Metadata())
    )
    assert not unreachable(grpc.StatusCode.INTERNAL, None)


def test_unavailable_names_the_peer_and_asks_for_a_retry() -> None:
    class StoreDown(DependencyUnavailable):
        default_reason = "STORE_DOWN"

    error = unavailable(
        StoreDown, "store", "h:1", grpc.StatusCode.CANCELLED, "Scan", dependency="store",
        then="; retry it",
    )  # fmt: skip
    assert isinstance(error, StoreDown) and error.reason == "STORE_DOWN"
    assert error.message == "store at h:1 unavailable during Scan (CANCELLED); retry it"
    assert error.dependency == "store" and error.retry_after_s == 1.0


def test_a_call_gets_the_peers_limit_or_a_little_less_than_the_callers_remaining_time() -> None:
    """Less than the caller has (a tenth, at most 2 s less), so the peer call's deadline passes
    first and the caller hears which peer was slow (audit R8-F3)."""
    peer: Peer[object] = Peer("h:1", lambda channel: object(), timeout=30.0)
    assert peer.within(None) == 30.0
    assert peer.within(5.0) == 4.5
    assert peer.within(31.0) == 29.0
    assert peer.within(60.0) == 30.0
    assert peer.within(-1.0) == 0.0
