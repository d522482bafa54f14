"""What an ingest stored: running totals of its acks (:class:`IngestSummary`), and the
summary an ingest that failed part-way attaches to its exception (:func:`stored_before`)."""

from __future__ import annotations

import collections
import contextlib
from dataclasses import dataclass, field

from liftos.v1 import ingestion_pb2 as ingestion_pb


@dataclass
class IngestSummary:
    """Running totals of an ingest: rows by outcome, rejections by reason, confounders."""

    batches: int = 0
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    restated: int = 0
    superseded: int = 0
    out_of_order: int = 0
    late: int = 0
    replayed_batches: int = 0
    # rows of the replayed batches: stored by the earlier ingest that was acked for them,
    # so not counted written by this one (R49-F6: a re-run after a failure counted them so)
    replayed_rows: int = 0
    retries: int = 0
    rejected_by_reason: collections.Counter[str] = field(default_factory=collections.Counter)
    confounders: collections.Counter[str] = field(default_factory=collections.Counter)
    # (line in the input, field, reason, message) of the first rejections
    rejections: list[tuple[int, str, str, str]] = field(default_factory=list)
    # rejections the acks counted by field and reason instead of listing (bounded acks)
    unlisted: int = 0
    # parts of accepted rows left out, by kind (exact), and (line, field, kind, message) of
    # the first ones
    notes_by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    notes: list[tuple[int, str, str, str]] = field(default_factory=list)
    _quality_sum: float = 0.0
    _written: int = 0

    @property
    def written(self) -> int:
        """Rows stored by this ingest (accepted minus duplicates and superseded), not those
        of batches answered from the ledger (:attr:`replayed_rows`)."""
        return self._written

    @property
    def mean_quality(self) -> float:
        return self._quality_sum / self._written if self._written else 0.0

    def add(self, reply: ingestion_pb.IngestResponse, row_offset: int) -> None:
        self.batches += 1
        self.rows += reply.accepted_count + reply.rejected_count
        self.accepted += reply.accepted_count
        self.rejected += reply.rejected_count
        self.duplicates += reply.duplicate_count
        self.restated += reply.restated_count
        self.superseded += reply.superseded_count
        self.out_of_order += reply.out_of_order_count
        self.late += reply.late_count
        self.replayed_batches += int(reply.replayed)
        written = reply.accepted_count - reply.duplicate_count - reply.superseded_count
        if reply.replayed:
            self.replayed_rows += reply.accepted_count + reply.rejected_count
            written = 0
        self._written += written
        self._quality_sum += reply.mean_quality_score * written
        for r in reply.rejections:
            reason = ingestion_pb.RejectionReason.Name(r.reason).removeprefix("REJECTION_REASON_")
            self.rejected_by_reason[reason.lower()] += 1
            if len(self.rejections) < 1000:
                self.rejections.append(
                    (row_offset + r.row_index, r.field, reason.lower(), r.message)
                )
        # a bounded ack counts the rest by field and reason: rejected_by_reason stays exact
        for s in reply.rejection_summaries:
            reason = ingestion_pb.RejectionReason.Name(s.reason).removeprefix("REJECTION_REASON_")
            self.rejected_by_reason[reason.lower()] += s.row_count
        self.unlisted += reply.unlisted_rejection_count
        for n in reply.notes:
            self.notes_by_kind[n.kind] += 1
            if len(self.notes) < 1000:
                self.notes.append((row_offset + n.row_index, n.field, n.kind, n.message))
        # an ack lists its first 1,000 notes; note_count counts them all
        if reply.note_count > len(reply.notes):
            self.notes_by_kind["unlisted"] += reply.note_count - len(reply.notes)
        for c in reply.confounders:
            self.confounders[c.name] += c.row_count

    def merge(self, other: IngestSummary) -> None:
        """Add another ingest's totals to these."""
        for name in (
            "batches", "rows", "accepted", "rejected", "duplicates", "restated", "superseded",
            "out_of_order", "late", "replayed_batches", "replayed_rows", "retries",
            "_quality_sum", "_written",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.confounders.update(other.confounders)
        self.rejections.extend(other.rejections[: max(0, 1000 - len(self.rejections))])
        self.unlisted += other.unlisted
        self.notes_by_kind.update(other.notes_by_kind)
        self.notes.extend(other.notes[: max(0, 1000 - len(self.notes))])


def stored_before(failure: BaseException, summary: IngestSummary) -> BaseException:
    """``failure`` (its type kept) carrying what was acked before it: ``failure.stored`` is
    ``summary``, and a note says it and that the same call is safe to make again."""
    with contextlib.suppress(AttributeError):  # a slotted exception: the note still says it
        failure.stored = summary  # type: ignore[attr-defined]
    failure.add_note(
        f"stored before the failure: {summary.batches:,} batches acked ({summary.rows:,} rows, "
        f"{summary.written:,} written, {summary.replayed_rows:,} answered from the ledger); "
        "the same call again is safe: with the same pulled_at and batch_size the acked "
        "batches are answered from the ledger, and re-sent rows are never written twice"
    )
    return failure
