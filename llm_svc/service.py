"""LlmService servicer. RPCs whose issue has not landed answer UNIMPLEMENTED."""

from __future__ import annotations

from liftos.v1 import llm_pb2_grpc as llm_grpc


class LlmService(llm_grpc.LlmServiceServicer):
    """Every RPC is inherited from the generated base and answers UNIMPLEMENTED for now."""
