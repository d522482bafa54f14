"""The typed Python SDK.

Low-volume calls (experiments, and later analyses, explanations, recommendations) speak
betterproto2 dataclasses, so users get plain dataclasses, ``datetime``s and enums. Bulk calls
(ingest, scan, tables) use the pb2 classes and pandas, which are ~58x faster to build and
parse (see README: "SDK message types").
"""

from __future__ import annotations

import os

import grpc
import liftos_dc.liftos.v1 as dc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from mesh.runtime.channels import ChannelClosed, sync_channel
from mesh.runtime.config import SERVICES, PeerConfig
from mesh.sdk._base import as_number, retry_delay
from mesh.sdk.causal import CausalCalls, Records
from mesh.sdk.failures import RpcFailure
from mesh.sdk.ingestion import IngestionCalls, IngestSummary
from mesh.sdk.llm import LlmCalls
from mesh.sdk.memory import MemoryCalls
from mesh.sdk.surfacing import SurfacingCalls


def _seconds(timeout: object) -> float | None:
    """``LiftOS(timeout=)`` as a deadline: a positive number of seconds, else None (none)."""
    if timeout is None:
        return None
    value = as_number(timeout, "timeout")
    return value if value > 0 else None


# What a call on a closed client says (a notebook's `with LiftOS(...) as lo:` cell ends, and a
# later cell calls lo: R45-F7).
CLOSED = (
    "this LiftOS client was closed (its `with` block ended, or close() was called): "
    "make a new LiftOS(...) for more calls"
)

SERVICE_NAMES = {
    "ingestion": "liftos.v1.IngestionService",
    "memory": "liftos.v1.MemoryService",
    "causal": "liftos.v1.CausalService",
    "llm": "liftos.v1.LlmService",
    "surfacing": "liftos.v1.SurfacingService",
}


class LiftOS(IngestionCalls, CausalCalls, SurfacingCalls, LlmCalls, MemoryCalls):
    """A client for the whole mesh. ``org_id`` is the default org for every call."""

    def __init__(
        self,
        peers: PeerConfig | None = None,
        *,
        org_id: str = "",
        timeout: float | None = 60.0,
        api_key: str | None = None,
        tls_ca: str | None = None,
        tls_client_cert: str | None = None,
        tls_client_key: str | None = None,
    ) -> None:
        """``org_id`` defaults to ``LIFTOS_ORG``; ``api_key`` to ``LIFTOS_API_KEY``; ``tls_ca`` (a PEM file) to
        ``LIFTOS_TLS_CA``; ``tls_client_cert``/``tls_client_key`` (presented to servers that
        require client certificates) to ``LIFTOS_TLS_CLIENT_CERT``/``LIFTOS_TLS_CLIENT_KEY``.
        ``timeout``: the seconds each unary call may take (0 or None: no deadline, as
        ``analyze(timeout=0)``); the analyses' streams have their own ``timeout=``."""
        self.peers = peers or PeerConfig.from_env()
        self.org_id = org_id or os.environ.get("LIFTOS_ORG", "")  # as the CLI reads it
        # 0 was an already-passed deadline: every unary call failed at once (R45-F4)
        self._timeout = _seconds(timeout)
        self._channels = {
            s: sync_channel(
                getattr(self.peers, s),
                api_key=api_key,
                ca=tls_ca,
                timeout=self._timeout,
                cert=tls_client_cert,
                key=tls_client_key,
                closed_message=CLOSED,
            )
            for s in SERVICES
        }
        self._ingestion_dc = dc.IngestionServiceStub(self._channels["ingestion"])
        self._ingestion = ingestion_grpc.IngestionServiceStub(self._channels["ingestion"])
        self._causal = causal_grpc.CausalServiceStub(self._channels["causal"])
        self._causal_dc = dc.CausalServiceStub(self._channels["causal"])
        self._llm = llm_grpc.LlmServiceStub(self._channels["llm"])
        self._memory = memory_grpc.MemoryServiceStub(self._channels["memory"])
        self._surfacing = surfacing_grpc.SurfacingServiceStub(self._channels["surfacing"])

    def close(self) -> None:
        """Close the client's channels; any later call raises :class:`ChannelClosed`."""
        for channel in self._channels.values():
            channel.close()

    def __enter__(self) -> LiftOS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- health -------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> dict[str, str]:
        """Each service's health status name, or 'UNREACHABLE'."""
        out = {}
        for service, channel in self._channels.items():
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[service]), timeout=timeout
                )
                out[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError:
                out[service] = "UNREACHABLE"
        return out


__all__ = ["ChannelClosed", "IngestSummary", "LiftOS", "Records", "RpcFailure", "dc", "retry_delay"]
