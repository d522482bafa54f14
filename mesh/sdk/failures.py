"""Client side of the error model: a failed call as a Python exception with its details."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.status import decode_status


class InvalidArgument(InvalidInput, ValueError, TypeError):
    """An SDK argument refused before any call is sent: the message names the argument and
    what it takes (the choices of a named option, a date's form). A ValueError and a
    TypeError, so code that caught what protobuf raised (a ValueError for a misspelt name, a
    TypeError for a value of the wrong type) still catches it (R45-F3, s20 V2-F7)."""


@dataclass  # mutable and slot-less: raising sets __traceback__ on the instance
class RpcFailure(Exception):
    """A failed call: the status code, message, ErrorInfo reason and BadRequest violations,
    and the server's request id for it (``rid=`` in the services' logs; "" when none came)."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    field_violations: tuple[tuple[str, str], ...] = ()
    request_id: str = field(default="", compare=False)

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.field_violations:
            text += "".join(f"\n  - {f}: {d}" for f, d in self.field_violations)
        return text

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> RpcFailure:
        status = decode_status(error)
        return cls(
            status.code, status.message, status.reason, status.field_violations,
            request_id=_request_id(error),
        )  # fmt: skip


def _request_id(error: grpc.RpcError) -> str:
    """The ``x-request-id`` the server returned in the failed call's trailing metadata."""
    trailing = getattr(error, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key == "x-request-id":
            return value if isinstance(value, str) else value.decode(errors="replace")
    return ""
