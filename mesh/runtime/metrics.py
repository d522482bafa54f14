"""Prometheus metrics for one server, served over HTTP on ``--metrics-port`` (off unless set).

The server's interceptor records every call (``liftos_rpc_handled_total`` and the
``liftos_rpc_duration_seconds`` histogram by service, method and status code, and
``liftos_rpc_in_flight`` by method and call type, streams included); a service reports what
only it knows through :class:`MetricsHooks` on its binding: an observer of a method's
responses (ingestion counts the rows of each Ingest ack by outcome and reason) and sizes per
org read at scrape time (memory's records, and the bytes each org's index holds in memory).

Label sets stay bounded: methods and codes are fixed sets, and orgs are capped
(``LIFTOS_METRICS_MAX_ORGS``, default 20): the largest orgs keep their own label and the rest
are summed under ``org="other"``.

Each server has its own registry (five services in one process, as in tests and the demo,
each serve their own endpoint), with the process's CPU and memory collectors beside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

__all__ = [
    "DEFAULT_MAX_ORGS",
    "OTHER_ORGS",
    "MetricsHooks",
    "OrgSize",
    "ServiceMetrics",
    "serve_metrics",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_ORGS = 20
OTHER_ORGS = "other"
# 1 ms … 5 min: a health check is well under a millisecond, an attribution analysis minutes.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrgSize:
    """One org's size in a stateful service, read at scrape time."""

    org_id: str
    records: int
    index_bytes: int  # what its search index holds in memory now (0: not loaded)


ResponseObserver = Callable[["ServiceMetrics", Any], None]


@dataclass(frozen=True, slots=True)
class MetricsHooks:
    """What a service reports beyond its calls.

    ``responses`` maps a full method name (``/liftos.v1.IngestionService/Ingest``) to a
    function called with each response message the method sends (each message of a stream);
    ``org_sizes`` is read on every scrape, off the event loop (it must be thread-safe).
    """

    responses: Mapping[str, ResponseObserver] = field(default_factory=dict)
    org_sizes: Callable[[], Iterable[OrgSize]] | None = None


def split_method(method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    service, _, name = method.strip("/").partition("/")
    return service, name


_READ_TIMEOUT_S = 10.0


class _OrgSizes:
    """A collector: records and index bytes per org, the largest ``max_orgs`` by records
    under their own label and the rest summed as ``other``."""

    def __init__(self, read: Callable[[], Iterable[OrgSize]], max_orgs: int) -> None:
        self._read = read
        self._max_orgs = max_orgs
        # Every scrape is served on a new thread, and a store keeps a reader connection per
        # thread it is read from: one reading thread keeps that to one connection.
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="liftos-metrics")

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            read = self._reader.submit(lambda: list(self._read())).result(_READ_TIMEOUT_S)
            sizes = sorted(read, key=lambda s: (-s.records, s.org_id))
        except Exception:  # a scrape must not fail on a store being closed or busy
            _LOGGER.exception("reading org sizes for metrics failed")
            return
        records = GaugeMetricFamily(
            "liftos_memory_records", "Records stored per org (largest orgs; rest as other)",
            labels=["org"],
        )  # fmt: skip
        index_bytes = GaugeMetricFamily(
            "liftos_memory_index_bytes", "Bytes the org's search index holds in memory (0: not loaded)",
            labels=["org"],
        )  # fmt: skip
        orgs = GaugeMetricFamily("liftos_memory_orgs", "Orgs with records")
        orgs.add_metric([], len(sizes))
        rest_records = rest_bytes = 0
        for i, size in enumerate(sizes):
            if i < self._max_orgs:
                records.add_metric([size.org_id], size.records)
                index_bytes.add_metric([size.org_id], size.index_bytes)
            else:
                rest_records += size.records
                rest_bytes += size.index_bytes
        if len(sizes) > self._max_orgs:
            records.add_metric([OTHER_ORGS], rest_records)
            index_bytes.add_metric([OTHER_ORGS], rest_bytes)
        yield from (records, index_bytes, orgs)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return ()  # collected only at scrape time (never when registered)


