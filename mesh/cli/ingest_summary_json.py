"""``liftos ingest``'s summary as JSON, and what it says of an ingest that failed part-way."""

from __future__ import annotations

from typing import Any, Literal

from mesh.sdk.client import IngestSummary

Position = Literal["line", "element"]


def summary_json(
    summary: IngestSummary, seconds: float, *, scored: bool = True, position: Position = "line"
) -> dict[str, Any]:
    """The summary as JSON; ``scored``: the source has a quality score (None when not);
    ``position``: what the rejections' numbers count, from ``ingest_files(file_lines=True)``
    (see :func:`numbered_rows`)."""
    return {
        "batches": summary.batches,
        "rows": summary.rows,
        "accepted": summary.accepted,
        "written": summary.written,
        "duplicates": summary.duplicates,
        "superseded": summary.superseded,
        "restated": summary.restated,
        "rejected": summary.rejected,
        "rejected_by_reason": dict(summary.rejected_by_reason.most_common()),
        "unlisted_rejections": summary.unlisted,
        "notes_by_kind": dict(summary.notes_by_kind.most_common()),
        "out_of_order": summary.out_of_order,
        "late": summary.late,
        "replayed_batches": summary.replayed_batches,
        "replayed_rows": summary.replayed_rows,
        "retries": summary.retries,
        "mean_quality_score": round(summary.mean_quality, 4) if scored else None,
        "confounders": dict(summary.confounders.most_common()),
        "seconds": round(seconds, 3),
        "first_rejections": [
            {position: where, "field": field, "reason": reason, "message": message}
            for where, field, reason, message in summary.rejections[:20]
        ],
        "first_notes": [
            {position: where, "field": field, "kind": kind, "message": message}
            for where, field, kind, message in summary.notes[:20]
        ],
    }


def stored_line(stored: IngestSummary, files: int) -> str:
    """What an ingest that failed part-way had stored (the acks before the failure, over
    the ``files`` given) and that running it again is safe: "the batch was not acked" alone
    read as "nothing went in" (R49-F6)."""
    replayed = f", {stored.replayed_rows:,} of them answered from the ledger" * bool(
        stored.replayed_rows
    )
    across = " (over the files before it too)" if files > 1 else ""
    return (
        f"stored before the failure{across}: {stored.batches:,} batches acked "
        f"({stored.rows:,} rows{replayed}); run the same command again — acked batches are "
        "answered from the ledger, nothing is written twice"
    )
