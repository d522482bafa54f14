"""Domain exceptions ↔ ``google.rpc.Status`` with rich details: both directions, one module.

:func:`to_rpc_status` (a server's error → status) reads one table, ordered most specific
first and total over ``mesh.runtime.exceptions.LiftosError`` (a test walks every subclass).
Anything else is INTERNAL with a generic message: the traceback is logged by the
interceptor, never sent.

:func:`decode_status` (a failed call → :class:`RichStatus`) is the one decoder of the details
(ErrorInfo, BadRequest, RetryInfo, PreconditionFailure, ResourceInfo) for every caller: the
SDK, a service calling its peers, the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from mesh.runtime import exceptions as E

ERROR_DOMAIN = "liftos.v1"

DetailBuilder = Callable[[E.LiftosError], list[object]]


# A status travels in trailing metadata (its details base64-encoded), which grpc-core caps at
# 8 KiB by default: whatever a handler put in an error, the status stays under 4 KiB.
MAX_MESSAGE_CHARS = 600
MAX_FIELD_CHARS = 120
MAX_DESCRIPTION_CHARS = 250
MAX_VIOLATIONS = 8


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _bad_request(exc: E.LiftosError) -> list[object]:
    assert isinstance(exc, E.InvalidInput)
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=_clip(v.field, MAX_FIELD_CHARS),
            description=_clip(v.description, MAX_DESCRIPTION_CHARS),
        )
        for v in exc.violations[:MAX_VIOLATIONS]
    ]
    if len(exc.violations) > MAX_VIOLATIONS:
        violations.append(
            error_details_pb2.BadRequest.FieldViolation(
                field="", description=f"and {len(exc.violations) - MAX_VIOLATIONS:,} more"
            )
        )
    return [error_details_pb2.BadRequest(field_violations=violations)]


def _resource(exc: E.LiftosError) -> list[object]:
    assert isinstance(exc, E.NotFound | E.AlreadyExists)
    return [
        error_details_pb2.ResourceInfo(
            resource_type=exc.resource_type,
            resource_name=_clip(exc.resource_name, E.ECHO_LIMIT),
            description=_clip(exc.message, MAX_MESSAGE_CHARS),
        )
    ]


def _precondition(exc: E.LiftosError) -> list[object]:
    assert isinstance(exc, E.FailedPrecondition)
    return [
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=exc.reason, subject=exc.subject, description=exc.message
                )
            ]
        )
    ]


def _retry(exc: E.LiftosError) -> list[object]:
    assert isinstance(exc, E.DependencyUnavailable | E.ResourceExhausted)
    if exc.retry_after_s is None:
        return []
    seconds = max(exc.retry_after_s, 0.0)
    return [
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        )
    ]


def _none(exc: E.LiftosError) -> list[object]:
    return []


# (exception base, google.rpc code, extra details) — most specific first.
STATUS_TABLE: tuple[tuple[type[E.LiftosError], int, DetailBuilder], ...] = (
    (E.InvalidInput, code_pb2.INVALID_ARGUMENT, _bad_request),
    (E.NotFound, code_pb2.NOT_FOUND, _resource),
    (E.AlreadyExists, code_pb2.ALREADY_EXISTS, _resource),
    (E.Unauthenticated, code_pb2.UNAUTHENTICATED, _none),
    (E.PermissionDenied, code_pb2.PERMISSION_DENIED, _none),
    (E.FailedPrecondition, code_pb2.FAILED_PRECONDITION, _precondition),
    (E.ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED, _retry),
    (E.DependencyUnavailable, code_pb2.UNAVAILABLE, _retry),
)


def code_for(exc_type: type[BaseException]) -> int:
    """The google.rpc code an exception type maps to (INTERNAL when unmapped)."""
    for base, code, _ in STATUS_TABLE:
        if issubclass(exc_type, base):
            return code
    return code_pb2.INTERNAL


def to_rpc_status(exc: BaseException) -> status_pb2.Status:
    """A ``google.rpc.Status`` for an exception; unknown exceptions say nothing internal."""
    for base, code, builder in STATUS_TABLE:
        if isinstance(exc, base):
            assert isinstance(exc, E.LiftosError)
            details = [
                error_details_pb2.ErrorInfo(
                    reason=exc.reason,
                    domain=ERROR_DOMAIN,
                    metadata=_metadata(exc),
                ),
                *builder(exc),
            ]
            return _status(code, _clip(exc.message, MAX_MESSAGE_CHARS), details)
    return _status(
        code_pb2.INTERNAL,
        "internal error; the server logged the details",
        [error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)],
    )


def _metadata(exc: E.LiftosError) -> dict[str, str]:
    if isinstance(exc, E.InvalidInput) and exc.field:
        return {"field": _clip(exc.field, MAX_FIELD_CHARS)}
    if isinstance(exc, E.NotFound | E.AlreadyExists):
        return {
            "resource_type": exc.resource_type,
            "resource_name": _clip(exc.resource_name, E.ECHO_LIMIT),
        }
    if isinstance(exc, E.DependencyUnavailable):
        return {"dependency": exc.dependency}
    return {}


def _status(code: int, message: str, details: list[object]) -> status_pb2.Status:
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)  # type: ignore[arg-type]
        packed.append(a)
    return status_pb2.Status(code=code, message=message, details=packed)


# ------------------------------------------------------------------------------ decoding

_DETAIL_TYPES: tuple[type[Message], ...] = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.RetryInfo,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.ResourceInfo,
)


@dataclass(frozen=True, slots=True)
class RichStatus:
    """A failed call's status and its details, decoded.

    ``carried`` says whether the call came with a ``google.rpc.Status`` at all: every status
    a LiftOS server sends has one, so a failure without it was made by the transport.
    ``retry_after_s`` is the RetryInfo delay (None: no RetryInfo, the same call will not
    succeed later). ``details`` holds every known detail message, decoded, in order.
    """

    code: grpc.StatusCode
    message: str
    carried: bool = False
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    field_violations: tuple[tuple[str, str], ...] = ()
    retry_after_s: float | None = None
    preconditions: tuple[tuple[str, str, str], ...] = ()
    details: tuple[Message, ...] = ()

    @property
    def fields(self) -> list[str]:
        """The BadRequest violations' field paths."""
        return [f for f, _ in self.field_violations]


