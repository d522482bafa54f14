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

Replicas: a target may list several addresses (``ipv4:10.0.0.5:50053,10.0.0.6:50053``) or be
a DNS name with several (``dns:///causal.liftos:50053``). Every channel balances over them
round robin and carries a service config that retries the calls marked idempotent in
:data:`IDEMPOTENT` on UNAVAILABLE (a replica gone or going), on another replica. A call that
is not marked is never sent twice by the channel: the caller decides.

Request ids: a call made while a server handles one carries that call's ``x-request-id``
(mesh.runtime.interceptor logs it with every call and returns it in trailing metadata).

Keepalive: every channel pings its server every ``LIFTOS_KEEPALIVE_S`` seconds (default 20)
and drops the connection when a ping is not answered within ``LIFTOS_KEEPALIVE_TIMEOUT_S``
(default 10), so a call to a peer that hangs (stopped, wedged, a half-open connection) fails
UNAVAILABLE in about half a minute instead of waiting out its deadline. The servers accept
pings that often (mesh.runtime.server).

Traces (mesh.runtime.tracing, when on): the aio channels open a CLIENT span per call and send
its context in the metadata; the blocking channels send the caller's current context.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from mesh.runtime import tracing
from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES

Options = Sequence[tuple[str, Any]]
_LOGGER = logging.getLogger(__name__)

# The RPCs a channel may send again after UNAVAILABLE: reads, pure computations and
# replace-by-key writes, which leave the same state however often they run. Every RPC of
# every service is in one of the two tables (a test keeps it so): a new RPC must be decided.
IDEMPOTENT: Mapping[str, tuple[str, ...]] = {
    "liftos.v1.IngestionService": (
        "GetExperiment", "ListExperiments", "GetCalendar", "ListExternalFactors",
        "RegisterExternalFactor",  # registers or replaces the series under its key
        "RecordExperimentResult",  # replaces the experiment's result
        "ForgetBatches",  # drops the org's acks: once or twice, none are left
    ),
    "liftos.v1.MemoryService": (
        "Scan", "Search", "QueryGraph", "ListConceptualSpaces", "AggregateRecords",
        "AggregateProducts", "ListAccounts",
    ),
    "liftos.v1.CausalService": ("BuildGraph", "GetAnalysis", "ListAnalyses", "Counterfactual"),
    "liftos.v1.LlmService": ("BuildContext", "Explain", "CheckClaims"),
    "liftos.v1.SurfacingService": (
        "Recommend", "OptimizeBudget", "PredictPerformance",
        "CheckAnalysisData",  # reads the analysis and the window's history, writes nothing
    ),
    "grpc.health.v1.Health": ("Check",),
}  # fmt: skip
# ...and why each other one is not retried by the channel.
NOT_IDEMPOTENT: Mapping[str, Mapping[str, str]] = {
    "liftos.v1.IngestionService": {
        "Ingest": "a stream; the client re-sends a batch under its batch_id (the ledger)",
        "CreateExperiment": "a second try after a lost reply answers ALREADY_EXISTS",
        "DeleteExperiments": "with all, a try after a lost reply would take experiments "
        "registered meanwhile: the caller decides",
        "DeleteExternalFactors": "with all, a try after a lost reply would take series "
        "registered meanwhile: the caller decides",
    },
    "liftos.v1.MemoryService": {
        "Write": "a stream; ingestion re-sends a batch that was not acked",
        "WriteStream": "a stream; ingestion re-sends a batch that was not acked",
        "DeleteRecords": "a try after a lost reply counts 0 deleted and would take records "
        "written meanwhile: the caller decides",
    },
    "liftos.v1.CausalService": {
        "EstimateEffect": "stores a new analysis per call",
        "AnalyzeAttribution": "stores a new analysis per call",
        "AnalyzeProducts": "stores a new analysis per call",
        "DeleteAnalyses": "with all, a try after a lost reply would take analyses stored "
        "meanwhile: the caller decides",
    },
    "liftos.v1.SurfacingService": {
        "DesignExperiment": "with save, registers the experiment (ALREADY_EXISTS on a retry)",
    },
}
# Up to 4 tries, ~0.1 s, 0.2 s, 0.4 s apart (gRPC jitters them); a retry goes to the next
# replica round robin. Throttling: each failure takes a token of 100 and each success gives
# back 0.1; below 50 the channel stops retrying, so a mesh that is down is not hammered.
RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config() -> str:
    """The gRPC service config every LiftOS channel carries: round robin, and retries of
    the idempotent RPCs on UNAVAILABLE."""
    names = [
        {"service": service, "method": method}
        for service, methods in IDEMPOTENT.items()
        for method in methods
    ]
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}],
            "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1},
        }
    )


