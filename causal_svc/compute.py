"""A pool of worker processes for CPU-bound work: bounded, cancellable, budgeted.

Plain Python (no gRPC): the servicer awaits :meth:`ComputePool.run`, and when the RPC is
cancelled or its deadline passes grpc.aio cancels that await, which stops the work.

- **Workers**: ``workers`` processes (``LIFTOS_CAUSAL_WORKERS``, default the CPUs this process
  may run on), so estimates scale with cores instead of sharing one GIL. Each worker's BLAS and
  OpenMP pools get ``cpus // workers`` threads, so workers do not oversubscribe the machine.
- **Admission**: at most ``workers`` tasks run and ``queue`` more wait
  (``LIFTOS_CAUSAL_QUEUE``, default 8 per worker); beyond that :class:`ComputeOverloaded`
  (RESOURCE_EXHAUSTED with a retry delay drawn from recent task durations). Waiting costs
  nothing but a coroutine, and a waiter whose caller gives up simply leaves the queue. A
  caller that will run several tasks (a streamed analysis) holds room for them up front with
  :meth:`ComputePool.reserve`, so it is refused before its first event, not halfway through;
  its tasks then enter through that room.
- **Fair share** (``causal_svc.fair_queue``): each task names the org it runs for; waiting
  tasks are served round-robin across orgs, and an org keeps at most ``queue_per_org`` places
  of the queue (``LIFTOS_CAUSAL_QUEUE_PER_ORG``, default a quarter of it) while another org
  wants room: past that, its newest waiting tasks give their places to an org within its
  share and its new ones are refused, both ``COMPUTE_ORG_SHARE_EXHAUSTED``. An org alone may
  still fill the whole queue.
- **Cancellation**: cancelling :meth:`ComputePool.run` cancels the pebble future, and pebble
  terminates the worker running it (SIGTERM, SIGKILL 3 s later) within its 0.1 s poll, then
  starts a replacement.
- **Budget**: a task running longer than ``max_seconds`` (``LIFTOS_CAUSAL_MAX_SECONDS``,
  default 300) is terminated the same way and raises :class:`ComputeBudgetExceeded`.

Workers are forked from a ``forkserver`` whose ``preload`` modules (numpy, pandas, statsmodels,
the estimators) are already imported, so a replacement starts warm, and no
worker is ever forked from the multi-threaded server process (forking a process that runs gRPC
threads can deadlock the child).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pebble

from causal_svc.errors import ComputeBudgetExceeded
from causal_svc.fair_queue import FairGate, OrgLoad

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_SECONDS = 300.0
# 8 a worker: an analysis holds room for its 3 concurrent fits (ComputePool.reserve), so 2
# workers admit 6 analyses at once; 4 a worker admitted 3 (a 4th of 4 concurrent was refused)
DEFAULT_QUEUE_PER_WORKER = 8
# An org's default share of the queue is 1/4 of it, as LIFTOS_MAX_INFLIGHT_PER_ORG is of the
# server's calls: four orgs flooding at once still leave each its place.
ORG_SHARE_DIVISOR = 4
# Retry delays suggested to refused callers stay within these bounds (seconds).
_MIN_RETRY_S, _MAX_RETRY_S = 0.5, 30.0


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_number(name: str, default: float, low: float, cast: type) -> Any:
    raw = os.environ.get(name, "")
    if not raw:
        return cast(default)
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not value >= low:
        raise ValueError(f"{name}={raw!r} must be at least {low}")
    return value


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How many workers, how long a queue, how long one task may run, and how many places of
    the queue one org may keep while others want room (None: a quarter of the queue)."""

    workers: int
    queue: int
    max_seconds: float = DEFAULT_MAX_SECONDS
    queue_per_org: int | None = None

    @property
    def org_share(self) -> int:
        """``queue_per_org``, or a quarter of the queue (at least 1) when it is None."""
        if self.queue_per_org is not None:
            return self.queue_per_org
        return max(1, -(-self.queue // ORG_SHARE_DIVISOR))

    @classmethod
    def from_env(cls, prefix: str = "LIFTOS_CAUSAL") -> PoolSettings:
        """``{prefix}_WORKERS``, ``{prefix}_QUEUE``, ``{prefix}_MAX_SECONDS``,
        ``{prefix}_QUEUE_PER_ORG``."""
        workers = _env_number(f"{prefix}_WORKERS", available_cpus(), 1, int)
        queue = _env_number(f"{prefix}_QUEUE", DEFAULT_QUEUE_PER_WORKER * workers, 0, int)
        max_seconds = _env_number(f"{prefix}_MAX_SECONDS", DEFAULT_MAX_SECONDS, 0.1, float)
        per_org = (
            _env_number(f"{prefix}_QUEUE_PER_ORG", 1, 1, int)
            if os.environ.get(f"{prefix}_QUEUE_PER_ORG")
            else None
        )
        return cls(workers=workers, queue=queue, max_seconds=max_seconds, queue_per_org=per_org)


def _init_worker(threads: int) -> None:
    """Runs in each new worker: cap its BLAS/OpenMP threads at its share of the CPUs."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` when it survives pickling, else a RuntimeError saying what it was.

    An exception that pickles but does not unpickle (a required keyword argument) would break
    the whole pool when the parent reads it, so it is checked here, in the worker.
    """
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__qualname__}: {exc}")
    return exc


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """The worker-side trampoline: run ``fn`` and make any error safe to send back."""
    try:
        return fn(*args)
    except Exception as exc:
        portable = _portable(exc)
        if portable is exc:
            raise
        raise portable from None


def _kill_forkserver() -> None:
    """SIGKILL this process's forkserver, if it runs. A start blocked on its preload then
    reads EOF and fails; multiprocessing starts a new forkserver on the next use. Workers
    already forked live on until their pool stops them."""
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# The pools whose room the running task (and the tasks it spawns: they copy the context)
# holds, each with the org it holds it for; see ComputePool.reserve.
_HOLDING: contextvars.ContextVar[tuple[tuple[int, str], ...]] = contextvars.ContextVar(
    "liftos_compute_holding", default=()
)


class ComputePool:
    """Worker processes behind an admission queue; see the module docstring."""

    def __init__(
        self, settings: PoolSettings, *, preload: Sequence[str] = (), name: str = "compute"
    ) -> None:
        self.settings = settings
        self.name = name
        context = multiprocessing.get_context("forkserver")
        # One forkserver per process; the first pool to start it decides what it preloads.
        context.set_forkserver_preload(list(preload))
        threads = max(1, available_cpus() // settings.workers)
        self._pool = pebble.ProcessPool(
            max_workers=settings.workers,
            initializer=_init_worker,
            initargs=(threads,),
            context=context,
        )
        self._start_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._closing = threading.Event()  # set by close(): a delayed warm-up stops waiting
        self._gate = FairGate(
            workers=settings.workers,
            queue=settings.queue,
            share=settings.org_share,
            name=name,
            retry_after=self._retry_after,
        )
        self._mean_seconds = 1.0  # recent task duration (EWMA), for retry hints

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers now (blocks until the forkserver has preloaded its modules).

        Raises RuntimeError when the pool is closed, or is closed while it starts.
        """
        with self._start_lock:
            if self._closed:
                raise RuntimeError(f"{self.name} pool is closed")
            if self._started:
                return
            try:
                active = self._pool.active  # reading it starts a CREATED pool
            except Exception as exc:
                if self._closed:  # close() ended the preload on purpose
                    raise RuntimeError(f"{self.name} pool was closed while it started") from None
                raise RuntimeError(f"{self.name} pool failed to start: {exc}") from exc
            if not active:
                raise RuntimeError(f"{self.name} pool failed to start")
            self._started = True

    def start_in_background(self, *, after: float = 0.0) -> threading.Thread:
        """Warm the workers up in a thread, ``after`` seconds from now, without blocking the
        caller; :meth:`close` ends the wait or the warm-up early."""
        thread = threading.Thread(
            target=self._warm, args=(after,), name=f"{self.name}-start", daemon=True
        )
        thread.start()
        return thread

    def _warm(self, after: float) -> None:
        if self._closing.wait(after):
            return  # closed before the warm-up was due
        try:
            self.start()
        except Exception:  # the first run() will raise it again, to a caller
            if self._closed:
                _LOGGER.info("%s pool closed before its workers were warm", self.name)
            else:
                _LOGGER.exception("%s pool failed to start", self.name)

    def close(self) -> None:
        """Stop every worker now, running tasks included (blocking; at most a few seconds).

        A start still preloading (seconds of imports) is ended rather than waited for: the
        forkserver is killed, so the start fails at once and no worker is forked into a
        process that is shutting down. The forkserver serves every pool of the process, and
        another pool's workers look dead once it is gone: a process whose pools outlive one
        another (not the causal service: it has one) must not close one while it starts.
        """
        self._closed = True
        self._closing.set()
        while not self._start_lock.acquire(timeout=0.05):
            _kill_forkserver()
        try:
            self._pool.stop()
        finally:
            self._start_lock.release()
        self._pool.join()

    def worker_pids(self) -> list[int]:
        """Live worker process ids (for monitoring and tests)."""
        workers = self._pool._pool_manager.worker_manager.workers  # pebble keeps them by pid
        return [pid for pid in tuple(workers) if pid]

    # -- work --------------------------------------------------------------------------------

    @property
    def load(self) -> tuple[int, int]:
        """(tasks running, tasks waiting)."""
        return self._gate.running, self._gate.waiting

    @property
    def _reserved(self) -> int:
        """Room held by :meth:`reserve` and not in use by its tasks."""
        return self._gate.held

    def load_of(self, org: str) -> OrgLoad:
        """``org``'s tasks running, tasks waiting and held room unused."""
        return self._gate.load_of(org)

    async def run(
        self, fn: Callable[..., T], /, *args: Any, org: str = "", timeout: float | None = None
    ) -> T:
        """``fn(*args)`` in a worker for ``org``; ``fn``, ``args`` and the result must pickle.

        Inside :meth:`reserve` the task enters through the held room, for the org it was held
        for.

        Raises
        ------
        ComputeOverloaded
            Every worker is busy and the queue is full, or ``org`` keeps more than its share of
            the queue while other orgs want room (reason ``COMPUTE_ORG_SHARE_EXHAUSTED``; a
            waiting task may be refused so later, for an org within its share).
        ComputeBudgetExceeded
            The task ran longer than ``max_seconds`` (or ``timeout``, when shorter) and was
            stopped.
        asyncio.CancelledError
            The caller was cancelled; the worker running the task has been told to stop.
        """
        if self._closed:
            raise RuntimeError(f"{self.name} pool is closed")
        if not self._started:
            await asyncio.to_thread(self.start)
        holding = dict(_HOLDING.get()).get(id(self))
        if holding is not None:
            org = holding  # a task of a caller that holds room runs for the org it holds it for
        held = holding is not None and self._gate.holds(org)
        await self._gate.acquire(org, held=held)
        try:
            return await self._run_now(fn, args, timeout)
        finally:
            self._gate.release(org, held=held)

    @contextlib.contextmanager
    def reserve(self, n: int, *, org: str = "") -> Iterator[None]:
        """Hold room for ``n`` tasks of ``org`` at once for the block (and the tasks it
        spawns), or raise :class:`ComputeOverloaded` now. Inside, :meth:`run` enters through
        the held room; a caller whose work peaks at n concurrent tasks is then never refused
        midway."""
        n = min(n, self.settings.workers + self.settings.queue)  # beyond, its tasks wait anyway
        self._gate.hold(org, n)
        # set back rather than reset: an async generator may be closed from another context
        before = _HOLDING.get()
        _HOLDING.set((*before, (id(self), org)))
        try:
            yield
        finally:
            _HOLDING.set(before)
            self._gate.unhold(org, n)

    async def _run_now(
        self, fn: Callable[..., T], args: tuple[Any, ...], timeout: float | None
    ) -> T:
        budget = self.settings.max_seconds
        if timeout is not None:
            budget = max(0.01, min(budget, timeout))
        start = time.monotonic()
        future = self._pool.schedule(_call, args=(fn, args), timeout=budget)
        try:
            result: T = await asyncio.wrap_future(future)  # cancelling this cancels `future`
        except concurrent.futures.TimeoutError:
            raise ComputeBudgetExceeded(
                f"the computation ran past its budget of {budget:g} s and was stopped; ask for "
                "less (fewer refutation simulations, skip_refutation, less data or a simpler "
                "method)"
            ) from None
        except pebble.ProcessExpired as exc:
            raise RuntimeError(
                f"a {self.name} worker died during the task (exit code {exc.exitcode}); "
                "out of memory is the usual cause"
            ) from None
        self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * (time.monotonic() - start)
        return result

    def _retry_after(self, waiting: int) -> float:
        """How long a refused caller should wait: the queue ahead of it, drained by the workers."""
        ahead = (waiting + 1) / self.settings.workers
        return min(_MAX_RETRY_S, max(_MIN_RETRY_S, self._mean_seconds * ahead))
