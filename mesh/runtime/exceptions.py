"""Domain exceptions shared by every service. Plain Python: no gRPC here.

Each service subclasses these in its own ``errors.py``; ``mesh.runtime.status`` maps the bases
to gRPC status codes with rich details (one table, most specific first)::

    LiftosError                      reason (UPPER_SNAKE), message
    ├── InvalidInput                 INVALID_ARGUMENT   + BadRequest field violations
    ├── NotFound                     NOT_FOUND          + ResourceInfo
    ├── AlreadyExists                ALREADY_EXISTS     + ResourceInfo
    ├── Unauthenticated              UNAUTHENTICATED
    ├── PermissionDenied             PERMISSION_DENIED
    ├── FailedPrecondition           FAILED_PRECONDITION + PreconditionFailure
    │   ├── NotIdentifiable
    │   └── InsufficientData
    ├── ResourceExhausted            RESOURCE_EXHAUSTED + RetryInfo when a retry can succeed
    └── DependencyUnavailable        UNAVAILABLE        + RetryInfo
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# How much of a caller's own input an error message may quote back (a 2,000-id list echoed
# whole made a 149 KB status that clients then saw as RESOURCE_EXHAUSTED).
ECHO_LIMIT = 200


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` clipped to ``limit`` characters, for quoting input in an error."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field: its path in the request (``experiment.start_date``) and why."""

    field: str
    description: str


class LiftosError(Exception):
    """Base of every domain error; ``reason`` is a stable UPPER_SNAKE code for machines."""

    default_reason = "LIFTOS_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason


class InvalidInput(LiftosError):
    """The caller sent something malformed; names every offending field."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        violations: Iterable[FieldViolation] = (),
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        found = list(violations)
        if field is not None:
            found.insert(0, FieldViolation(field, message))
        self.violations: tuple[FieldViolation, ...] = tuple(found)

    @property
    def field(self) -> str | None:
        return self.violations[0].field if self.violations else None


class NotFound(LiftosError):
    """A named resource does not exist (for this org)."""

    default_reason = "NOT_FOUND"

    def __init__(
        self, message: str, *, resource_type: str, resource_name: str, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.resource_type = resource_type
        self.resource_name = resource_name


class AlreadyExists(LiftosError):
    """Creating a resource whose id is taken."""

    default_reason = "ALREADY_EXISTS"

    def __init__(
        self, message: str, *, resource_type: str, resource_name: str, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.resource_type = resource_type
        self.resource_name = resource_name


class Unauthenticated(LiftosError):
    """The call carries no credentials, or credentials this server does not know."""

    default_reason = "UNAUTHENTICATED"


class PermissionDenied(LiftosError):
    """The caller may not touch this org's data."""

    default_reason = "PERMISSION_DENIED"


class FailedPrecondition(LiftosError):
    """The request is well-formed but the data/state cannot support it (e.g. no pre-period)."""

    default_reason = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, subject: str = "", reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.subject = subject


class NotIdentifiable(FailedPrecondition):
    """The causal effect cannot be identified from the graph/data given."""

    default_reason = "NOT_IDENTIFIABLE"


class InsufficientData(FailedPrecondition):
    """Too few rows, clusters, units or periods for the requested method."""

    default_reason = "INSUFFICIENT_DATA"


class ResourceExhausted(LiftosError):
    """A size or rate limit was hit (oversized batch, too many concurrent jobs).

    ``retry_after_s`` is set when the same call can succeed later (overload), and left None
    when it never will (an oversized batch): only the first gets a ``RetryInfo``.
    """

    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class DependencyUnavailable(LiftosError):
    """A peer service this call needs is down; safe to retry after ``retry_after_s``."""

    default_reason = "DEPENDENCY_UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        dependency: str,
        retry_after_s: float = 1.0,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.dependency = dependency
        self.retry_after_s = retry_after_s
