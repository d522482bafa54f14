"""One Scan, one snapshot: a Scan's pages are read in one read transaction of the store, so a
write that commits between two pages is in none of them (audit R24-F3: a stream spanning a
restatement returned part old, part new versions — a state of the org that never existed).

A snapshot pins what it reads in the store (SQLite: the WAL cannot be checkpointed past the
snapshot's start and grows with the writes made meanwhile; PostgreSQL: vacuum keeps the rows
it may read), so it is bounded: a snapshot lives ``lifetime_s`` at most — past it, a
background thread ends it even while its Scan's client is not reading (a stalled reader), and
the Scan's next page fails :class:`ScanSnapshotExpired` (retryable) instead of reading on from
a newer state. At most ``max_open`` are open at once (each holds a connection); beyond that a
Scan is refused :class:`ScanSnapshotsBusy`. A page reads at most a page's bytes
(``memory_svc.scan_replies``), so what a stalled Scan pins in memory stays bounded as before
(audit R14-F3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from memory_svc.store import ReadTransaction, RecordFilter, ScanRow
from mesh.runtime.config import org_share
from mesh.runtime.exceptions import ResourceExhausted

__all__ = [
    "SCAN_SNAPSHOTS",
    "SCAN_SNAPSHOT_IDLE_S",
    "SCAN_SNAPSHOT_S",
    "ScanSnapshot",
    "ScanSnapshotExpired",
    "ScanSnapshots",
    "ScanSnapshotsBusy",
]

# How long one Scan may read from its snapshot. A full scan of a 200k-record org takes a few
# seconds (docs/performance.md); a reader this much slower is stalled, and meanwhile the
# store keeps every version written since the snapshot began.
SCAN_SNAPSHOT_S = 120.0
# Snapshots open at once (a connection each; PostgreSQL: budget them, docs/deploy.md).
SCAN_SNAPSHOTS = 32
# How long a snapshot may wait for its next page to be pulled. The server reads a page when
# gRPC has sent the one before, so a gap this long is a reader that stopped, not a slow one:
# four of causal's readers (MemoryReader.scan_frame, each reply decoded on a thread) scanning
# a 100k-record org at once, with three busy processes on two cores, waited at most 3.6 s
# between pages (median 0.6 s; 2026-12-07, /work/notes/s20/FC_notes.md). The lifetime bounds
# a slow full read; this lets a stalled reader's place go within a quarter of it.
SCAN_SNAPSHOT_IDLE_S = 30.0


class ScanSnapshotExpired(ResourceExhausted):
    """The Scan outlived its snapshot: the rest cannot come from the state it began in."""

    default_reason = "SCAN_SNAPSHOT_EXPIRED"


class ScanSnapshotsBusy(ResourceExhausted):
    """Every snapshot a process may hold is held by an open Scan (SCAN_SNAPSHOTS_EXHAUSTED),
    or the org's own Scans hold its share of them (SCAN_ORG_SHARE_EXHAUSTED)."""

    default_reason = "SCAN_SNAPSHOTS_EXHAUSTED"


