"""Surfacing-service domain errors (plain Python; mapped to gRPC codes by ``mesh.runtime``).

::

    InvalidInput
    ├── InvalidRequest          a field out of range, an unknown channel
    └── InfeasibleConstraints   bounds that no allocation can meet (names the conflict)
    NotFound
    └── AnalysisNotFound        no such analysis in the org (causal service said NOT_FOUND)
    FailedPrecondition
    ├── NotAnAttribution        the analysis is not an attribution model
    ├── InsufficientData        too little history for the question
    └── PeerRefused             a peer refused the service's own call (auth, contract)
    DependencyUnavailable
    ├── CausalUnavailable
    ├── MemoryUnavailable
    └── RegistryUnavailable
    AlreadyExists
    └── ExperimentExists        the registry already holds the experiment id
"""

from __future__ import annotations

from mesh.runtime.exceptions import (
    AlreadyExists,
    DependencyUnavailable,
    FailedPrecondition,
    InsufficientData,
    InvalidInput,
    NotFound,
)
from mesh.runtime.peers import PeerBusy  # one class for every service's peers

__all__ = [
    "AnalysisNotFound",
    "CausalUnavailable",
    "ExperimentExists",
    "InfeasibleConstraints",
    "InsufficientData",
    "InvalidRequest",
    "MemoryUnavailable",
    "NotAnAttribution",
    "PeerBusy",
    "PeerRefused",
    "RegistryUnavailable",
]


class InvalidRequest(InvalidInput):
    """A request field is out of range or names something the analysis does not have."""

    default_reason = "INVALID_REQUEST"


class InfeasibleConstraints(InvalidInput):
    """No allocation meets the bounds and the budget together; the message names the conflict."""

    default_reason = "INFEASIBLE_CONSTRAINTS"


class AnalysisNotFound(NotFound):
    """The causal service has no such analysis for this org."""

    default_reason = "ANALYSIS_NOT_FOUND"


class NotAnAttribution(FailedPrecondition):
    """The analysis exists but holds no attribution model (response curves) to plan with."""

    default_reason = "NOT_AN_ATTRIBUTION"


class PeerRefused(FailedPrecondition):
    """A peer refused this service's own call (credentials, contract): not the caller's fault."""

    default_reason = "PEER_REFUSED"


class CausalUnavailable(DependencyUnavailable):
    """The causal service could not be reached."""

    default_reason = "CAUSAL_UNAVAILABLE"


class MemoryUnavailable(DependencyUnavailable):
    """The memory service could not be reached while reading history."""

    default_reason = "MEMORY_UNAVAILABLE"


class RegistryUnavailable(DependencyUnavailable):
    """The ingestion service's experiment registry could not be reached."""

    default_reason = "REGISTRY_UNAVAILABLE"


class ExperimentExists(AlreadyExists):
    """The registry already holds an experiment with the id the design was to be saved as."""

    default_reason = "EXPERIMENT_EXISTS"
