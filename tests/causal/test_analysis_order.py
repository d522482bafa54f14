"""The analysis store orders by storing, not by the wall clock (audit R19-F-CLOCK): after the
host's clock steps back, "the org's latest" is still the analysis just run, on a real SQLite
file, an upgraded store of the older schema included."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest

from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.errors import InvalidSpec

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def _analysis(org: str, name: str, at: dt.datetime) -> StoredAnalysis:
    return StoredAnalysis(org, name, "attribution", at, name.encode())


def test_a_clock_stepped_back_does_not_hide_the_newest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = AnalysisStore(tmp_path / "analyses.sqlite")
    store.put(_analysis("o", "an-early", T0))
    store.put(_analysis("o", "an-late", T0 + dt.timedelta(minutes=5)))
    store.put(_analysis("other", "an-x", T0 + dt.timedelta(hours=9)))
    with caplog.at_level(logging.WARNING, logger="causal_svc.analyses"):
        # the clock stepped back two hours: stamped before both, stored after both
        store.put_with_model(_analysis("o", "an-now", T0 - dt.timedelta(hours=2)), b"model")
    assert [a.analysis_id for a in store.latest("o")] == ["an-now", "an-late", "an-early"]
    assert "clock stepped back" in caplog.text and "an-now" in caplog.text
    first, token = store.page("o", size=2)
    assert [a.analysis_id for a in first] == ["an-now", "an-late"] and token
    rest, end = store.page("o", size=2, token=token)
    assert [a.analysis_id for a in rest] == ["an-early"] and end == ""
    # the stamp itself is kept as it was: it is when the host thought it ran
    assert store.get("o", "an-now").create_time == T0 - dt.timedelta(hours=2)
    store.close()


def test_a_store_of_the_older_schema_keeps_its_order_and_refuses_old_tokens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "analyses.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE analyses (org_id TEXT NOT NULL, analysis_id TEXT NOT NULL, kind TEXT NOT "
        "NULL, create_time_us INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (org_id, "
        "analysis_id));"
    )
    for i, name in enumerate(["an-a", "an-b", "an-c"]):
        at = int((T0 + dt.timedelta(minutes=i)).timestamp() * 1e6)
        db.execute("INSERT INTO analyses VALUES ('o', ?, 'attribution', ?, x'00')", (name, at))
    db.commit()
    db.close()
    store = AnalysisStore(path)
    assert [a.analysis_id for a in store.latest("o")] == ["an-c", "an-b", "an-a"]
    store.put(_analysis("o", "an-d", T0 - dt.timedelta(days=1)))
    assert store.latest("o", limit=1)[0].analysis_id == "an-d"
    old = store._tokens.seal_key("o", ["", int(T0.timestamp() * 1e6), "an-b"])
    with pytest.raises(InvalidSpec, match="page_token"):
        store.page("o", token=old)
    store.close()
