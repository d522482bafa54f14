"""OpenTelemetry traces for the mesh's gRPC calls: off unless configured.

A server's interceptor opens a SERVER span per call, its parent read from the call's metadata
(W3C ``traceparent``; the propagators are ``OTEL_PROPAGATORS``', default tracecontext and
baggage); the services' peer channels open a CLIENT span per call and send its context on.
So one Ingest is one trace: ingestion's span, its WriteStream to memory, memory's span.

``configure_from_env`` turns tracing on only when ``OTEL_TRACES_EXPORTER`` names an exporter
(``otlp``: OTLP/gRPC to ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``console``: stdout; several
comma-separated) and ``OTEL_SDK_DISABLED`` is not true. Everything else is the SDK's own
reading of the standard variables (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_*``). Off, every hook
below is one ``None`` check.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

__all__ = [
    "client_span",
    "configure_from_env",
    "detach",
    "enabled",
    "finish",
    "inject_metadata",
    "install",
    "server_span",
    "shutdown",
    "uninstall",
]

_LOGGER = logging.getLogger(__name__)
_TRUE = ("1", "true", "yes")

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def install(provider: TracerProvider) -> None:
    """Trace every call of this process's servers and peer channels into ``provider``
    (tests pass one with an in-memory exporter)."""
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("liftos.mesh")


def uninstall() -> None:
    global _provider, _tracer
    _provider = _tracer = None


def shutdown() -> None:
    """Flush what is still batched and stop (the process is exiting)."""
    provider = _provider
    uninstall()
    if provider is not None:
        provider.shutdown()


def _exporters(names: Iterable[str]) -> list[SpanExporter]:
    out: list[SpanExporter] = []
    for name in names:
        if name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            )
            if protocol != "grpc":
                raise ValueError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only grpc is installed "
                    "(opentelemetry-exporter-otlp-proto-grpc)"
                )
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter())
        else:
            raise ValueError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console or none)"
            )
    return out


def configure_from_env(service: str) -> bool:
    """Install a provider exporting as the OTEL_* variables say; False (tracing off) when
    ``OTEL_TRACES_EXPORTER`` is unset or ``none``. Raises ValueError naming a bad setting."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() in _TRUE:
        return False
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n and n != "none"]
    if not names:
        return False
    exporters = _exporters(names)
    resource = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: f"liftos-{service}"}))
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # libraries that trace on their own join in
    install(provider)
    _LOGGER.info("tracing %s spans to %s", service, ", ".join(names))
    return True


def _rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.strip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def server_span(method: str, metadata: Iterable[tuple[str, Any]] | None) -> tuple[Span, object]:
    """A SERVER span for ``method``, child of the caller's context in ``metadata``, made
    current; returns it and the token :func:`finish` detaches."""
    assert _tracer is not None
    carrier = {k: v for k, v in (metadata or ()) if isinstance(v, str)}
    parent = propagate.extract(carrier)
    span = _tracer.start_span(
        method.lstrip("/"), context=parent, kind=SpanKind.SERVER,
        attributes=_rpc_attributes(method),
    )  # fmt: skip
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return span, token


def client_span(method: str) -> tuple[Span, list[tuple[str, str]]]:
    """A CLIENT span for a call to ``method`` under the current context, and the metadata
    that carries it to the server."""
    assert _tracer is not None
    span = _tracer.start_span(
        method.lstrip("/"), kind=SpanKind.CLIENT, attributes=_rpc_attributes(method)
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return span, list(carrier.items())


def inject_metadata() -> list[tuple[str, str]]:
    """The current context as metadata (a blocking client without spans of its own)."""
    if _tracer is None:
        return []
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return list(carrier.items())


def finish(span: Span, code: str) -> None:
    """End ``span`` with the call's status code name."""
    span.set_attribute("rpc.grpc.status_code", code)
    if code != "OK":
        span.set_status(Status(StatusCode.ERROR, code))
    span.end()


def detach(token: object) -> None:
    """Restore the context from before :func:`server_span` (in the task that attached it)."""
    otel_context.detach(token)  # type: ignore[arg-type]
