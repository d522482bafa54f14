"""The compute pool's fair share between orgs (audit R14-F2), on real worker processes: an org's
flood does not put another org's task behind all of it, an org past its share of the queue is
refused (and its newest waiters give their places) while another org is admitted, an org alone
keeps the whole queue, and a caller that gives up leaves the queue."""

from __future__ import annotations

import asyncio
import contextvars
import math
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from causal_svc.compute import ComputePool, PoolSettings
from causal_svc.errors import ComputeOverloaded
from causal_svc.fair_queue import ORG_SHARE_REASON, FairGate

QUEUE, SHARE = 4, 2


def spin(seconds: float) -> int:
    """Burn CPU for ``seconds``; the worker's pid."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        math.sqrt(2.0)
    return os.getpid()


@pytest.fixture(scope="module")
def pool() -> Iterator[ComputePool]:
    """One worker, 4 queued places, 2 of them one org's share: room for 5 tasks."""
    p = ComputePool(
        PoolSettings(workers=1, queue=QUEUE, max_seconds=30.0, queue_per_org=SHARE), name="fair"
    )
    p.start()
    yield p
    p.close()


async def _settle() -> None:
    """Long enough for tasks just created to reach the pool's queue (they do at their first
    step; this leaves the loop many)."""
    await asyncio.sleep(0.05)


def _labelled(
    pool: ComputePool, org: str, label: str, seconds: float, order: list[str]
) -> asyncio.Future[None]:
    """A task that runs ``spin(seconds)`` for ``org`` and appends ``label`` when it ends."""

    async def task() -> None:
        await pool.run(spin, seconds, org=org)
        order.append(label)

    return asyncio.ensure_future(task())


def test_another_orgs_task_runs_next_not_after_the_flood(pool: ComputePool) -> None:
    """A: one running, three waiting; B's one task, submitted last, runs as soon as the worker
    is free (FIFO ran it after all of A's)."""

    async def flood() -> list[str]:
        order: list[str] = []
        tasks = [_labelled(pool, "a", "a0", 0.4, order)]
        await _settle()  # a0 holds the worker
        tasks += [_labelled(pool, "a", f"a{i}", 0.05, order) for i in range(1, 4)]
        await _settle()
        assert pool.load_of("a").waiting == 3
        tasks.append(_labelled(pool, "b", "b0", 0.05, order))
        await asyncio.gather(*tasks)
        return order

    order = asyncio.run(flood())
    assert order[:2] == ["a0", "b0"], order
    assert sorted(order) == ["a0", "a1", "a2", "a3", "b0"]
    assert pool.load == (0, 0)


def test_turns_alternate_between_orgs_with_backlogs(pool: ComputePool) -> None:
    """Two orgs waiting two tasks each take turns; each org's own tasks stay in order."""

    async def both() -> list[str]:
        order: list[str] = []
        tasks = [_labelled(pool, "a", "a0", 0.4, order)]
        await _settle()
        for label in ("a1", "a2", "b1", "b2"):
            tasks.append(_labelled(pool, label[0], label, 0.05, order))
            await _settle()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(both()) == ["a0", "b1", "a1", "b2", "a2"]


