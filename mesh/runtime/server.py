"""Build and run a ``grpc.aio`` server for any servicers, with health and reflection."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import MIN_PING_INTERVAL_MS, keepalive_options
from mesh.runtime.config import (
    DEFAULT_MAX_INFLIGHT,
    DEFAULT_MAX_MESSAGE_BYTES,
    REFLECTION_MODES,
    ServerConfig,
    TlsConfig,
)
from mesh.runtime.interceptor import ServiceInterceptor
from mesh.runtime.metrics import MetricsHooks, ServiceMetrics, serve_metrics
from mesh.runtime.reflection import enable_server_reflection

_LOGGER = logging.getLogger(__name__)

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


class InsecureTransport(ValueError):
    """API keys would cross a non-loopback network in clear."""


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` (``[v6]:port`` too) binds only the loopback interface."""
    host = address.rpartition(":")[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname, or "" / 0.0.0.0 / :: (every interface)


def check_transport(
    address: str,
    auth: AuthConfig | None,
    tls: TlsConfig | None,
    allow_insecure: bool,
    *,
    warn: bool = True,
) -> None:
    """Refuse an open mesh (no keys) or keys without TLS on a non-loopback address unless
    allowed; warn on loopback (an open mesh there is the laptop mode: ``serve`` says so)."""
    if auth is None:
        if is_loopback(address):
            return
        if not allow_insecure:
            raise InsecureTransport(
                f"no LIFTOS_API_KEYS, and {address} is not loopback: anyone who can reach it "
                "could read and write every org's data. Set LIFTOS_API_KEYS (and TLS), bind "
                "127.0.0.1 (--host), or set LIFTOS_ALLOW_INSECURE=1 (--allow-insecure) to serve "
                "it open"
            )
        if warn:
            _LOGGER.warning(
                "INSECURE: no API keys on %s (LIFTOS_ALLOW_INSECURE is set): any client on the "
                "network acts for any org",
                address,
            )
        return
    if tls is not None:
        return
    if not warn:
        if not (is_loopback(address) or allow_insecure):
            check_transport(address, auth, tls, allow_insecure)
        return
    if is_loopback(address):
        _LOGGER.warning(
            "API keys are configured without TLS on %s: keys travel in clear (loopback only); "
            "set --tls-cert/--tls-key before binding any other address",
            address,
        )
        return
    if not allow_insecure:
        raise InsecureTransport(
            f"API keys are configured without TLS on {address}: bearer keys, the services' "
            "keys included, would cross the network in clear. Serve TLS (--tls-cert/--tls-key) "
            "or set LIFTOS_ALLOW_INSECURE=1 (--allow-insecure) to accept that"
        )
    _LOGGER.warning(
        "INSECURE: API keys cross the network in clear on %s (LIFTOS_ALLOW_INSECURE is set)",
        address,
    )


def reflection_mode(mode: str | None, auth: AuthConfig | None) -> str:
    """open | auth | off; unset means auth when keys are configured, open otherwise."""
    if mode is None:
        return "auth" if auth is not None else "open"
    if mode not in REFLECTION_MODES:
        raise ValueError(f"reflection must be one of {', '.join(REFLECTION_MODES)}")
    if mode == "open" and auth is not None:
        _LOGGER.warning("reflection is open: anyone may list and describe every RPC")
    return mode


def _server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    if tls.client_ca is None:
        return grpc.ssl_server_credentials([(tls.private_key, tls.cert_chain)])
    return grpc.ssl_server_credentials(
        [(tls.private_key, tls.cert_chain)],
        root_certificates=tls.client_ca,
        require_client_auth=True,
    )


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """A servicer, its full service name, the generated ``add_*_to_server`` function, and
    what the service reports to the metrics beyond its calls (mesh.runtime.metrics)."""

    name: str
    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    metrics: MetricsHooks | None = None


async def create_server(
    bindings: Sequence[ServiceBinding],
    address: str = "127.0.0.1:0",
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_receive_bytes: int | None = None,
    auth: AuthConfig | None = None,
    tls: TlsConfig | None = None,
    reflection: str | None = None,
    max_inflight: int = DEFAULT_MAX_INFLIGHT,
    max_inflight_per_org: int | None = None,
    allow_insecure: bool = False,
    outgoing_key: str | None = None,
    metrics: ServiceMetrics | None = None,
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """Start a server for ``bindings`` on ``address``; returns (server, bound port, health).

    Port 0 picks a free port (tests). SO_REUSEPORT is off so a second mesh on the same port
    fails loudly instead of silently sharing it. Raises InsecureTransport for no keys, or keys
    without TLS, on a non-loopback address (unless ``allow_insecure``). ``max_receive_bytes``:
    the largest request message (None: ``max_message_bytes``, which also bounds responses).
    ``outgoing_key`` is the key the services' handlers send their peers (None:
    ``LIFTOS_API_KEY``). ``max_inflight_per_org``: how many of ``max_inflight`` one org's keys
    may hold (None: a quarter, config.org_share). ``metrics``: record
    every call there (serving them over HTTP is :func:`start_server`'s).
    """
    check_transport(address, auth, tls, allow_insecure)
    mode = reflection_mode(reflection, auth)
    if auth is not None:
        for warning in auth.warnings:
            _LOGGER.warning("%s", warning)
    interceptor = ServiceInterceptor(
        auth,
        reflection_open=mode == "open",
        max_inflight=max_inflight,
        max_inflight_per_org=max_inflight_per_org,
        outgoing_key=outgoing_key,
        metrics=metrics,
    )
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            ("grpc.max_receive_message_length", max_receive_bytes or max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
            # Clients ping every LIFTOS_KEEPALIVE_S even while a call computes for minutes
            # without data (mesh.runtime.channels): accept that rather than GOAWAY them.
            ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
            ("grpc.http2.max_ping_strikes", 0),
            # ...and ping clients likewise: a stopped client's calls are cancelled.
            *keepalive_options(),
        ],
    )
    for b in bindings:
        b.add_to_server(b.servicer, server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    if mode != "off":
        # v1 and v1alpha, with the proto comments (mesh.runtime.reflection)
        enable_server_reflection([b.name for b in bindings] + [HEALTH_SERVICE], server)
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, _server_credentials(tls))
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    for b in bindings:
        await health.set(b.name, health_pb2.HealthCheckResponse.SERVING)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, port, health


async def start_server(
    config: ServerConfig, bindings: Sequence[ServiceBinding]
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """``create_server`` with every setting from ``config``, and its metrics served on
    ``config.metrics_port`` (same host) until the server stops, when a port is set."""
    metrics = None
    if config.metrics_port is not None:
        hooks = [b.metrics for b in bindings if b.metrics is not None]
        metrics = ServiceMetrics(config.service, hooks=hooks)
    server, port, health = await create_server(
        bindings,
        config.address,
        max_message_bytes=config.max_message_bytes,
        max_receive_bytes=config.receive_limit,
        auth=config.auth,
        tls=config.tls,
        reflection=config.reflection,
        max_inflight=config.max_inflight,
        max_inflight_per_org=config.max_inflight_per_org,
        allow_insecure=config.allow_insecure,
        outgoing_key=config.api_key,
        metrics=metrics,
    )
    if metrics is not None:
        assert config.metrics_port is not None
        try:
            bound = await serve_metrics(
                metrics, config.host, config.metrics_port, server.wait_for_termination
            )
        except OSError:
            await server.stop(None)
            raise
        _LOGGER.info("%s metrics on http://%s:%d/metrics", config.service, config.host, bound)
    return server, port, health


async def serve(
    config: ServerConfig,
    bindings: Sequence[ServiceBinding],
    *,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then drain: NOT_SERVING, stop with grace, run ``on_stop``."""
    server, port, health = await start_server(config, bindings)
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
