"""mesh.runtime.pipeline: results in order, bounded depth, an error after the results made
before it, and the background task cancelled when the consumer leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mesh.runtime.pipeline import Pipeline


async def _numbers(n: int, fail_at: int | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"source failed at {i}")
        yield i
        await asyncio.sleep(0)


async def _square(i: int) -> int:
    await asyncio.sleep(0.001 * (i % 3))  # uneven steps: order must not depend on them
    return i * i


def test_results_come_in_order_and_the_end_stays_the_end() -> None:
    async def run() -> tuple[list[int], list[int]]:
        async with Pipeline(_numbers(20), _square, depth=4) as results:
            got = [r async for r in results]
            again = [r async for r in results]
        return got, again

    got, again = asyncio.run(run())
    assert got == [i * i for i in range(20)]
    assert again == []


def test_an_error_comes_after_the_results_made_before_it() -> None:
    async def step(i: int) -> int:
        if i == 5:
            raise KeyError("step failed")
        return i

    async def run(source: AsyncIterator[int]) -> tuple[list[int], BaseException]:
        got: list[int] = []
        async with Pipeline(source, step, depth=2) as results:
            with pytest.raises(Exception) as err:
                async for r in results:
                    got.append(r)
        return got, err.value

    got, error = asyncio.run(run(_numbers(10)))
    assert got == [0, 1, 2, 3, 4] and isinstance(error, KeyError)
    got, error = asyncio.run(run(_numbers(10, fail_at=3)))
    assert got == [0, 1, 2] and isinstance(error, ValueError)


def test_no_more_than_depth_results_wait() -> None:
    made: list[int] = []

    async def step(i: int) -> int:
        made.append(i)
        return i

    async def run() -> tuple[int, int]:
        async with Pipeline(_numbers(100), step, depth=3) as results:
            await asyncio.sleep(0.05)  # the consumer is busy: the queue fills
            waiting, stepped = results.waiting(), len(made)
            assert [r async for r in results] == list(range(100))
        return waiting, stepped

    waiting, stepped = asyncio.run(run())
    assert waiting == 3
    assert stepped == 4  # three waiting, one made and held until there is room


def test_leaving_the_block_cancels_the_background_task() -> None:
    cancelled = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0)
        finally:
            cancelled.set()

    async def echo(i: int) -> int:
        return i

    async def run() -> None:
        async with Pipeline(endless(), echo, depth=2) as results:
            async for r in results:
                if r == 5:
                    break
        await asyncio.wait_for(cancelled.wait(), 5)

    asyncio.run(run())


def test_peek_and_wait_look_at_what_is_waiting_without_taking_it() -> None:
    gate = asyncio.Event()

    async def slow(i: int) -> int:
        if i == 2:
            await gate.wait()
        return i

    async def run() -> None:
        async with Pipeline(_numbers(3), slow, depth=8) as results:
            assert await results.wait(1.0)
            assert results.peek() == 0 and results.peek() == 0  # not taken
            assert await anext(results) == 0
            assert await results.wait(1.0) and results.peek() == 1
            assert await anext(results) == 1
            assert not await results.wait(0.02)  # 2 is held back
            assert results.peek() is None and not results.ready()
            gate.set()
            assert await results.wait(1.0) and await anext(results) == 2
            assert await results.wait(1.0)  # the end is waiting …
            assert results.peek() is None and results.waiting() == 1  # … but is no result
            assert [r async for r in results] == []

    asyncio.run(run())
