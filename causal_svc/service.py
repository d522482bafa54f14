"""CausalService servicer. RPCs whose issue has not landed answer UNIMPLEMENTED."""

from __future__ import annotations

from liftos.v1 import causal_pb2_grpc as causal_grpc


class CausalService(causal_grpc.CausalServiceServicer):
    """Every RPC is inherited from the generated base and answers UNIMPLEMENTED for now."""
