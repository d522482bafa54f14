"""The batch ledger: every acked batch id with the ack that was sent, so a re-sent batch is
answered from here without touching the memory service again; and the batch ids being
written now, so two calls never write one batch id at once.

A batch id is *reserved* (org, batch id, fingerprint of the request) in one transaction
before the batch is staged: a second call with the id finds either the ack (a replay, or
BATCH_ID_REUSED when its rows differ) or the reservation (refused at once when its rows
differ; told to wait for the first's answer when they are the same). An ack is written only
after the batch's records are durable in memory and just before it leaves, and it replaces
the reservation in the same transaction. A batch that fails (memory down, the call
cancelled) releases its reservation, so its retry runs in full — memory's idempotency by id
and version makes that retry write nothing twice. The ack is stored as opaque bytes (the
servicer's serialised message) beside the fingerprint, so reusing a batch id for different
rows is caught.

Replicas of the service share the ledger file (``liftos serve --replicas``, or replicas on
several hosts or containers sharing the data dir): a reservation names its owner's ledger
instance, and one whose instance is gone (killed mid-batch, no chance to release) is taken
over by the next call that needs the id. An instance holds a *lease* in the file, renewed
every few seconds by a thread of its own and dropped when it closes: an instance is gone
when its lease has lapsed, whatever host it ran on — a pid means nothing on another host or
in another pid namespace (a container's pid 1 is alive in every container), so the kernel is
asked about the pid only when the instance ran in this pid namespace of this boot (a kill -9
is then seen at once). Hosts sharing the file must keep their clocks within the lease.

Each :meth:`BatchLedger.forget` (records of the org deleted from memory) also moves the org's
*generation*. A stream reads it before each batch (its history of the org's stored records is
dropped when it moved: those records may be gone) and an ack is kept only under the generation
its batch began in, in the same transaction as the forget reads it: a batch staged against
what memory held before the delete is answered, but never replayed. Replicas sharing the file
see the same generation. Forget does not wait for batches being written: a stream of the org
may hold its batch for as long as its client takes, and replicas' batches cannot be waited on.

A release that fails (a full disk) leaves the reservation with its live owner: it is kept in
this process as abandoned, so a retry here takes the id over at once, and the lease thread
retries the release until it succeeds, so other replicas see the id free then.

The lease thread outlives any failure of the ledger's file (a full disk raises
``StorageFailure``, not ``sqlite3.Error``: it used to end the thread for the life of the
process, audit R49-F1), logging once per outage and once when renewals work again. While the
lease cannot be renewed it lapses for the other replicas, which may then take this process's
reserved ids over; this process's own calls never do (its open ledgers are alive to it,
whatever the file says), a reservation made after a lapse renews the lease in its own
transaction, and an ack is recorded only while no other call holds or acked the id for a
different request: a batch whose id was taken over meanwhile is refused BATCH_ID_REUSED, not
acked beside the other call's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ingestion_svc import batch_parts
from ingestion_svc.errors import BatchIdReused
from mesh.runtime.sqlite_db import LockedSQLite
from mesh.runtime.storage import StorageFailure

__all__ = ["LEASE_S", "BatchLedger", "InFlight", "LedgerEntry", "host_key"]

_LOGGER = logging.getLogger(__name__)
# How long an instance's lease lasts, and how often the holder renews it.
LEASE_S = 30.0
_RENEW_FRACTION = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    org_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ack BLOB NOT NULL,
    acked_at_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, batch_id)
);
CREATE TABLE IF NOT EXISTS reservations (
    org_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    owner TEXT NOT NULL,
    reserved_at_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, batch_id)
);
CREATE TABLE IF NOT EXISTS forgets (
    org_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
    instance TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    lease_until_us INTEGER NOT NULL
);
"""

