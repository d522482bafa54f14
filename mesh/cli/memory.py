"""`liftos memory import FILE`: store a backfill in memory's data dir without the server.

The input is length-delimited ``WriteRequest`` messages (``memory_svc.bulk_import``; ``-``
reads stdin), stored with the Write RPC's code a message per transaction — the way to load
millions of historical records, which the Write RPC takes hours over. Run it while the memory
service is stopped; the service loads the indexes it saved when it starts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from mesh.runtime.config import DEFAULT_DATA_DIR


def add_parsers(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("memory", help="memory's local maintenance (bulk import)")
    verbs = p.add_subparsers(dest="memory_command", required=True)
    imp = verbs.add_parser(
        "import", help="store length-delimited WriteRequests into a data dir, server stopped"
    )
    imp.add_argument("input", help="file of length-delimited WriteRequest messages; - for stdin")
    imp.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    imp.add_argument("--store", default=None, help="record store URL (LIFTOS_MEMORY_STORE)")
    imp.add_argument("--every", type=int, default=100, help="progress every N messages")
    imp.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    # memory's own code in its own process, as `liftos up` runs the services: the CLI is a
    # client and imports no service module (DESIGN.md, Layout); stdin and output pass through
    argv = [sys.executable, "-m", "memory_svc.bulk_import", args.input]
    argv += ["--data-dir", args.data_dir, "--every", str(args.every)]
    return subprocess.run(argv + (["--store", args.store] if args.store else [])).returncode