class ScanSnapshot:
    """One Scan's pages from one read transaction. Thread-safe: pages run on worker threads,
    :meth:`close` on the event loop, :meth:`expire` on the reaper."""

    def __init__(
        self, org_id: str, txn: ReadTransaction, deadline: float, lifetime_s: float,
        gone: Callable[[ScanSnapshot], None], idle_s: float | None = None,
    ) -> None:  # fmt: skip
        self.org_id = org_id
        self.deadline = deadline
        self._lifetime_s = lifetime_s
        # None: only the lifetime bounds it; one at least as long as the lifetime never acts
        self._idle_s = idle_s if idle_s is not None and idle_s < lifetime_s else None
        self._last_page = time.monotonic()  # when the last page was read (or the snapshot began)
        self._idled = False  # ended for want of a reader, not for its lifetime
        self._txn: ReadTransaction | None = txn
        self._gone = gone
        self._lock = threading.Lock()
        self._closing = False

    def page(
        self,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        max_bytes: int | None,
    ) -> list[ScanRow]:
        with self._lock:
            if self._txn is not None and self._due(time.monotonic()):
                self._end()
            if self._txn is None:
                raise self._expired()
            try:
                return self._txn.scan_page(flt, after, limit, with_embeddings, max_bytes)
            finally:
                self._last_page = time.monotonic()
                if self._closing:  # closed while this page was read
                    self._end()

    def _due(self, now: float) -> bool:
        """Whether the snapshot is past its lifetime, or waited ``idle_s`` for a page."""
        if now > self.deadline:
            return True
        if self._idle_s is not None and now - self._last_page > self._idle_s:
            self._idled = True
            return True
        return False

    def _expired(self) -> ScanSnapshotExpired:
        if self._idled:
            assert self._idle_s is not None
            return ScanSnapshotExpired(
                f"this Scan of org {self.org_id!r} was ended because no page of it was read "
                f"for {self._idle_s:g} s (a reader that stops keeps the store from cleaning "
                "up and holds one of the org's Scans), so the rest of it cannot come from "
                "the state it began in: scan again, reading the replies as they come",
                retry_after_s=1.0,
            )
        return ScanSnapshotExpired(
            f"this Scan of org {self.org_id!r} read for longer than the "
            f"{self._lifetime_s:g} s its snapshot is kept "
            "(LIFTOS_MEMORY_SCAN_SNAPSHOT_S), so the rest of it cannot come from the "
            "state it began in: scan again, reading the replies as they come",
            retry_after_s=1.0,
        )

    def expire(self, now: float) -> None:
        """End the snapshot if it is past its deadline, or no page was read from it for
        ``idle_s``, and no page is being read."""
        if self._lock.acquire(blocking=False):
            try:
                if self._txn is not None and self._due(now):
                    self._end()
            finally:
                self._lock.release()

    def close(self) -> None:
        """End the snapshot now, or after the page being read (never waits for it)."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._end()
            finally:
                self._lock.release()

    def __enter__(self) -> ScanSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _end(self) -> None:
        txn, self._txn = self._txn, None
        if txn is not None:
            try:
                txn.end()
            finally:
                self._gone(self)


class ScanSnapshots:
    """The snapshots a store's Scans hold: opened by ``begin(org_id)``, counted against
    ``max_open`` and against the org's share of it (``org_share``), ended past
    ``lifetime_s``, or after ``idle_s`` without a page read, by a reaper thread (started with
    the first)."""

    def __init__(
        self, begin: Callable[[str], ReadTransaction], lifetime_s: float, max_open: int,
        *, idle_s: float | None = None,
    ) -> None:  # fmt: skip
        """``idle_s``: None for ``SCAN_SNAPSHOT_IDLE_S`` (read now, so a test may set it)."""
        self._begin = begin
        self.lifetime_s = lifetime_s
        self.max_open = max_open
        self.org_share = org_share(max_open)
        self.idle_s = SCAN_SNAPSHOT_IDLE_S if idle_s is None else idle_s
        self._open: set[ScanSnapshot] = set()
        self._starting = 0
        self._by_org: dict[str, int] = {}  # open and starting, per org with any
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def open(self, org_id: str) -> ScanSnapshot:
        with self._lock:
            held = self._by_org.get(org_id, 0)
            if held >= self.org_share:
                # the share is checked first: the org is told what it holds, not that the
                # process is full, which retrying would not change while its own are open
                raise ScanSnapshotsBusy(
                    f"org {org_id!r} has {held} Scans reading at once, its share of this "
                    f"memory process's {self.max_open} snapshots (a quarter of "
                    "LIFTOS_MEMORY_SCAN_SNAPSHOTS; the rest are kept for other orgs): read "
                    "or cancel the org's open Scans, then retry",
                    retry_after_s=1.0,
                    # its own reason: the org's own Scans are what to end; other orgs' are served
                    reason="SCAN_ORG_SHARE_EXHAUSTED",
                )
            if len(self._open) + self._starting >= self.max_open:
                raise ScanSnapshotsBusy(
                    f"{self.max_open} Scans are reading at once from this memory process, "
                    "each from a snapshot of its own (LIFTOS_MEMORY_SCAN_SNAPSHOTS): retry "
                    "when one has ended",
                    retry_after_s=1.0,
                )
            self._starting += 1  # its place kept while it begins (a connection may open)
            self._by_org[org_id] = held + 1
        try:
            txn = self._begin(org_id)
        except BaseException:
            with self._lock:
                self._starting -= 1
                self._release(org_id)
            raise
        deadline = time.monotonic() + self.lifetime_s
        snapshot = ScanSnapshot(
            org_id, txn, deadline, self.lifetime_s, self._forget, idle_s=self.idle_s
        )
        with self._lock:
            self._starting -= 1
            self._open.add(snapshot)
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=self._reap, name="scan-snapshots", daemon=True
                )
                self._reaper.start()
        return snapshot

    def held(self) -> int:
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """End every snapshot (the store is closing) and stop the reaper."""
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join()
        with self._lock:
            snapshots = list(self._open)
        for snapshot in snapshots:
            snapshot.close()

    def _forget(self, snapshot: ScanSnapshot) -> None:
        with self._lock:
            if snapshot in self._open:
                self._open.discard(snapshot)
                self._release(snapshot.org_id)

    def _release(self, org_id: str) -> None:
        """One place of ``org_id`` given back (under ``_lock``)."""
        left = self._by_org[org_id] - 1
        if left:
            self._by_org[org_id] = left
        else:
            del self._by_org[org_id]

    def _reap(self) -> None:
        # checked a few times per lifetime (and per idle bound): a stalled snapshot is ended
        # within ~1.1 of either
        interval = min(1.0, self.lifetime_s / 10, self.idle_s / 10)
        while not self._stop.wait(interval):
            with self._lock:
                snapshots = list(self._open)
            now = time.monotonic()
            for snapshot in snapshots:
                snapshot.expire(now)
