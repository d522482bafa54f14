"""Keepalive pings do not cut a long, silent call: a handler that sends nothing for several
ping intervals still answers (the servers accept the clients' pings; audit R8-F3)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from mesh.runtime.channels import MIN_PING_INTERVAL_MS, keepalive_options, sync_channel
from mesh.runtime.inprocess import BackgroundLoop
from mesh.runtime.server import ServiceBinding, create_server

METHOD = "/liftos.test.Slow/Wait"


def _add(servicer: Any, server: grpc.aio.Server) -> None:
    async def wait(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(float(request.decode()))  # silent: no data, only pings
        return b"done"

    handler = grpc.unary_unary_rpc_method_handler(wait)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("liftos.test.Slow", {"Wait": handler}),)
    )


def test_a_call_silent_for_several_ping_intervals_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIFTOS_KEEPALIVE_S", "1")  # clients and server ping every second
    monkeypatch.setenv("LIFTOS_KEEPALIVE_TIMEOUT_S", "2")
    loop = BackgroundLoop()
    try:
        binding = ServiceBinding("liftos.test.Slow", object(), _add)
        server, port, _ = loop.run(create_server([binding], "127.0.0.1:0"))
        channel = sync_channel(f"127.0.0.1:{port}", api_key="")
        try:
            call = channel.unary_unary(METHOD)
            # 4 s of silence: ~4 pings each way; a server that counted them as abuse would
            # send GOAWAY (too_many_pings) and the call would end UNAVAILABLE.
            assert call(b"4", timeout=60) == b"done"
            assert call(b"4", timeout=60) == b"done"  # the connection was kept
        finally:
            channel.close()
            loop.run(server.stop(None))
    finally:
        loop.close()


def test_keepalive_settings_are_read_per_channel_and_a_bad_one_is_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LIFTOS_KEEPALIVE_S", "0.2")  # below the servers' accepted interval
    monkeypatch.setenv("LIFTOS_KEEPALIVE_TIMEOUT_S", "3")
    assert dict(keepalive_options())["grpc.keepalive_time_ms"] == MIN_PING_INTERVAL_MS
    assert dict(keepalive_options())["grpc.keepalive_timeout_ms"] == 3000
    # gRPC times keepalive pings and connect attempts out on these, not on keepalive_timeout
    assert dict(keepalive_options())["grpc.http2.ping_timeout_ms"] == 3000
    assert dict(keepalive_options())["grpc.min_reconnect_backoff_ms"] == 3000
    monkeypatch.setenv("LIFTOS_KEEPALIVE_S", "twenty")
    assert dict(keepalive_options())["grpc.keepalive_time_ms"] == 20_000
    assert "LIFTOS_KEEPALIVE_S='twenty' is not a positive number" in caplog.text
