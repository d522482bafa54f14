"""Client side of the error model: a failed call as a Python exception with its details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass  # mutable and slot-less: raising sets __traceback__ on the instance
class RpcFailure(Exception):
    """A failed call: the status code, message, ErrorInfo reason and BadRequest violations."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    field_violations: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.field_violations:
            text += "".join(f"\n  - {f}: {d}" for f, d in self.field_violations)
        return text

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> RpcFailure:
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        reason = ""
        violations: list[tuple[str, str]] = []
        status = rpc_status.from_call(error) if isinstance(error, grpc.Call) else None
        details: list[Any] = list(status.details) if status else []
        for detail in details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
        return cls(code, message or "", reason, tuple(violations))
