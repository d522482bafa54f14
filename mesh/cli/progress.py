"""The one-line progress bar ``liftos ingest`` draws on a terminal."""

from __future__ import annotations

import time
from typing import TextIO

from mesh.sdk.client import IngestSummary


class ProgressBar:
    """A one-line progress bar on a terminal (nothing when not a TTY or --quiet)."""

    def __init__(self, label: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.label, self.total, self.stream = label, max(total, 1), stream
        self.enabled = enabled and stream.isatty()
        self.start = time.monotonic()

    def update(self, summary: IngestSummary) -> None:
        if not self.enabled:
            return
        done = summary.rows
        width = 30
        filled = int(width * min(done / self.total, 1.0))
        rate = done / max(time.monotonic() - self.start, 1e-9)
        self.stream.write(
            f"\r{self.label:<12} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done:>9,}/{self.total:,} rows  {rate:>8,.0f} rows/s  rejected {summary.rejected:,}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
