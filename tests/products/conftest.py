"""What the Shopify order tests share: real ingestion and memory servers in process, and a
stub for each (the tests' ``stubs``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.main import Build


@pytest.fixture
def stubs(tmp_path: Any) -> Iterator[tuple[ing_grpc.IngestionServiceStub, Any]]:
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path) as services:
        ingestion = ing_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        yield ingestion, memory
