"""``measures.account_id``: a store from before the column (SQLite as of s18, PostgreSQL at
migration 7) opens, gets it filled from the stored payloads once, and ListAccounts and
DeleteRecords answer exactly as they did when they read every payload; the fill is safe when
several processes open the old store at once and when the process doing it is killed."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import app, convert
from memory_svc.convert.accounts import payload_accounts
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore
from memory_svc.postgres.cluster import ThrowawayCluster
from memory_svc.store import RecordStore
from mesh.runtime.synthetic_records import synthetic_records
from tests.at_once import failures, run_at_once

from .test_delete_records import (
    ORG,
    Builds,
    _account_a,
    _account_b,
    _delete,
    _memory,
    _relabel,
    _write_all,
    builds,  # noqa: F401 (the fixture)
)

# measures as the s18 SQLite store laid it out (its schema, then the columns added since)
_SQLITE_BEFORE = [
    "seq", "org_id", "day", "geo", "source", "channel", "campaign_id", "spend", "impressions",
    "conversions", "revenue", "currency", "unreported",
]  # fmt: skip


def _to_sqlite_before(path: Path) -> None:
    """The SQLite layout before the column: no measures.account_id, its index or its mark."""
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX measures_account; ALTER TABLE measures DROP COLUMN account_id; "
        "DELETE FROM meta WHERE key = 'measures_account';"
    )
    assert [r[1] for r in db.execute("PRAGMA table_info(measures)")] == _SQLITE_BEFORE
    db.close()


def _to_postgres_before(url: str) -> None:
    """A database migrated to version 7: no column, no index, no mark, no migration 8."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DROP INDEX measures_account; ALTER TABLE measures DROP COLUMN account_id; "
            "DELETE FROM meta WHERE key = 'measures_account'; "
            "DELETE FROM schema_migrations WHERE version = 8"
        )
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert sorted(versions) == list(range(1, 8))


def _unfilled_sqlite(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM measures WHERE account_id = ''").fetchone()[0])
    finally:
        db.close()


def _filled_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "account_id filled" in r.getMessage()]


def test_an_old_store_is_migrated_and_lists_and_deletes_as_before(
    builds: Builds,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = _account_a(), _account_b()
    make = builds()
    data = tmp_path / "m"
    dry = memory_pb.DeleteRecordsRequest(org_id=ORG, account_id="act-2", dry_run=True)
    with _memory(make, data) as stub:
        _write_all(stub, a)
        _write_all(stub, b)
        listed = stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60)
        counted = stub.DeleteRecords(dry, timeout=60)
    url = getattr(make, "keywords", {}).get("store")
    if url:
        _to_postgres_before(url)
    else:
        _to_sqlite_before(data / "memory" / "memory.sqlite")
    caplog.set_level(logging.INFO, logger="memory_svc.app")
    with _memory(make, data) as stub:  # the column added and filled from the payloads
        assert stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60) == listed
        assert stub.DeleteRecords(dry, timeout=60) == counted
        done = _delete(stub, account_id="act-2")
        assert (done.deleted_count, done.history_count, list(done.accounts)) == (
            counted.deleted_count, counted.history_count, list(counted.accounts)
        )  # fmt: skip
        assert {x.account_id for x in done.accounts} == {"act-2"}
        after = stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60)
        assert list(after.accounts) == [x for x in listed.accounts if x.account_id != "act-2"]
    said = _filled_logs(caplog)  # once, counting every record (each names its account)
    assert len(said) == 1, said
    assert said[0].startswith(f"account_id filled for {listed.record_count} records stored ")
    caplog.clear()
    with _memory(make, data) as stub:  # once: nothing read again, the answers the same
        assert stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60) == after
        # B's records written again carry their account in the column from the write
        _write_all(stub, b)
        assert stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60) == listed
        assert _delete(stub, account_id="act-2", source=common_pb.DATA_SOURCE_META).deleted_count
    assert _filled_logs(caplog) == []


