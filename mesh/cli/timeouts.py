"""``--timeout SECONDS``: how long a verb waits for the services, one flag for every verb that
calls them (s19 R41-F8: estimate, counterfactual and products had a fixed 60 s, and an
estimate past it failed with gRPC's bare "Deadline Exceeded")."""

from __future__ import annotations

import argparse
from typing import Any

from mesh.sdk.client import LiftOS

# How long a call may take by default, in seconds (the SDK's LiftOS(timeout=...)).
DEFAULT_TIMEOUT_S = 60.0


def add_timeout(parser: argparse.ArgumentParser, default: float = DEFAULT_TIMEOUT_S) -> None:
    parser.add_argument(
        "--timeout", type=float, default=default, metavar="SECONDS",
        help=f"how long to wait for the answer (default {default:g})",
    )  # fmt: skip


def timeout_of(args: argparse.Namespace) -> float:
    """``--timeout``, refused unless a positive number of seconds (0 gave an instant
    DEADLINE_EXCEEDED, a negative one a gRPC error)."""
    if not args.timeout > 0:
        raise SystemExit(
            f"error: --timeout must be a positive number of seconds, got {args.timeout:g}"
        )
    return float(args.timeout)


def client(args: argparse.Namespace, peers: Any, org_id: str | None = None) -> LiftOS:
    """The verb's client: its org (``--org`` unless ``org_id``) and its ``--timeout``."""
    org = getattr(args, "org", "") if org_id is None else org_id
    return LiftOS(peers, org_id=org or "", timeout=timeout_of(args))
