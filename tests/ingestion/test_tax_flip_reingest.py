"""A later export ingested without the tax flags leaves the rows stored net as they were (review V3 F1:
the tax-settings restatement of 97f058e rewrote every overlapping day gross, without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.conftest import stored_records
from tests.ingestion.test_generic_taxes import ROWS, _ingest


def test_later_export_without_flags_flips_net_back_to_gross(
    mesh: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    week1 = tmp_path / "week1.csv"
    week1.write_text(ROWS)
    flags = ("--taxes-included", "true", "--tax-rate", "0.19")
    assert _ingest("flip", week1, *flags, "--pulled-at", "2024-10-01T00:00:00") == 0
    net = sorted(r.revenue for r in stored_records(mesh["memory"], "flip"))
    capsys.readouterr()
    # next week's export overlaps the last days (as exports do); the flags forgotten
    week2 = tmp_path / "week2.csv"
    week2.write_text(ROWS + "2024-09-17,DE-BY,2,238\n")
    assert _ingest("flip", week2, "--pulled-at", "2024-10-08T00:00:00") == 0
    capsys.readouterr()
    now = sorted(r.revenue for r in stored_records(mesh["memory"], "flip"))
    # was [119.0, 238.0, 70034.39]: gross again, without a note
    assert {round(x, 2) for x in net} <= {round(x, 2) for x in now}
