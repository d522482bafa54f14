"""Wires the ingestion service's dependencies for a server process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import ingestion_pb2, ingestion_pb2_grpc

from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.service import IngestionService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    registry = ExperimentRegistry(config.data_dir / "ingestion" / "registry.sqlite")
    servicer = IngestionService(registry)

    async def on_stop() -> None:
        await asyncio.to_thread(registry.close)

    binding = ServiceBinding(
        SERVICE_NAME, servicer, ingestion_pb2_grpc.add_IngestionServiceServicer_to_server
    )
    return [binding], on_stop
