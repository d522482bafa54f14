"""Replicas starting on one new data folder each read or create its page-token secret: the
file was created (O_EXCL) and written after, so a replica reading between the two got an
empty file and died "is not a page-token secret (under 32 bytes)" (found by
tests/causal/test_analysis_store_replicas.py, s18). It is now written whole, then linked
into place; every replica ends with the same secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh.runtime import page_tokens
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


def test_a_filesystem_without_hard_links_still_gets_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review V3 F5: os.link refused (a mount without hard links) made the first start fail
    with PermissionError; the secret is then created exclusively, and read back the same."""

    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(page_tokens.os, "link", no_links)
    made = page_tokens._file_secret(tmp_path)
    assert len(made) == 32 and page_tokens._file_secret(tmp_path) == made
    assert [p.name for p in tmp_path.iterdir()] == [page_tokens.SECRET_FILE]
