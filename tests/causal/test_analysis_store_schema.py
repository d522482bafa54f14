"""The analysis store's schema version (audit R39-F2/F3/F4): recorded, refused when newer than
the build knows, each upgrade step logged once, inserts that survive an added column, and a
page token of the build before the sequence refused saying why. Real SQLite files."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest

from causal_svc.analyses import SCHEMA_VERSION, AnalysisStore, SchemaTooNew, StoredAnalysis
from causal_svc.errors import InvalidSpec
from mesh.runtime.storage import StorageUnwritable

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
LOGGER = "causal_svc.analyses"


def _analysis(name: str, minute: int = 0) -> StoredAnalysis:
    return StoredAnalysis("o", name, "attribution", T0 + dt.timedelta(minutes=minute), b"x")


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _old_store(path: Path, *, with_seq: bool) -> None:
    """A store as a build before this one left it: unversioned, with or without ``seq``."""
    db = sqlite3.connect(path)
    seq = ", seq INTEGER" if with_seq else ""
    db.executescript(
        "CREATE TABLE analyses (org_id TEXT NOT NULL, analysis_id TEXT NOT NULL, kind TEXT NOT "
        f"NULL, create_time_us INTEGER NOT NULL, payload BLOB NOT NULL{seq}, PRIMARY KEY "
        "(org_id, analysis_id)); CREATE TABLE analysis_models (org_id TEXT NOT NULL, "
        "analysis_id TEXT NOT NULL, model BLOB NOT NULL, PRIMARY KEY (org_id, analysis_id));"
    )
    for i, name in enumerate(["an-a", "an-b"]):
        at = int((T0 + dt.timedelta(minutes=i)).timestamp() * 1e6)
        values = (name, at, i + 1) if with_seq else (name, at)
        cols = ", seq" if with_seq else ""
        marks = ", ?" if with_seq else ""
        db.execute(
            f"INSERT INTO analyses (org_id, analysis_id, kind, create_time_us, payload{cols}) "
            f"VALUES ('o', ?, 'attribution', ?, x'00'{marks})",
            values,
        )
    db.commit()
    db.close()


def test_a_new_store_records_its_version_and_logs_no_upgrade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analyses.sqlite"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        AnalysisStore(path).close()
    assert _version(path) == SCHEMA_VERSION
    assert caplog.records == []


def test_an_old_store_is_upgraded_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analyses.sqlite"
    _old_store(path, with_seq=False)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        store = AnalysisStore(path)
    assert [a.analysis_id for a in store.latest("o")] == ["an-b", "an-a"]
    store.close()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "upgraded to schema 2" in line and "column seq added, 2 analyses numbered" in line
    assert _version(path) == SCHEMA_VERSION
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        AnalysisStore(path).close()  # the next start: nothing to do, nothing said
    assert caplog.records == []


def test_an_unversioned_store_with_the_sequence_gets_its_version_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analyses.sqlite"
    _old_store(path, with_seq=True)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        AnalysisStore(path).close()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "schema version 2 recorded" in line
    assert _version(path) == SCHEMA_VERSION


def test_a_store_of_a_newer_build_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "analyses.sqlite"
    store = AnalysisStore(path)
    store.put(_analysis("an-a"))
    store.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew) as refused:
        AnalysisStore(path)
    message = str(refused.value)
    assert str(path) in message
    assert f"written by a newer LiftOS (analysis store schema {SCHEMA_VERSION + 1})" in message
    assert f"this build reads up to schema {SCHEMA_VERSION}" in message
    # the server's start turns it into one line and an exit (mesh.runtime.main)
    assert isinstance(refused.value, StorageUnwritable)
    assert _version(path) == SCHEMA_VERSION + 1  # left as the newer build wrote it


def test_inserts_name_their_columns_so_an_added_column_keeps_the_store_writable(
    tmp_path: Path,
) -> None:
    """A later build adding a column with a default (same data otherwise) must not break the
    writes of this one: positional VALUES failed 'table has 4 columns but 3 values'."""
    path = tmp_path / "analyses.sqlite"
    AnalysisStore(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE analyses ADD COLUMN note TEXT DEFAULT ''")
    db.execute("ALTER TABLE analysis_models ADD COLUMN note TEXT DEFAULT ''")
    db.commit()
    db.close()
    store = AnalysisStore(path)
    store.put(_analysis("an-a"))
    store.put_with_model(_analysis("an-b", 1), b"model")
    assert store.model("o", "an-b") == b"model"
    assert [a.analysis_id for a in store.latest("o")] == ["an-b", "an-a"]
    store.close()


def test_a_page_token_of_the_build_before_the_sequence_is_refused_saying_why(
    tmp_path: Path,
) -> None:
    store = AnalysisStore(tmp_path / "analyses.sqlite")
    for i, name in enumerate(["an-a", "an-b", "an-c"]):
        store.put(_analysis(name, i))
    old = store._tokens.seal_key("o", ["", int(T0.timestamp() * 1e6), "an-b"])
    with pytest.raises(InvalidSpec, match="earlier version of the causal service") as refused:
        store.page("o", token=old)
    assert refused.value.field == "page_token"
    assert "list again from the first page" in str(refused.value)
    store.close()
