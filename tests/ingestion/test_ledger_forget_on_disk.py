"""ForgetBatches (after every memory delete) erases the org's acks from the ledger's files, not
only from its answers (Y's note, s19: the rows were zeroed, but the ledger's WAL kept them until
its next checkpoint). Real SQLite files, opened as on a build without secure_delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion_svc.ledger import BatchLedger
from tests.support import open_without_secure_delete

SECRET = "zebra-client-secret-batch"


@pytest.fixture(autouse=True)
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    open_without_secure_delete(monkeypatch)


def _held(path: Path) -> int:
    files = (path, Path(f"{path}-wal"))
    return sum(p.read_bytes().count(SECRET.encode()) for p in files if p.exists())


def test_forgotten_acks_leave_the_ledger_files(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = BatchLedger(path)
    try:
        for i in range(50):
            assert ledger.put("gone", f"{SECRET}-{i}", "fp", SECRET.encode() * 20)
        assert ledger.put("kept", "kept-1", "fp", b"ack")
        assert _held(path) > 0
        assert ledger.forget("gone") == 50
        assert _held(path) == 0
        assert ledger.get("kept", "kept-1") is not None
        assert ledger.forget("nobody") == 0
    finally:
        ledger.close()
