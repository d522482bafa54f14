"""A wrong upload is corrected by re-sending the right file, saying it corrects
(IngestRequest.restore_replaced), with a later pull time (s18 R33 F0): the right rows hold
content their records had before the wrong ones replaced it, and were refused as "the export
was sent again", leaving the wrong numbers in memory. Without the flag such content stays a
copy whatever the pull time (a copied export folder's new file times are no correction: s18
V1 F7), and the note names the flag. With it, a replaced version is a copy only when its pull
is not later than the one that replaced it, or when the replacing export held it itself
(audit R19 #1: tests/ingestion/test_reingest_split_batches.py). Real memory + ingestion over
gRPC, each pull its own Ingest stream."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import grpc
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.superseded import Replaced, SupersededLog
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_reingest_split_batches import _pull, _stored, _with, _written


def test_the_right_file_sent_after_a_wrong_one_restores_the_right_numbers(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    export = world.raw["meta"]
    rows = [export.base_row(k) for k in range(10)]
    right = [dumps(r) for r in rows]
    keys = [export.row_key(k) for k in (3, 7)]
    first = _pull(ingestion, world, right, "right-1", PULLED)
    assert sum(_written(a) for a in first) == 10
    good = [_stored(memory, k)[0] for k in keys]

    # the wrong file (days 3 and 7 ×1.3) the next day: a restatement, as any later pull
    wrong = list(right)
    for k in (3, 7):
        wrong[k] = _with(rows[k], f"{float(rows[k]['spend']) * 1.3:.2f}")
    day2 = PULLED + dt.timedelta(days=1)
    sent = _pull(ingestion, world, wrong, "wrong", day2)
    assert sum(a.restated_count for a in sent) == 2
    assert [_stored(memory, k)[0] for k in keys] != good

    # the right file again, pulled later, without saying it corrects: a copy of the first
    # export (as a restored folder would be), nothing written, and the note names the way out
    day3 = PULLED + dt.timedelta(days=2)
    copied = _pull(ingestion, world, right, "right-copy", day3)
    assert sum(_written(a) for a in copied) == 0 and not any(a.rejections for a in copied)
    refused = [n for a in copied for n in a.notes]
    assert len(refused) == 2 and all(n.kind == "superseded_version" for n in refused)
    assert all("--restore-replaced" in n.message and "liftos memory delete" in n.message
               and len(n.message) <= 300 for n in refused)  # fmt: skip
    assert [_stored(memory, k)[0] for k in keys] != good

    # said to correct (--restore-replaced): written back, not a "replay"
    fixed = _pull(ingestion, world, right, "right-2", day3, restore=True)
    assert [(_written(a), a.restated_count, len(a.notes)) for a in fixed] == [(1, 1, 0), (1, 1, 0)]
    assert [_stored(memory, k)[0] for k in keys] == good, "memory kept the wrong numbers"

    # the wrong file sent again with its own pull time is the old export: nothing written,
    # and the note says the pull is not later (it was not "sent again" with later content)
    again = _pull(ingestion, world, wrong, "wrong-again", day2, restore=True)
    assert sum(_written(a) for a in again) == 0 and not any(a.rejections for a in again)
    notes = [n for a in again for n in a.notes]
    assert len(notes) == 2 and all(n.kind == "superseded_version" for n in notes)
    assert all("is not later" in n.message and "sent again" not in n.message for n in notes)
    assert "2025-01-15 09:00 UTC" in notes[0].message  # the pull that replaced it
    assert all(len(n.message) <= 300 and "--pulled-at" in n.message for n in notes)
    assert [_stored(memory, k)[0] for k in keys] == good


def test_a_version_superseded_again_keeps_the_latest_replacing_pull(tmp_path: Path) -> None:
    log = SupersededLog(tmp_path / "superseded.sqlite")
    log.add("acme", [("r1", "a", False)], 100)
    log.add("acme", [("r1", "a", False)], 300)
    log.add("acme", [("r1", "a", False)], 200)
    log.add("acme", [("r2", "b", True)], 100)
    found = log.find("acme", ["r1", "r2"])
    assert found == {("r1", "a"): Replaced(300, False), ("r2", "b"): Replaced(100, True)}
    assert found[("r1", "a")].copies(300, True) and not found[("r1", "a")].copies(301, True)
    assert found[("r1", "a")].copies(301, False)  # not said to correct: a copy, as restored
    assert found[("r2", "b")].copies(10**9, True)  # its replacing export held it: a copy
    log.close()


def test_a_log_from_before_pull_times_is_upgraded_and_its_rows_stay_copies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "superseded.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE superseded (org_id TEXT NOT NULL, record_id TEXT NOT NULL, "
            "sha TEXT NOT NULL, PRIMARY KEY (org_id, record_id, sha)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO superseded VALUES ('acme', 'r1', 'a')")
    db.close()
    log = SupersededLog(path)
    (how,) = log.find("acme", ["r1"]).values()
    assert how == Replaced(None, False) and how.copies(10**18, True)
    log.add("acme", [("r1", "a", False), ("r2", "b", False)], 500)
    found = log.find("acme", ["r1", "r2"])
    assert found[("r1", "a")].at is None and found[("r2", "b")] == Replaced(500, False)
    log.close()


def test_a_version_the_replacing_export_sent_again_in_an_earlier_batch_stays_replaced(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """A later export holds the stored day (first batch) and then a restatement of it (second
    batch): the version it replaced was in that export, so the first export re-sent later is
    a copy and does not restore it, as when both lines share a batch."""
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    export = world.raw["meta"]
    key = export.row_key(3)
    lines = [dumps(export.base_row(k)) for k in range(10)]
    _pull(ingestion, world, lines, "first", PULLED)
    newer = [*lines, _with(export.base_row(3), "280.00")]  # day 3 in batch 1, 280 in batch 2
    restated = _pull(ingestion, world, newer, "newer", PULLED + dt.timedelta(hours=1))
    assert [a.restated_count for a in restated] == [0, 1]
    assert _stored(memory, key)[0] == 280.0
    later = PULLED + dt.timedelta(hours=2)
    again = _pull(ingestion, world, lines, "again", later, split=10, restore=True)
    assert sum(_written(a) for a in again) == 0
    (note,) = again[0].notes
    assert key in note.message and "sent again" in note.message
    assert _stored(memory, key)[0] == 280.0, "the first export wrote its version back"
