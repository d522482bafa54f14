"""`liftos ingest`'s text summary keeps a note about a whole batch (timezone_mismatch: its rows
were stored as sent, in the zone given) apart from the parts of rows left out: under "left
out … (stored without them)" it read as if orders had been dropped."""

from __future__ import annotations

import collections

from mesh.cli.ingest import render
from mesh.sdk.ingestion import IngestSummary

ZONE = (
    "6 of 6 orders carry offsets +01:00/+02:00, which Europe/Berlin has and --timezone "
    "America/New_York has not"
)
REFUND = "refund of 12.00 given as an amount only: not counted"


def _summary(kinds: dict[str, int]) -> IngestSummary:
    summary = IngestSummary(batches=1, rows=6, accepted=6)
    summary.notes_by_kind = collections.Counter(kinds)
    said = {
        "timezone_mismatch": ("processed_at", ZONE),
        "refund_without_lines": ("refunds[0]", REFUND),
    }
    summary.notes = [(2, *said[k][:1], k, said[k][1]) for k in kinds]
    return summary


def test_a_batch_note_is_a_check_not_a_part_left_out() -> None:
    text = render(_summary({"timezone_mismatch": 1}), 1.0)
    assert "left out" not in text, text
    check = next(line for line in text.splitlines() if line.startswith("check"))
    assert "1 batch notes (rows stored as sent)" in check, text
    assert "timezone_mismatch" in text and "which Europe/Berlin has" in text, text


def test_parts_left_out_and_batch_notes_are_counted_apart() -> None:
    text = render(_summary({"timezone_mismatch": 1, "refund_without_lines": 3}), 1.0)
    lines = text.splitlines()
    left = next(i for i, line in enumerate(lines) if line.startswith("left out"))
    check = next(i for i, line in enumerate(lines) if line.startswith("check"))
    assert "3 parts of accepted rows" in lines[left], text
    assert "refund_without_lines" in lines[left + 1] and "timezone_mismatch" in lines[check + 1]
