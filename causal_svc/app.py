"""Wires the causal service's dependencies for a server process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import causal_pb2, causal_pb2_grpc

from causal_svc.analyses import AnalysisStore
from causal_svc.compute import ComputePool, PoolSettings
from causal_svc.jobs import PRELOAD
from causal_svc.peers import MemoryReader, RegistryReader
from causal_svc.service import CausalService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = causal_pb2.DESCRIPTOR.services_by_name["CausalService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    analyses = AnalysisStore(config.data_dir / "causal" / "analyses.sqlite")
    memory = MemoryReader(config.peers.memory)
    registry = RegistryReader(config.peers.ingestion)
    compute = ComputePool(PoolSettings.from_env("LIFTOS_CAUSAL"), preload=PRELOAD, name="causal")
    compute.start_in_background()  # workers warm while the server starts

    async def on_stop() -> None:
        # In-flight calls were finished or cancelled by the server's grace period; stop the
        # workers (and anything they still run) so the process can exit.
        await asyncio.to_thread(compute.close)
        await memory.close()
        await registry.close()
        await asyncio.to_thread(analyses.close)

    servicer = CausalService(analyses, memory, registry, compute)
    binding = ServiceBinding(
        SERVICE_NAME, servicer, causal_pb2_grpc.add_CausalServiceServicer_to_server
    )
    return [binding], on_stop
