"""Child processes that die with the process that started them (``liftos up``'s services, the
CLI's memory importer).

On Linux the child gets SIGTERM when its supervisor ends, even by SIGKILL (``PR_SET_PDEATHSIG``),
and drains as on Ctrl-C. The child arms this itself at start-up, from ``LIFTOS_SUPERVISOR_PID``,
rather than in a ``preexec_fn``: a ``preexec_fn`` makes ``subprocess`` fork() instead of vfork(),
and fork() runs gRPC's fork handlers, which in a supervisor that has used gRPC restart the event
engine's poller in the child; ``close_fds`` then closes that poller's epoll fd before exec and
the child aborts ("epoll_wait error: Bad file descriptor", grpc/grpc#43055) — about one start in
seventy on this machine.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ENV", "die_with_supervisor", "spawn", "supervised_env"]

ENV = "LIFTOS_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def supervised_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a child that is to die with this process (:func:`spawn` uses it)."""
    return {**env, ENV: str(os.getpid())}


def spawn(
    argv: Sequence[str], env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (a program that calls :func:`die_with_supervisor`) as this process's
    supervised child; ``env`` defaults to this process's. No ``preexec_fn`` may be passed (the
    module docstring says why)."""
    if "preexec_fn" in popen:
        raise TypeError("spawn: a preexec_fn would fork() with gRPC's fork handlers")
    return subprocess.Popen(
        list(argv), env=supervised_env(os.environ if env is None else env), **popen
    )


def die_with_supervisor() -> None:
    """Arm ``PR_SET_PDEATHSIG`` (SIGTERM) when ``LIFTOS_SUPERVISOR_PID`` names this process's
    parent; SIGTERM at once when that parent is already gone. The variable is removed, so this
    process's own children (causal's workers) do not read it as theirs."""
    raw = os.environ.pop(ENV, "")
    if not raw or not sys.platform.startswith("linux"):
        return
    try:
        parent = int(raw)
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ValueError, OSError, AttributeError):
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)
