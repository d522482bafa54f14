"""A generic orders file said to hold tax (audit s18 R34 F2): `--taxes-included true
--tax-rate 0.19` was accepted and ignored for --source generic, so an EU shop's gross revenue
was stored with its 19% VAT and every return read 19% high. Now its revenue is stored net,
as Shopify's net sales are; a rate missing, or the flags on a source that does not read them,
are refused. Over real memory and ingestion servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion_svc import connectors
from ingestion_svc.raw_batch import Account, ColumnMap
from mesh import cli
from tests.ingestion.conftest import raw_batch, stored_records

ROWS = "Day,Region,Orders,Sales\n2024-09-15,DE-BY,1062,70034.39\n2024-09-16,DE-BY,3,119\n"
MAPPING = "date=Day,geo=Region,conversions=Orders,revenue=Sales"


def _ingest(org: str, path: Path, *extra: str, source: str = "generic") -> int:
    return cli.main(["ingest", "--org", org, "--source", source, "--account-id", "shop",
                     "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE",
                     "--quiet", "--mapping", MAPPING, *extra, str(path)])  # fmt: skip


def test_tax_inclusive_revenue_is_stored_net_and_said(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "orders.csv"
    path.write_text(ROWS)
    assert _ingest("vat", path, "--taxes-included", "true", "--tax-rate", "0.19") == 0
    assert "revenue stored net of 0.19 tax" in capsys.readouterr().err
    stored = sorted((r.revenue, r.conversions) for r in stored_records(mesh["memory"], "vat"))
    assert stored == [(pytest.approx(100.0), 3), (pytest.approx(70034.39 / 1.19), 1062)]
    assert _ingest("gross", path, "--taxes-included", "false", "--tax-rate", "0.19") == 0
    assert sorted(r.revenue for r in stored_records(mesh["memory"], "gross")) == [119, 70034.39]


def test_a_rate_missing_or_a_source_that_ignores_the_flags_is_refused(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "orders.csv"
    path.write_text(ROWS)
    assert _ingest("norate", path, "--taxes-included", "true") == 2
    assert "pass --tax-rate (e.g. 0.19" in capsys.readouterr().err
    tv = tmp_path / "tv.csv"
    tv.write_text("Day,Region,Cost\n2024-09-15,DE-BY,100\n")
    argv = ["ingest", "--org", "tv", "--source", "generic_media", "--account-id", "tv",
            "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE", "--quiet",
            "--mapping", "date=Day,geo=Region,spend=Cost,channel=tv", "--tax-rate", "0.19",
            str(tv)]  # fmt: skip
    assert cli.main(argv) == 2
    assert "--tax-rate: --source generic_media does not read them" in capsys.readouterr().err
    assert stored_records(mesh["memory"], "norate") == stored_records(mesh["memory"], "tv") == []


def test_the_connector_refuses_tax_inclusive_revenue_without_a_rate() -> None:
    """An SDK caller's account, past the CLI's check."""
    row = {"Day": "2024-09-15", "Region": "DE-BY", "Sales": "119"}
    mapping = ColumnMap(date="Day", geo="Region", revenue="Sales")
    account = Account("shop", "Europe/Berlin", "EUR", "DE", taxes_included=True)
    out = connectors.normalise(raw_batch("generic", [json.dumps(row)], account, mapping=mapping))
    assert [(r.field, r.reason) for r in out.rejections] == [("Sales", "missing_field")]
    assert "pass --tax-rate" in out.rejections[0].message


@pytest.mark.parametrize(
    "flags",
    [("--taxes-included", "false"), ("--tax-rate", "0"),
     ("--taxes-included", "false", "--tax-rate", "0.19")],
)  # fmt: skip
def test_flags_that_change_nothing_pass_on_a_source_that_ignores_them(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], flags: tuple[str, ...],
) -> None:  # fmt: skip
    """V1 F8: a script passing one set of account flags to every source stopped (rc 2) on
    --taxes-included false for a source that reads no taxes."""
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    tv = tmp_path / "tv.csv"
    tv.write_text("Day,Region,Cost\n2024-09-15,DE-BY,100\n")
    org = "tv" + "".join(f.strip("-")[:3] for f in flags) + str(len(flags))
    argv = ["ingest", "--org", org, "--source", "generic_media", "--account-id", "tv",
            "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE", "--quiet",
            "--mapping", "date=Day,geo=Region,spend=Cost,channel=tv", *flags, str(tv)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "does not read them" not in capsys.readouterr().err
    assert [r.spend for r in stored_records(mesh["memory"], org)] == [100]


def test_taxes_included_true_on_a_source_that_ignores_it_is_still_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tv = tmp_path / "tv.csv"
    tv.write_text("Day,Region,Cost\n2024-09-15,DE-BY,100\n")
    argv = ["ingest", "--org", "tvtrue", "--source", "meta", "--account-id", "tv",
            "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE",
            "--taxes-included", "true", "--tax-rate", "0.19", str(tv)]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--taxes-included and --tax-rate: --source meta does not read them" in err
