"""The compute pool's admission: worker slots shared fairly between orgs (plain asyncio).

- **Round-robin**: tasks that wait for a worker wait in one FIFO per org, and a freed worker
  goes to the org served least recently, so an org's single task waits behind at most one
  task of each other org, not behind another org's whole backlog.
- **Room**: at most ``workers`` tasks run and ``queue`` more wait or are held (room a
  :meth:`FairGate.hold` keeps for a caller's later tasks); beyond that :class:`ComputeOverloaded`.
- **Share**: one org may keep ``share`` places of the queue (waiting or held) while another
  org wants room. The queue is not split: an org alone may fill it, as before. When it is full
  and an org within its share asks for room, the newest waiting tasks of orgs past their share
  give up their places (refused ``COMPUTE_ORG_SHARE_EXHAUSTED``, their callers retry later);
  an org past its share that asks for room while other orgs hold some is refused with that
  reason too. Held room is never taken back: a caller that holds it was promised its tasks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from causal_svc.errors import ComputeOverloaded

# The refusal of an org past its share of the queue (the queue itself may have room for others).
ORG_SHARE_REASON = "COMPUTE_ORG_SHARE_EXHAUSTED"


@dataclass(eq=False, slots=True)
class _Waiter:
    """One task waiting for a worker; identity is its id (two waiters are never equal)."""

    org: str
    held: bool  # entered through held room: never displaced
    future: asyncio.Future[None]
    # then "granted" (a worker is its), "displaced" (refused) or "left" (its caller gave up)
    state: str = "waiting"


@dataclass(slots=True)
class OrgLoad:
    """An org's places in the pool: tasks running, tasks waiting, room held and unused."""

    running: int = 0
    waiting: int = 0
    held: int = 0

    @property
    def queued(self) -> int:
        """Places of the queue it keeps (what its share bounds)."""
        return self.waiting + self.held


@dataclass(slots=True)
class RoundRobin:
    """Waiters in one FIFO per org; :meth:`pop` serves the org served least recently."""

    _fifos: dict[str, deque[_Waiter]] = field(default_factory=dict)
    _last: str | None = None  # the org served last: it goes behind the others at the next pop

    def __len__(self) -> int:
        return sum(len(fifo) for fifo in self._fifos.values())

    def served(self, org: str) -> None:
        """``org`` got a worker without waiting: its next turn comes after the others'."""
        self._last = org

    def push(self, waiter: _Waiter) -> None:
        self._fifos.setdefault(waiter.org, deque()).append(waiter)

    def pop(self) -> _Waiter | None:
        """The next waiter, or None when none waits. An org that arrives after another org's
        turn is served before that org's next one (it was moved behind only now)."""
        if self._last in self._fifos and len(self._fifos) > 1:
            self._fifos[self._last] = self._fifos.pop(self._last)
        for org, fifo in self._fifos.items():
            waiter = fifo.popleft()
            if not fifo:
                del self._fifos[org]
            self._last = org
            return waiter
        return None

    def remove(self, waiter: _Waiter) -> None:
        fifo = self._fifos.get(waiter.org)
        if fifo is not None and waiter in fifo:
            fifo.remove(waiter)
            if not fifo:
                del self._fifos[waiter.org]

    def unheld_newest_first(self, org: str) -> list[_Waiter]:
        """The org's waiters that did not enter through held room, the most recent first."""
        return [waiter for waiter in reversed(self._fifos.get(org, ())) if not waiter.held]