class ServiceMetrics:
    """One server's metrics registry and the instruments the interceptor and hooks record."""

    def __init__(
        self,
        service: str,
        *,
        hooks: Iterable[MetricsHooks] = (),
        max_orgs: int | None = None,
        process: bool = True,
    ) -> None:
        self.service = service
        self.max_orgs = max_orgs if max_orgs is not None else max_orgs_from_env()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.handled = Counter(
            "liftos_rpc_handled", "RPCs finished, by method and status code",
            ["service", "method", "code"], registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "liftos_rpc_duration_seconds", "RPC duration, by method and status code",
            ["service", "method", "code"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "liftos_rpc_in_flight", "RPCs running now, by method and type (streams included)",
            ["service", "method", "type"], registry=r,
        )  # fmt: skip
        self.ingest_rows = Counter(
            "liftos_ingest_rows", "Rows of Ingest batches, accepted or rejected by reason",
            ["outcome", "reason"], registry=r,
        )  # fmt: skip
        self.ingest_batches = Counter(
            "liftos_ingest_batches", "Ingest batches acked: processed, or replayed from the ledger",
            ["result"], registry=r,
        )  # fmt: skip
        if process:
            ProcessCollector(registry=r)
        self.responses: dict[str, ResponseObserver] = {}
        self._gauges: dict[tuple[str, str], Any] = {}
        self._finished: dict[tuple[str, str], tuple[Any, Any]] = {}
        for h in hooks:
            self.responses.update(h.responses)
            if h.org_sizes is not None:
                r.register(_OrgSizes(h.org_sizes, self.max_orgs))  # type: ignore[arg-type]

    def call_started(self, method: str, kind: str) -> Any:
        """The in-flight gauge of this call, raised; the caller lowers it when it ends."""
        gauge = self._gauges.get((method, kind))
        if gauge is None:  # once per method: labels() is a locked lookup, the call path not
            service, name = split_method(method)
            gauge = self._gauges[(method, kind)] = self.in_flight.labels(service, name, kind)
        gauge.inc()
        return gauge

    def call_finished(self, method: str, code: str, seconds: float) -> None:
        children = self._finished.get((method, code))
        if children is None:  # once per (method, code): both sets are small and fixed
            service, name = split_method(method)
            children = self._finished[(method, code)] = (
                self.handled.labels(service, name, code),
                self.duration.labels(service, name, code),
            )
        children[0].inc()
        children[1].observe(seconds)

    def count_rows(self, outcome: str, reason: str, n: int) -> None:
        """``n`` ingested rows with ``outcome`` (accepted | rejected) and ``reason``."""
        if n:
            self.ingest_rows.labels(outcome, reason).inc(n)


def max_orgs_from_env() -> int:
    value = os.environ.get("LIFTOS_METRICS_MAX_ORGS", "")
    try:
        n = int(value) if value else DEFAULT_MAX_ORGS
    except ValueError:
        raise ValueError(f"LIFTOS_METRICS_MAX_ORGS must be an integer, not {value!r}") from None
    if n < 0:
        raise ValueError("LIFTOS_METRICS_MAX_ORGS must be 0 or more")
    return n


async def serve_metrics(
    metrics: ServiceMetrics, host: str, port: int, until: Callable[[], Any]
) -> int:
    """Serve ``metrics`` on http://host:port/metrics (port 0: a free one) from a daemon thread,
    until the awaitable ``until()`` returns (the gRPC server's termination); the bound port."""
    try:
        httpd, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise OSError(exc.errno, f"--metrics-port {port} on {host}: {exc.strerror}") from None
    bound = int(httpd.server_port)

    async def close_after() -> None:
        try:
            await until()
        finally:
            httpd.shutdown()  # returns once serve_forever has stopped (≤ 0.5 s)
            httpd.server_close()
            thread.join(1)

    task = asyncio.get_running_loop().create_task(close_after())
    _CLOSERS.add(task)
    task.add_done_callback(_CLOSERS.discard)
    return bound


_CLOSERS: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones
