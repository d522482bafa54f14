"""A service's own disk failing under it: full, or not writable. Plain Python: no gRPC here.

Two moments, two answers:

- at start, :func:`check_writable` probes a data dir (and a store's files) and raises
  :class:`StorageUnwritable` with one line — the path and the OS's words — which
  ``mesh.runtime.main`` turns into an exit, not a traceback: a replica that cannot write must
  not report SERVING and take traffic (audit R19-F-RO);
- at run time, :func:`storage_failure` reads a store's exception (SQLite's SQLITE_FULL /
  SQLITE_READONLY, an OSError ENOSPC / EDQUOT / EROFS / EACCES, PostgreSQL's SQLSTATE 53100
  disk_full) as :class:`StorageFailure`, which callers get as RESOURCE_EXHAUSTED naming the
  path and saying that nothing was stored and the call may be re-sent once space is freed
  (audit R19-F-DISKFULL; before, INTERNAL "internal error").

Why RESOURCE_EXHAUSTED: google.rpc's code.proto gives it for "the entire file system is out of
space". No RetryInfo: the same call cannot succeed until someone frees space (or makes the disk
writable again), so clients must not retry on their own, and a peer passes memory's words on
(ingestion's MEMORY_REFUSED quotes them) instead of folding them into "memory unavailable".
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import uuid
from pathlib import Path

from mesh.runtime.exceptions import ResourceExhausted

__all__ = ["StorageFailure", "StorageUnwritable", "check_writable", "storage_failure"]

_LOGGER = logging.getLogger(__name__)

# SQLite primary result codes (an extended code carries its primary one in the low byte).
_SQLITE_READONLY = 8
_SQLITE_FULL = 13
# PostgreSQL's disk_full (class 53, insufficient resources), raised as psycopg.errors.DiskFull.
_PG_DISK_FULL = "53100"

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class StorageFailure(ResourceExhausted):
    """A write failed because the service's disk is full or cannot be written; nothing of the
    call was stored (the store rolled back), so re-sending it later is safe."""

    default_reason = "STORAGE_FULL"


class StorageUnwritable(Exception):
    """Found at start: a data dir or store file this service cannot write (one line: the path
    and why)."""


def _kind(exc: BaseException) -> str | None:
    """ "full", "read-only", or None for any other failure."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            primary = code & 0xFF
            if primary == _SQLITE_FULL:
                return "full"
            if primary == _SQLITE_READONLY:
                return "read-only"
        return None
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL_ERRNOS:
            return "full"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read-only"
        return None
    if getattr(exc, "sqlstate", None) == _PG_DISK_FULL:
        return "full"
    return None


def _words(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def storage_failure(
    exc: BaseException, where: str | Path, *, owner: str, lost: str
) -> StorageFailure | None:
    """``exc`` as a :class:`StorageFailure` when it is a full or unwritable disk, else None.

    ``where``: the data dir (or store) the write went to; ``owner``: whose disk ("memory");
    ``lost``: what the caller lost and how to re-send it ("the batch was not stored — retry
    it"). Logs one ERROR line (no traceback: the cause is known).
    """
    kind = _kind(exc)
    if kind is None:
        return None
    words = _words(exc)
    if kind == "full":
        message = f"{owner}'s disk is full at {where} ({words}); {lost} after freeing space"
        reason = "STORAGE_FULL"
    else:
        message = (
            f"{owner} cannot write {where} ({words}: the disk or the directory is read-only); "
            f"{lost} once it is writable again"
        )
        reason = "STORAGE_READ_ONLY"
    _LOGGER.error("%s", message)
    return StorageFailure(message, reason=reason)


def check_writable(directory: Path, files: tuple[Path, ...] = ()) -> None:
    """Create ``directory`` if missing and prove it can be written (a probe file created,
    written, fsynced and removed), and that each existing file of ``files`` may be written;
    :class:`StorageUnwritable` naming the path and the OS's words otherwise.

    A process running as root writes whatever a file's mode says, so the probe catches a
    read-only mount (EROFS) for it, and a directory or file it lacks permission on for anyone
    else."""
    probe = directory / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as exc:
        path = exc.filename if isinstance(exc.filename, str) else str(directory)
        if path == str(probe):
            path = str(directory)
        raise StorageUnwritable(f"cannot write {path}: {_words(exc)}") from None
    for file in files:
        # access(2), not open: opening and closing a database file this process already has
        # open would drop its POSIX locks on it (mesh.runtime.sqlite_db)
        if file.exists() and not os.access(file, os.W_OK):
            raise StorageUnwritable(f"cannot write {file}: the file is read-only to this user")
