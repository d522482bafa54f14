"""The one ``main`` every ``python -m <svc>`` uses: flags, logging, serve until signalled."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from mesh.runtime.config import ServerConfig, add_server_arguments, server_config_from_args
from mesh.runtime.server import ServiceBinding, serve

Build = Callable[[ServerConfig], tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]]


def run_service(service: str, build: Build, argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m {service}_svc", description=f"LiftOS {service} service"
    )
    add_server_arguments(parser, service)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    config = server_config_from_args(args, service)

    async def _main() -> None:
        bindings, on_stop = build(config)
        await serve(config, bindings, on_stop=on_stop)

    asyncio.run(_main())
