"""The ``liftos`` command: every verb, the demo, and the supervisor of the five service
processes. It reaches the services over gRPC (``mesh.sdk``), never by importing them.

``liftos`` is :func:`main` (pyproject's entry point); ``python -m mesh.cli`` runs it too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``liftos``: the verbs load gRPC and the SDK (~0.4 CPU-s; pandas and matplotlib only in
    the verbs that use them), so they are imported here, where a Ctrl-C while they load ends as
    quietly as one during a call."""
    try:
        from mesh.cli.commands import main as run
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return run(argv)


def build_parser() -> argparse.ArgumentParser:
    from mesh.cli.commands import build_parser as build

    return build()
