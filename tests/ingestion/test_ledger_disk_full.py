"""The batch ledger on a full disk (G2's note on audit R19-F-DISKFULL): reserving a batch id
raises the storage failure (RESOURCE_EXHAUSTED STORAGE_FULL to a caller), not "cannot rollback
- no transaction is active" over it (INTERNAL), and the ledger works again once there is room.
Real SQLite; the disk is filled with max_page_count on the ledger's own connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion_svc.ledger import BatchLedger
from mesh.runtime.storage import StorageFailure


def test_a_full_disk_is_a_storage_failure_and_the_ledger_recovers(tmp_path: Path) -> None:
    (tmp_path / "ingestion").mkdir()
    ledger = BatchLedger(tmp_path / "ingestion" / "ledger.sqlite")
    db = ledger._db
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    owner = ledger.owner("stream-1")
    for k in range(2):  # the second finds no transaction left open by the first
        with pytest.raises(StorageFailure) as err:
            ledger.reserve("org", f"batch-{k}-" + "x" * 3000, "f" * 64, owner)
        assert err.value.reason == "STORAGE_FULL" and "disk is full" in str(err.value)
        assert not db.in_transaction
    db.execute("PRAGMA max_page_count=1073741823")
    assert ledger.reserve("org", "batch-ok", "f" * 64, owner) is None
    ledger.close()
