"""Cutting a Scan page into replies a default gRPC client can receive."""

from __future__ import annotations

from memory_svc.store import ScanRow

__all__ = ["MAX_SCAN_REPLY_BYTES", "scan_chunks"]

# A Scan reply's size at most: under a default gRPC client's 4 MiB receive limit with room to
# spare, whatever the batch_size (10,000 records are 13 MB, 23 MB with embeddings).
MAX_SCAN_REPLY_BYTES = 3_500_000
# A record's framing in the reply, over its payload (tag + length) and its embedding field's.
_RECORD_OVERHEAD = 8


def scan_chunks(rows: list[ScanRow], limit: int = MAX_SCAN_REPLY_BYTES) -> list[list[ScanRow]]:
    """``rows`` in order, cut into replies of at most ``limit`` bytes each (a record larger
    than that alone in its reply): a page of batch_size records may take several replies."""
    chunks: list[list[ScanRow]] = []
    current: list[ScanRow] = []
    size = 0
    for row in rows:
        n = len(row.payload) + _RECORD_OVERHEAD
        if row.embedding is not None:
            n += len(row.embedding) + _RECORD_OVERHEAD
        if current and size + n > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(row)
        size += n
    if current:
        chunks.append(current)
    return chunks
