"""Build and run a ``grpc.aio`` server for any servicers, with health and reflection."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from mesh.runtime.auth import AuthConfig
from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES, ServerConfig, TlsConfig
from mesh.runtime.interceptor import ServiceInterceptor

_LOGGER = logging.getLogger(__name__)

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """A servicer, its full service name and the generated ``add_*_to_server`` function."""

    name: str
    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]


async def create_server(
    bindings: Sequence[ServiceBinding],
    address: str = "127.0.0.1:0",
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    auth: AuthConfig | None = None,
    tls: TlsConfig | None = None,
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """Start a server for ``bindings`` on ``address``; returns (server, bound port, health).

    Port 0 picks a free port (tests). SO_REUSEPORT is off so a second mesh on the same port
    fails loudly instead of silently sharing it.
    """
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(auth)],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    for b in bindings:
        b.add_to_server(b.servicer, server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [b.name for b in bindings] + [HEALTH_SERVICE, reflection.SERVICE_NAME], server
    )
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        credentials = grpc.ssl_server_credentials([(tls.private_key, tls.cert_chain)])
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    for b in bindings:
        await health.set(b.name, health_pb2.HealthCheckResponse.SERVING)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, port, health


async def serve(
    config: ServerConfig,
    bindings: Sequence[ServiceBinding],
    *,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then drain: NOT_SERVING, stop with grace, run ``on_stop``."""
    server, port, health = await create_server(
        bindings,
        config.address,
        max_message_bytes=config.max_message_bytes,
        auth=config.auth,
        tls=config.tls,
    )
    if config.auth is None:
        _LOGGER.warning(
            "no LIFTOS_API_KEYS: %s accepts calls for any org without a key", config.service
        )
    _LOGGER.info(
        "%s serving %s on %s:%d",
        config.service,
        ", ".join(b.name for b in bindings),
        config.host,
        port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    _LOGGER.info("%s shutting down", config.service)
    await health.enter_graceful_shutdown()
    await server.stop(config.grace_seconds)
    if on_stop is not None:
        await on_stop()
