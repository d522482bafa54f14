"""How long another org's task waits behind one org's backlog in the causal compute pool.

Org A keeps the workers busy and N tasks waiting (each ``--task-s`` seconds of CPU); org B
then submits one short task. B's wait is the time from its submission to its start in a worker
(CLOCK_MONOTONIC, which every process of the machine shares). Two ways of naming orgs:

- ``one-queue``: every task names the same org, so the pool is one FIFO, as it was for all
  orgs before the per-org share (and as it still is for one org alone);
- ``per-org``: A's tasks and B's name their orgs, so B's task takes the next turn.

Then the pool full (A: workers + the whole queue): whether B is admitted at all.

On a tree without the per-org share (``ComputePool.run`` has no ``org``) it measures
``one-queue`` only, so a worktree of the old commit gives the "before" figures.

Run: ``PYTHONPATH=.:gen .venv/bin/python scripts/compute_fair_wait.py [--queued 8 16]
[--task-s 0.2] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from causal_svc.compute import ComputePool, PoolSettings
from causal_svc.errors import ComputeOverloaded


def spin(seconds: float) -> float:
    """Burn CPU for ``seconds``; when it started (CLOCK_MONOTONIC)."""
    start = time.monotonic()
    while time.monotonic() < start + seconds:
        math.sqrt(2.0)
    return start


Submit = Callable[[str, float], Awaitable[float]]


def _submitter(pool: ComputePool, per_org: bool) -> Submit:
    takes_org = "org" in inspect.signature(pool.run).parameters

    def submit(org: str, seconds: float) -> Awaitable[float]:
        kwargs: dict[str, Any] = {"org": org if per_org else "one"} if takes_org else {}
        return pool.run(spin, seconds, **kwargs)

    return submit


async def _one_run(submit: Submit, workers: int, queued: int, task_s: float) -> float:
    """B's wait (seconds) behind A's ``workers`` running and ``queued`` waiting tasks."""
    a = [asyncio.ensure_future(submit("a", task_s)) for _ in range(workers + queued)]
    await asyncio.sleep(0.05)  # A's tasks are in the pool, its first ones running
    sent = time.monotonic()
    started = await submit("b", 0.01)
    await asyncio.gather(*a)
    return started - sent


async def _full_pool(submit: Submit, pool: ComputePool, task_s: float) -> str:
    """A fills the workers and the whole queue; what happens to B's one task."""
    settings = pool.settings
    a = [
        asyncio.ensure_future(submit("a", task_s)) for _ in range(settings.workers + settings.queue)
    ]
    await asyncio.sleep(0.05)
    sent = time.monotonic()
    try:
        started = await submit("b", 0.01)
        outcome = f"admitted, waited {started - sent:.2f} s"
    except ComputeOverloaded as exc:
        outcome = f"refused {exc.reason}"
    done = await asyncio.gather(*a, return_exceptions=True)
    refused_a = sum(isinstance(r, ComputeOverloaded) for r in done)
    return f"{outcome}; {refused_a} of A's {len(a)} tasks refused as they waited"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--task-s", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    queue = max(args.queued) + 4  # room for A's backlog and B's task: nothing is refused
    pool = ComputePool(PoolSettings(workers=args.workers, queue=queue), name="bench")
    pool.start()
    fair = "org" in inspect.signature(pool.run).parameters
    share = getattr(pool.settings, "org_share", None)
    print(f"workers {args.workers}, queue {queue}, one org's share {share}, task {args.task_s} s")
    try:
        for per_org in (False, True) if fair else (False,):
            mode = "per-org" if per_org else "one-queue"
            submit = _submitter(pool, per_org)
            for n in args.queued:
                waits = [
                    asyncio.run(_one_run(submit, args.workers, n, args.task_s))
                    for _ in range(args.runs)
                ]
                runs = " ".join(f"{w:.2f}" for w in waits)
                print(
                    f"{mode:9} A {n:2} waiting: B waited median {statistics.median(waits):.2f} s"
                    f" (runs {runs})"
                )
            print(
                f"{mode:9} A fills the pool: B {asyncio.run(_full_pool(submit, pool, args.task_s))}"
            )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
