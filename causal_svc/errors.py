"""Causal-service domain errors (plain Python; mapped to gRPC codes by ``mesh.runtime``)."""

from __future__ import annotations

from mesh.runtime.exceptions import (
    DependencyUnavailable,
    FailedPrecondition,
    InsufficientData,
    InvalidInput,
    NotFound,
    NotIdentifiable,
    ResourceExhausted,
)
from mesh.runtime.peers import PeerBusy  # one class for every service's peers

__all__ = [
    "AnalysisNotFound",
    "ComputeBudgetExceeded",
    "ComputeOverloaded",
    "ContradictoryCalibration",
    "InsufficientData",
    "InvalidGraph",
    "InvalidSpec",
    "MemoryUnavailable",
    "NotAnAttribution",
    "NotIdentifiable",
    "PeerBusy",
    "ReplyTooLarge",
    "SingularDesign",
    "StoredStateOutdated",
]


class InvalidSpec(InvalidInput):
    """A role column is missing, of the wrong type, or an option is out of range."""

    default_reason = "INVALID_SPEC"


class InvalidGraph(InvalidInput):
    """The causal graph is malformed (cycle, unknown node, self-loop)."""

    default_reason = "INVALID_GRAPH"


class SingularDesign(FailedPrecondition):
    """The design matrix is rank-deficient (collinear covariates, no variation)."""

    default_reason = "SINGULAR_DESIGN"


class AnalysisNotFound(NotFound):
    """No stored analysis with this id for this org."""

    default_reason = "ANALYSIS_NOT_FOUND"


class MemoryUnavailable(DependencyUnavailable):
    """The memory service could not be reached while reading records."""

    default_reason = "MEMORY_UNAVAILABLE"


class ComputeOverloaded(ResourceExhausted):
    """Every compute worker is busy and the queue in front of them is full; retry later."""

    default_reason = "COMPUTE_OVERLOADED"


class ComputeBudgetExceeded(ResourceExhausted):
    """The computation ran past the per-request compute budget and was stopped.

    Not retryable as it is (no ``retry_after_s``): the same request would run as long again.
    """

    default_reason = "COMPUTE_BUDGET_EXCEEDED"


class ContradictoryCalibration(FailedPrecondition):
    """Lift tests that cannot all be true, or a lift the non-negative media model cannot produce."""

    default_reason = "CONTRADICTORY_CALIBRATION"


class NotAnAttribution(FailedPrecondition):
    """A counterfactual asked of an analysis that holds no usable attribution model (an
    effect estimate, or a model that failed its health checks)."""

    default_reason = "NOT_AN_ATTRIBUTION"


class StoredStateOutdated(FailedPrecondition):
    """A stored analysis's fitted model that this version cannot read (an older LiftOS wrote
    it): the analysis stays readable (GetAnalysis), but its model answers nothing until the
    window is analysed again. Its own reason, so a client can offer "analyse again" without
    reading the message (U's R39-F1 refusal carried the generic FAILED_PRECONDITION)."""

    default_reason = "MODEL_STATE_OUTDATED"


class ReplyTooLarge(ResourceExhausted):
    """Memory refused a reply for the window past its message limit (REPLY_TOO_LARGE; no
    RetryInfo: the same call never fits). ``memory_says`` is memory's own message (the size,
    the limit, the days that fit), a field for a caller that words the refusal its own way
    (before, service.py split it back out of this message's text)."""

    default_reason = "REPLY_TOO_LARGE"

    def __init__(self, message: str, *, memory_says: str) -> None:
        super().__init__(message)
        self.memory_says = memory_says
