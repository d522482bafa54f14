"""`liftos ingest --mapping` with a field given twice (audit R18 #12): the later column
silently won, so `revenue=NetSales,revenue=Orders` (a slip for conversions=Orders) stored the
order count as revenue with `rejected 0`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh import cli
from mesh.cli.ingest import parse_mapping


def test_a_field_given_twice_is_refused_naming_both_columns(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("Day,Region,NetSales,Orders\n2024-01-01,CA,10.5,2\n")
    argv = ["ingest", "--org", "o", "--source", "generic", "--account-id", "shop",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--mapping", "date=Day,geo=Region,revenue=NetSales,revenue=Orders", str(orders)]  # fmt: skip
    with pytest.raises(SystemExit) as refused:
        cli.main(argv)  # refused before any peer is dialled
    message = str(refused.value.code)
    assert "revenue twice" in message
    assert "revenue=NetSales" in message and "revenue=Orders" in message


def test_one_column_feeding_two_measures_is_warned_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_mapping("date=Day,revenue=NetSales,conversions=NetSales") == {
        "date": "Day", "revenue": "NetSales", "conversions": "NetSales",
    }  # fmt: skip
    err = capsys.readouterr().err
    assert "column NetSales as conversions and revenue" in err
    assert parse_mapping("date=Day,geo=Region,revenue=NetSales") == {
        "date": "Day", "geo": "Region", "revenue": "NetSales",
    }  # fmt: skip
    assert capsys.readouterr().err == ""
