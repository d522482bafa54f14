"""Cutting a Scan into pages and replies of bounded size.

A page is what the engine reads at a time and what a Scan holds while its client reads: it
is cut at ``batch_size`` records and at ``SCAN_PAGE_BYTES`` of serialised records, so a
client that stops reading pins one page's worth (a few MiB), not 10,000 records (13-23 MB,
audit R14-F3). A reply is cut at ``MAX_SCAN_REPLY_BYTES``, under a default gRPC client's
receive limit; a page under the reply limit is one reply. ``ScanPager`` keeps a scan's
place between pages (the last record's (timestamp, id)) and sizes the next page's count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memory_svc.store import ScanRow

__all__ = [
    "MAX_SCAN_REPLY_BYTES",
    "SCAN_PAGE_BYTES",
    "ScanPager",
    "row_bytes",
    "scan_chunks",
    "take_page",
]

# A Scan reply's size at most: under a default gRPC client's 4 MiB receive limit with room to
# spare, whatever the batch_size (10,000 records are 13 MB, 23 MB with embeddings).
MAX_SCAN_REPLY_BYTES = 3_500_000
# A page's records' bytes, and so one reply's (a page and the record that crossed this fit
# one MAX_SCAN_REPLY_BYTES reply). A Scan whose client stopped reading holds about five
# times this in the server (its reply, serialised, and gRPC's copies of it): measured with
# 20 stalled streams, 5-7 MiB each at 1 MiB, 13 at 2 MiB, 18 at 3 MiB, 26-32 for the
# 10,000-record pages before; a full scan's time within the noise of the old one.
SCAN_PAGE_BYTES = 1024 * 1024
# A record's framing in the reply, over its payload (tag + length) and its embedding field's.
_RECORD_OVERHEAD = 8
# A scan's first page is asked for as if records were this size: they are ~1.3 KB, ~2.3 KB
# with an embedding, so it is cut by bytes, not by count (ScanPager).
FIRST_ROW_BYTES = 1024


def row_bytes(row: ScanRow) -> int:
    """The record's size in a reply, about: its payload, its embedding and their framing."""
    n = len(row.payload) + _RECORD_OVERHEAD
    if row.embedding is not None:
        n += len(row.embedding) + _RECORD_OVERHEAD
    return n


def take_page(rows: Iterable[ScanRow], max_bytes: int | None) -> list[ScanRow]:
    """``rows`` up to and including the one that brings the page to ``max_bytes`` (all of them
    when None); the rest are never turned into ScanRows (ScanPager asks for about as many
    as fit, so few are)."""
    page: list[ScanRow] = []
    size = 0
    for row in rows:
        page.append(row)
        size += row_bytes(row)
        if max_bytes is not None and size >= max_bytes:
            break
    return page


@dataclass(slots=True)
class ScanPager:
    """Where a scan is, and how many records to ask for next.

    A store sorts a page's records with their payloads before it returns the first (SQLite's
    plan ends in a temporary B-tree), so a page cut at ``max_bytes`` out of ``batch_size``
    rows would still read and sort all of them: the rows asked for are as many as the
    records read so far say fill ``max_bytes`` (a quarter more, so the byte cut usually ends
    the page), never more than ``batch_size``.
    """

    batch_size: int
    max_bytes: int
    after: tuple[int, str] | None = None
    done: bool = False
    rows_read: int = 0
    bytes_read: int = 0

    def limit(self) -> int:
        per_row = self.bytes_read / self.rows_read if self.rows_read else FIRST_ROW_BYTES
        return max(1, min(self.batch_size, math.ceil(1.25 * self.max_bytes / per_row)))

    def advance(self, rows: Sequence[ScanRow], limit: int) -> None:
        """Move past ``rows``, a page asked for with ``limit``: the scan is done unless the
        page is full by count or by bytes (one ending exactly there costs one empty page)."""
        size = sum(map(row_bytes, rows))
        self.rows_read += len(rows)
        self.bytes_read += size
        self.done = not rows or (len(rows) < limit and size < self.max_bytes)
        if rows:
            self.after = (rows[-1].timestamp_us, rows[-1].id)


def scan_chunks(rows: list[ScanRow], limit: int = MAX_SCAN_REPLY_BYTES) -> list[list[ScanRow]]:
    """``rows`` in order, cut into replies of at most ``limit`` bytes each (a record larger
    than that alone in its reply): a page of batch_size records may take several replies."""
    chunks: list[list[ScanRow]] = []
    current: list[ScanRow] = []
    size = 0
    for row in rows:
        n = row_bytes(row)
        if current and size + n > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(row)
        size += n
    if current:
        chunks.append(current)
    return chunks
