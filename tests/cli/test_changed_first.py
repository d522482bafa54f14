"""`liftos recommend`/`optimize` print what changed under the analysis's window first, and
name the analysis they planned on (audit s18 R33-F1, F7). The lines are the service's own
(surfacing_svc.data_drift builds them), so rewording them on either side fails here (s18
V2-F7: the test had fed the CLI hand-written copies of them)."""

from __future__ import annotations

import datetime as dt

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.surfacing import analysis_line, data_changed
from surfacing_svc.data_drift import DataDrift, unchecked

DRIFT = DataDrift(
    changed=((dt.date(2024, 11, 5), 100.0, 150.0),),
    spend=(("tv", 6_606_460.0, 0.0),),
    moved=(("search", "days", 3, "2024-11-05", 10.0, 20.0),),
)


def test_every_line_the_service_words_is_taken_out_in_order_and_the_rest_kept() -> None:
    for answer, as_made in (("plan", True), ("recommendation", True), ("forecast", False)):
        said = [*DRIFT.warnings(answer, as_made=as_made)]
        assert len(said) == 3
        missed = unchecked(answer, "RESOURCE_EXHAUSTED: this server has 1 calls in flight")
        warnings = ["health REVIEW", said[0], "tiktok bills in EUR", *said[1:], missed]
        assert data_changed(warnings) == (
            [*said, missed],
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
