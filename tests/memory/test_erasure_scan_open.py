"""DeleteRecords with a Scan open (s19 V1 F2): the reply comes once the deletion commits and
writes of other orgs go through, while clearing the deleted bytes from the files waits for the
Scan to let go of the WAL; once it does, the bytes leave the files.

Before, the clearing ran inside the deletion under the write lock: it tried for 30 s to
truncate the WAL, VACUUMed, tried 30 s more, logged that the WAL stayed in use (twice), and only
then replied and let writes through (~61 s; the CLI's 60 s deadline failed the committed
deletion). Events, not timings: the test needs the reply and another org's write to come
before anything gave up on the clearing, with the erased bytes still on disk then (the Scan
really pins them), and the bytes gone after the Scan ends."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .erasure_data import (
    CLEARED_BOUND_S,
    ERASED,
    ERASED_COUNT,
    KEPT,
    ORG,
    SECRET,
    found_on_disk,
    serving,
    when_cleared,
    write_both,
)

_CLEARING = ("memory_svc.sqlite_erase", "memory_svc.sqlite_delete")


def _said(caplog: pytest.LogCaptureFixture, level: int, text: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name in _CLEARING and r.levelno >= level and text in r.getMessage()
    ]


def test_a_deletion_replies_and_writes_go_on_while_a_scan_holds_the_wal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="memory_svc.sqlite_erase")
    caplog.set_level(logging.INFO, logger="memory_svc.sqlite_delete")
    data = tmp_path / "memory"
    with serving(tmp_path) as stub:
        write_both(stub)
        # one record at a time with its embedding: the stream fills the transport's window
        # long before its end, so the server holds the Scan's read snapshot while the test
        # reads no more
        scan = stub.Scan(
            memory_pb.ScanRequest(org_id=ORG, batch_size=1, include_embeddings=True),
            timeout=600,
        )
        read = len(next(scan).records)

        done = stub.DeleteRecords(
            memory_pb.DeleteRecordsRequest(org_id=ORG, account_id=ERASED), timeout=600
        )
        assert done.deleted_count == ERASED_COUNT
        other = synthetic_records("other-org", 50, seed=3, campaigns=2, geos=2)
        wrote = stub.Write(
            iter([memory_pb.WriteRequest(org_id="other-org", records=other)]), timeout=600
        )
        assert wrote.inserted_count == 50

        # neither the reply nor the write waited for the clearing to give up on the WAL ...
        assert _said(caplog, logging.WARNING) == []
        # ... which the Scan's snapshot still holds: the erased bytes are on disk, not cleared
        assert sum(found_on_disk(data)[SECRET].values()) > 0
        assert _said(caplog, logging.INFO, "are cleared from") == []
        _wait_for(caplog, "waits for a read")  # the clearing tried, and lets go of the lock

        # the Scan reads its snapshot to the end (the deleted records included), then ends
        read += sum(len(r.records) for r in scan)
        assert read == KEPT + ERASED_COUNT

        found = when_cleared(data)
        assert not any(n for counts in found.values() for n in counts.values()), found
        _wait_for(caplog, "are cleared from")
        assert _said(caplog, logging.WARNING) == []


def _wait_for(caplog: pytest.LogCaptureFixture, text: str) -> None:
    stop = time.monotonic() + CLEARED_BOUND_S  # a hang bound
    while not _said(caplog, logging.INFO, text):
        assert time.monotonic() < stop, f"no log line says {text!r}"
        time.sleep(0.2)
