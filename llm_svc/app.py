"""Wires the llm service's dependencies for a server process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import llm_pb2, llm_pb2_grpc

from llm_svc.service import LlmService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = llm_pb2.DESCRIPTOR.services_by_name["LlmService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    async def on_stop() -> None:
        return None

    binding = ServiceBinding(
        SERVICE_NAME,
        LlmService(),  # type: ignore[abstract]  # every RPC answers UNIMPLEMENTED until its issue
        llm_pb2_grpc.add_LlmServiceServicer_to_server,
    )
    return [binding], on_stop
