"""Start the five services as child processes and supervise them (``liftos up``).

With ``replicas`` > 1 the stateless services (ingestion, causal, llm, surfacing) run that many
processes each, replica k on its service's port + k × 100, sharing the data dir (their small
SQLite stores are WAL files several processes may open); every peer target then lists all
of a service's replicas (``ipv4:127.0.0.1:50053,127.0.0.1:50153``), which the channels
balance round robin, retrying idempotent calls on UNAVAILABLE. Memory stays one process.
With ``metrics_port``, instance i (in start order) serves its Prometheus metrics on
``metrics_port + i``.

Each service dies with the supervisor: on Linux it gets SIGTERM when ``liftos up`` ends, even by
SIGKILL (``PR_SET_PDEATHSIG``, armed by the child: :mod:`mesh.runtime.supervised`), and drains
as on Ctrl-C (causal stopping its workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mesh.runtime.channels import sync_channel
from mesh.runtime.config import DEFAULT_PORTS, SERVICES, replicas_target
from mesh.runtime.supervised import spawn

# Dependency order: a service's peers start before it.
START_ORDER = ("memory", "ingestion", "causal", "surfacing", "llm")
# Services that keep no state of their own in memory: any replica can answer any call.
STATELESS = ("ingestion", "causal", "llm", "surfacing")
REPLICA_PORT_STEP = 100


class PortsInUse(RuntimeError):
    """Ports the mesh needs are taken (by another mesh, or anything else)."""

    def __init__(self, busy: Sequence[tuple[str, int]]) -> None:
        self.busy = list(busy)
        listed = ", ".join(f"{port} ({name})" for name, port in self.busy)
        super().__init__(
            f"port(s) already in use: {listed}; stop what listens there (another `liftos up`?) "
            "or choose other ports with --base-port"
        )


def instance_name(service: str, replica: int) -> str:
    """``causal`` for the first replica (its log stays causal.log), ``causal.1`` after."""
    return service if replica == 0 else f"{service}.{replica}"


def _pythonpath() -> str:
    """Project root and gen/ (source checkouts), ahead of whatever the caller had."""
    root = Path(__file__).resolve().parents[2]
    parts = [str(root)]
    if (root / "gen").is_dir():
        parts.append(str(root / "gen"))
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


class Mesh:
    """Five child processes, one per service, each on its own port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        log_level: str = "INFO",
        services: Sequence[str] = START_ORDER,
        tls_dir: Path | None = None,
        replicas: int = 1,
        metrics_port: int | None = None,
        extra_args: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``tls_dir`` (made by ``liftos certs``): every service serves TLS with
        server.pem, requires client certificates signed by ca.pem, and presents its own
        ``<service>.pem`` to its peers. ``replicas``: processes per stateless service;
        ``metrics_port``: the first instance's Prometheus port (None: no metrics);
        ``extra_args``: more flags for a service's processes (memory's ``--store``, say)."""
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        self.data_dir = data_dir
        self.tls_dir = tls_dir
        self.host = host
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.log_level = log_level
        self.services = [s for s in START_ORDER if s in services]
        self.replicas = replicas
        self.metrics_port = metrics_port
        self.extra_args = {s: list(a) for s, a in (extra_args or {}).items()}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}  # by instance name

    def instances(self) -> list[tuple[str, str, int]]:
        """(instance name, service, port) of every process, in start order."""
        out = []
        for service in self.services:
            count = self.replicas if service in STATELESS else 1
            for k in range(count):
                out.append(
                    (
                        instance_name(service, k),
                        service,
                        self.ports[service] + k * REPLICA_PORT_STEP,
                    )
                )
        return out

    def replica_ports(self, service: str) -> list[int]:
        count = self.replicas if service in STATELESS else 1
        return [self.ports[service] + k * REPLICA_PORT_STEP for k in range(count)]

    def address(self, service: str) -> str:
        """The service's target: host:port, or every replica's address (round robin)."""
        return replicas_target(self.host, self.replica_ports(service))

    def metrics_ports(self) -> dict[str, int]:
        """Each instance's metrics port (empty without ``metrics_port``)."""
        if self.metrics_port is None:
            return {}
        return {name: self.metrics_port + i for i, (name, _, _) in enumerate(self.instances())}

    def _tls_env(self, service: str) -> dict[str, str]:
        if self.tls_dir is None:
            return {}
        d = self.tls_dir.resolve()
        return {
            "LIFTOS_TLS_CERT": str(d / "server.pem"),
            "LIFTOS_TLS_KEY": str(d / "server.key"),
            "LIFTOS_TLS_CLIENT_CA": str(d / "ca.pem"),
            "LIFTOS_TLS_CA": str(d / "ca.pem"),
            "LIFTOS_TLS_CLIENT_CERT": str(d / f"{service}.pem"),
            "LIFTOS_TLS_CLIENT_KEY": str(d / f"{service}.key"),
        }

    def busy_ports(self) -> list[tuple[str, int]]:
        """(instance or metrics name, port) of every port this mesh needs that something
        already listens on: another mesh answering health there would pass for this one."""
        wanted = [(name, port) for name, _, port in self.instances()]
        wanted += [(f"{name} metrics", port) for name, port in self.metrics_ports().items()]
        busy = []
        for name, port in wanted:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # As the servers bind: a closed connection's TIME_WAIT is no obstacle, a listener is.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.host, port))
                except OSError:
                    busy.append((name, port))
        return busy

    def start(self) -> None:
        """Start every instance; ``PortsInUse`` (nothing started) when a port is taken."""
        if busy := self.busy_ports():
            raise PortsInUse(busy)
        # The services make their own files 0600 (mesh.runtime.main); the data dir and the
        # logs opened here are private too.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        env = {**os.environ, "PYTHONPATH": _pythonpath()}
        # Each instance gets its own metrics port as a flag (metrics_port + i) or none: one
        # inherited LIFTOS_METRICS_PORT would have every process bind the same port.
        env.pop("LIFTOS_METRICS_PORT", None)
        for service in SERVICES:
            env[f"LIFTOS_{service.upper()}_ADDR"] = self.address(service)
        metrics = self.metrics_ports()
        for name, service, port in self.instances():
            self.start_instance(name, service, port, env, metrics.get(name))

    def start_instance(
        self, name: str, service: str, port: int, env: dict[str, str], metrics_port: int | None
    ) -> None:
        fd = os.open(self.data_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log = os.fdopen(fd, "ab")  # owned by the child
        argv = [
            sys.executable, "-m", f"{service}_svc",
            "--host", self.host, "--port", str(port),
            "--data-dir", str(self.data_dir), "--log-level", self.log_level,
        ]  # fmt: skip
        if metrics_port is not None:
            argv += ["--metrics-port", str(metrics_port)]
        argv += self.extra_args.get(service, [])
        self.procs[name] = spawn(
            argv, {**env, **self._tls_env(service)}, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()  # the child holds its own copy

    def kill(self, name: str) -> None:
        """SIGKILL one instance (a replica lost mid-load) and reap it."""
        proc = self.procs[name]
        proc.kill()
        proc.wait()

    def instance_health(self, timeout: float = 2.0) -> dict[str, str]:
        """Each instance's own gRPC health (not through the balanced target)."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        d = self.tls_dir
        out = {}
        for name, _, port in self.instances():
            channel = sync_channel(
                f"{self.host}:{port}",
                ca=str(d / "ca.pem") if d else None,
                cert=str(d / "client.pem") if d else None,
                key=str(d / "client.key") if d else None,
            )
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=timeout
                )
                out[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except Exception:  # down, starting, refused: not serving
                out[name] = "UNAVAILABLE"
            finally:
                channel.close()
        return out

    def dead(self) -> dict[str, int]:
        """Services whose process has exited, with exit codes."""
        return {s: p.returncode for s, p in self.procs.items() if p.poll() is not None}

    def wait_serving(
        self, health: Callable[[], dict[str, str]], timeout: float = 120.0
    ) -> dict[str, str]:
        """Poll ``health()`` until every started service is SERVING or one process died.
        ``health`` should check over new channels each time (:func:`fresh_health`): a reused
        channel waits longer after each refused connect (1 s, then x1.6), so it would see a
        service that came up late by seconds."""
        deadline = time.monotonic() + timeout
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            status = health()
            if self.replicas > 1 and all(status.get(s) == "SERVING" for s in self.services):
                status = {**status, **self.instance_health()}
            if all(status.get(s) == "SERVING" for s in [*self.services, *self.procs]):
                return status
            if self.dead():
                return status
            time.sleep(0.25)
        return status

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tail_log(self, service: str, lines: int = 20) -> str:
        path = self.data_dir / f"{service}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def fresh_health(make_client: Callable[[], Any]) -> Callable[[], dict[str, str]]:
    """A health poll that opens a new client (new channels) for each check."""

    def poll() -> dict[str, str]:
        with make_client() as client:
            return dict(client.health())

    return poll
