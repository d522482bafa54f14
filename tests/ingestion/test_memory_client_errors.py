"""Which WriteStream failures ingestion treats as memory being away (the batch is retried)
and which as a broken contract (INTERNAL to the client)."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, status_pb2
from grpc.aio import AioRpcError, Metadata

from ingestion_svc.client import _transport_internal


def _error(code: grpc.StatusCode, trailing: Metadata) -> AioRpcError:
    return AioRpcError(code, Metadata(), trailing, details="boom")


def test_an_internal_error_memory_did_not_send_is_an_outage() -> None:
    assert _transport_internal(
        grpc.StatusCode.INTERNAL, _error(grpc.StatusCode.INTERNAL, Metadata())
    )


def test_memorys_own_internal_error_and_other_codes_are_not() -> None:
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="boom")
    sent = Metadata(("grpc-status-details-bin", status.SerializeToString()))
    assert not _transport_internal(grpc.StatusCode.INTERNAL, _error(grpc.StatusCode.INTERNAL, sent))
    assert not _transport_internal(
        grpc.StatusCode.INVALID_ARGUMENT, _error(grpc.StatusCode.INVALID_ARGUMENT, Metadata())
    )
    assert not _transport_internal(grpc.StatusCode.INTERNAL, None)
