"""Run services inside this process on a background event loop (tests, benchmarks, demo).

Each service keeps its own server on its own port, exactly as in separate processes; only
the event loop thread is shared. Clients use ordinary channels to ``address``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from mesh.runtime.auth import AuthConfig
from mesh.runtime.config import (
    DEFAULT_PORTS,
    PeerConfig,
    ServerConfig,
    TlsConfig,
    service_api_key,
)
from mesh.runtime.main import PRIVATE_UMASK, Build, private_data_dir
from mesh.runtime.server import start_server


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
        """Cancel what is still pending (a peer stream's request pump, say), as asyncio.run
        does, then stop: a task left behind is destroyed after the loop closed, and its
        clean-up then fails on the closed loop."""
        with contextlib.suppress(Exception):
            self.run(_cancel_pending(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


async def _cancel_pending() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


class RunningService:
    """A started server: its address, and how to stop it (gracefully or abruptly)."""

    def __init__(
        self, loop: BackgroundLoop, service: str, build: Build, config: ServerConfig
    ) -> None:
        self._loop = loop
        self.service = service
        if config.api_key is None:
            config = replace(config, api_key=service_api_key(service))
        bindings, self._on_stop = build(config)
        self._server, self.port, self.health = loop.run(start_server(config, bindings))
        self.address = f"{config.host}:{self.port}"
        self._stopped = False

    def stop(self, grace: float | None = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._loop.run(self._server.stop(grace))
        self._loop.run(self._on_stop())


_umask_lock = threading.Lock()
_umask_users = 0
_umask_before = 0


@contextmanager
def private_files() -> Iterator[None]:
    """The process umask at 0o077 while any in-process mesh runs (the services' files are
    0600 as in their own processes); the caller's umask comes back after the last one."""
    global _umask_users, _umask_before
    with _umask_lock:
        if _umask_users == 0:
            _umask_before = os.umask(PRIVATE_UMASK)
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_before)


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
    api_keys: Mapping[str, str] | None = None,
    reflection: str | None = None,
    max_inflight: int | None = None,
) -> Iterator[dict[str, RunningService]]:
    """Start the named services (in dependency order given) and stop them on exit.

    Ports default to 0 (free ports); each started service's address is fed to the peers of
    the services started after it, so pass builds in dependency order (memory before
    ingestion and causal). ``api_keys`` maps a service to the key it sends its peers
    (default ``LIFTOS_<SERVICE>_API_KEY``, else ``LIFTOS_API_KEY``).
    """
    loop = BackgroundLoop()
    started: dict[str, RunningService] = {}
    current = peers or PeerConfig.from_env()
    with private_files():
        private_data_dir(data_dir)
        try:
            for service, build in builds.items():
                port = (ports or {}).get(service, 0)
                config = ServerConfig(
                    service=service, host=host, port=port, data_dir=data_dir, peers=current,
                    auth=auth, tls=tls, reflection=reflection,
                    api_key=(api_keys or {}).get(service, service_api_key(service)),
                )  # fmt: skip
                if max_inflight is not None:
                    config = replace(config, max_inflight=max_inflight)
                running = RunningService(loop, service, build, config)
                started[service] = running
                current = current.with_overrides(**{service: running.address})
            yield started
        finally:
            for running in reversed(list(started.values())):
                running.stop()
            loop.close()


__all__ = ["DEFAULT_PORTS", "BackgroundLoop", "RunningService", "running_services"]
