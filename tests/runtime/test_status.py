"""mesh.runtime.status both ways: what to_rpc_status puts in a status, decode_status and
read_status read back — one decoder for the SDK, the services' peer calls and the tests."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc.aio import AioRpcError, Metadata

from mesh.runtime.exceptions import (
    DependencyUnavailable,
    FailedPrecondition,
    FieldViolation,
    InvalidInput,
    NotFound,
    ResourceExhausted,
)
from mesh.runtime.status import decode_status, read_status, to_rpc_status


def test_bad_request_round_trips() -> None:
    exc = InvalidInput(
        "two bad fields",
        violations=[FieldViolation("a.b", "too big"), FieldViolation("c", "missing")],
        reason="BAD_THINGS",
    )
    status = read_status(to_rpc_status(exc))
    assert status.code is grpc.StatusCode.INVALID_ARGUMENT and status.carried
    assert status.message == "two bad fields" and status.reason == "BAD_THINGS"
    assert status.field_violations == (("a.b", "too big"), ("c", "missing"))
    assert status.fields == ["a.b", "c"]
    assert status.metadata == {"field": "a.b"} and status.retry_after_s is None


def test_retry_info_precondition_and_resource_are_read() -> None:
    busy = read_status(to_rpc_status(ResourceExhausted("busy", retry_after_s=1.5)))
    assert busy.retry_after_s == 1.5
    assert read_status(to_rpc_status(ResourceExhausted("too big"))).retry_after_s is None
    down = read_status(to_rpc_status(DependencyUnavailable("down", dependency="memory")))
    assert down.code is grpc.StatusCode.UNAVAILABLE and down.retry_after_s == 1.0
    assert down.metadata == {"dependency": "memory"}
    pre = read_status(to_rpc_status(FailedPrecondition("no pre-period", subject="dates")))
    assert pre.preconditions == (("FAILED_PRECONDITION", "dates", "no pre-period"),)
    missing = read_status(to_rpc_status(NotFound("no", resource_type="org", resource_name="x")))
    (resource,) = [d for d in missing.details if isinstance(d, error_details_pb2.ResourceInfo)]
    assert (resource.resource_type, resource.resource_name) == ("org", "x")


def test_a_call_with_a_status_decodes_its_details() -> None:
    status = to_rpc_status(InvalidInput("bad", field="x"))
    trailing = Metadata(("grpc-status-details-bin", status.SerializeToString()))
    error = AioRpcError(grpc.StatusCode.INVALID_ARGUMENT, Metadata(), trailing, details="bad")
    decoded = decode_status(error)
    assert decoded.carried and decoded.reason == "INVALID_ARGUMENT"
    assert decoded.field_violations == (("x", "bad"),)


def test_a_call_without_a_status_has_its_code_and_message_only() -> None:
    error = AioRpcError(grpc.StatusCode.INTERNAL, Metadata(), Metadata(), details="reset")
    decoded = decode_status(error)
    assert (decoded.code, decoded.message, decoded.carried) == (
        grpc.StatusCode.INTERNAL,
        "reset",
        False,
    )
    assert decoded.details == () and decoded.reason == ""
    plain = decode_status(grpc.RpcError())
    assert plain.code is grpc.StatusCode.UNKNOWN and not plain.carried
