"""Ingestion domain errors (plain Python; mapped to gRPC codes by ``mesh.runtime``)."""

from __future__ import annotations

from mesh.errors import AlreadyExists, InvalidInput, NotFound

__all__ = ["ExperimentExists", "ExperimentNotFound", "InvalidCalendarRequest"]


class InvalidCalendarRequest(InvalidInput):
    """Unknown country, reversed or oversized date range."""

    default_reason = "INVALID_CALENDAR_REQUEST"


class ExperimentExists(AlreadyExists):
    """An experiment with this id already exists in the org."""

    default_reason = "EXPERIMENT_EXISTS"


class ExperimentNotFound(NotFound):
    """No experiment with this id in the org."""

    default_reason = "EXPERIMENT_NOT_FOUND"