def _blank(make: Callable[..., object], data: Path, account: str) -> int:
    """Every other row of ``account`` gets the column's default "", as a build that does not
    know the column writes it after the one-off fill (a PostgreSQL replica not yet upgraded,
    a rolled-back SQLite build): the fill's mark stays set. Returns how many rows."""
    blank = "UPDATE measures SET account_id = '' WHERE account_id = {m} AND seq = 2 * (seq / 2)"
    url = getattr(make, "keywords", {}).get("store")
    if url:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(blank.format(m="%s"), (account,)).rowcount
    db = sqlite3.connect(data / "memory" / "memory.sqlite")
    try:
        with db:
            return db.execute(blank.format(m="?"), (account,)).rowcount
    finally:
        db.close()


def _fill_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "filled from their payloads" in r.getMessage()]  # fmt: skip


def test_rows_an_older_build_wrote_without_the_account_column_count_under_their_account(
    builds: Builds,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make = builds()
    data = tmp_path / "m"
    listing = memory_pb.ListAccountsRequest(org_id=ORG)
    dry = memory_pb.DeleteRecordsRequest(org_id=ORG, account_id="act-2", dry_run=True)
    no_account = memory_pb.DeleteRecordsRequest(org_id=ORG, account_id="", dry_run=True)
    with _memory(make, data) as stub:  # the answers with the column filled
        _write_all(stub, _account_a())
        _write_all(stub, _account_b())
        listed = stub.ListAccounts(listing, timeout=60)
        counted = stub.DeleteRecords(dry, timeout=60)
        none_counted = stub.DeleteRecords(no_account, timeout=60)
    assert counted.deleted_count > 0
    blanked = _blank(make, data, "act-2")
    assert blanked > 0
    caplog.set_level(logging.INFO, logger="memory_svc")
    with _memory(make, data) as stub:
        assert stub.ListAccounts(listing, timeout=60) == listed
        assert stub.DeleteRecords(dry, timeout=60) == counted
        assert stub.DeleteRecords(no_account, timeout=60) == none_counted
        # a dry run rolls its fill back: it must not say the column was filled (s19 V3 F3)
        assert _fill_warnings(caplog) == []
        assert any(f"{blanked} records of {ORG} have no account_id" in r.getMessage()
                   and "would fill" in r.getMessage() for r in caplog.records)  # fmt: skip
        done = _delete(stub, account_id="act-2")
        said = _fill_warnings(caplog)
        assert said == [f"{blanked} records of {ORG} had no account_id in measures (written "
                        "by a build from before the column): filled from their payloads"]  # fmt: skip
        assert (done.deleted_count, done.history_count, list(done.accounts)) == (
            counted.deleted_count, counted.history_count, list(counted.accounts)
        )  # fmt: skip
        after = stub.ListAccounts(listing, timeout=60)
        assert list(after.accounts) == [x for x in listed.accounts if x.account_id != "act-2"]
        assert stub.DeleteRecords(dry, timeout=60).deleted_count == 0


# ------------------------------------------------------------ several processes, a kill

_RECORDS = 6_000  # two accounts; more than one 5,000-row page of the SQLite fill


def _records() -> list[list[md_pb.CausalMarketingData]]:
    one = synthetic_records(ORG, _RECORDS // 2, seed=3, campaigns=4, geos=3)
    two = synthetic_records(ORG, _RECORDS // 2, seed=4, campaigns=4, geos=3)
    _relabel(two, "act-2", "EUR")
    return [one, two]


def _store_before(store: RecordStore, index: Path, to_before: Callable[[], None]) -> None:
    """The records written through an engine on ``store``, then the layout put back to the
    one before the column."""
    settings = IndexSettings(save_min_changes=10**9)
    engine = MemoryEngine(store, IndexManager(index, settings), MemorySettings(index=settings))
    try:
        for records in _records():
            for i in range(0, len(records), 2000):
                batch = convert.write_batch(
                    memory_pb.WriteRequest(org_id=ORG, records=records[i : i + 2000]), None
                )
                engine.write(ORG, batch.frame, batch.given_vectors,
                             convert.serialiser(batch.records))  # fmt: skip
    finally:
        engine.close()
    to_before()


# synthetic records come from two sources, half each
_WANT = [(source, account, _RECORDS // 4) for source in ("google_ads", "meta")
         for account in ("act-1", "act-2")]  # fmt: skip

_OPEN = """
from memory_svc import app
def opened(path):
    url = (path / "url").read_text() if (path / "url").exists() else ""
    store = app.open_store(url, path / "memory")
    try:
        return sorted((a.source, a.account_id, a.record_count) for a in store.accounts("{org}"))
    finally:
        store.close()
"""


def _old_stores(
    kind: str, tmp_path: Path, cluster: Callable[[], ThrowawayCluster], trials: int
) -> Path:
    """``trials`` folders, each with a store from before the column (SQLite: copies of one
    file; PostgreSQL: a database each, its URL in the folder)."""
    folder = tmp_path / "trials"
    if kind == "sqlite":
        first = tmp_path / "first" / "memory"
        _store_before(app.open_store("", first), tmp_path / "index",
                      lambda: _to_sqlite_before(first / "memory.sqlite"))  # fmt: skip
        for i in range(trials):
            (folder / str(i) / "memory").mkdir(parents=True)
            shutil.copy(first / "memory.sqlite", folder / str(i) / "memory" / "memory.sqlite")
        return folder
    for i in range(trials):
        url = cluster().create_database(f"t_{uuid.uuid4().hex[:12]}")
        _store_before(PostgresRecordStore(url), tmp_path / f"index{i}",
                      lambda url=url: _to_postgres_before(url))  # type: ignore[misc]  # fmt: skip
        (folder / str(i)).mkdir(parents=True)
        (folder / str(i) / "url").write_text(url)
    return folder


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_opening_an_old_store_at_once_all_start_and_agree(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    trials = 4
    folder = _old_stores(kind, tmp_path, lambda: request.getfixturevalue("postgres_cluster"),
                         trials)  # fmt: skip
    seen = run_at_once(_OPEN.format(org=ORG), "opened(path)", folder, processes=4,
                       trials=trials, spacing=1.0)  # fmt: skip
    assert failures(seen) == []
    for outs in seen.values():
        assert outs == [f"ok {_WANT}"] * 4
    if kind == "sqlite":
        for i in range(trials):
            assert _unfilled_sqlite(folder / str(i) / "memory" / "memory.sqlite") == 0


_KILLED = """
import os, signal, sys
from memory_svc import app
from memory_svc.convert.accounts import payload_accounts
from memory_svc.postgres import PostgresRecordStore
from memory_svc.sqlite_store import SQLiteRecordStore
pages = []
def decode(payloads):
    pages.append(len(payloads))
    if len(pages) == 2:  # the first page is filled (and, on SQLite, committed)
        os.kill(os.getpid(), signal.SIGKILL)
    return payload_accounts(payloads)
where = sys.argv[1]
store = PostgresRecordStore(where) if where.startswith("postgresql") else SQLiteRecordStore(
    __import__("pathlib").Path(where))
store.backfill_accounts(decode)
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_fill_killed_midway_is_finished_by_the_next_open(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    folder = _old_stores(kind, tmp_path, lambda: request.getfixturevalue("postgres_cluster"), 1)
    trial = folder / "0"
    url = (trial / "url").read_text() if kind == "postgresql" else ""
    where = url or str(trial / "memory" / "memory.sqlite")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED), where], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert died.returncode == -signal.SIGKILL, died.stderr
    if kind == "sqlite":  # the first page stays filled, the rest is left, the mark unset
        assert _unfilled_sqlite(Path(where)) == _RECORDS - 5000
    else:  # one transaction: nothing of it stays
        with psycopg.connect(url) as conn:
            mark = conn.execute("SELECT value FROM meta WHERE key = 'measures_account'")
            assert mark.fetchone() == (0,)
            left = conn.execute("SELECT COUNT(*) FROM measures WHERE account_id = ''")
            assert left.fetchone() == (_RECORDS,)
    store = app.open_store(url, trial / "memory")
    try:
        got = sorted((a.source, a.account_id, a.record_count) for a in store.accounts(ORG))
        assert got == _WANT
        assert store.backfill_accounts(payload_accounts) == 0  # type: ignore[attr-defined]
    finally:
        store.close()
    if kind == "sqlite":
        assert _unfilled_sqlite(Path(where)) == 0
