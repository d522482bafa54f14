"""Who may open a memory data dir: any number of servers together (they follow each other's
commits), or one bulk import alone — an import rebuilds and saves the FAISS indexes a running
server holds in memory and would overwrite them on its next save.

An advisory ``flock`` on ``<data_dir>/memory/.owners``: servers take it shared, an import
exclusive, both without waiting. The kernel drops it when the process ends, however it ends,
so a crash leaves no stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["DataDirBusy", "hold"]


class DataDirBusy(RuntimeError):
    """The data dir is held the other way (a server while importing, or the reverse)."""


def hold(root: Path, *, exclusive: bool) -> int:
    """Take the lock on memory's ``root`` (``<data_dir>/memory``) and return its descriptor,
    to keep open as long as the data dir is in use (closing it releases the lock)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(root / ".owners", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = "a memory server runs on" if exclusive else "a bulk import is writing"
        raise DataDirBusy(f"{holder} {root.parent}: wait for it to finish or stop it") from None
    return fd
