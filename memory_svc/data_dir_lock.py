"""Who may open a memory data dir: one process at a time, a server or a bulk import.

Two servers on one data dir would each keep their own FAISS indexes of the same records in
the same ``memory/index`` directory, each saving over the other's, and a Search through one
misses what was written through the other (audit R8-F2). Replicas of memory each take their
own ``--data-dir`` (docs/deploy.md); an import rebuilds and saves the indexes a running server
holds in memory, so it needs the dir alone too.

An advisory ``flock`` on ``<data_dir>/memory/.owners``, taken exclusive without waiting; the
holder writes its pid and role there so a refused process can name it. The kernel drops the
lock when the process ends, however it ends, so a crash leaves no stale lock (a pid left in
the file is only read while its lock is held).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from mesh.runtime.storage import StorageUnwritable

__all__ = ["DataDirBusy", "hold", "hold_dir"]


class DataDirBusy(RuntimeError):
    """Another process (a server or an import) holds the data dir."""


def _holder(fd: int) -> str:
    """What the lock's holder wrote: ``pid ROLE``, as " (pid N, a ROLE)"; "" if unreadable."""
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    pid, _, role = text.partition(" ")
    return f" (pid {pid}, a {role})" if pid.isdigit() and role else ""


def hold_dir(root: Path, role: str) -> int:
    """Take memory's ``root`` (``<data_dir>/memory``) for this process, a ``role`` ("memory
    server", "bulk import"), and return the lock's descriptor, to keep open as long as the data
    dir is in use (closing it releases it). :class:`DataDirBusy` naming the dir and the holder's
    pid when another process has it; ``mesh.runtime.storage.StorageUnwritable`` naming the path
    when it cannot be written."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(root / ".owners", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # read-only, or not ours: a start-up error naming the path
        raise StorageUnwritable(f"cannot write {exc.filename or root}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        what = (
            f"a memory server runs on {root.parent}{holder}"
            if "server" in holder
            else f"{root.parent} is in use{holder or ' by another memory process'}"
        )
        raise DataDirBusy(
            f"{what}: one memory process per data dir (replicas each take their own "
            "--data-dir); stop it or wait for it to finish"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
    return fd


def hold(root: Path, *, exclusive: bool) -> int:
    """:func:`hold_dir` for a bulk import (``exclusive``) or a server (not): since R8-F2 both
    hold the data dir alone; the flag only names the role."""
    return hold_dir(root, "bulk import" if exclusive else "memory server")
