"""Client side of the error model: a failed call as a Python exception with its details."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from mesh.runtime.status import decode_status


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
        status = decode_status(error)
        return cls(status.code, status.message, status.reason, status.field_violations)
