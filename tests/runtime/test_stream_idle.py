"""The interceptor's idle bound on a request stream counts only the client's silence (R46-F2).

A stream whose server still owes it answers is the server's to finish, however long that
takes: its client may wait for each answer before sending the next message. Only once every
message is answered does the client's silence count, and past ``stream_idle_s`` the stream
ends RESOURCE_EXHAUSTED. A real grpc.aio server with the interceptor and an API key; the
service is a test echo (of a message that names the key's org) that answers each message two
seconds late, as a slow memory write would.

The clock runs only while the server waits for the next message (V2-F6): a handler that spends
longer than the bound on a message — before answering it (a client stream answered at its end,
as memory's Write), or after (a commit behind its ack) — does not make its client idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
# The test messages' codec, as a handler reads them and as a client sends them.
_SERVED: dict[str, Any] = {
    "request_deserializer": memory_pb.ScanRequest.FromString,
    "response_serializer": memory_pb.ScanRequest.SerializeToString,
}
_CALLED: dict[str, Any] = {
    "request_serializer": memory_pb.ScanRequest.SerializeToString,
    "response_deserializer": memory_pb.ScanRequest.FromString,
}


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
    handler = grpc.stream_stream_rpc_method_handler(_echo, **_SERVED)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Echo", {"Chat": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            chat = channel.stream_stream(METHOD, **_CALLED)
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
    assert "every message sent was answered" in (error.details() or "")
    assert decode_status(error).reason == "STREAM_IDLE"  # its own reason (s21), not a generic one


# The server's own time on a message is not the client's idleness (V2-F6): a handler that
# spends longer than the bound on each message, with the client's next one already sent, is
# not ended. The bound comes from LIFTOS_STREAM_IDLE_S, as a deployment sets it.


async def _count(
    requests: AsyncIterator[memory_pb.ScanRequest], context: grpc.aio.ServicerContext
) -> memory_pb.ScanRequest:
    """A client stream answered once, at its end (as memory's Write): each message takes
    the server SLOW_S (decoding, storing) before it reads the next."""
    n = 0
    async for _ in requests:
        await asyncio.sleep(SLOW_S)
        n += 1
    return memory_pb.ScanRequest(org_id="org_a", batch_size=n)


async def _answer_then_work(
    requests: AsyncIterator[memory_pb.ScanRequest], context: grpc.aio.ServicerContext
) -> AsyncIterator[memory_pb.ScanRequest]:
    """A response stream that answers each message at once, then works SLOW_S on it (a
    commit after the ack) before it reads the next."""
    async for message in requests:
        yield message
        await asyncio.sleep(SLOW_S)


async def _serve(handlers: dict[str, grpc.RpcMethodHandler]) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(interceptors=[ServiceInterceptor(AuthConfig.parse("ka:org_a"))])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def _messages(n: int) -> list[memory_pb.ScanRequest]:
    return [memory_pb.ScanRequest(org_id="org_a", batch_size=i + 1) for i in range(n)]


async def _client_stream(messages: list[memory_pb.ScanRequest], pause: float) -> int:
    """Send ``messages`` at once, wait ``pause``, half-close: the count the server answers."""
    handler = grpc.stream_unary_rpc_method_handler(_count, **_SERVED)
    server, port = await _serve({"Count": handler})
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            count = channel.stream_unary("/test.Echo/Count", **_CALLED)
            call = count(metadata=auth_metadata("ka"), timeout=30)
            for message in messages:
                await call.write(message)
            await asyncio.sleep(pause)
            if not call.done():
                await call.done_writing()
            return (await call).batch_size
    finally:
        await server.stop(None)


async def _chat_at_once() -> list[int]:
    """Send a message, read its answer, send the next at once, half-close: the answers."""
    handler = grpc.stream_stream_rpc_method_handler(_answer_then_work, **_SERVED)
    server, port = await _serve({"Chat": handler})
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            chat = channel.stream_stream(METHOD, **_CALLED)
            call = chat(metadata=auth_metadata("ka"), timeout=30)
            answers = []
            for message in _messages(2):
                await call.write(message)
                answers.append((await call.read()).batch_size)
            await call.done_writing()
            assert await call.read() is grpc.aio.EOF
            return answers
    finally:
        await server.stop(None)


@pytest.fixture
def idle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STREAM_IDLE_ENV, f"{IDLE_S:g}")


@pytest.mark.usefixtures("idle_env")
def test_a_client_stream_sent_at_once_is_not_idle_while_the_server_works() -> None:
    assert asyncio.run(_client_stream(_messages(3), 0.0)) == 3


@pytest.mark.usefixtures("idle_env")
def test_a_response_stream_is_not_idle_while_the_server_works_after_its_answer() -> None:
    assert asyncio.run(_chat_at_once()) == [1, 2]


@pytest.mark.usefixtures("idle_env")
def test_a_client_stream_silent_while_the_server_waits_is_ended() -> None:
    # the server works SLOW_S on the one message, then waits; the client is silent for
    # SLOW_S + IDLE_S + 1.5 s in all, so IDLE_S + 1.5 s of it while the server waits
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        asyncio.run(_client_stream(_messages(1), SLOW_S + IDLE_S + 1.5))
    error = ended.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert decode_status(error).reason == "STREAM_IDLE"
    assert (
        f"sent nothing for {IDLE_S:g} s while the server waited for its next message "
        f"({STREAM_IDLE_ENV})" in (error.details() or "")
    )
    assert "the server had read all 1 message(s) it sent" in (error.details() or "")
