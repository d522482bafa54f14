"""What one batch's ack says of its rejected rows, bounded (audit R7-F6).

A rejection quotes at most :data:`QUOTE_CHARS` of the value at fault (escaped, clipped with a
marker: :func:`quoted`) and its message is at most :data:`MAX_MESSAGE_CHARS`. The list as a
whole is at most about :data:`MAX_LISTED_BYTES` on the wire: 9,000 rows each quoting 1,000
characters made a 9.6 MB ack that a client on gRPC's default 4 MiB receive limit could never
read, although the batch's good rows were stored — and every retry replayed it. Past the
budget the first rejections are listed in full and the rest are counted, one
:class:`Summary` per field and reason (how many, their row range, the first one's message),
which the ack carries as ``rejection_summaries`` so a client counting by reason stays exact.

The bound is a pure function of the rejections, so an ack replayed from the ledger is the one
first sent; an ack stored before the bound existed is bounded the same way when replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingestion_svc.raw_batch import Rejection
from mesh.runtime.bounded_list import BoundedList, Group
from mesh.runtime.exceptions import shown

__all__ = [
    "MAX_LISTED_BYTES",
    "MAX_MESSAGE_CHARS",
    "QUOTE_CHARS",
    "Bounded",
    "Summary",
    "bounded",
    "clipped",
    "listed",
    "quoted",
]

# Enough for any id, code or zone a real export holds; a longer value is hostile or broken.
QUOTE_CHARS = 80
# The longest message a check writes is about 330 characters (an unknown subdivision, quoted).
MAX_MESSAGE_CHARS = 600
# Rejections an ack lists, in bytes on the wire: 10,000 ordinary rejections (about 80 bytes
# each) fit whole; the summaries past it add at most about 200 KB, so an ack stays near 1 MiB,
# far under the 4 MiB a default gRPC client receives.
MAX_LISTED_BYTES = 1 << 20
# Room kept for the summaries when the list does not fit, and how many (field, reason) pairs
# get one of their own (a hostile batch can name thousands of fields); beyond them, one per
# reason on the row as a whole.
_SUMMARY_BYTES = 192 << 10
_MAX_SUMMARIES = 100
_ROW = "$"


def quoted(value: object) -> str:
    """``value`` as a rejection quotes it: repr (control characters escaped), at most
    :data:`QUOTE_CHARS` characters, a longer one cut with how long it was."""
    return shown(value, QUOTE_CHARS)


def clipped(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut at ``limit`` characters with a marker saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 30]}… (cut: {len(text):,} characters)"


def _wire_bytes(r: Rejection) -> int:
    """About the bytes of ``r`` as a RowRejection inside the ack (tags, lengths, varints)."""
    return len(r.field.encode("utf-8", "replace")) + len(r.message.encode("utf-8", "replace")) + 20


@dataclass(frozen=True, slots=True)
class Summary:
    """Rejections of one field and reason an ack counts instead of listing (``field`` is
    ``$`` for the row as a whole, or other fields past :data:`_MAX_SUMMARIES` pairs)."""

    field: str
    reason: str
    row_count: int
    first_row_index: int
    last_row_index: int
    first_message: str


@dataclass(frozen=True, slots=True)
class Bounded:
    """What an ack says of its rejections: ``listed`` one by one, the rest ``summaries``."""

    listed: list[Rejection]
    summaries: list[Summary]

    @property
    def unlisted(self) -> int:
        return sum(s.row_count for s in self.summaries)


def bounded(rejections: Sequence[Rejection]) -> Bounded:
    """Each message clipped, then all of them listed when they fit :data:`MAX_LISTED_BYTES`;
    otherwise the first ones listed in full and the rest counted per (field, reason)
    (``mesh.runtime.bounded_list``, which memory's Write answers use too)."""
    out: BoundedList[Rejection] = BoundedList(
        MAX_LISTED_BYTES,
        _SUMMARY_BYTES,
        _MAX_SUMMARIES,
        _wire_bytes,
        lambda r: (r.field, r.reason),
        lambda r: (_ROW, r.reason + " (other fields)"),
    )
    for r in rejections:
        out.add(r if len(r.message) <= MAX_MESSAGE_CHARS else _with(r, clipped(r.message)))
    return Bounded(out.listed, [_summary(g) for g in out.groups])


def listed(rejections: Sequence[Rejection]) -> list[Rejection]:
    """The rejections an ack lists one by one (see :func:`bounded`)."""
    return bounded(rejections).listed


def _summary(g: Group[Rejection]) -> Summary:
    field = g.key[0] if isinstance(g.key, tuple) else str(g.key)
    return Summary(
        clipped(field, 300),
        g.first.reason,
        g.count,
        g.first.row_index,
        max(g.first.row_index, g.last.row_index),
        clipped(g.first.message, 200),
    )


def _with(r: Rejection, message: str) -> Rejection:
    return Rejection(r.row_index, r.field, r.reason, message)
