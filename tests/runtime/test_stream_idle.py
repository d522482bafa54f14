"""The interceptor's idle bound on a request stream counts only the client's silence (R46-F2).

A stream whose server still owes it answers is the server's to finish, however long that
takes: its client may wait for each answer before sending the next message. Only once every
message is answered does the client's silence count, and past ``stream_idle_s`` the stream
ends RESOURCE_EXHAUSTED. A real grpc.aio server with the interceptor and an API key; the
service is a test echo (of a message that names the key's org) that answers each message two
seconds late, as a slow memory write would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.interceptor import STREAM_IDLE_ENV, ServiceInterceptor
from mesh.runtime.status import decode_status

IDLE_S = 1.0
SLOW_S = 2.0  # each answer comes later than the bound
METHOD = "/test.Echo/Chat"


async def _echo(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for message in requests:
        await asyncio.sleep(SLOW_S)
        yield message


async def _talk(pause_after_answer: float) -> list[str]:
    """Send a message, wait for its answer, then (after ``pause_after_answer``) the next, and
    half-close: the answers, or the error the stream ended with."""
    interceptor = ServiceInterceptor(AuthConfig.parse("ka:org_a"), stream_idle_s=IDLE_S)
    server = grpc.aio.server(interceptors=[interceptor])
    handler = grpc.stream_stream_rpc_method_handler(
        _echo,
        request_deserializer=memory_pb.ScanRequest.FromString,
        response_serializer=memory_pb.ScanRequest.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Echo", {"Chat": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            chat = channel.stream_stream(
                METHOD,
                request_serializer=memory_pb.ScanRequest.SerializeToString,
                response_deserializer=memory_pb.ScanRequest.FromString,
            )
            call = chat(metadata=auth_metadata("ka"), timeout=30)
            answers = []
            await call.write(memory_pb.ScanRequest(org_id="org_a", batch_size=1))
            answers.append(await call.read())  # waited SLOW_S > IDLE_S for it
            await asyncio.sleep(pause_after_answer)
            if call.done():  # ended meanwhile: reading raises how
                await call.read()
            await call.write(memory_pb.ScanRequest(org_id="org_a", batch_size=2))
            await call.done_writing()
            answers.append(await call.read())
            assert await call.read() is grpc.aio.EOF
            return [f"{a.org_id}:{a.batch_size}" for a in answers]
    finally:
        await server.stop(None)


def test_a_client_waiting_for_a_slow_answer_is_not_idle() -> None:
    assert asyncio.run(_talk(0.0)) == ["org_a:1", "org_a:2"]


def test_a_client_silent_past_the_bound_after_its_answers_is_ended() -> None:
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        asyncio.run(_talk(IDLE_S + 1.5))
    error = ended.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert f"sent nothing for {IDLE_S:g} s after its last answer ({STREAM_IDLE_ENV})" in (
        error.details() or ""
    )
    assert decode_status(error).reason == "STREAM_IDLE"  # its own reason (s21), not a generic one
