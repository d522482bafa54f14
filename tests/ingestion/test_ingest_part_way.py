"""An ingest that fails part-way (R49-F6, R45's note): memory's disk fills once 3 of 8 batches
are stored. Before, the SDK raised the bare error and `liftos ingest` printed only it ("the
batch was not acked" read as "nothing went in"), an exception of the caller's rows lost the
summary of what was stored, and the re-run's summary counted the 3 replayed batches "written".
Now the exception (its type kept) carries ``stored``, the CLI says what was stored and that the
same command is safe again, and replayed batches' rows are counted apart. Real ingestion and
memory servers; the disk is filled with SQLite's max_page_count on memory's writer."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import sim
from mesh import cli
from mesh.cli import ingest as cli_ingest
from mesh.sdk import IngestSummary, LiftOS, RpcFailure
from tests.ingestion.conftest import peers_of
from tests.ingestion.test_ingest_service import _account, _meta_lines, _scan, _stubs

ROWS, BATCH, BEFORE = 2400, 300, 900  # 8 batches; the disk fills after the 3rd is stored
PULLED = dt.datetime(2025, 1, 13, 9, tzinfo=dt.UTC)


def filling(services: dict[str, Any], store: Any, org: str, rows: Iterator[Any]) -> Iterator[Any]:
    """``rows``, the disk filled once memory holds the first BEFORE of them (the next batch is
    not read, so not sent, until then)."""
    _, memory = _stubs(services)
    for k, row in enumerate(rows):
        if k == BEFORE:
            deadline = time.monotonic() + 60
            while held(memory, org) < BEFORE and time.monotonic() < deadline:
                time.sleep(0.05)
            pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
            store._writer.execute(f"PRAGMA max_page_count={pages + 1}")
        yield row


def held(memory: Any, org: str) -> int:
    try:
        return len(_scan(memory, org))
    except grpc.RpcError:  # ORG_NOT_FOUND until its first batch is stored
        return 0


def free(store: Any) -> None:
    store._writer.execute("PRAGMA max_page_count=1073741823")


def test_the_sdk_says_what_was_stored_and_a_rerun_counts_replays_apart(
    services_and_store: tuple[dict[str, Any], Any], world: sim.SimResult
) -> None:
    services, store = services_and_store
    lines, account = _meta_lines(world, ROWS), _account(world, "meta")
    call = dict(account=account, org_id="pw", batch_size=BATCH, pulled_at=PULLED)
    with LiftOS(peers_of(services)) as lo:
        with pytest.raises(RpcFailure) as info:
            lo.ingest("meta", filling(services, store, "pw", iter(lines)), **call)  # type: ignore[arg-type]
        assert info.value.reason == "STORAGE_FULL"
        stored = info.value.stored  # type: ignore[attr-defined]
        assert isinstance(stored, IngestSummary)
        assert (stored.batches, stored.rows, stored.written) == (3, BEFORE, BEFORE)
        assert "stored before the failure: 3 batches acked (900 rows" in "".join(
            info.value.__notes__
        )
        free(store)
        again = lo.ingest("meta", lines, **call)  # type: ignore[arg-type]
    assert (again.batches, again.replayed_batches, again.replayed_rows) == (8, 3, BEFORE)
    assert again.written == again.accepted - BEFORE - again.duplicates - again.superseded
    assert again.written == ROWS - BEFORE - again.rejected  # before: 2,400, replays counted
    _, memory = _stubs(services)
    assert len(_scan(memory, "pw")) == again.accepted


def test_an_exception_of_the_callers_rows_keeps_its_type_and_carries_what_was_stored(
    services_and_store: tuple[dict[str, Any], Any], world: sim.SimResult
) -> None:
    services, _ = services_and_store
    lines = _meta_lines(world, ROWS)

    def rows() -> Iterator[str]:
        yield from lines[:BEFORE]
        raise KeyError("the caller's own failure")

    with LiftOS(peers_of(services)) as lo, pytest.raises(KeyError) as info:
        lo.ingest("meta", rows(), account=_account(world, "meta"), org_id="pk",
                  batch_size=BATCH)  # fmt: skip
    stored = info.value.stored  # type: ignore[attr-defined]
    assert (stored.batches, stored.rows, stored.written) == (3, BEFORE, BEFORE)
    _, memory = _stubs(services)
    assert len(_scan(memory, "pk")) == BEFORE


def test_the_cli_says_what_was_stored_and_that_the_same_command_is_safe(
    services_and_store: tuple[dict[str, Any], Any],
    world: sim.SimResult,
    world_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services, store = services_and_store
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    monkeypatch.setenv("LIFTOS_MEMORY_ADDR", peers.memory)
    export = tmp_path / "meta.ndjson"
    export.write_text("".join(f"{line}\n" for line in _meta_lines(world, ROWS)))
    argv = ["ingest", "--org", "org_001", "--source", "meta", "--batch-size", str(BATCH),
            "--accounts", str(world_dir / "accounts.json"), "--country", "US", "--quiet",
            str(export)]  # fmt: skip
    read = cli_ingest.numbered_rows
    monkeypatch.setattr(cli_ingest, "numbered_rows",
                        lambda *a: filling(services, store, "org_001", read(*a)))  # fmt: skip
    assert cli.main(argv) == 4
    err = capsys.readouterr().err
    assert "STORAGE_FULL" in err
    assert (
        "stored before the failure: 3 batches acked (900 rows); run the same command again — "
        "acked batches are answered from the ledger, nothing is written twice"
    ) in err, err
    free(store)
    monkeypatch.setattr(cli_ingest, "numbered_rows", read)
    assert cli.main([*argv[:-1], "--json", str(export)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["replayed_batches"], summary["replayed_rows"]) == (3, BEFORE)
    assert (summary["written"], summary["rejected"]) == (ROWS - BEFORE, 0)  # before: 2,400
    _, memory = _stubs(services)
    assert len(_scan(memory, "org_001")) == summary["accepted"]
