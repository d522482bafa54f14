"""Records a Write refused, one by one, and what an answer says of them, bounded.

A record that breaks a rule of ``mesh.runtime.record_rules`` (checked in
``memory_svc.convert``), or that the writer cannot store for a reason of its own — an
embedding of another dimension than the org's or of norm 0, a natural_key stored under another
id (``memory_svc.writer``) — is refused on its own: not stored, and named in its message's
answer with its index, id, field path and reason, while the other records of the message are
stored. What refuses a whole message stays an error (org_id missing or differing from the
stream's, too many records, a message too large, the embedder not installed).

An answer lists refusals while they fit :data:`MAX_LISTED_BYTES` and counts the rest per field
(``mesh.runtime.bounded_list``, as ingestion bounds its ack), so it stays small however many
records a stream refuses. Pure: nothing of gRPC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mesh.runtime.bounded_list import BoundedList, Group
from mesh.runtime.exceptions import shown

__all__ = [
    "ID_CHARS",
    "MAX_LISTED_BYTES",
    "MAX_REASON_CHARS",
    "WHOLE",
    "Listed",
    "Refusal",
    "RefusalList",
]

# What an answer lists one by one, in bytes on the wire: about 2,000 refusals of ordinary
# size; past it the first are listed within MAX_LISTED_BYTES - _SUMMARY_BYTES and the rest
# counted (at most 101 summaries of a few hundred bytes each).
MAX_LISTED_BYTES = 256 << 10
_SUMMARY_BYTES = 64 << 10
_MAX_SUMMARIES = 100
# A record id is at most 256 characters when valid; an answer quotes 80 of it, escaped.
ID_CHARS = 80
MAX_REASON_CHARS = 600
_FIELD_CHARS = 300
# The field of a refusal of the record as a whole (its size), as ingestion names a whole row.
WHOLE = "$"
_INDEXES = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused record: its index in its message, its id as sent (raw), the field path in
    the record (``WHOLE`` for the record as a whole) and why."""

    index: int
    record_id: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Listed:
    """A refusal as an answer lists it: the message it came in, id quoted, text clipped."""

    message: int
    index: int
    record_id: str
    field: str
    reason: str


def _clipped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit - 30]}… (cut: {len(text):,} characters)"


def _listed(message: int, r: Refusal) -> Listed:
    return Listed(
        message,
        r.index,
        shown(r.record_id, ID_CHARS) if r.record_id else "",
        _clipped(r.field, _FIELD_CHARS),
        _clipped(r.reason, MAX_REASON_CHARS),
    )


def _wire_bytes(x: Listed) -> int:
    """About the bytes of ``x`` as a RecordRejection inside an answer."""
    text = x.record_id + x.field + x.reason
    return len(text.encode("utf-8", "replace")) + 24


class RefusalList:
    """The refusals of one answer (a WriteStream message's, or a whole Write stream's),
    listed while they fit :data:`MAX_LISTED_BYTES`, the rest counted per field."""

    def __init__(self) -> None:
        self.count = 0
        self._list: BoundedList[Listed] = BoundedList(
            MAX_LISTED_BYTES,
            _SUMMARY_BYTES,
            _MAX_SUMMARIES,
            _wire_bytes,
            lambda x: _INDEXES.sub("", x.field),
            lambda x: WHOLE,
        )

    def add(self, message: int, refusals: list[Refusal]) -> None:
        self.count += len(refusals)
        for r in refusals:
            self._list.add(_listed(message, r))

    @property
    def listed(self) -> list[Listed]:
        return self._list.listed

    @property
    def groups(self) -> list[Group[Listed]]:
        """The refusals counted, not listed: ``key`` is the field without item indexes."""
        return self._list.groups

    @property
    def unlisted(self) -> int:
        return self._list.unlisted
