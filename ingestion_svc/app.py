"""Wires the ingestion service's dependencies for a server process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory, struct_pb2
from google.protobuf.message import DecodeError
from liftos.v1 import ingestion_pb2

from ingestion_svc.client import MemoryClient
from ingestion_svc.convert import UNDECODABLE
from ingestion_svc.experiments import ExperimentRegistry
from ingestion_svc.external_factors import FactorRegistry
from ingestion_svc.ledger import BatchLedger
from ingestion_svc.service import IngestionService
from mesh.runtime import ServerConfig, ServiceBinding

_SERVICE = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"]
SERVICE_NAME = _SERVICE.full_name
_ROWS = ingestion_pb2.IngestRequest.DESCRIPTOR.fields_by_name["rows"].number


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

    return [ServiceBinding(SERVICE_NAME, servicer, add_to_server)], on_stop


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


def decode_ingest_request(data: bytes) -> ingestion_pb2.IngestRequest:
    """``IngestRequest.FromString``, except where protobuf refuses the message.

    Protobuf decodes messages nested at most 100 deep, so a Struct row nested deeper than
    about 32 levels fails the whole message. Then each row is decoded alone and one that
    fails becomes a placeholder Struct (its one key ``UNDECODABLE``, its value the row's
    hash, so different rows make different batches) that the batch rejects as malformed;
    the rest of the batch is kept. A message that is not an IngestRequest even so comes back
    with ``batch_id = UNDECODABLE``, which the servicer refuses as INVALID_ARGUMENT.
    """
    try:
        return ingestion_pb2.IngestRequest.FromString(data)
    except DecodeError:
        pass
    rows: list[struct_pb2.Struct] = []
    rest = bytearray()
    try:
        for number, start, body, end in _fields(data):
            if number != _ROWS or body < 0:
                rest += data[start:end]
                continue
            try:
                rows.append(struct_pb2.Struct.FromString(data[body:end]))
            except DecodeError:
                digest = hashlib.sha256(data[body:end]).hexdigest()
                placeholder = struct_pb2.Struct()
                placeholder.fields[UNDECODABLE].string_value = digest
                rows.append(placeholder)
        request = ingestion_pb2.IngestRequest.FromString(bytes(rest))
    except (DecodeError, ValueError):
        return ingestion_pb2.IngestRequest(batch_id=UNDECODABLE)
    request.rows.extend(rows)
    return request


def _fields(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start, start of a length-delimited value or -1, end) of each top-level
    field of a protobuf message; ValueError if it is not one."""
    pos, size = 0, len(data)
    while pos < size:
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        body = -1
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            body, pos = pos, pos + length
        elif wire == 5:
            pos += 4
        else:  # groups: never in an IngestRequest
            raise ValueError(f"wire type {wire}")
        if pos > size or number == 0:
            raise ValueError("truncated message")
        yield number, start, body, pos


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")
