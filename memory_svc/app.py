"""Wires the memory service's dependencies for a server process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import memory_pb2, memory_pb2_grpc

from memory_svc.service import MemoryService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = memory_pb2.DESCRIPTOR.services_by_name["MemoryService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    async def on_stop() -> None:
        return None

    binding = ServiceBinding(
        SERVICE_NAME, MemoryService(), memory_pb2_grpc.add_MemoryServiceServicer_to_server
    )
    return [binding], on_stop
