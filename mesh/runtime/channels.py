"""Client channels to LiftOS services: TLS when a CA is configured, the API key on every call.

``LIFTOS_API_KEY`` is the key a process sends (a user's key for the SDK and CLI, a service
principal's key for the services calling each other); ``LIFTOS_TLS_CA`` is the PEM bundle
that signs the servers' certificates (plaintext when unset); ``LIFTOS_TLS_CLIENT_CERT`` and
``LIFTOS_TLS_CLIENT_KEY`` are the certificate a client presents to servers that require one
(mTLS).

Inside a server, a call to a peer carries the key of the service making it: the server's
interceptor puts that key in ``OUTGOING_KEY`` for each call it handles (each RPC runs in its
own task, so the value never leaks into another call), and the aio channels below read it
per call. So five services in one process (tests, the demo) each send their own key, as
five processes do.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES

Options = Sequence[tuple[str, Any]]

DEFAULT_OPTIONS: Options = (
    ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    # dns:/// targets with several replicas spread calls across them.
    ("grpc.lb_policy_name", "round_robin"),
)

# The key of the service handling the current call (None outside a server's handlers).
OUTGOING_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "liftos_outgoing_key", default=None
)


def api_key_from_env() -> str:
    return os.environ.get("LIFTOS_API_KEY", "")


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def client_credentials(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> grpc.ChannelCredentials | None:
    """TLS credentials from the arguments or ``LIFTOS_TLS_CA`` / ``LIFTOS_TLS_CLIENT_CERT`` /
    ``LIFTOS_TLS_CLIENT_KEY``; None (plaintext) when none is set."""
    env = os.environ.get
    ca = ca if ca is not None else env("LIFTOS_TLS_CA", "")
    cert = cert if cert is not None else env("LIFTOS_TLS_CLIENT_CERT", "")
    key = key if key is not None else env("LIFTOS_TLS_CLIENT_KEY", "")
    if bool(cert) != bool(key):
        raise ValueError("LIFTOS_TLS_CLIENT_CERT and LIFTOS_TLS_CLIENT_KEY go together")
    if not (ca or cert):
        return None
    return grpc.ssl_channel_credentials(
        _read(ca) if ca else None,
        private_key=_read(key) if key else None,
        certificate_chain=_read(cert) if cert else None,
    )


def auth_metadata(api_key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


class _AioAuthBase:
    """Adds the API key to every call of an aio channel: the channel's own when given, else
    that of the service handling the current call, else ``LIFTOS_API_KEY``."""

    def __init__(self, api_key: str | None, fallback: str) -> None:
        self._key = api_key
        self._fallback = fallback

    def _details(self, d: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        key = self._key
        if key is None:
            current = OUTGOING_KEY.get()
            key = current if current is not None else self._fallback
        metadata = grpc.aio.Metadata(*(d.metadata or ()), *auth_metadata(key))
        return grpc.aio.ClientCallDetails(
            d.method, d.timeout, metadata, d.credentials, d.wait_for_ready
        )


# grpc.aio files an interceptor under the first call shape it implements only, so each shape
# gets its own class.
class _AioAuthUU(_AioAuthBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request)


class _AioAuthUS(_AioAuthBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request)


class _AioAuthSU(_AioAuthBase, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request_iterator)


class _AioAuthSS(_AioAuthBase, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request_iterator)


def aio_channel(
    target: str, *, options: Options = (), api_key: str | None = None, ca: str | None = None
) -> grpc.aio.Channel:
    """A grpc.aio channel for one service calling another."""
    fallback = api_key_from_env()
    merged = [*dict([*DEFAULT_OPTIONS, *options]).items()]
    interceptors = [c(api_key, fallback) for c in (_AioAuthUU, _AioAuthUS, _AioAuthSU, _AioAuthSS)]
    credentials = client_credentials(ca)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=merged, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=merged, interceptors=interceptors)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class CallDefaults(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """The API key on every call of a blocking channel, and a deadline for unary calls that
    set none (betterproto2 stubs take no ``timeout``).

    Streams get no default deadline: a deadline bounds the whole call, and an ingest or
    scan of a large export legitimately runs for many minutes.
    """

    def __init__(self, timeout: float | None, api_key: str) -> None:
        self._timeout = timeout
        self._extra = auth_metadata(api_key)

    def _details(
        self, d: grpc.ClientCallDetails, default_timeout: float | None = None
    ) -> grpc.ClientCallDetails:
        metadata = [*(d.metadata or ()), *self._extra] if self._extra else d.metadata
        return _CallDetails(
            d.method, d.timeout if d.timeout is not None else default_timeout, metadata,
            d.credentials, getattr(d, "wait_for_ready", None), getattr(d, "compression", None),
        )  # fmt: skip

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details, self._timeout), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request_iterator)


def sync_channel(
    target: str,
    *,
    options: Options = (),
    api_key: str | None = None,
    ca: str | None = None,
    timeout: float | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> grpc.Channel:
    """A blocking channel (SDK, CLI) that sends the API key and a default deadline, and
    the client certificate ``cert``/``key`` (default ``LIFTOS_TLS_CLIENT_CERT/KEY``)."""
    merged = [*dict([*DEFAULT_OPTIONS, *options]).items()]
    credentials = client_credentials(ca, cert, key)
    if credentials is None:
        channel = grpc.insecure_channel(target, options=merged)
    else:
        channel = grpc.secure_channel(target, credentials, options=merged)
    api_key = api_key if api_key is not None else api_key_from_env()
    return grpc.intercept_channel(channel, CallDefaults(timeout, api_key))
