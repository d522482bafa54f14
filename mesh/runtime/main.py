"""The one ``main`` every ``python -m <svc>`` uses: flags, logging, serve until signalled."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from mesh.runtime import tracing
from mesh.runtime.config import ServerConfig, add_server_arguments, server_config_from_args
from mesh.runtime.server import InsecureTransport, ServiceBinding, check_transport, serve
from mesh.runtime.storage import StorageUnwritable, check_writable
from mesh.runtime.supervised import die_with_supervisor

Build = Callable[[ServerConfig], tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]]

# Files a service creates (SQLite dbs and their -wal/-shm, FAISS indexes, ledgers, logs) are
# its owner's alone: 0600, directories 0700.
PRIVATE_UMASK = 0o077


def private_data_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def run_service(
    service: str,
    build: Build,
    argv: Sequence[str] | None = None,
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """``parents``: parsers (``add_help=False``) of the service's own flags, so ``--help``
    lists them with the common ones; the service reads their values itself."""
    die_with_supervisor()  # when ``liftos up`` started it
    os.umask(PRIVATE_UMASK)
    parser = argparse.ArgumentParser(
        prog=f"python -m {service}_svc",
        description=f"LiftOS {service} service",
        parents=list(parents),
    )
    add_server_arguments(parser, service)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    config = server_config_from_args(args, service)
    try:  # before any store is opened
        check_transport(config.address, config.auth, config.tls, config.allow_insecure, warn=False)
    except InsecureTransport as exc:
        raise SystemExit(f"{service}: {exc}") from None
    try:  # a data dir it cannot write: one line and exit, not SERVING and every write failing
        check_writable(config.data_dir)
        private_data_dir(config.data_dir)
    except StorageUnwritable as exc:
        raise SystemExit(f"{service}: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"{service}: cannot use {config.data_dir}: {exc.strerror}") from None
    try:  # traces only when OTEL_TRACES_EXPORTER names an exporter
        tracing.configure_from_env(service)
    except ValueError as exc:
        raise SystemExit(f"{service}: {exc}") from None

    async def _main() -> None:
        bindings, on_stop = build(config)
        await serve(config, bindings, on_stop=on_stop)

    try:
        asyncio.run(_main())
    except StorageUnwritable as exc:  # a store's directory or file found unwritable as it opened
        raise SystemExit(f"{service}: {exc}") from None
    finally:
        tracing.shutdown()  # flush the spans still batched
