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

Three more limits a host puts on a store read the same way (audit R49 F2-F4), each named with
the operator's fix instead of SQLite's "disk I/O error" / "unable to open database file" and
INTERNAL:

- the process's open-file limit (EMFILE/ENFILE; SQLITE_CANTOPEN while no descriptor is left):
  it clears as other calls end, so this one carries a RetryInfo (reason OPEN_FILE_LIMIT)
  and a retry is expected to succeed; the message names the limit and ``ulimit -n``;
- the file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past it fails EFBIG,
  which SQLite reports as an I/O error or a full disk): FILE_SIZE_LIMIT naming the file, the
  limit and ``ulimit -f`` (no RetryInfo: it stays until the operator raises the limit);
- SQLite's temporary-file directory (statement journals, temporary tables, sorts that spill:
  SQLITE_TMPDIR, else TMPDIR, else /var/tmp, /usr/tmp, /tmp), not the data dir, full or out of
  inodes: STORAGE_FULL naming that directory and SQLITE_TMPDIR. Temporary files stay where
  the operator's environment puts them: moving them into memory (``temp_store``) would hold a
  large deletion's statement journal or a VACUUM's copy in RAM.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from mesh.runtime.durable_files import NO_SPACE
from mesh.runtime.exceptions import ResourceExhausted

__all__ = [
    "OPEN_FILES_RETRY_S",
    "StorageFailure",
    "StorageUnwritable",
    "check_writable",
    "open_files_failure",
    "sqlite_temp_dir",
    "storage_failure",
]

_LOGGER = logging.getLogger(__name__)

# SQLite primary result codes (an extended code carries its primary one in the low byte).
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
# PostgreSQL's disk_full (class 53, insufficient resources), raised as psycopg.errors.DiskFull.
_PG_DISK_FULL = "53100"

_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_FD_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})
# Out of descriptors may clear between the failure and the look at it: this close to the limit
# counts as out. A file this close to the file-size limit is at it (SQLite writes whole pages,
# 64 KiB at most).
_FD_MARGIN = 8
_PAGE_MARGIN = 65_536
# A temporary-file directory with less than this free (or no inode) is full; the data dir
# must have at least as much for the temporary one to be blamed.
_ROOM_BYTES = 1 << 20
# When the open-file limit is hit, the caller may retry after this long (other calls end).
OPEN_FILES_RETRY_S = 2.0
# The same failure is logged once in this many seconds (a burst of calls meeting one limit).
_LOG_EVERY_S = 60.0
_logged: dict[str, float] = {}
_logged_lock = threading.Lock()
# An open-file limit under this is warned of at start (1024 is the common default).
_FEW_OPEN_FILES = 1024
_limits_warned = False


class StorageFailure(ResourceExhausted):
    """A write failed because the service's disk is full or cannot be written, or a limit the
    host puts on files was reached (open files, file size); nothing of the call was stored
    (the store rolled back), so re-sending it later is safe. ``retry_after_s`` is set only
    when the limit clears by itself (open files)."""

    default_reason = "STORAGE_FULL"


class StorageUnwritable(Exception):
    """Found at start: a data dir or store file this service cannot write (one line: the path
    and why)."""


def _kind(exc: BaseException, where: str | Path) -> str | None:
    """ "full", "read-only", "open-files", "file-size", "temp-full", or None for any other
    failure (``where``: the store's directory, to look at its files and free space)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if code is not None else None
        if primary == _SQLITE_READONLY:
            return "read-only"
        if primary in (_SQLITE_FULL, _SQLITE_IOERR) and _at_size_limit(where) is not None:
            return "file-size"
        if primary == _SQLITE_CANTOPEN and _out_of_descriptors():
            return "open-files"
        if primary in (_SQLITE_FULL, _SQLITE_CANTOPEN) and _temp_full(where):
            return "temp-full"
        return "full" if primary == _SQLITE_FULL else None
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in NO_SPACE:
            return "full"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read-only"
        if exc.errno in _FD_ERRNOS:
            return "open-files"
        if exc.errno == errno.EFBIG:
            return "file-size"
        return None
    if getattr(exc, "sqlstate", None) == _PG_DISK_FULL:
        return "full"
    return None


def _out_of_descriptors() -> bool:
    """Whether this process has (nearly) no file descriptor left: SQLite says only "unable to
    open database file", not why."""
    try:
        os.close(os.open(os.devnull, os.O_RDONLY))
        held = len(os.listdir("/proc/self/fd"))
    except OSError as exc:
        return exc.errno in _FD_ERRNOS
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft != resource.RLIM_INFINITY and held + _FD_MARGIN >= soft


