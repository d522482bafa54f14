"""The SQLite store's checkpointer: a thread that copies WAL pages into the database file.

Off the write path: with SQLite's default of a checkpoint inside any commit that takes the WAL
past 1,000 pages, nearly every 1,000-record Write paid for one; a page changed by several
commits between two checkpoints is also copied once.

A checkpoint that fails (the disk full, an I/O error) is logged and tried again: the thread
used to die on its first error and was never restarted, so after space returned the WAL grew
until the writer's own backstop checkpoint (audit R19-F-DISKFULL: 182 MB). One line when
checkpoints start failing and one when they work again, not one per round; while they fail the
rounds space out, doubling up to a minute (a file at the file-size limit fails every round
until someone raises it: R49-F3), and start again at the interval once one succeeds.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from mesh.runtime.storage import storage_failure

__all__ = ["Checkpointer"]

_LOGGER = logging.getLogger(__name__)
# The longest pause between failing checkpoints, and at most this many intervals.
_BACKOFF_S = 60.0
_BACKOFF_ROUNDS = 64


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection (``connect()``) every
    ``interval_s()`` seconds until :meth:`stop`; ``rounds`` counts the checkpoints that
    succeeded, ``failures`` those that did not."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], interval_s: Callable[[], float], name: str
    ) -> None:
        self._connect = connect
        self._interval_s = interval_s
        self._name = name
        self._stop = threading.Event()
        self.rounds = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        db = self._connect()
        failing = False
        pause = self._interval_s()
        try:
            while not self._stop.wait(pause):
                interval = self._interval_s()
                try:
                    # PASSIVE: never blocks the writer or readers; pages a reader still needs
                    # wait for the next round.
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception as exc:  # the disk full, an I/O error: try again next round
                    self.failures += 1
                    if not failing:
                        _LOGGER.error(
                            "checkpointing %s failed (%s); the WAL grows until a checkpoint "
                            "succeeds, tried again (every round at first, then less often "
                            "up to once a minute while it fails)",
                            self._name, self._cause(exc),
                        )  # fmt: skip
                    failing = True
                    pause = min(
                        2 * pause, max(interval, min(_BACKOFF_S, _BACKOFF_ROUNDS * interval))
                    )
                    continue
                self.rounds += 1
                if failing:
                    _LOGGER.warning("checkpointing %s works again", self._name)
                failing = False
                pause = interval
        finally:
            db.close()

    def _cause(self, exc: Exception) -> str:
        """A failure in the operator's terms where it is a disk's or a limit's (the file-size
        limit reads "disk I/O error" from SQLite), else SQLite's words."""
        store = Path(self._name)
        failure = storage_failure(
            exc, store.parent, owner=store.parent.name or "the store", log=False,
            lost="the checkpoint succeeds",
        )  # fmt: skip
        return failure.message if failure is not None else str(exc)
