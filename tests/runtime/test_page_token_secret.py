"""Replicas starting on one new data folder each read or create its page-token secret: the
file was created (O_EXCL) and written after, so a replica reading between the two got an
empty file and died "is not a page-token secret (under 32 bytes)" (found by
tests/causal/test_analysis_store_replicas.py, s18). It is now written whole, then linked
into place; every replica ends with the same secret."""

from __future__ import annotations

from pathlib import Path

from tests.at_once import failures, run_at_once


def test_replicas_creating_the_secret_at_once_share_one(tmp_path: Path) -> None:
    seen = run_at_once(
        "from mesh.runtime.page_tokens import _file_secret",
        "_file_secret(path).hex()", tmp_path, trials=20, spacing=0.2,
    )  # fmt: skip
    assert failures(seen) == []
    assert all(len(set(outs)) == 1 for outs in seen.values()), seen  # one secret per folder
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert leftovers == [], leftovers  # no temporary file left behind
