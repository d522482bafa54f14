"""A number LiftOS cannot read is quoted in its refusal (audit R18 #14): "1,234.56" (what
Excel and Sheets export by default) was refused as "NetSales is not a number in the
platform's format", which quoted nothing and spoke of a platform for the user's own file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion_svc import connectors
from ingestion_svc.raw_batch import Account, ColumnMap
from mesh import cli
from tests.ingestion.conftest import raw_batch

ACCOUNT = Account("shop", "America/New_York", "USD", "US")


def test_a_formatted_number_is_quoted_and_the_rule_said() -> None:
    mapping = ColumnMap(date="Day", geo="Region", revenue="NetSales", conversions="Orders")
    rows = [
        {"Day": "2024-01-01", "Region": "CA", "NetSales": "111,614.34", "Orders": "12"},
        {"Day": "2024-01-02", "Region": "CA", "NetSales": "$99.50", "Orders": "3"},
        {"Day": "2024-01-03", "Region": "CA", "NetSales": "99.5", "Orders": "1,204"},
        {"Day": "2024-01-04", "Region": "CA", "NetSales": "99.5", "Orders": 2},
    ]
    out = connectors.normalise(
        raw_batch("generic", [json.dumps(r) for r in rows], ACCOUNT, mapping=mapping)
    )
    got = {(r.row_index, r.field): r for r in out.rejections}
    assert sorted(got) == [(0, "NetSales"), (1, "NetSales"), (2, "Orders")]
    assert {r.reason for r in got.values()} == {"invalid_number"}
    assert got[0, "NetSales"].message.startswith(
        "NetSales '111,614.34' is not a plain number (digits, an optional '-' and one '.'"
    )
    assert "no thousands separators" in got[0, "NetSales"].message
    assert got[1, "NetSales"].message.startswith("NetSales '$99.50' is not a plain number")
    assert "platform" not in got[1, "NetSales"].message
    assert got[2, "Orders"].message.startswith("Orders '1,204' is not a plain number")
    assert len(out.frame) == 1


def test_a_count_with_a_fraction_is_quoted_as_not_whole() -> None:
    row = {"campaign_id": "c1", "date": "2024-01-01", "spend": "1", "impressions": "10.5"}
    mapping = ColumnMap(date="date", campaign_id="campaign_id", spend="spend",
                        impressions="impressions", channel="tv")  # fmt: skip
    out = connectors.normalise(
        raw_batch("generic_media", [json.dumps(row)], ACCOUNT, mapping=mapping)
    )
    (rejection,) = out.rejections
    assert rejection.message.startswith("impressions '10.5' is not a whole number")


def test_estimate_quotes_a_formatted_outcome_before_calling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "did.csv"
    data.write_text(
        'geo,day,treated_post,sales\nA,2024-01-01,0,"1,000.00"\nA,2024-01-02,1,1200\n'
        'B,2024-01-01,0,900\nB,2024-01-02,0,"1,100.00"\n'
    )
    argv = ["estimate", str(data), "--method", "did", "--outcome", "sales",
            "--treatment", "treated_post", "--unit", "geo", "--time", "day"]  # fmt: skip
    assert cli.main(argv) == 2  # refused before any peer is dialled
    err = capsys.readouterr().err
    assert "column 'sales' (outcome) holds '1,000.00' on line 2 (2 such values)" in err
    assert "no thousands separators" in err
