"""SurfacingService servicer. RPCs whose issue has not landed answer UNIMPLEMENTED."""

from __future__ import annotations

from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc


class SurfacingService(surfacing_grpc.SurfacingServiceServicer):
    """Every RPC is inherited from the generated base and answers UNIMPLEMENTED for now."""
