"""A service's own disk failing under it: full, or not writable. Plain Python: no gRPC here.

:func:`storage_failure` reads a store's exception (SQLite's SQLITE_FULL /
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
import sqlite3
from pathlib import Path

from mesh.runtime.exceptions import ResourceExhausted

__all__ = ["StorageFailure", "storage_failure"]

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