class FairGate:
    """Worker slots and queue places of a pool, shared between orgs; see the module docstring.

    Single-threaded: every method runs on the event loop of the tasks that wait in it.
    """

    def __init__(
        self,
        *,
        workers: int,
        queue: int,
        share: int,
        name: str,
        retry_after: Callable[[int], float],
    ) -> None:
        self.workers, self.queue, self.share, self.name = workers, queue, share, name
        self._retry_after = retry_after  # seconds, given the tasks that wait
        self._loads: dict[str, OrgLoad] = {}
        self._waiters = RoundRobin()
        self.running = self.waiting = self.held = 0

    # -- accounting --------------------------------------------------------------------------

    def load_of(self, org: str) -> OrgLoad:
        """A copy of ``org``'s places (all zero when it has none)."""
        load = self._loads.get(org)
        return OrgLoad() if load is None else OrgLoad(load.running, load.waiting, load.held)

    def _add(self, org: str, *, running: int = 0, waiting: int = 0, held: int = 0) -> None:
        load = self._loads.setdefault(org, OrgLoad())
        load.running += running
        load.waiting += waiting
        load.held += held
        self.running += running
        self.waiting += waiting
        self.held += held
        # all three, not their sum: a held task may end after its holder let the room go
        if not (load.running or load.waiting or load.held):
            del self._loads[org]

    # -- admission ---------------------------------------------------------------------------

    def admit(self, org: str, n: int) -> None:
        """Make room for ``n`` more places of ``org`` or raise :class:`ComputeOverloaded`.

        Room beyond the pool's is taken from other orgs' waiting tasks past their share, only
        for an org within its own; they are refused as they wait."""
        over = self.running + self.waiting + self.held + n - (self.workers + self.queue)
        if over <= 0:
            return
        mine = self._loads.get(org, OrgLoad()).queued + n
        if mine <= self.share:
            victims = self._excess(org, over)
            if victims is not None:
                for victim in victims:
                    self._displace(victim)
                return
        if mine > self.share and any(other != org for other in self._loads):
            raise ComputeOverloaded(
                f"org {org!r} would keep {mine} of the {self.queue} places in the {self.name} "
                f"queue, past one org's share of {self.share}, while other orgs use the pool; "
                "retry later",
                retry_after_s=self._retry_after(self.waiting),
                reason=ORG_SHARE_REASON,
            )
        raise ComputeOverloaded(
            f"all {self.workers} {self.name} workers are busy and "
            f"{self.waiting + self.held} requests are queued or held; retry later",
            retry_after_s=self._retry_after(self.waiting),
        )

    def _excess(self, org: str, count: int) -> list[_Waiter] | None:
        """``count`` waiting tasks of orgs other than ``org``, each past its org's share (the
        org furthest past it first, its newest task first), or None when fewer are there."""
        spare = {
            other: self._waiters.unheld_newest_first(other)[: load.queued - self.share]
            for other, load in self._loads.items()
            if other != org and load.queued > self.share
        }
        victims: list[_Waiter] = []
        while len(victims) < count:
            other = max(spare, key=lambda o: len(spare[o]), default=None)
            if other is None or not spare[other]:
                return None
            victims.append(spare[other].pop(0))
        return victims

    def _displace(self, waiter: _Waiter) -> None:
        load = self._loads[waiter.org]
        self._waiters.remove(waiter)
        waiter.state = "displaced"
        waiter.future.set_exception(
            ComputeOverloaded(
                f"org {waiter.org!r} kept {load.queued} of the {self.queue} places in the "
                f"{self.name} queue, past one org's share of {self.share}, and another org "
                "needed the room: its newest waiting task gave its place; retry later",
                retry_after_s=self._retry_after(self.waiting),
                reason=ORG_SHARE_REASON,
            )
        )
        self._add(waiter.org, waiting=-1)

    # -- held room ---------------------------------------------------------------------------

    def hold(self, org: str, n: int) -> None:
        """Keep room for ``n`` tasks of ``org`` (admitted as :meth:`admit` does)."""
        self.admit(org, n)
        self._add(org, held=n)

    def unhold(self, org: str, n: int) -> None:
        self._add(org, held=-n)

    def holds(self, org: str) -> bool:
        """Whether ``org`` has held room no task of its uses now."""
        load = self._loads.get(org)
        return load is not None and load.held > 0

    # -- slots -------------------------------------------------------------------------------

    async def acquire(self, org: str, *, held: bool) -> None:
        """Wait for a worker; ``held``: the task enters through ``org``'s held room (taken by
        :meth:`holds` having said so), else it is admitted here. A caller cancelled while it
        waits leaves the queue; a displaced one raises :class:`ComputeOverloaded`. Every return
        is paired with one :meth:`release`."""
        if held:
            self._add(org, held=-1)
        else:
            self.admit(org, 1)
        if self.running < self.workers and not self.waiting:
            self._add(org, running=1)
            self._waiters.served(org)
            return
        waiter = _Waiter(org, held, asyncio.get_running_loop().create_future())
        self._waiters.push(waiter)
        self._add(org, waiting=1)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.state == "granted":  # granted as it was cancelled: the slot goes on
                self.release(org, held=held)
            elif waiter.state == "waiting":
                self._waiters.remove(waiter)
                self._add(org, waiting=-1, held=int(held))
            raise

    def release(self, org: str, *, held: bool) -> None:
        """Give back a worker :meth:`acquire` gave (and the held room the task came through);
        the worker goes to the next org in turn."""
        self._add(org, running=-1, held=int(held))
        while (waiter := self._waiters.pop()) is not None:
            if waiter.future.done():  # cancelled and not yet resumed: it leaves now
                waiter.state = "left"
                self._add(waiter.org, waiting=-1, held=int(waiter.held))
                continue
            waiter.state = "granted"
            self._add(waiter.org, waiting=-1, running=1)
            waiter.future.set_result(None)
            return
