"""A worker that stalls mid-task (swapped out, a stuck BLAS thread; here SIGSTOP, never
continued) while its caller gives up: the pool ends it and starts another, so later tasks
run instead of queueing behind it for good (s20 T2, after s19's CI hang)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from causal_svc.compute import ComputePool, PoolSettings

# Bounds on waits that end at once when the pool works: a broken pool fails, not hangs.
WAIT_S = 60.0


def started_then_spin(marker: str) -> int:
    """Say the task runs (write its pid to ``marker``), then burn CPU until stopped."""
    Path(marker).write_text(str(os.getpid()))
    while True:
        math.sqrt(2.0)


def pid() -> int:
    return os.getpid()


@pytest.fixture
def pool() -> Iterator[ComputePool]:
    p = ComputePool(PoolSettings(workers=1, queue=4), name="stall")
    p.start()
    yield p
    p.close()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def test_a_worker_stalled_in_a_cancelled_task_is_ended_and_the_next_task_runs(
    pool: ComputePool, tmp_path: Path
) -> None:
    marker = tmp_path / "started"

    async def scenario() -> tuple[int, int]:
        task = asyncio.ensure_future(pool.run(started_then_spin, str(marker)))
        limit = time.monotonic() + WAIT_S
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < limit, "the task never started"
            await asyncio.sleep(0.02)
        stalled = int(marker.read_text())
        os.kill(stalled, signal.SIGSTOP)  # never continued: SIGTERM alone cannot end it
        while _state(stalled) != "T":  # a signal takes effect when the worker is next run
            assert time.monotonic() < limit, f"the worker never stopped: {_state(stalled)}"
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the only worker is the stalled one: this runs only once the pool replaced it
        return stalled, await asyncio.wait_for(pool.run(pid), WAIT_S)

    stalled, ran_on = asyncio.run(scenario())
    assert ran_on != stalled and ran_on in pool.worker_pids()
    assert stalled not in pool.worker_pids() and _state(stalled) in ("gone", "Z")
