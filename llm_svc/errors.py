"""LLM-service domain errors (plain Python; mapped to gRPC codes by ``mesh.runtime``)::

InvalidRequest        INVALID_ARGUMENT   a field out of range (named)
AnalysisNotFound      NOT_FOUND          no such analysis for this org
CausalRefused         FAILED_PRECONDITION the causal service refused this service's call
NotComparable         FAILED_PRECONDITION a question compares an analysis that is no attribution
LlmNotConfigured      FAILED_PRECONDITION the LLM writer was asked for, no endpoint known
LlmRefused            FAILED_PRECONDITION the endpoint answered 4xx (key, model, request)
CausalUnavailable     UNAVAILABLE        the causal service is down or past its deadline
LlmUnavailable        UNAVAILABLE        the endpoint is down, 5xx/429 or past its timeout
                                         after retries, or broke the stream
"""

from __future__ import annotations

from mesh.runtime.exceptions import (
    DependencyUnavailable,
    FailedPrecondition,
    InvalidInput,
    NotFound,
)

__all__ = [
    "AnalysisNotFound",
    "CausalRefused",
    "CausalUnavailable",
    "InvalidRequest",
    "LlmNotConfigured",
    "LlmRefused",
    "LlmUnavailable",
    "NotComparable",
]


class InvalidRequest(InvalidInput):
    """A request field is missing, too long, or names something this server will not do."""

    default_reason = "INVALID_LLM_REQUEST"


class AnalysisNotFound(NotFound):
    """The causal service has no analysis with this id for this org."""

    default_reason = "ANALYSIS_NOT_FOUND"


class CausalRefused(FailedPrecondition):
    """The causal service refused this service's own call (credentials or scopes)."""

    default_reason = "CAUSAL_REFUSED"


class NotComparable(FailedPrecondition):
    """A question asks what changed between analyses, and one is not an attribution (only two
    attribution results compare: windows, restated days, channel estimates)."""

    default_reason = "ANALYSIS_NOT_COMPARABLE"


class LlmNotConfigured(FailedPrecondition):
    """The LLM writer was asked for but no endpoint is configured or given."""

    default_reason = "LLM_NOT_CONFIGURED"


class LlmRefused(FailedPrecondition):
    """The LLM endpoint refused the request (4xx: API key, model name, payload)."""

    default_reason = "LLM_REFUSED"

    def __init__(self, message: str, *, subject: str = "", status: int = 0) -> None:
        super().__init__(message, subject=subject)
        self.status = status  # the endpoint's HTTP status (0: not an HTTP refusal)


class CausalUnavailable(DependencyUnavailable):
    """The causal service could not be reached while reading analyses."""

    default_reason = "CAUSAL_UNAVAILABLE"


class LlmUnavailable(DependencyUnavailable):
    """The LLM endpoint is down, overloaded or too slow, after retries."""

    default_reason = "LLM_UNAVAILABLE"
