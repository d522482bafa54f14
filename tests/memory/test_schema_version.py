"""memory's stores record their schema version and refuse one newer than the build (R39 F2:
a rollback after an upgrade started SERVING, then failed every write INTERNAL "table measures
has 13 columns but 12 values were supplied"); their INSERTs name their columns, so a column a
later build adds with a default leaves this build's writes and deletions working; each
one-time schema change is logged once (R39 F3)."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.app import build
from memory_svc.bulk_import import main as import_main
from memory_svc.errors import SchemaTooNew
from memory_svc.migrations import MIGRATIONS
from memory_svc.postgres import PostgresRecordStore
from memory_svc.postgres.cluster import ThrowawayCluster
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.sqlite_upgrade import SCHEMA_VERSION
from mesh.runtime.config import PeerConfig, ServerConfig

from .erasure_data import KEPT, ORG, erase, serving, write_both


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("memory_svc")]


def test_a_new_file_gets_the_version_and_an_old_one_is_upgraded_with_a_line_per_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "memory.sqlite"
    SQLiteRecordStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    # the file as a build before the version (and before measures.account_id) left it
    db.executescript(
        "PRAGMA user_version=0; DROP INDEX measures_account; "
        "ALTER TABLE measures DROP COLUMN account_id;"
    )
    db.close()
    with caplog.at_level(logging.INFO, logger="memory_svc"):
        SQLiteRecordStore(path).close()
        steps = _messages(caplog)
        assert any("column measures.account_id added" in m for m in steps), steps
        assert any("schema version 0 -> 1" in m for m in steps), steps
        caplog.clear()
        SQLiteRecordStore(path).close()  # nothing left to do: nothing said
        assert not [m for m in _messages(caplog) if "schema" in m]


def test_a_newer_file_is_refused_naming_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "memory"
    data.mkdir()
    SQLiteRecordStore(data / "memory.sqlite").close()
    db = sqlite3.connect(data / "memory.sqlite")
    db.execute("PRAGMA user_version=7")
    db.close()
    with pytest.raises(SchemaTooNew, match="has schema version 7, newer than this build's 1"):
        SQLiteRecordStore(data / "memory.sqlite")
    # the server: one line and exit, not SERVING
    with pytest.raises(SystemExit, match=r"^memory: .*schema version 7, newer than this build's 1"):
        build(ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env()))
    # the offline import: the same line, exit 2
    source = tmp_path / "in.bin"
    source.write_bytes(b"")
    assert import_main([str(source), "--data-dir", str(tmp_path)]) == 2
    assert "schema version 7, newer than this build's 1" in capsys.readouterr().err
    db = sqlite3.connect(data / "memory.sqlite")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 7  # left as it was
    finally:
        db.close()


def test_a_column_a_later_build_adds_leaves_writes_and_deletions_working(
    tmp_path: Path,
) -> None:
    """As a rollback meets it: every table gained a column with a default."""
    path = tmp_path / "memory" / "memory.sqlite"
    path.parent.mkdir()
    SQLiteRecordStore(path).close()
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        db.execute(f"ALTER TABLE {table} ADD COLUMN later TEXT NOT NULL DEFAULT 'x'")
    db.close()
    with serving(tmp_path) as stub:
        write_both(stub)
        erase(stub)
        listed = stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60)
        assert listed.record_count == KEPT
        assert {a.account_id for a in listed.accounts} == {"act-1"}


@pytest.fixture
def pg_url(postgres_cluster: ThrowawayCluster) -> str:
    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def test_postgres_logs_each_migration_once_and_refuses_a_newer_database(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="memory_svc"):
        PostgresRecordStore(pg_url).close()
        applied = [m for m in _messages(caplog) if m.startswith("schema migration")]
        assert len(applied) == len(MIGRATIONS)
        assert (
            applied[-1] == f"schema migration {len(MIGRATIONS):04d}_{MIGRATIONS[-1].name} applied"
        )
        caplog.clear()
        PostgresRecordStore(pg_url).close()
        assert not [m for m in _messages(caplog) if m.startswith("schema migration")]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, 'from_a_newer_build')",
            (len(MIGRATIONS) + 1,),
        )
    with pytest.raises(
        SchemaTooNew, match=rf"\[{len(MIGRATIONS) + 1}\].*newest known: {len(MIGRATIONS)}"
    ):
        PostgresRecordStore(pg_url)
