"""Wires the causal service's dependencies for a server process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import causal_pb2, causal_pb2_grpc

from causal_svc.service import CausalService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = causal_pb2.DESCRIPTOR.services_by_name["CausalService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    async def on_stop() -> None:
        return None

    binding = ServiceBinding(
        SERVICE_NAME, CausalService(), causal_pb2_grpc.add_CausalServiceServicer_to_server
    )
    return [binding], on_stop
