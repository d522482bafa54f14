"""A JSON-lines file's text amounts are judged as a CSV's: a German whole-euro revenue '2.906'
beside '987' is read as decimals with the warning naming the column and --decimal ','
(review V3 F4: the CSV of the same rows was warned about, the JSON file stored 2.906 without
a word, where ingestion had refused it before 1c8e1ca)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingestion.conftest import mesh, stored_records  # noqa: F401
from tests.ingestion.test_generic_taxes import _ingest


def test_json_lines_whole_euros_are_said(
    mesh: dict[str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "orders.jsonl"
    rows = [("2024-09-15", "DE-BY", 3, "2.906"), ("2024-09-15", "DE-BE", 2, "987")]
    path.write_text("".join(json.dumps({"Day": d, "Region": g, "Orders": o, "Sales": s}) + "\n"
                            for d, g, o, s in rows))  # fmt: skip
    assert _ingest("jde", path) == 0
    err = capsys.readouterr().err
    assert "Sales" in err and "--decimal ','" in err, err
    assert sorted(r.revenue for r in stored_records(mesh["memory"], "jde")) == [2.906, 987.0]
