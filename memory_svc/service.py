"""MemoryService servicer. RPCs whose issue has not landed answer UNIMPLEMENTED."""

from __future__ import annotations

from liftos.v1 import memory_pb2_grpc as memory_grpc


class MemoryService(memory_grpc.MemoryServiceServicer):
    """Every RPC is inherited from the generated base and answers UNIMPLEMENTED for now."""