def _size_limit() -> int | None:
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _at_size_limit(where: str | Path) -> Path | None:
    """A file of the store's directory at this process's file-size limit (None: no limit, or
    none there)."""
    limit = _size_limit()
    if limit is None or not str(where):  # no directory named: not the working one
        return None
    try:
        for file in Path(where).iterdir():
            if file.is_file() and file.stat().st_size + _PAGE_MARGIN >= limit:
                return file
    except OSError:
        pass
    return None


def sqlite_temp_dir() -> Path | None:
    """Where SQLite puts this process's temporary files: its own order (os_unix.c), the first
    writable directory of SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp."""
    for name in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"),
                 "/var/tmp", "/usr/tmp", "/tmp"):  # fmt: skip
        if name and os.path.isdir(name) and os.access(name, os.W_OK | os.X_OK):
            return Path(name)
    return None


def _room(path: str | Path) -> tuple[int, int, int] | None:
    """(device, free bytes, free inodes) of the file system holding ``path``; a file system
    without an inode count (btrfs says 0 of 0) has inodes to spare."""
    try:
        st = os.statvfs(path)
        inodes = st.f_favail if st.f_files else 1 << 32
        return os.stat(path).st_dev, st.f_bavail * st.f_frsize, inodes
    except OSError:
        return None


def _temp_full(where: str | Path) -> bool:
    """Whether the write failed in SQLite's temporary-file directory: on another file system
    than the store's, full (or out of inodes) while the store's has room."""
    temp = sqlite_temp_dir()
    here, there = _room(where), _room(temp) if temp is not None else None
    if here is None or there is None or here[0] == there[0]:
        return False
    return (there[1] < _ROOM_BYTES or there[2] == 0) and here[1] >= _ROOM_BYTES


