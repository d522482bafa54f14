"""A generic gross-revenue file stored without the tax flags (or before they were read) is
corrected by ingesting it again with --taxes-included true --tax-rate (s18 V1 F5). Its raw
rows are stored already, so every row was a duplicate by content and memory kept the gross,
while the CLI printed "revenue stored net of 0.19 tax". The account's tax settings change
what is stored, as its time zone and country do: such rows are restated under the new
settings, and the note says "stored net" only where rows were written. Over real memory and
ingestion servers (test_generic_taxes' fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.conftest import stored_records
from tests.ingestion.test_generic_taxes import ROWS, _ingest


def test_reingest_with_tax_flags_restates_the_gross_revenue(
    mesh: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "orders.csv"
    path.write_text(ROWS)
    assert _ingest("vat2", path, "--pulled-at", "2024-10-01T00:00:00") == 0
    gross = sorted(r.revenue for r in stored_records(mesh["memory"], "vat2"))
    assert gross == [119.0, 70034.39]
    capsys.readouterr()
    flags = ("--taxes-included", "true", "--tax-rate", "0.19")
    assert _ingest("vat2", path, *flags, "--pulled-at", "2024-10-02T00:00:00") == 0
    out = capsys.readouterr()
    assert "written 2, duplicates 0" in out.out and "restatements 2" in out.out
    assert "revenue stored net of 0.19 tax" in out.err
    net = sorted(r.revenue for r in stored_records(mesh["memory"], "vat2"))
    assert net == pytest.approx([g / 1.19 for g in gross])
    assert len(stored_records(mesh["memory"], "vat2")) == 2  # restated, not doubled

    # the same file with the same flags again: stored as it would be now, nothing written,
    # and the note does not claim to have stored anything
    assert _ingest("vat2", path, *flags, "--pulled-at", "2024-10-03T00:00:00") == 0
    out = capsys.readouterr()
    assert "written 0, duplicates 2" in out.out
    assert "stored net" not in out.err and "nothing rewritten" in out.err
    # a corrected rate (0.19 -> 0.07), even with the same pull time, restates again
    assert _ingest("vat2", path, "--taxes-included", "true", "--tax-rate", "0.07",
                   "--pulled-at", "2024-10-03T00:00:00") == 0  # fmt: skip
    assert "written 2," in capsys.readouterr().out
    assert sorted(r.revenue for r in stored_records(mesh["memory"], "vat2")) == pytest.approx(
        [g / 1.07 for g in gross]
    )
