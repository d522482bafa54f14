"""Free localhost ports for servers a test starts in a child process, where the port must be
named before the server binds it (``liftos up --base-port``), so port 0 cannot be used."""

from __future__ import annotations

import os
import socket

# Below the kernel's ephemeral range (32768+ here, ip_local_port_range): no port-0 bind and no
# outgoing connection of a concurrent test can be handed one of these between the check and the
# child's bind. Under 31000: tests/runtime/test_replicas.py searches from 31051.
_LOW, _HIGH = 20000, 31000
# Each pytest-xdist worker searches its own slice, so two workers never pick the same block.
_SLICE = 1000


def is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int) -> int:
    """A base port whose ``count`` ports from it are all free now (this worker's slice of
    20000–30999, from a start that differs per process so reruns do not meet TIME_WAITs)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slices = (_HIGH - _LOW) // _SLICE
    low = _LOW + (int(worker) if worker.isdigit() else 0) % slices * _SLICE
    span = _SLICE - count
    first = os.getpid() % span
    for k in range(0, span, count):
        base = low + (first + k) % span
        if all(is_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} free ports in {low}–{low + _SLICE - 1}")