# Ledgers open in this process ("pid:uuid"): a reservation of this pid by any other is left
# from an earlier run of a process that had our pid (a restarted container's pid 1).
_OPEN: set[str] = set()
# Reservations (org, batch id, owner) of this process whose release failed: dead here.
_ABANDONED: set[tuple[str, str, str]] = set()
_OPEN_LOCK = threading.Lock()


def host_key() -> str:
    """This kernel boot and pid namespace: where a pid can be asked about (hostname where
    /proc does not say)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return socket.gethostname()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A batch acked before: the request's fingerprint and the ack sent."""

    fingerprint: str
    ack: bytes


@dataclass(frozen=True, slots=True)
class InFlight:
    """A batch id another call is writing now: the fingerprint of its request, and who holds
    it since when (for saying so)."""

    fingerprint: str
    owner: str = field(default="", compare=False)
    reserved_at_us: int = field(default=0, compare=False)


class BatchLedger(LockedSQLite):
    """SQLite-backed (WAL, synchronous=FULL); safe to call from worker threads.

    ``lease_s`` is how long this instance's lease lasts without renewal (tests shorten it)."""

    def __init__(self, path: Path, *, lease_s: float = LEASE_S) -> None:
        super().__init__(path, _SCHEMA)
        self._instance = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._host = host_key()
        self._lease_s = lease_s
        self._lease_until_us = 0  # as last written to the file (under self._lock)
        with _OPEN_LOCK:
            _OPEN.add(self._instance)
        with self._lock:
            self._lease_until_us = self._renew()
            stale = [
                owner
                for (owner,) in self._db.execute("SELECT DISTINCT owner FROM reservations")
                if self._dead(owner)
            ]
            self._db.executemany("DELETE FROM reservations WHERE owner = ?", [(o,) for o in stale])
            self._db.execute(
                "DELETE FROM instances WHERE lease_until_us < ?", (_now_us() - 3_600_000_000,)
            )
        self._stop = threading.Event()
        self._leases = threading.Thread(target=self._hold_lease, name="ledger-lease", daemon=True)
        self._leases.start()

    def owner(self, caller: str) -> str:
        """The owner name a reservation of ``caller`` (e.g. one Ingest stream) carries."""
        return f"{self._instance}:{caller}"

    def close(self) -> None:
        self._stop.set()
        self._leases.join()
        with _OPEN_LOCK:
            _OPEN.discard(self._instance)
        with self._lock, contextlib.suppress(sqlite3.Error, StorageFailure):
            # gone now, not when the lease lapses (a failure here: when it lapses)
            self._db.execute("DELETE FROM instances WHERE instance = ?", (self._instance,))
        super().close()

    def _renew(self) -> int:
        """Extend this instance's lease (under ``self._lock``); returns its new end, for the
        caller to keep once the write is committed."""
        until = _now_us() + int(self._lease_s * 1e6)
        self._db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?)",
            (self._instance, self._host, until),
        )
        return until

    def _hold_lease(self) -> None:
        """Renew the lease, and retry the releases that failed, until the ledger closes.
        Whatever a try raises (a full disk's ``StorageFailure``, an I/O error), the thread
        goes on: the lease and the abandoned reservations depend on it alone."""
        failing_since: float | None = None
        while not self._stop.wait(self._lease_s / _RENEW_FRACTION):
            try:
                with self._lock:
                    self._lease_until_us = self._renew()
            except Exception as error:
                if failing_since is None:  # once per outage, not every few seconds
                    failing_since = time.monotonic()
                    _LOGGER.error(
                        "ingestion's batch ledger could not renew its lease (%s); tried again "
                        "every %.0f s. Once it lapses (%.0f s) other replicas sharing the "
                        "ledger may take over batch ids this process is writing: such a batch "
                        "is then refused BATCH_ID_REUSED instead of acked",
                        error, self._lease_s / _RENEW_FRACTION, self._lease_s,
                    )  # fmt: skip
            else:
                if failing_since is not None:
                    _LOGGER.warning(
                        "ingestion's batch ledger renewed its lease again after %.0f s",
                        time.monotonic() - failing_since,
                    )
                failing_since = None
            with _OPEN_LOCK:
                mine = [a for a in _ABANDONED if a[2].startswith(self._instance + ":")]
            for org_id, batch_id, owner in mine:
                # still abandoned while it fails: the next round tries again
                with contextlib.suppress(Exception):
                    self.release(org_id, batch_id, owner)

    def abandon(self, org_id: str, batch_id: str, owner: str) -> None:
        """Give up a reservation whose :meth:`release` failed: taken over by the next call
        here at once, and released by the lease thread once the ledger can be written."""
        with _OPEN_LOCK:
            _ABANDONED.add((org_id, batch_id, owner))

    def get(self, org_id: str, batch_id: str) -> LedgerEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, ack FROM batches WHERE org_id = ? AND batch_id = ?",
                (org_id, batch_id),
            ).fetchone()
        return LedgerEntry(row[0], bytes(row[1])) if row else None

    def reserve(
        self, org_id: str, batch_id: str, fingerprint: str, owner: str
    ) -> LedgerEntry | InFlight | None:
        """Reserve the batch id for ``owner`` (:meth:`owner`), in one transaction: None when
        it is now reserved; the ack when the id was acked before; :class:`InFlight` when
        another call holds it (``owner`` itself included: a stream that sends one batch
        twice)."""
        with self._transaction():  # other processes wait: one reserves
            # a lease that lapsed (renewals failed) is renewed with the reservation, so no
            # replica takes over an id reserved from now on
            renewed = self._renew() if self._lease_until_us <= _now_us() else None
            seen = self._reserve(org_id, batch_id, fingerprint, owner)
        if renewed is not None:
            self._lease_until_us = renewed
        return seen

    def _reserve(
        self, org_id: str, batch_id: str, fingerprint: str, owner: str
    ) -> LedgerEntry | InFlight | None:
        key = (org_id, batch_id)
        row = self._db.execute(
            "SELECT fingerprint, ack FROM batches WHERE org_id = ? AND batch_id = ?", key
        ).fetchone()
        if row is not None:
            return LedgerEntry(row[0], bytes(row[1]))
        held = self._db.execute(
            "SELECT fingerprint, owner, reserved_at_us FROM reservations "
            "WHERE org_id = ? AND batch_id = ?",
            key,
        ).fetchone()
        if held is not None:
            with _OPEN_LOCK:
                abandoned = (*key, held[1]) in _ABANDONED
                _ABANDONED.discard((*key, held[1]))
            if not abandoned and not self._dead(held[1]):
                return InFlight(held[0], held[1], int(held[2]))
        self._db.execute(
            "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?)",
            (*key, fingerprint, owner, int(time.time() * 1e6)),
        )
        return None

    def release(self, org_id: str, batch_id: str, owner: str) -> None:
        """Give up ``owner``'s reservation of a batch id that was not acked (nothing when
        it holds none)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM reservations WHERE org_id = ? AND batch_id = ? AND owner = ?",
                (org_id, batch_id, owner),
            )
        with _OPEN_LOCK:
            _ABANDONED.discard((org_id, batch_id, owner))

    def put(
        self,
        org_id: str,
        batch_id: str,
        fingerprint: str,
        ack: bytes,
        generation: int | None = None,
    ) -> bool:
        """Record an ack (a second put of the same batch keeps the first), ending the batch
        id's reservation. With ``generation`` (:meth:`generation` when the batch began), an
        ack is not recorded when the org's acks were forgotten since: the batch read records
        a delete removed, so a re-send must run again. Returns whether the ack is kept.

        Raises :class:`BatchIdReused` when another call holds or acked the id for a different
        request: it took the id over while this instance's lease had lapsed, and only one of
        the two may be acked."""
        with self._transaction() as db:
            self._check_owned(org_id, batch_id, fingerprint)
            db.execute(
                "DELETE FROM reservations WHERE org_id = ? AND batch_id = ?", (org_id, batch_id)
            )
            if generation is not None and generation != self._generation(org_id):
                return False
            db.execute(
                "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?)",
                (org_id, batch_id, fingerprint, ack, int(time.time() * 1e6)),
            )
            return True

    def _check_owned(self, org_id: str, batch_id: str, fingerprint: str) -> None:
        """Refuse an ack for a batch id another request holds or was acked for (called in
        :meth:`put`'s transaction, so no takeover lands between this and the ack)."""
        key = (org_id, batch_id)
        acked = self._db.execute(
            "SELECT fingerprint FROM batches WHERE org_id = ? AND batch_id = ?", key
        ).fetchone()
        held = self._db.execute(
            "SELECT fingerprint, owner FROM reservations WHERE org_id = ? AND batch_id = ?", key
        ).fetchone()
        if acked is not None and not batch_parts.same(acked[0], fingerprint):
            done, by = "was acked meanwhile", "another call"
        elif held is not None and not batch_parts.same(held[0], fingerprint):
            done, by = "is being written", f"another call ({held[1]})"
        else:
            return
        _LOGGER.error(
            "batch %r of org %r %s by %s for different rows, taken over while this "
            "instance's ledger lease had lapsed: this call's rows are not acked",
            batch_id, org_id, done, by,
        )  # fmt: skip
        raise BatchIdReused(
            f"batch {batch_id!r} {done} for different rows by {by}, which took the id over "
            "while this ingestion server could not renew its ledger lease; this call's rows "
            "reached memory but are not acked: send them again with a new batch_id",
            resource_type="liftos.v1.IngestRequest",
            resource_name=f"orgs/{org_id}/batches/{batch_id}",
        )

    def forget(self, org_id: str) -> int:
        """Drop the org's acks (records of it were deleted from memory: a batch sent again
        must be written again, not replayed) and move its generation, so the acks of batches
        being written now are not kept either (:meth:`put`) and open streams drop what they
        loaded of the org; reservations stay with their calls. Returns how many acks went."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO forgets VALUES (?, 1) "
                "ON CONFLICT (org_id) DO UPDATE SET generation = generation + 1",
                (org_id,),
            )
            gone = db.execute("DELETE FROM batches WHERE org_id = ?", (org_id,)).rowcount
        if gone:  # an erasure: the acks (batch ids, counts) leave the files too
            self._erased()
        return int(gone)

    def generation(self, org_id: str) -> int:
        """How many times the org's acks were forgotten (0: never)."""
        with self._lock:
            return self._generation(org_id)

    def _generation(self, org_id: str) -> int:
        row = self._db.execute(
            "SELECT generation FROM forgets WHERE org_id = ?", (org_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def count(self, org_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM batches WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(n)

    def _dead(self, owner: str) -> bool:
        """Whether the ledger instance that wrote a reservation ("pid:uuid:caller") is gone:
        closed or its lease lapsed, or (same boot and pid namespace) its pid has ended.
        Called under ``self._lock``."""
        pid_text, _, rest = owner.partition(":")
        instance = f"{pid_text}:{rest.partition(':')[0]}"
        try:
            pid = int(pid_text)
        except ValueError:
            return True
        if pid == os.getpid():
            # this process's own ledgers: alive while open, whatever their lease says (one
            # whose renewals fail is alive all the same: R49-F1 took its batches over)
            with _OPEN_LOCK:
                if instance in _OPEN:
                    return False
        row = self._db.execute(
            "SELECT host, lease_until_us FROM instances WHERE instance = ?", (instance,)
        ).fetchone()
        if row is None or row[1] < _now_us():
            return True
        if row[0] != self._host:
            return False  # another host's or namespace's pid: its lease says it is alive
        if pid == os.getpid():
            with _OPEN_LOCK:
                return instance not in _OPEN
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


def _now_us() -> int:
    return int(time.time() * 1e6)