DEFAULT_OPTIONS: Options = (
    ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE_BYTES),
    # Several replicas behind one target: calls spread across them, idempotent ones retried.
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.service_config", service_config()),
    ("grpc.enable_retries", 1),
    # The config above is ours; a DNS TXT record must not replace it.
    ("grpc.service_config_disable_resolution", 1),
)

DEFAULT_KEEPALIVE_S = 20.0
DEFAULT_KEEPALIVE_TIMEOUT_S = 10.0
# The most often a server accepts a client's pings (below this it counts them as abuse).
MIN_PING_INTERVAL_MS = 1000


def _seconds(name: str, default: float) -> float:
    """``name``'s seconds, or ``default`` (with a warning) when it is not a positive number:
    a mistyped tuning variable must not stop a service or a client."""
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not value > 0:  # NaN too
        _LOGGER.warning("%s=%r is not a positive number of seconds; using %g", name, raw, default)
        return default
    return value


def keepalive_options() -> Options:
    """Ping the server every ``LIFTOS_KEEPALIVE_S`` while calls are open and drop the
    connection after ``LIFTOS_KEEPALIVE_TIMEOUT_S`` without an answer: a peer that is up but
    not answering (SIGSTOP, a wedged loop) ends its calls UNAVAILABLE, and a reconnect to it
    gives up after the same timeout. Read per channel."""
    every = max(_seconds("LIFTOS_KEEPALIVE_S", DEFAULT_KEEPALIVE_S) * 1e3, MIN_PING_INTERVAL_MS)
    wait = _seconds("LIFTOS_KEEPALIVE_TIMEOUT_S", DEFAULT_KEEPALIVE_TIMEOUT_S) * 1e3
    return (
        ("grpc.keepalive_time_ms", int(every)),
        ("grpc.keepalive_timeout_ms", int(wait)),
        # gRPC 1.85 times a keepalive ping out on the generic ping timeout (60 s by default),
        # not on keepalive_timeout: without this a stopped peer was noticed after ~61 s.
        ("grpc.http2.ping_timeout_ms", int(wait)),
        # The connect timeout: a reconnect to a peer that accepts TCP but never sends its
        # HTTP/2 SETTINGS (stopped, wedged) fails after this long, not gRPC's 20 s per try.
        ("grpc.min_reconnect_backoff_ms", int(wait)),
        # A long computation sends no data for minutes: keep pinging through it.
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 0),
    )


# The key of the service handling the current call (None outside a server's handlers).
OUTGOING_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "liftos_outgoing_key", default=None
)
# The request id of the call being handled (mesh.runtime.interceptor), sent on the peer calls
# it makes, so one user call can be followed through every service's log.
REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "liftos_request_id", default=None
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

    def _details(
        self, d: grpc.aio.ClientCallDetails, trace: Sequence[tuple[str, str]] = ()
    ) -> grpc.aio.ClientCallDetails:
        key = self._key
        if key is None:
            current = OUTGOING_KEY.get()
            key = current if current is not None else self._fallback
        request_id = REQUEST_ID.get()
        ids = ((REQUEST_ID_HEADER, request_id),) if request_id else ()
        metadata = grpc.aio.Metadata(*(d.metadata or ()), *auth_metadata(key), *ids, *trace)
        return grpc.aio.ClientCallDetails(
            d.method, d.timeout, metadata, d.credentials, d.wait_for_ready
        )

    async def _call(self, continuation: Any, d: grpc.aio.ClientCallDetails, request: Any) -> Any:
        if not tracing.enabled():
            return await continuation(self._details(d), request)
        method = d.method.decode() if isinstance(d.method, bytes) else str(d.method)
        span, trace = tracing.client_span(method)
        try:
            call = await continuation(self._details(d, trace), request)
        except BaseException:
            tracing.finish(span, "UNKNOWN")
            raise
        call.add_done_callback(lambda done: _end_span_later(span, done))
        return call


