"""The ``liftos`` command: every verb, the demo, and the supervisor of the five service
processes. It reaches the services over gRPC (``mesh.sdk``), never by importing them.

``liftos`` is :func:`main` (pyproject's entry point); ``python -m mesh.cli`` runs it too.
"""

from mesh.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