def test_an_org_past_its_share_is_refused_while_another_is_admitted(pool: ComputePool) -> None:
    """A fills the pool alone (5 places; the 6th is the old COMPUTE_OVERLOADED). B's tasks
    within its share of 2 are admitted, each in the place of A's newest waiting task, which is
    refused COMPUTE_ORG_SHARE_EXHAUSTED; A's next task and B's third (past its share) are
    refused with that reason while the other org holds places."""

    async def contest() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        a = [asyncio.ensure_future(pool.run(spin, 0.6, org="a"))]
        await _settle()
        a += [asyncio.ensure_future(pool.run(spin, 0.01, org="a")) for _ in range(QUEUE)]
        await _settle()
        with pytest.raises(ComputeOverloaded) as alone:
            await pool.run(spin, 0.01, org="a")
        seen["alone"] = alone.value
        b = [asyncio.ensure_future(pool.run(spin, 0.01, org="b")) for _ in range(2)]
        await _settle()
        seen["loads"] = (pool.load_of("a"), pool.load_of("b"))
        with pytest.raises(ComputeOverloaded) as a_again:
            await pool.run(spin, 0.01, org="a")
        seen["a_again"] = a_again.value
        with pytest.raises(ComputeOverloaded) as b_third:
            await pool.run(spin, 0.01, org="b")
        seen["b_third"] = b_third.value
        seen["a"] = await asyncio.gather(*a, return_exceptions=True)
        seen["b"] = await asyncio.gather(*b, return_exceptions=True)
        return seen

    seen = asyncio.run(contest())
    alone = seen["alone"]
    assert isinstance(alone, ComputeOverloaded) and alone.reason == "COMPUTE_OVERLOADED"
    a_load, b_load = seen["loads"]
    assert (a_load.running, a_load.waiting) == (1, 2) and b_load.waiting == 2
    for key in ("a_again", "b_third"):
        refused = seen[key]
        assert isinstance(refused, ComputeOverloaded) and refused.reason == ORG_SHARE_REASON
        assert "share of 2" in str(refused) and refused.retry_after_s is not None
    assert "org 'a'" in str(seen["a_again"]) and "org 'b'" in str(seen["b_third"])
    a_results = seen["a"]
    assert isinstance(a_results, list)
    displaced = [r for r in a_results if isinstance(r, BaseException)]
    assert len(displaced) == 2 and all(
        isinstance(r, ComputeOverloaded) and r.reason == ORG_SHARE_REASON for r in displaced
    )
    assert "gave its place" in str(displaced[0])
    assert a_results[0] in pool.worker_pids()  # the running task and the oldest waiters ran
    assert all(isinstance(r, int) for r in a_results[:3])
    assert all(isinstance(r, int) for r in seen["b"])
    assert pool.load == (0, 0) and pool._reserved == 0


def test_one_org_alone_keeps_the_whole_queue_and_the_old_refusal(pool: ComputePool) -> None:
    """With no other org in the pool the share does not bind: 1 running + 4 waiting, then the
    message the pool always gave."""

    async def alone() -> ComputeOverloaded:
        tasks = [asyncio.ensure_future(pool.run(spin, 0.4, org="solo"))]
        await _settle()
        tasks += [asyncio.ensure_future(pool.run(spin, 0.01, org="solo")) for _ in range(QUEUE)]
        await _settle()
        assert pool.load == (1, QUEUE)
        with pytest.raises(ComputeOverloaded) as info:
            await pool.run(spin, 0.01, org="solo")
        assert all(isinstance(r, int) for r in await asyncio.gather(*tasks))
        return info.value

    refused = asyncio.run(alone())
    assert refused.reason == "COMPUTE_OVERLOADED"
    assert (
        str(refused) == "all 1 fair workers are busy and 4 requests are queued or held; retry later"
    )


def test_held_room_is_never_taken_back(pool: ComputePool) -> None:
    """A caller holding room was promised its tasks: another org within its share is refused
    rather than take it (COMPUTE_OVERLOADED, not the share reason: the holder is in its
    right)."""

    async def held() -> None:
        with pool.reserve(QUEUE + 1, org="a"):
            assert pool.load_of("a").held == QUEUE + 1
            other_call = asyncio.get_running_loop().create_task(
                pool.run(spin, 0.01, org="b"), context=contextvars.Context()
            )  # a task the holder did not spawn
            with pytest.raises(ComputeOverloaded) as info:
                await other_call
            assert info.value.reason == "COMPUTE_OVERLOADED"
            # the holder's tasks run for its org, whatever org they name
            mine = asyncio.ensure_future(pool.run(spin, 0.2, org="other"))
            await _settle()
            assert pool.load_of("a").running == 1 and pool.load_of("other").running == 0
            await mine
        assert pool.load_of("a").held == 0

    asyncio.run(held())
    assert pool.load == (0, 0) and pool._reserved == 0


def test_a_cancelled_waiter_leaves_the_queue(pool: ComputePool) -> None:
    """Cancelling waiting tasks (a caller gone, a deadline passed) frees their places at once,
    for every org, and the rest still run in turn."""

    async def cancel_some() -> list[str]:
        order: list[str] = []
        tasks = [_labelled(pool, "a", "a0", 0.4, order)]
        await _settle()
        waiting = {
            label: _labelled(pool, label[0], label, 0.01, order) for label in ("a1", "a2", "b1")
        }
        await _settle()
        assert pool.load == (1, 3)
        waiting["a1"].cancel()
        waiting["b1"].cancel()
        await asyncio.gather(waiting["a1"], waiting["b1"], return_exceptions=True)
        assert pool.load == (1, 1)
        assert pool.load_of("b").waiting == 0 and pool.load_of("a").waiting == 1
        await asyncio.gather(*tasks, waiting["a2"])
        return order

    assert asyncio.run(cancel_some()) == ["a0", "a2"]
    assert pool.load == (0, 0)


