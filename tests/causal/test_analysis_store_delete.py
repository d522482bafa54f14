"""The analysis store deletes an org's analyses with their fitted models (an erasure request,
audit R40-F1), for every replica sharing the file, and leaves the deleted bytes in neither the
database nor its write-ahead log. Real SQLite files throughout."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.errors import AnalysisNotFound
from tests.runtime.test_sqlite_erase import cleared_in_the_background

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
SECRET = b"Zebra-Client-Secret-Campaign"


def _put(store: AnalysisStore, org: str, name: str, minute: int = 0) -> None:
    payload = b"campaign " + SECRET + b" of " + name.encode() + b" " * 2000
    model = b"fitted " + SECRET + b" " + name.encode() + b" " * 4000
    at = T0 + dt.timedelta(minutes=minute)
    store.put_with_model(StoredAnalysis(org, name, "attribution", at, payload), model)


def _files_hold(path: Path, needle: bytes) -> int:
    return sum(p.read_bytes().count(needle) for p in (path, Path(f"{path}-wal")) if p.exists())


def test_deleting_by_id_and_all_removes_the_rows_and_models_of_that_org_only(
    tmp_path: Path,
) -> None:
    store = AnalysisStore(tmp_path / "analyses.sqlite")
    for i, name in enumerate(["an-a", "an-b", "an-c"]):
        _put(store, "client", name, i)
    _put(store, "other", "an-a")  # the same id in another org

    counted = store.delete("client", ["an-b", "an-zz", "an-b"], dry_run=True)
    assert counted.deleted_ids == ("an-b",) and counted.not_found == ("an-zz",)
    assert store.get("client", "an-b") and store.model("client", "an-b") is not None

    done = store.delete("client", ["an-b", "an-zz"])
    assert done.deleted_ids == ("an-b",) and done.not_found == ("an-zz",)
    with pytest.raises(AnalysisNotFound):
        store.get("client", "an-b")
    assert store.model("client", "an-b") is None
    assert [a.analysis_id for a in store.latest("client")] == ["an-c", "an-a"]
    # a retry of the same delete: answered, nothing deleted
    again = store.delete("client", ["an-b"])
    assert again.deleted_ids == () and again.not_found == ("an-b",)

    everything = store.delete("client", None)
    assert everything.deleted_ids == ("an-a", "an-c") and everything.not_found == ()
    assert store.latest("client") == [] and store.page("client") == ([], "")
    assert store.model("client", "an-a") is None
    # the other org's analysis of the same id is untouched
    assert store.get("other", "an-a").payload.startswith(b"campaign ")
    assert store.model("other", "an-a") is not None
    store.close()


def test_a_deleted_analysis_leaves_the_files(tmp_path: Path) -> None:
    """The campaign name an analysis read is in neither the database nor its WAL after the
    delete (secure_delete zeroes the cells, a checkpoint empties the log)."""
    path = tmp_path / "analyses.sqlite"
    store = AnalysisStore(path)
    _put(store, "client", "an-a")
    _put(store, "client", "an-b")
    assert _files_hold(path, SECRET) >= 4
    store.delete("client", None)
    assert _files_hold(path, SECRET) == 0
    store.close()
    assert _files_hold(path, SECRET) == 0


def test_a_replica_sharing_the_store_stops_serving_a_deleted_analysis(tmp_path: Path) -> None:
    path = tmp_path / "analyses.sqlite"
    one, two = AnalysisStore(path), AnalysisStore(path)
    _put(one, "client", "an-a")
    assert two.model("client", "an-a") is not None  # the other replica serves it
    one.delete("client", ["an-a"])
    with pytest.raises(AnalysisNotFound):
        two.get("client", "an-a")
    assert two.model("client", "an-a") is None and two.latest("client") == []
    assert two.delete("client", ["an-a"]).not_found == ("an-a",)
    one.close()
    two.close()


def test_more_ids_than_one_statement_takes(tmp_path: Path) -> None:
    store = AnalysisStore(tmp_path / "analyses.sqlite")
    for i in range(3):
        _put(store, "client", f"an-{i}", i)
    asked = [f"an-{i}" for i in range(1000)]  # two chunks of ids, three of them stored
    done = store.delete("client", asked)
    assert done.deleted_ids == ("an-0", "an-1", "an-2") and len(done.not_found) == 997
    assert store.latest("client") == []
    store.close()


def test_a_deleted_analysis_leaves_the_log_once_a_reader_is_done(tmp_path: Path) -> None:
    """A replica reading the store while an analysis is deleted keeps the WAL in use: the
    delete answers at once, and its bytes leave the files as soon as that read ends, with no
    further write (before: they stayed in the WAL until some later checkpoint)."""
    path = tmp_path / "analyses.sqlite"
    store = AnalysisStore(path)
    _put(store, "client", "an-a")
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM analyses").fetchone() == (1,)
        assert store.delete("client", ["an-a"]).deleted_ids == ("an-a",)
        assert _files_hold(path, SECRET) > 0  # the reader's snapshot still needs them
        reader.execute("COMMIT")  # the replica stays connected, reading nothing
        cleared_in_the_background(path, lambda: _files_hold(path, SECRET))
    finally:
        reader.close()
        store.close()


def test_a_delete_that_finds_nothing_does_not_clear_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean-up VACUUMs the whole store under its lock (seconds on a large one: every
    org's reads wait); a retried delete of ids already gone must not pay it (s20 V2-F1)."""
    store = AnalysisStore(tmp_path / "analyses.sqlite")
    _put(store, "client", "an-a")
    cleared: list[int] = []
    monkeypatch.setattr(store, "_erased", lambda: cleared.append(1))
    assert store.delete("client", ["an-missing"]).not_found == ("an-missing",)
    assert store.delete("other", None).deleted_ids == () and cleared == []
    store.delete("client", ["an-a"])
    assert cleared == [1]
    store.close()
