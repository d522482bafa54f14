"""A unary reply kept under the server's message limit (s18, R35 F2, R32 F3).

gRPC refuses to send a message past the server's ``max_send_message_length`` and the caller
sees a bare transport failure (INTERNAL through a peer). A service whose reply grows with the
request (a date range, an org's series) sizes it first and refuses RESOURCE_EXHAUSTED with
reason REPLY_TOO_LARGE, naming the size, the limit and what fits. These are the words and the
arithmetic every such reply shares: memory's AggregateRecords and AggregateProducts,
ingestion's GetCalendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from mesh.runtime.exceptions import ResourceExhausted

__all__ = [
    "REPLY_TOO_LARGE",
    "days_fit",
    "first_days_fit",
    "limit_words",
    "mb",
    "reply_budget",
    "reply_too_large",
]

REPLY_TOO_LARGE = "REPLY_TOO_LARGE"


def reply_budget(limit: int) -> int:
    """The bytes a reply may take under a message limit: a 32nd kept back, so an estimate a
    little short (or gRPC's framing) still fits."""
    return limit - limit // 32


def mb(size: int) -> str:
    """``size`` bytes in decimal megabytes (kilobytes under one), as the messages say it."""
    return f"{size / 1e6:,.1f} MB" if size >= 1_000_000 else f"{size / 1e3:,.1f} kB"


def limit_words(limit: int) -> str:
    """A message limit as its operator set it: whole MiB, else bytes."""
    mib = limit / (1 << 20)
    return f"{mib:g} MiB" if mib == int(mib) else f"{limit:,} bytes"


def days_fit(days: int, budget: int, size: int, *, other: str) -> str:
    """About how many of a window's ``days`` fit ``budget``, as a clause, for a reply of
    ``size`` bytes that grows about linearly with the days; ``other`` is the remedy when not
    even one day fits."""
    fit = days * budget // max(size, 1)
    if fit < 1:
        return f"not even one day fits: {other}"
    return f"~{fit:,} of its {days:,} days fit"


def first_days_fit(
    day_bytes: np.ndarray, room: int, dates: Sequence[dt.date], *, other: str
) -> str:
    """How many of a window's days, from its first, fit ``room`` bytes given each day's bytes
    and date in order, as a clause naming the last date that fits; ``other`` is the remedy
    when not even one day fits."""
    fit = int(np.searchsorted(np.cumsum(day_bytes), room, side="right")) if room > 0 else 0
    if fit < 1:
        return f"not even one day fits: {other}"
    return f"its first {fit:,} of {len(day_bytes):,} days fit, to {dates[fit - 1]}"


def reply_too_large(message: str) -> ResourceExhausted:
    """The refusal of a reply past the limit: RESOURCE_EXHAUSTED REPLY_TOO_LARGE, without
    RetryInfo (the same call never fits)."""
    return ResourceExhausted(message, reason=REPLY_TOO_LARGE)
