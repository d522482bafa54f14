"""Wires the ingestion service's dependencies for a server process."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from liftos.v1 import ingestion_pb2

from ingestion_svc.convert import decode_ingest_request
from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.external_factors import FactorRegistry
from ingestion_svc.ledger import BatchLedger
from ingestion_svc.peers import MemoryClient
from ingestion_svc.service import IngestionService
from ingestion_svc.superseded import SupersededLog
from mesh.runtime import ServerConfig, ServiceBinding
from mesh.runtime.metrics import MetricsHooks, ServiceMetrics

_SERVICE = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"]
SERVICE_NAME = _SERVICE.full_name
INGEST_METHOD = f"/{SERVICE_NAME}/Ingest"


def count_ack(metrics: ServiceMetrics, ack: ingestion_pb2.IngestResponse) -> None:
    """The metrics of one Ingest ack: its rows accepted, and rejected by reason (a replayed
    ack's rows were counted when first acked)."""
    if ack.replayed:
        metrics.ingest_batches.labels("replayed").inc()
        return
    metrics.ingest_batches.labels("processed").inc()
    metrics.count_rows("accepted", "", ack.accepted_count)
    reasons = Counter(r.reason for r in ack.rejections)
    for reason, n in reasons.items():
        metrics.count_rows("rejected", ingestion_pb2.RejectionReason.Name(reason), n)
    metrics.count_rows("rejected", "UNLISTED", ack.rejected_count - sum(reasons.values()))


def build(config: ServerConfig) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    root = config.data_dir / "ingestion"
    registry = ExperimentRegistry(root / "registry.sqlite")
    factors = FactorRegistry(root / "external_factors.sqlite")
    ledger = BatchLedger(root / "ledger.sqlite")
    superseded = SupersededLog(root / "superseded.sqlite")
    memory = MemoryClient(config.peers.memory)
    servicer = IngestionService(registry, factors, ledger, memory, superseded=superseded,
                                reply_limit=config.max_message_bytes)  # fmt: skip

    async def on_stop() -> None:
        await memory.close()
        for store in (registry, factors, ledger, superseded):
            await asyncio.to_thread(store.close)

    hooks = MetricsHooks(responses={INGEST_METHOD: count_ack})
    return [ServiceBinding(SERVICE_NAME, servicer, add_to_server, hooks)], on_stop


def add_to_server(servicer: IngestionService, server: grpc.aio.Server) -> None:
    """The generated ``add_IngestionServiceServicer_to_server``, except that Ingest's
    requests are read by :func:`decode_ingest_request`: gRPC answers a request it cannot
    decode with INTERNAL, and one deeply nested row would end the stream."""
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in _SERVICE.methods:
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        kwargs: dict[str, Any] = {
            "request_deserializer": (
                decode_ingest_request if method.name == "Ingest" else request.FromString
            ),
            "response_serializer": response.SerializeToString,
        }
        behaviour = getattr(servicer, method.name)
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(behaviour, **kwargs)
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(behaviour, **kwargs)
        elif method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(behaviour, **kwargs)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(behaviour, **kwargs)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
