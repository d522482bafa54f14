"""The compute pool without gRPC: what crosses the process boundary, cancellation, budget,
admission, settings."""

from __future__ import annotations

import asyncio
import contextvars
import math
import os
import pickle
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from causal_svc.compute import ComputePool, PoolSettings, _portable
from causal_svc.errors import (
    AnalysisNotFound,
    ComputeBudgetExceeded,
    ComputeOverloaded,
    InvalidSpec,
    MemoryUnavailable,
)
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.jobs import EstimateJob, RecordsData, run_estimate
from causal_svc.methods import EstimationOptions
from causal_svc.record_tables import Aggregation
from mesh.runtime.synthetic_records import synthetic_records


def spin(seconds: float) -> int:
    """Burn CPU for ``seconds``; the worker's pid."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        math.sqrt(2.0)
    return os.getpid()


def refuse(field: str) -> None:
    raise InvalidSpec(f"{field} is wrong", field=field)


def not_found() -> None:
    raise AnalysisNotFound("gone", resource_type="liftos.v1.Analysis", resource_name="x")


@pytest.fixture(scope="module")
def pool() -> Iterator[ComputePool]:
    p = ComputePool(PoolSettings(workers=1, queue=1, max_seconds=3.0), name="test")
    p.start()
    yield p
    p.close()


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    unit = np.repeat(np.arange(30), 20)
    day = np.tile(np.arange(20), 30)
    d = ((unit < 15) & (day >= 12)).astype(np.int64)
    x = rng.normal(size=unit.size)
    y = rng.normal(size=unit.size) + 0.5 * x + 2.0 * d
    return pd.DataFrame({"unit": unit, "day": day, "y": y, "d": d, "x": x})


@pytest.mark.parametrize(
    ("method", "spec"),
    [
        (Method.DID, EffectSpec(outcome="y", treatment="d", unit="unit", time="day")),
        (Method.DIFFERENCE_IN_MEANS, EffectSpec(outcome="y", treatment="d")),
        (Method.IPW, EffectSpec(outcome="y", treatment="d", covariates=("x",))),
        (Method.NAIVE_REGRESSION, EffectSpec(outcome="y", treatment="d")),
    ],
)
def test_estimates_survive_the_process_boundary(method: Method, spec: EffectSpec) -> None:
    job = EstimateJob(
        spec=spec, method=method, options=EstimationOptions(), refutation_simulations=3
    )
    result = run_estimate(job, _panel())
    assert pickle.loads(pickle.dumps(job)) == job
    back = pickle.loads(pickle.dumps(result))
    assert back == result
    assert back.estimate.checks and back.estimate.conf_int() == result.estimate.conf_int()


def test_records_are_aggregated_in_the_job() -> None:
    from mesh.runtime.frames import records_to_frame

    records = records_to_frame(synthetic_records("shop", 4 * 2 * 30, campaigns=2, geos=4))
    data = RecordsData(records, Aggregation.GEO_DAY)
    job = EstimateJob(
        spec=EffectSpec(outcome="revenue", treatment="spend"),
        method=Method.NAIVE_REGRESSION,
        options=EstimationOptions(),
        skip_refutation=True,
    )
    result = run_estimate(job, pickle.loads(pickle.dumps(data)))
    assert result.estimate.nobs == 4 * 30


def test_errors_that_cannot_unpickle_are_replaced_not_sent() -> None:
    spec_error = _portable(InvalidSpec("bad", field="options.seed"))
    assert isinstance(spec_error, InvalidSpec)
    back = pickle.loads(pickle.dumps(spec_error))
    assert back.field == "options.seed" and back.reason == "INVALID_SPEC"
    # keyword-only constructors do not unpickle: they would break the pool if sent as they are
    for exc in (
        AnalysisNotFound("x", resource_type="t", resource_name="n"),
        MemoryUnavailable("x", dependency="memory"),
    ):
        assert isinstance(_portable(exc), RuntimeError)


def test_domain_errors_reach_the_caller_and_the_pool_survives_bad_ones(pool) -> None:
    with pytest.raises(InvalidSpec) as info:
        _run(pool.run(refuse, "roles.outcome"))
    assert info.value.field == "roles.outcome"
    with pytest.raises(RuntimeError, match="AnalysisNotFound"):
        _run(pool.run(not_found))
    assert _run(pool.run(spin, 0.01)) in pool.worker_pids()


def test_cancel_terminates_and_replaces_the_worker(pool) -> None:
    async def cancel_soon() -> int:
        task = asyncio.ensure_future(pool.run(spin, 60))
        await asyncio.sleep(0.5)
        (busy,) = pool.worker_pids()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return busy

    busy = _run(cancel_soon())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (
        busy in pool.worker_pids() or len(pool.worker_pids()) != 1
    ):
        time.sleep(0.05)
    assert busy not in pool.worker_pids() and len(pool.worker_pids()) == 1
    assert not os.path.exists(f"/proc/{busy}/status") or "Z" in _state(busy)
    assert _run(pool.run(spin, 0.01)) in pool.worker_pids()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as status:
        return next(line for line in status if line.startswith("State:"))


def test_budget_ends_a_long_task(pool) -> None:
    with pytest.raises(ComputeBudgetExceeded, match="budget of 3 s") as info:
        _run(pool.run(spin, 60))
    assert info.value.retry_after_s is None


def test_full_queue_is_refused_with_a_retry_hint(pool) -> None:
    async def overload() -> ComputeOverloaded:
        running = asyncio.ensure_future(pool.run(spin, 1.0))
        queued = asyncio.ensure_future(pool.run(spin, 0.01))
        await asyncio.sleep(0.1)
        try:
            with pytest.raises(ComputeOverloaded) as info:
                await pool.run(spin, 0.01)
            assert pool.load == (1, 1)
        finally:
            await asyncio.gather(running, queued)
        return info.value

    refused = _run(overload())
    assert refused.retry_after_s is not None and 0.5 <= refused.retry_after_s <= 30
    assert pool.load == (0, 0)


def test_held_room_lets_the_holder_in_and_refuses_others_up_front(pool) -> None:
    """pool: 1 worker + 1 queued = room for 2. A caller holding both runs two tasks at once
    while any other caller is refused before it starts; a second holder is refused at once."""

    async def held() -> None:
        with pool.reserve(2):
            with pytest.raises(ComputeOverloaded), pool.reserve(1):  # no room for another
                pass
            # tasks spawned inside the block enter through the held room
            mine = asyncio.ensure_future(asyncio.gather(pool.run(spin, 0.5), pool.run(spin, 0.01)))
            await asyncio.sleep(0.1)
            assert pool.load == (1, 1)

            async def outsider() -> None:
                await pool.run(spin, 0.01)

            def another_call() -> asyncio.Task[None]:  # a task not spawned by the holder
                loop = asyncio.get_running_loop()
                return loop.create_task(outsider(), context=contextvars.Context())

            with pytest.raises(ComputeOverloaded):
                await another_call()
            await mine
            # the room is still held between the holder's tasks
            with pytest.raises(ComputeOverloaded):
                await another_call()
        # released: anyone may run again
        await pool.run(spin, 0.01)

    _run(held())
    assert pool.load == (0, 0)
    assert pool._reserved == 0


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKERS", "QUEUE", "MAX_SECONDS"):
        monkeypatch.delenv(f"LIFTOS_CAUSAL_{name}", raising=False)
    default = PoolSettings.from_env()
    assert default.workers == len(os.sched_getaffinity(0))
    assert default.queue == 8 * default.workers and default.max_seconds == 300
    monkeypatch.setenv("LIFTOS_CAUSAL_WORKERS", "3")
    monkeypatch.setenv("LIFTOS_CAUSAL_MAX_SECONDS", "2.5")
    assert PoolSettings.from_env() == PoolSettings(workers=3, queue=24, max_seconds=2.5)
    monkeypatch.setenv("LIFTOS_CAUSAL_WORKERS", "0")
    with pytest.raises(ValueError, match="LIFTOS_CAUSAL_WORKERS"):
        PoolSettings.from_env()
    monkeypatch.setenv("LIFTOS_CAUSAL_WORKERS", "many")
    with pytest.raises(ValueError, match="not a number"):
        PoolSettings.from_env()
