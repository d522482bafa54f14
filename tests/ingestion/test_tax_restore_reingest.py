"""A tax-settings restatement at the stored pull time replaces no content: it logged the stored
content itself as 'replaced by its own export', so --restore-replaced could never bring it
back, and the notes said the export was sent again (review V3 F3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.conftest import stored_records
from tests.ingestion.test_generic_taxes import ROWS, _ingest

FLAGS = ("--taxes-included", "true", "--tax-rate", "0.19")


def test_restore_after_a_tax_restatement(
    mesh: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    right = tmp_path / "orders.csv"
    right.write_text(ROWS)
    t1 = ("--pulled-at", "2024-10-01T00:00:00")
    assert _ingest("rst", right, *t1) == 0  # gross, flags forgotten
    assert _ingest("rst", right, *FLAGS, *t1) == 0  # the same file, flags added: restated net
    net = sorted(r.revenue for r in stored_records(mesh["memory"], "rst"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(ROWS.replace("70034.39", "99999.99").replace(",119\n", ",999\n"))
    assert _ingest("rst", wrong, *FLAGS, "--pulled-at", "2024-10-02T00:00:00") == 0
    capsys.readouterr()
    # the right file again, saying it corrects, pulled later than the wrong one
    assert _ingest("rst", right, *FLAGS, "--restore-replaced", "--pulled-at",
                   "2024-10-03T00:00:00") == 0  # fmt: skip
    capsys.readouterr()
    assert sorted(r.revenue for r in stored_records(mesh["memory"], "rst")) == pytest.approx(net)
