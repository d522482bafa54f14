"""Ingestion domain errors (plain Python; mapped to gRPC codes by ``mesh.runtime``)."""

from __future__ import annotations

from mesh.runtime.exceptions import (
    AlreadyExists,
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    ResourceExhausted,
)

__all__ = [
    "BatchIdReused",
    "BatchTooLarge",
    "ExperimentExists",
    "ExperimentNotFound",
    "InvalidCalendarRequest",
    "InvalidExternalFactor",
    "InvalidIngestRequest",
    "MemoryUnavailable",
]


class InvalidCalendarRequest(InvalidInput):
    """Unknown country, reversed or oversized date range."""

    default_reason = "INVALID_CALENDAR_REQUEST"


class ExperimentExists(AlreadyExists):
    """An experiment with this id already exists in the org."""

    default_reason = "EXPERIMENT_EXISTS"


class ExperimentNotFound(NotFound):
    """No experiment with this id in the org."""

    default_reason = "EXPERIMENT_NOT_FOUND"


class InvalidIngestRequest(InvalidInput):
    """A batch the service cannot read at all: no org, unknown source, no batch id, an
    account time zone or currency that does not exist, a generic source without a date
    column. (Bad *rows* are rejected in the ack instead.)"""

    default_reason = "INVALID_INGEST_REQUEST"


class BatchTooLarge(ResourceExhausted):
    """More rows in one batch than ``MAX_BATCH_ROWS``."""

    default_reason = "BATCH_TOO_LARGE"


class BatchIdReused(AlreadyExists):
    """A batch id already acked for different rows (replays must resend the same rows)."""

    default_reason = "BATCH_ID_REUSED"


class InvalidExternalFactor(InvalidInput):
    """An external factor series with a bad name, type, date or value."""

    default_reason = "INVALID_EXTERNAL_FACTOR"


class MemoryUnavailable(DependencyUnavailable):
    """The memory service could not be reached; the batch was not acked."""

    default_reason = "MEMORY_UNAVAILABLE"
