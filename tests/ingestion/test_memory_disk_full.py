"""Memory's full disk reaches an Ingest caller as memory's own RESOURCE_EXHAUSTED STORAGE_FULL
(G2's note on audit R19-F-DISKFULL): before, ingestion wrapped it as FAILED_PRECONDITION
MEMORY_REFUSED, a refusal of the rows. Real memory + ingestion; the disk is filled with
SQLite's max_page_count on memory's writer (SQLITE_FULL, the error a full file system gives)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

import sim
from mesh.runtime import storage
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_ingest_service import _meta_lines, _request, _scan, _stubs


def test_memory_full_is_storage_full_and_the_same_batch_lands_later(
    services_and_store: tuple[dict[str, Any], Any], world: sim.SimResult
) -> None:
    services, store = services_and_store
    ingestion, memory = _stubs(services)
    (first,) = ingestion.Ingest(iter([_request(world, _meta_lines(world, 20), "b1")]))
    assert first.accepted_count == 20
    writer = store._writer
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count={pages + 1}")  # memory's disk is full
    batch = _request(world, _meta_lines(world, 400, start=20), "b2")
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([batch])))
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "STORAGE_FULL")
    said = str(err.value.details())
    assert "memory's disk is full" in said and "same batch_id" in said
    writer.execute("PRAGMA max_page_count=1073741823")  # space freed
    (again,) = ingestion.Ingest(iter([batch]))
    assert (again.accepted_count, again.rejected_count) == (400, 0) and not again.replayed
    assert len(_scan(memory)) == 420


def test_memory_at_its_file_size_limit_is_passed_on_as_file_size_limit(
    services_and_store: tuple[dict[str, Any], Any],
    world: sim.SimResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store file of memory's at the host's file-size limit reaches the Ingest caller as
    memory's own RESOURCE_EXHAUSTED FILE_SIZE_LIMIT naming ``ulimit -f`` (s21: its own reason;
    ingestion must pass it on like STORAGE_FULL, not turn it into MEMORY_REFUSED). The
    host's limit is stood in for (lowering RLIMIT_FSIZE would limit this test process's own
    files); SQLite's refusal is real."""
    services, store = services_and_store
    ingestion, _ = _stubs(services)
    writer = store._writer
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    size = store._path.stat().st_size
    monkeypatch.setattr(storage, "_size_limit", lambda: size)  # the store is at the limit
    writer.execute(f"PRAGMA max_page_count={pages + 1}")  # so SQLite cannot grow it
    batch = _request(world, _meta_lines(world, 400), "b1")
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([batch])))
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "FILE_SIZE_LIMIT")
    said = str(err.value.details())
    assert "reached the file-size limit" in said and "ulimit -f" in said, said
    assert "same batch_id" in said