def decode_status(error: grpc.RpcError) -> RichStatus:
    """The rich status of a failed call (sync or aio); an error that is not a call (nor
    carries trailers) decodes to its code and message alone."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else str(error)) or ""
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None  # type: ignore[arg-type]
    if status is None:
        return RichStatus(code, message)
    return read_status(status, code=code, message=message)


_GRPC_CODES = {c.value[0]: c for c in grpc.StatusCode}


def grpc_code(code: int) -> grpc.StatusCode:
    """The grpc status code of a ``google.rpc`` code number (UNKNOWN when there is none)."""
    return _GRPC_CODES.get(code, grpc.StatusCode.UNKNOWN)


def read_status(
    status: status_pb2.Status,
    *,
    code: grpc.StatusCode | None = None,
    message: str | None = None,
) -> RichStatus:
    """A ``google.rpc.Status`` decoded (its own code and message unless the call's are given)."""
    if code is None:
        code = grpc_code(status.code)
    details = [d for d in map(_unpack, status.details) if d is not None]
    reason, metadata, retry_after_s = "", {}, None
    violations: list[tuple[str, str]] = []
    preconditions: list[tuple[str, str, str]] = []
    for detail in details:
        if isinstance(detail, error_details_pb2.ErrorInfo):
            reason, metadata = detail.reason, dict(detail.metadata)
        elif isinstance(detail, error_details_pb2.BadRequest):
            violations += [(v.field, v.description) for v in detail.field_violations]
        elif isinstance(detail, error_details_pb2.RetryInfo):
            retry_after_s = detail.retry_delay.seconds + detail.retry_delay.nanos / 1e9
        elif isinstance(detail, error_details_pb2.PreconditionFailure):
            preconditions += [(v.type, v.subject, v.description) for v in detail.violations]
    return RichStatus(
        code,
        status.message if message is None else message,
        carried=True,
        reason=reason,
        metadata=metadata,
        field_violations=tuple(violations),
        retry_after_s=retry_after_s,
        preconditions=tuple(preconditions),
        details=tuple(details),
    )


def _unpack(detail: any_pb2.Any) -> Message | None:
    for kind in _DETAIL_TYPES:
        if detail.TypeName() == kind.DESCRIPTOR.full_name:
            message = kind()
            detail.Unpack(message)
            return message
    return None
