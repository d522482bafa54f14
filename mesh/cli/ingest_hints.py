"""What `liftos ingest` says after its summary about rows it could not write as the user may
have meant: rows refused as older than the stored ones, and revenue to be stored net of tax."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

__all__ = ["stale_hint", "tax_note"]


def stale_hint(count: int, files: Sequence[Path]) -> str:
    """What to do about rows refused as older than the stored ones when the pull time was the
    files' modification time (a corrected copy made with cp -p, rsync -a or unzipped keeps an
    old one, so it could never replace the rows it corrects)."""
    when = ", ".join(
        f"{f.name} {dt.datetime.fromtimestamp(f.stat().st_mtime, dt.UTC):%Y-%m-%d %H:%M} UTC"
        for f in files
    )
    # the next whole second: a time cut to the second could precede the pull just stored
    now = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"note: {count:,} rows differ from rows stored by a pull no earlier than this one, so "
        f"they replaced nothing. The pull time was the file's modification time ({when}); if "
        f"the file is a correction, ingest it again with --pulled-at {now}"
    )


def tax_note(rate: float, written: int) -> str:
    """The generic source's revenue under --taxes-included true: stored net only where rows
    were written (an ingest whose every row is stored already changes nothing)."""
    if written:
        return (
            f"note: revenue stored net of {rate:.4g} tax (--taxes-included true --tax-rate "
            f"{rate:g}): each value divided by {1 + rate:g}"
        )
    return (
        f"note: nothing rewritten net of {rate:.4g} tax: every row is stored already as it "
        "would be now"
    )
