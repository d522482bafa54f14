"""Memory domain errors (plain Python; ``mesh.runtime`` maps the bases to gRPC codes)."""

from __future__ import annotations

from mesh.runtime.exceptions import FailedPrecondition, InvalidInput, NotFound, ResourceExhausted

# The errors a call can end with, each mapped to a status (tests/memory/test_errors.py).
# SchemaTooNew, below, is a start-up refusal (the process exits with one line), never a reply.
__all__ = [
    "BatchTooLarge",
    "DimensionMismatch",
    "EmbedderUnavailable",
    "InvalidQuery",
    "InvalidRecord",
    "NodeNotFound",
    "OrgNotFound",
    "UnknownFilterValue",
]


class InvalidRecord(InvalidInput):
    """A record in a Write batch is malformed (field named with its index in the batch)."""

    default_reason = "INVALID_RECORD"


class DimensionMismatch(InvalidInput):
    """A vector's length differs from the org's embedding dimension."""

    default_reason = "DIMENSION_MISMATCH"


class InvalidQuery(InvalidInput):
    """A Search / Scan / QueryGraph request is malformed (k, batch size, range, NaN…)."""

    default_reason = "INVALID_QUERY"


class UnknownFilterValue(InvalidInput):
    """A filter names a campaign / channel / geo / experiment / region the org does not have."""

    default_reason = "UNKNOWN_FILTER_VALUE"


class OrgNotFound(NotFound):
    """The org has no records in memory."""

    default_reason = "ORG_NOT_FOUND"

    def __init__(self, org_id: str) -> None:
        super().__init__(
            f"org {org_id!r} has no records in memory", resource_type="org", resource_name=org_id
        )


class NoProductRecords(NotFound):
    """The org has no records of a product source (orders, catalogue, product reports)."""

    default_reason = "NO_PRODUCT_RECORDS"

    def __init__(self, org_id: str) -> None:
        super().__init__(
            f"org {org_id!r} has no product records in memory (orders, catalogue or product "
            "reports)",
            resource_type="org",
            resource_name=org_id,
        )


class NodeNotFound(NotFound):
    """No knowledge-graph node with this id in the org."""

    default_reason = "NODE_NOT_FOUND"


class EmbedderUnavailable(FailedPrecondition):
    """The org was embedded with an embedder this process cannot load."""

    default_reason = "EMBEDDER_UNAVAILABLE"


class BatchTooLarge(ResourceExhausted):
    """More records in one WriteRequest than the server accepts."""

    default_reason = "BATCH_TOO_LARGE"


class SchemaTooNew(RuntimeError):
    """The store was upgraded by a newer build of memory than this one (a rollback after an
    upgrade): refused at start, naming both versions, instead of serving and failing every
    write (R39 F2)."""
