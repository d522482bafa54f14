"""Start the five services as child processes and supervise them (``liftos up``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mesh.runtime.config import DEFAULT_PORTS, SERVICES

# Dependency order: a service's peers start before it.
START_ORDER = ("memory", "ingestion", "causal", "llm", "surfacing")


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
    ) -> None:
        """``tls_dir`` (made by ``liftos certs``): every service serves TLS with
        server.pem, requires client certificates signed by ca.pem, and presents its own
        ``<service>.pem`` to its peers."""
        self.data_dir = data_dir
        self.tls_dir = tls_dir
        self.host = host
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.log_level = log_level
        self.services = [s for s in START_ORDER if s in services]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def address(self, service: str) -> str:
        return f"{self.host}:{self.ports[service]}"

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

    def start(self) -> None:
        # The services make their own files 0600 (mesh.runtime.main); the data dir and the
        # logs opened here are private too.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        env = {**os.environ, "PYTHONPATH": _pythonpath()}
        for service in SERVICES:
            env[f"LIFTOS_{service.upper()}_ADDR"] = self.address(service)
        for service in self.services:
            fd = os.open(
                self.data_dir / f"{service}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
            )
            log = os.fdopen(fd, "ab")  # owned by the child
            self.procs[service] = subprocess.Popen(
                [
                    sys.executable, "-m", f"{service}_svc",
                    "--host", self.host, "--port", str(self.ports[service]),
                    "--data-dir", str(self.data_dir), "--log-level", self.log_level,
                ],
                env={**env, **self._tls_env(service)}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            log.close()  # the child holds its own copy

    def dead(self) -> dict[str, int]:
        """Services whose process has exited, with exit codes."""
        return {s: p.returncode for s, p in self.procs.items() if p.poll() is not None}

    def wait_serving(
        self, health: Callable[[], dict[str, str]], timeout: float = 120.0
    ) -> dict[str, str]:
        """Poll ``health()`` until every started service is SERVING or one process died."""
        deadline = time.monotonic() + timeout
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            status = health()
            if all(status.get(s) == "SERVING" for s in self.services):
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
