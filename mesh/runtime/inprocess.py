"""Run services inside this process on a background event loop (tests, benchmarks, demo).

Each service keeps its own server on its own port, exactly as in separate processes; only
the event loop thread is shared. Clients use ordinary channels to ``address``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mesh.runtime.auth import AuthConfig
from mesh.runtime.config import DEFAULT_PORTS, PeerConfig, ServerConfig, TlsConfig
from mesh.runtime.main import Build
from mesh.runtime.server import create_server


class BackgroundLoop:
    """An asyncio loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="liftos-loop"
        )
        self._thread.start()

    def run(self, coro, timeout: float | None = 60):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class RunningService:
    """A started server: its address, and how to stop it (gracefully or abruptly)."""

    def __init__(
        self, loop: BackgroundLoop, service: str, build: Build, config: ServerConfig
    ) -> None:
        self._loop = loop
        self.service = service
        bindings, self._on_stop = build(config)
        self._server, self.port, self.health = loop.run(
            create_server(
                bindings,
                config.address,
                max_message_bytes=config.max_message_bytes,
                auth=config.auth,
                tls=config.tls,
            )
        )
        self.address = f"{config.host}:{self.port}"
        self._stopped = False

    def stop(self, grace: float | None = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._loop.run(self._server.stop(grace))
        self._loop.run(self._on_stop())


@contextmanager
def running_services(
    builds: dict[str, Build],
    data_dir: Path,
    *,
    ports: dict[str, int] | None = None,
    peers: PeerConfig | None = None,
    host: str = "127.0.0.1",
    auth: AuthConfig | None = None,
    tls: TlsConfig | None = None,
) -> Iterator[dict[str, RunningService]]:
    """Start the named services (in dependency order given) and stop them on exit.

    Ports default to 0 (free ports); each started service's address is fed to the peers of
    the services started after it, so pass builds in dependency order (memory before
    ingestion and causal).
    """
    loop = BackgroundLoop()
    started: dict[str, RunningService] = {}
    current = peers or PeerConfig.from_env()
    try:
        for service, build in builds.items():
            port = (ports or {}).get(service, 0)
            config = ServerConfig(
                service=service, host=host, port=port, data_dir=data_dir, peers=current,
                auth=auth, tls=tls,
            )  # fmt: skip
            running = RunningService(loop, service, build, config)
            started[service] = running
            current = current.with_overrides(**{service: running.address})
        yield started
    finally:
        for running in reversed(list(started.values())):
            running.stop()
        loop.close()


__all__ = ["DEFAULT_PORTS", "BackgroundLoop", "RunningService", "running_services"]