_SPAN_ENDS: set[asyncio.Task[None]] = set()  # strong references until each has run


def _end_span_later(span: Any, call: Any) -> None:
    """End a CLIENT span with its call's code (an aio call reads its code with an await)."""

    async def end() -> None:
        try:
            code = await call.code()
            name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
        except BaseException:  # cancelled before it had a code
            name = "CANCELLED"
        tracing.finish(span, name)

    task = asyncio.get_running_loop().create_task(end())
    _SPAN_ENDS.add(task)
    task.add_done_callback(_SPAN_ENDS.discard)


# grpc.aio files an interceptor under the first call shape it implements only, so each shape
# gets its own class.
class _AioAuthUU(_AioAuthBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await self._call(continuation, client_call_details, request)


class _AioAuthUS(_AioAuthBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await self._call(continuation, client_call_details, request)


class _AioAuthSU(_AioAuthBase, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await self._call(continuation, client_call_details, request_iterator)


class _AioAuthSS(_AioAuthBase, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await self._call(continuation, client_call_details, request_iterator)


def aio_channel(
    target: str, *, options: Options = (), api_key: str | None = None, ca: str | None = None
) -> grpc.aio.Channel:
    """A grpc.aio channel for one service calling another."""
    fallback = api_key_from_env()
    merged = [*dict([*DEFAULT_OPTIONS, *keepalive_options(), *options]).items()]
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
        extra = [*self._extra, *tracing.inject_metadata()] if tracing.enabled() else self._extra
        metadata = [*(d.metadata or ()), *extra] if extra else d.metadata
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
    closed_message: str = "",
) -> ClosableChannel:
    """A blocking channel (SDK, CLI) that sends the API key and a default deadline, and
    the client certificate ``cert``/``key`` (default ``LIFTOS_TLS_CLIENT_CERT/KEY``). A call
    after its ``close()`` raises :class:`ChannelClosed` with ``closed_message``."""
    merged = [*dict([*DEFAULT_OPTIONS, *keepalive_options(), *options]).items()]
    credentials = client_credentials(ca, cert, key)
    if credentials is None:
        channel = grpc.insecure_channel(target, options=merged)
    else:
        channel = grpc.secure_channel(target, credentials, options=merged)
    api_key = api_key if api_key is not None else api_key_from_env()
    intercepted = grpc.intercept_channel(channel, CallDefaults(timeout, api_key))
    return ClosableChannel(intercepted, closed_message or f"the channel to {target} was closed")


class ChannelClosed(ValueError):
    """A call on a channel after its ``close()``. A ValueError, as grpc's own "Cannot invoke
    RPC on closed channel!" is, so callers that caught that still do."""


class _Guarded:
    """A multi-callable that refuses to run once its channel is closed."""

    def __init__(self, inner: Any, channel: ClosableChannel) -> None:
        self._inner = inner
        self._channel = channel

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._channel.check_open()
        return self._inner(*args, **kwargs)

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        self._channel.check_open()
        return self._inner.with_call(*args, **kwargs)

    def future(self, *args: Any, **kwargs: Any) -> Any:
        self._channel.check_open()
        return self._inner.future(*args, **kwargs)


class ClosableChannel(grpc.Channel):  # type: ignore[misc]
    """A blocking channel that raises :class:`ChannelClosed` for any call after ``close()``,
    before grpc is reached: grpc 1.85's intercepted channel dereferences the closed channel on
    the first call of a method not called before the close, and the process dies of SIGSEGV
    (a notebook's kernel with it: R45-F7)."""

    def __init__(self, inner: grpc.Channel, closed_message: str) -> None:
        self._inner = inner
        self._closed_message = closed_message
        self.closed = False

    def check_open(self) -> None:
        if self.closed:
            raise ChannelClosed(self._closed_message)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self.check_open()
        self._inner.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._inner.unsubscribe(callback)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Guarded(self._inner.unary_unary(method, *args, **kwargs), self)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Guarded(self._inner.unary_stream(method, *args, **kwargs), self)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Guarded(self._inner.stream_unary(method, *args, **kwargs), self)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Guarded(self._inner.stream_stream(method, *args, **kwargs), self)

    def close(self) -> None:
        self.closed = True
        self._inner.close()

    def __enter__(self) -> ClosableChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
