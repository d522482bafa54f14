"""`liftos recommend`/`optimize` print what changed under the analysis's window first, and
name the analysis they planned on (audit s18 R33-F1, F7)."""

from __future__ import annotations

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.surfacing import analysis_line, data_changed

OUTCOME = (
    "the outcome of 3 days in this analysis's window changed since it was made "
    "(2024-11-05..2024-11-07, +873,748 in all): this plan is computed from the analysis as it "
    "was made, not from the data as it is now; re-run analyze to refit"
)
UNCHECKED = (
    "whether the data under this analysis's window changed since it was made could not be "
    "checked (memory service unavailable); this plan is computed from the analysis as it was made"
)


def test_the_changes_are_taken_out_in_order_and_the_rest_kept() -> None:
    warnings = ["health REVIEW", OUTCOME, "tiktok bills in EUR", UNCHECKED]
    assert data_changed(warnings) == (
        [OUTCOME, UNCHECKED],
        ["health REVIEW", "tiktok bills in EUR"],
    )
    assert data_changed(["health REVIEW"]) == ([], ["health REVIEW"])


def test_the_analysis_is_named_with_its_window_and_time() -> None:
    a = causal_pb.Analysis(analysis_id="an-1")
    a.attribution.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    a.attribution.date_range.end_date.CopyFrom(common_pb.Date(year=2025, month=1, day=12))
    assert analysis_line(a) == (
        "from analysis an-1 (window 2024-09-15..2025-01-12, made at an unrecorded time)"
    )
    a.create_time.FromSeconds(1_796_000_000)
    assert analysis_line(a).endswith("made 2026-11-30 00:53 UTC)")
