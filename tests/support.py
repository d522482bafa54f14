"""Helpers shared by contract tests: decode rich error details from a failed call."""

from __future__ import annotations

import grpc

from mesh.runtime.status import decode_status


def error_details(error: grpc.RpcError) -> tuple[str, list[str]]:
    """(ErrorInfo.reason, [BadRequest field violation fields]) of a failed call."""
    status = decode_status(error)
    assert status.carried, "no rich status on the error"
    return status.reason, status.fields