def test_a_waiter_cancelled_as_it_is_granted_passes_the_worker_on() -> None:
    """The worker freed for a waiter whose caller was cancelled in the same turn of the loop
    goes to the next waiter, not nowhere (the gate alone: no process can time this)."""

    async def race() -> tuple[int, int]:
        gate = FairGate(workers=1, queue=4, share=2, name="g", retry_after=lambda _: 1.0)
        await gate.acquire("a", held=False)
        first = asyncio.ensure_future(gate.acquire("b", held=False))
        second = asyncio.ensure_future(gate.acquire("c", held=False))
        await _settle()
        gate.release("a", held=False)  # grants b ...
        first.cancel()  # ... which is cancelled before it resumes
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.wait_for(second, 1.0)  # c got the worker
        running = gate.running
        gate.release("c", held=False)
        return running, gate.running + gate.waiting

    assert asyncio.run(race()) == (1, 0)


def test_settings_name_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKERS", "QUEUE", "MAX_SECONDS", "QUEUE_PER_ORG"):
        monkeypatch.delenv(f"LIFTOS_CAUSAL_{name}", raising=False)
    monkeypatch.setenv("LIFTOS_CAUSAL_WORKERS", "2")
    default = PoolSettings.from_env()
    assert default.queue_per_org is None and default.org_share == 4  # a quarter of 16
    assert PoolSettings(workers=1, queue=1).org_share == 1
    monkeypatch.setenv("LIFTOS_CAUSAL_QUEUE_PER_ORG", "5")
    assert PoolSettings.from_env().org_share == 5
    monkeypatch.setenv("LIFTOS_CAUSAL_QUEUE_PER_ORG", "0")
    with pytest.raises(ValueError, match="LIFTOS_CAUSAL_QUEUE_PER_ORG"):
        PoolSettings.from_env()


def _check(gate: FairGate) -> None:
    """What must hold between any two steps of the loop."""
    loads = [gate.load_of(org) for org in gate._loads]
    assert gate.running == sum(load.running for load in loads) <= gate.workers
    assert gate.waiting == sum(load.waiting for load in loads) == len(gate._waiters)
    assert gate.held == sum(load.held for load in loads)
    assert min((gate.running, gate.waiting, *(load.waiting for load in loads)), default=0) >= 0
    assert gate.running + gate.waiting + gate.held <= gate.workers + gate.queue
    assert gate.running == gate.workers or not gate.waiting  # no idle worker while tasks wait


@pytest.mark.parametrize("seed", range(25))
def test_the_gate_keeps_its_counts_through_random_arrivals_cancels_and_holds(seed: int) -> None:
    """Random tasks of three orgs, some through held room, cancelled at random: the counts stay
    consistent at every step and are all zero at the end (the gate alone, many interleavings)."""
    rng = random.Random(seed)

    async def scenario() -> None:
        gate = FairGate(workers=2, queue=5, share=2, name="g", retry_after=lambda _: 1.0)

        async def task(org: str, held: bool) -> None:
            await gate.acquire(org, held=held)
            try:
                _check(gate)
                for _ in range(rng.randrange(4)):
                    await asyncio.sleep(0)
            finally:
                gate.release(org, held=held)

        async def holder(org: str) -> None:
            gate.hold(org, 2)
            try:
                await asyncio.gather(task(org, gate.holds(org)), task(org, gate.holds(org)))
            finally:
                gate.unhold(org, 2)

        live: list[asyncio.Future[None]] = []
        for _ in range(300):
            roll = rng.random()
            if roll < 0.55:
                live.append(asyncio.ensure_future(task(rng.choice("abc"), False)))
            elif roll < 0.65:
                live.append(asyncio.ensure_future(holder(rng.choice("abc"))))
            elif roll < 0.8 and live:
                rng.choice(live).cancel()
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            _check(gate)
        outcomes = await asyncio.gather(*live, return_exceptions=True)
        _check(gate)
        assert (gate.running, gate.waiting, gate.held) == (0, 0, 0) and not gate._loads
        unexpected = [
            o
            for o in outcomes
            if o is not None and not isinstance(o, ComputeOverloaded | asyncio.CancelledError)
        ]
        assert not unexpected, unexpected
        # the queue was contested (in most seeds waiting tasks also gave their places)
        assert any(isinstance(o, ComputeOverloaded) for o in outcomes)

    asyncio.run(scenario())
