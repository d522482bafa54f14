"""The typed Python client of the mesh (:class:`LiftOS`) and the wire-error decoder
(:class:`RpcFailure`: a failed call as an exception with its status details)."""

from mesh.sdk.client import ChannelClosed, IngestSummary, LiftOS, Records, retry_delay
from mesh.sdk.failures import InvalidArgument, RpcFailure
from mesh.sdk.frames import to_frame

__all__ = [
    "ChannelClosed",
    "IngestSummary",
    "InvalidArgument",
    "LiftOS",
    "Records",
    "RpcFailure",
    "retry_delay",
    "to_frame",
]
