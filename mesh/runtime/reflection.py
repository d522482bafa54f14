"""Server reflection that serves the contracts' proto comments, as grpc.reflection.v1 and v1alpha.

grpcio-reflection (1.85) serialises each file with ``FileDescriptor.CopyToProto``, which
carries no ``source_code_info``, and the pb2 modules hold none anyway: ``grpcurl describe``
printed bare signatures, no defaults, units or limits. ``scripts/gen.sh`` writes the
contracts' FileDescriptorSet with their comments to ``gen/liftos/v1/descriptors.binpb``;
this servicer answers with those files, and with the pool's own for every other file
(google/protobuf/*, google/api/*, health, reflection).

grpcio-reflection ships only v1alpha; v1 (what newer clients ask for first) has the same
messages field for field, so the same servicer answers both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_reflection.v1alpha import reflection_pb2 as pb
from liftos.v1 import common_pb2

_LOGGER = logging.getLogger(__name__)

DESCRIPTOR_SET = Path(common_pb2.__file__).with_name("descriptors.binpb")
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
V1 = "grpc.reflection.v1.ServerReflection"
SERVICE_NAMES = (V1, V1ALPHA)
_METHOD = "ServerReflectionInfo"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _bare(proto: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """``proto`` without what CopyToProto leaves out: comments and default json names."""
    out = descriptor_pb2.FileDescriptorProto()
    out.CopyFrom(proto)
    out.ClearField("source_code_info")

    def strip(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            for field in (*message.field, *message.extension):
                field.ClearField("json_name")
            strip(message.nested_type)

    strip(out.message_type)
    for field in out.extension:
        field.ClearField("json_name")
    return out


def documented_files(
    pool: descriptor_pool.DescriptorPool, path: Path = DESCRIPTOR_SET
) -> dict[str, bytes]:
    """The serialised FileDescriptorProtos, with comments, of ``path``'s files that this
    process speaks: a file missing from ``pool`` or differing from it (a stale descriptor
    set) is left out, so reflection never describes a contract the server does not serve."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    except OSError as exc:
        _LOGGER.warning("reflection serves no proto comments: %s (run `make gen`)", exc)
        return {}
    out: dict[str, bytes] = {}
    for proto in files:
        try:
            served = descriptor_pb2.FileDescriptorProto()
            pool.FindFileByName(proto.name).CopyToProto(served)
        except KeyError:
            continue  # a contract this process never imported: nothing asks for it
        if served != _bare(proto):
            _LOGGER.warning(
                "reflection: %s differs from %s, served without comments", path, proto.name
            )
            continue
        out[proto.name] = proto.SerializeToString()
    return out


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """grpc.reflection.v1's file, made from v1alpha's (same messages), so clients can
    describe the service they list."""
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(proto)
    proto.name = _V1_FILE
    proto.package = "grpc.reflection.v1"
    proto.ClearField("options")
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.")
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.")
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.")
    pool.AddSerializedFile(proto.SerializeToString())


class ReflectionServicer:
    """Answers ServerReflectionInfo from ``pool``, with ``documented``'s bytes for its files."""

    def __init__(
        self,
        service_names: Iterable[str],
        pool: descriptor_pool.DescriptorPool,
        documented: Mapping[str, bytes],
    ) -> None:
        self._service_names = tuple(sorted(service_names))
        self._pool = pool
        self._documented = dict(documented)

    async def ServerReflectionInfo(
        self, requests: AsyncIterator[pb.ServerReflectionRequest], context: Any
    ) -> AsyncIterator[pb.ServerReflectionResponse]:
        async for request in requests:
            yield self.answer(request)

    def answer(self, request: pb.ServerReflectionRequest) -> pb.ServerReflectionResponse:
        kind = request.WhichOneof("message_request")
        try:
            if kind == "file_by_filename":
                return self._files(request, self._pool.FindFileByName(request.file_by_filename))
            if kind == "file_containing_symbol":
                return self._files(request, self._file_of(request.file_containing_symbol))
            if kind == "file_containing_extension":
                ask = request.file_containing_extension
                message = self._pool.FindMessageTypeByName(ask.containing_type)
                extension = self._pool.FindExtensionByNumber(message, ask.extension_number)
                owner = self._pool.FindFileContainingSymbol(extension.full_name)
                return self._files(request, owner)
            if kind == "all_extension_numbers_of_type":
                message = self._pool.FindMessageTypeByName(request.all_extension_numbers_of_type)
                numbers = sorted(e.number for e in self._pool.FindAllExtensions(message))
                return pb.ServerReflectionResponse(
                    original_request=request,
                    all_extension_numbers_response=pb.ExtensionNumberResponse(
                        base_type_name=message.full_name, extension_number=numbers
                    ),
                )
            if kind == "list_services":
                return pb.ServerReflectionResponse(
                    original_request=request,
                    list_services_response=pb.ListServiceResponse(
                        service=[pb.ServiceResponse(name=n) for n in self._service_names]
                    ),
                )
        except KeyError:
            return _error(request, grpc.StatusCode.NOT_FOUND)
        return _error(request, grpc.StatusCode.INVALID_ARGUMENT)

    def _file_of(self, symbol: str) -> FileDescriptor:
        """The file defining ``symbol``; the upb pool finds no methods or fields by
        FindFileContainingSymbol, so ``grpcurl describe Service.Method`` needs these."""
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            pass
        try:
            return self._pool.FindMethodByName(symbol).containing_service.file
        except KeyError:
            pass
        try:
            owner = self._pool.FindFieldByName(symbol).containing_type
        except KeyError:
            owner = self._pool.FindOneofByName(symbol).containing_type
        if owner is None:
            raise KeyError(symbol)
        return owner.file

    def _files(
        self, request: pb.ServerReflectionRequest, file: FileDescriptor
    ) -> pb.ServerReflectionResponse:
        """``file`` and every file it imports, transitively (what a client needs to build it)."""
        seen: dict[str, FileDescriptor] = {}
        stack = [file]
        while stack:
            f = stack.pop()
            if f.name not in seen:
                seen[f.name] = f
                stack.extend(f.dependencies)
        return pb.ServerReflectionResponse(
            original_request=request,
            file_descriptor_response=pb.FileDescriptorResponse(
                file_descriptor_proto=[self._serialised(f) for f in seen.values()]
            ),
        )

    def _serialised(self, file: FileDescriptor) -> bytes:
        if file.name in self._documented:
            return self._documented[file.name]
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        return proto.SerializeToString()


def _error(
    request: pb.ServerReflectionRequest, code: grpc.StatusCode
) -> pb.ServerReflectionResponse:
    number, text = code.value
    return pb.ServerReflectionResponse(
        original_request=request,
        error_response=pb.ErrorResponse(error_code=number, error_message=text),
    )


def enable_server_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection for ``service_names`` (and reflection itself) on ``server``, as v1 and
    v1alpha, from the default pool, with the contracts' comments."""
    pool = descriptor_pool.Default()
    _add_v1_descriptor(pool)
    servicer = ReflectionServicer([*service_names, *SERVICE_NAMES], pool, documented_files(pool))
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=pb.ServerReflectionRequest.FromString,
        response_serializer=pb.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(name, {_METHOD: handler}) for name in SERVICE_NAMES]
    )
