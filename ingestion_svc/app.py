"""Wires the ingestion service's dependencies for a server process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from liftos.v1 import ingestion_pb2, ingestion_pb2_grpc

from ingestion_svc.client import MemoryClient
from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.external_factors import FactorRegistry
from ingestion_svc.ledger import BatchLedger
from ingestion_svc.service import IngestionService
from mesh.runtime import ServerConfig, ServiceBinding

SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    root = config.data_dir / "ingestion"
    registry = ExperimentRegistry(root / "registry.sqlite")
    factors = FactorRegistry(root / "external_factors.sqlite")
    ledger = BatchLedger(root / "ledger.sqlite")
    memory = MemoryClient(config.peers.memory)
    servicer = IngestionService(registry, factors, ledger, memory)

    async def on_stop() -> None:
        await memory.close()
        for store in (registry, factors, ledger):
            await asyncio.to_thread(store.close)

    binding = ServiceBinding(
        SERVICE_NAME, servicer, ingestion_pb2_grpc.add_IngestionServiceServicer_to_server
    )
    return [binding], on_stop
