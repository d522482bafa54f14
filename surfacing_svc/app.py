"""Wires the surfacing service's dependencies for a server process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import surfacing_pb2, surfacing_pb2_grpc
from threadpoolctl import threadpool_limits

from mesh.runtime import ServerConfig, ServiceBinding
from surfacing_svc.peers import AnalysisReader, HistoryReader, RegistryWriter
from surfacing_svc.service import SurfacingService

SERVICE_NAME = surfacing_pb2.DESCRIPTOR.services_by_name["SurfacingService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    # One BLAS thread for the process: the planner's linear algebra is on matrices of the
    # channels' size, where OpenBLAS's threads only contend (SLSQP at 26 channels: 7x slower
    # on a loaded 2-core machine), and requests already run side by side in threads.
    threadpool_limits(limits=1, user_api="blas")
    analyses = AnalysisReader(config.peers.causal)
    history = HistoryReader(config.peers.memory)
    registry = RegistryWriter(config.peers.ingestion)

    async def on_stop() -> None:
        await analyses.close()
        await history.close()
        await registry.close()

    binding = ServiceBinding(
        SERVICE_NAME,
        SurfacingService(analyses, history, registry),
        surfacing_pb2_grpc.add_SurfacingServiceServicer_to_server,
    )
    return [binding], on_stop
