"""Causal replicas starting on one new data folder open its analysis store at the same moment:
each added the ``seq`` column its schema lacks after seeing it missing, and the loser died
"duplicate column name: seq" (D, s18: one tests/runtime/test_replicas.py run errored so)."""

from __future__ import annotations

from pathlib import Path

from causal_svc.analyses import AnalysisStore
from tests.at_once import failures, run_at_once


def test_replicas_opening_a_new_analysis_store_at_once_all_start(tmp_path: Path) -> None:
    seen = run_at_once(
        "from causal_svc.analyses import AnalysisStore",
        'AnalysisStore(path / "analyses.sqlite").close()',
        tmp_path, spacing=0.3,
    )  # fmt: skip
    assert failures(seen) == []
    for i in seen:
        store = AnalysisStore(tmp_path / str(i) / "analyses.sqlite")
        try:
            cols = {r[1] for r in store._db.execute("PRAGMA table_info(analyses)")}
        finally:
            store.close()
        assert "seq" in cols