def _words(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_files_failure(exc: BaseException, *, owner: str, lost: str) -> StorageFailure | None:
    """``exc``, or an exception it was raised from or during, as OPEN_FILE_LIMIT when it is
    this process out of file descriptors (EMFILE/ENFILE, or SQLite's "unable to open database
    file" while none is left); else None.

    For a failure nothing closer classified: a connection or file opened outside a store's
    statements (``sqlite3.connect``, a reader connection a new worker thread opens, a plain
    ``open``), which read INTERNAL before (R49-F2 covered only memory's Scan). Other kinds
    (a full disk) are left alone here: without the store's directory their words would name
    no place.

    The chain is followed through ``raise … from`` (its author names the cause) and through
    an OS or SQLite error met while handling another, never through any other error raised
    while handling one (a bug in an ``except OSError:`` fallback, or one raised ``from None``):
    that is the call's failure, INTERNAL with its traceback, not a retry (V1-F3)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        os_error = isinstance(cause, OSError | sqlite3.Error)
        if os_error and _kind(cause, "") == "open-files":
            return storage_failure(cause, "", owner=owner, lost=lost)
        if cause.__cause__ is not None:
            cause = cause.__cause__
        elif os_error and not cause.__suppress_context__:
            cause = cause.__context__
        else:
            cause = None
    return None


def storage_failure(
    exc: BaseException, where: str | Path, *, owner: str, lost: str, log: bool = True
) -> StorageFailure | None:
    """``exc`` as a :class:`StorageFailure` when it is a full or unwritable disk (or one of
    the host's limits on files: the module's docstring), else None.

    ``where``: the data dir (or store) the write went to; ``owner``: whose disk ("memory");
    ``lost``: what the caller lost and how to re-send it ("the batch was not stored — retry
    it"). Logs one ERROR line (no traceback: the cause is known), once a minute at most for
    the same words; ``log=False`` for a caller that logs the failure in words of its own.
    """
    kind = _kind(exc, where)
    if kind is None:
        return None
    words = _words(exc)
    retry_after_s: float | None = None
    reason = "STORAGE_FULL"
    if kind == "full":
        message = f"{owner}'s disk is full at {where} ({words}); {lost} after freeing space"
    elif kind == "read-only":
        message = (
            f"{owner} cannot write {where} ({words}: the disk or the directory is read-only); "
            f"{lost} once it is writable again"
        )
        reason = "STORAGE_READ_ONLY"
    elif kind == "open-files":
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        nofile = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft:,}"
        message = (
            f"{owner} is out of file descriptors ({words}; its open-file limit is {nofile}); "
            f"{lost} in a few seconds, as other calls end; if it recurs, raise {owner}'s "
            "open-file limit (ulimit -n, systemd LimitNOFILE=)"
        )
        reason = "OPEN_FILE_LIMIT"
        retry_after_s = OPEN_FILES_RETRY_S
    elif kind == "file-size":
        file = _at_size_limit(where) or getattr(exc, "filename", None) or where
        fsize = _size_limit()
        size = f"{fsize:,} bytes" if fsize is not None else "the file system's largest file"
        message = (
            f"{owner}'s file {file} reached the file-size limit ({size}: {words}); {lost} "
            f"after raising {owner}'s file-size limit (ulimit -f unlimited, systemd "
            "LimitFSIZE=infinity, or prlimit --fsize on the running process)"
        )
        reason = "FILE_SIZE_LIMIT"
    else:
        temp = sqlite_temp_dir()
        message = (
            f"{owner}'s temporary-file directory {temp} is full ({words}; SQLite's temporary "
            f"files go there, not to the data dir {where}, which has room); {lost} after "
            "freeing space there, or point SQLITE_TMPDIR at a directory with room (the data "
            f"dir will do) and restart {owner}"
        )
    if log:
        _log_once(message)
    return StorageFailure(message, reason=reason, retry_after_s=retry_after_s)


def _log_once(message: str) -> None:
    now = time.monotonic()
    with _logged_lock:
        if now - _logged.get(message, -_LOG_EVERY_S) < _LOG_EVERY_S:
            return
        _logged[message] = now
        if len(_logged) > 256:  # bounded: only recent lines matter
            for old in [m for m, t in _logged.items() if now - t >= _LOG_EVERY_S]:
                del _logged[old]
    _LOGGER.error("%s", message)


def _warn_limits() -> None:
    """Once per process: a WARNING for a finite file-size limit (the stores stop growing at
    it) and for an open-file limit under :data:`_FEW_OPEN_FILES` (each Scan's snapshot, each
    worker thread's reader and each client's socket takes descriptors), each with its value
    and how to raise it: found at start, not at the first refused call."""
    global _limits_warned
    with _logged_lock:
        if _limits_warned:
            return
        _limits_warned = True
    fsize = _size_limit()
    if fsize is not None:
        _LOGGER.warning(
            "this process may write files of at most %s bytes (RLIMIT_FSIZE): a store that "
            "reaches it refuses writes; raise it (ulimit -f unlimited, systemd "
            "LimitFSIZE=infinity) unless that is meant", f"{fsize:,}",
        )  # fmt: skip
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile != resource.RLIM_INFINITY and nofile < _FEW_OPEN_FILES:
        _LOGGER.warning(
            "this process may hold %d open files (RLIMIT_NOFILE), under %d: concurrent Scans "
            "and clients may be refused for it; raise it (ulimit -n, systemd LimitNOFILE=)",
            nofile, _FEW_OPEN_FILES,
        )  # fmt: skip


def check_writable(directory: Path, files: tuple[Path, ...] = ()) -> None:
    """Create ``directory`` if missing and prove it can be written (a probe file created,
    written, fsynced and removed), and that each existing file of ``files`` may be written;
    :class:`StorageUnwritable` naming the path and the OS's words otherwise. The first call
    in a process also warns of a small open-file or file-size limit (:func:`_warn_limits`).

    A process running as root writes whatever a file's mode says, so the probe catches a
    read-only mount (EROFS) for it, and a directory or file it lacks permission on for anyone
    else."""
    _warn_limits()
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
