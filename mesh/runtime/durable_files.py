"""Files replaced whole or not at all.

A file written in place is truncated first: a full disk or a killed process then leaves a
half-written page where last week's good one was (audit s20 R49-F8: `liftos report --out` on a
full disk left an HTML file cut off mid-chart). Writing a temporary file beside the target,
fsyncing it, renaming it over the target and fsyncing the directory leaves either the old bytes
or the new ones, after a crash or a power cut too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["NO_SPACE", "replace_synced", "write_durably"]

# The errors that mean "free some space and run it again", not "fix the path".
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def replace_synced(tmp: Path, path: Path) -> None:
    """Move ``tmp`` over ``path`` durably: its bytes and the rename both on disk."""
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_durably(path: Path, text: str, *, encoding: str = "utf-8") -> int:
    """Write ``text`` to ``path`` so that ``path`` holds either its old bytes or all the new
    ones, never a part; returns the bytes written.

    Raises
    ------
    OSError
        From the write (``NO_SPACE`` holds the full-disk errnos), with ``path`` untouched and
        no temporary file left behind.
    """
    data = text.encode(encoding)
    # A link is written through (its target is the file the user keeps: V2-F4), and what is
    # not a regular file (/dev/stdout, a pipe) cannot be replaced: written as it is.
    path = path.resolve() if path.is_symlink() else path
    try:
        held = path.stat()
    except FileNotFoundError:
        held = None
    if held is not None and not stat.S_ISREG(held.st_mode):
        with path.open("wb") as f:
            f.write(data)
        return len(data)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # A new file: 0o666 less the umask, as a plain open would make it (mkstemp's 0600 would
    # hide a report from the people it is for); a file replaced keeps its own mode (a report
    # kept 0600 stays private). O_EXCL so no other file is ever written through.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if held is not None:
                os.fchmod(f.fileno(), stat.S_IMODE(held.st_mode))
            f.write(data)
        replace_synced(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return len(data)
