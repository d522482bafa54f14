"""German and French numbers in a generic file (audit s18 R34 F1, F3): whole euros written
"2.906" (= 2,906) were stored as 2.906, a thousandth, without a word; a ';'-separated Excel
file with decimal commas had no option to be read, and was refused as "no such column".
Connector cases run the connector itself; CLI cases real memory and ingestion servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestion_svc import connectors
from ingestion_svc.raw_batch import Account, ColumnMap
from mesh import cli
from tests.ingestion.conftest import raw_batch, stored_records

DE = Account("tv", "Europe/Berlin", "EUR", "DE")
TV = ColumnMap(date="Day", geo="Region", spend="Cost", channel="tv")
ORDERS = ColumnMap(date="Day", geo="Region", conversions="Orders", revenue="NetSales")


def _normalise(rows: list[dict[str, str]], mapping: ColumnMap, account: Account = DE) -> Any:
    source = "generic_media" if mapping.channel else "generic"
    return connectors.normalise(
        raw_batch(source, [json.dumps(r) for r in rows], account, mapping=mapping)
    )


def _tv(*costs: str) -> list[dict[str, str]]:
    return [
        {"Day": f"2024-10-{i + 1:02d}", "Region": "DE-BY", "Cost": c} for i, c in enumerate(costs)
    ]


def test_a_column_a_grouped_value_proves_is_refused_naming_the_column_and_fix() -> None:
    out = _normalise(_tv("2.906", "1.094", "1.234.567", "987"), TV)
    assert out.frame.spend.tolist() == [987.0]
    assert [(r.row_index, r.field, r.reason) for r in out.rejections] == [
        (i, "Cost", "invalid_number") for i in range(3)
    ]
    message = out.rejections[0].message
    assert message.startswith("Cost '1.234.567' is written with '.' as a thousands separator")
    assert "--decimal ','" in message


def test_a_decimal_comma_beside_grouped_values_proves_the_grouping() -> None:
    out = _normalise(_tv("2.906", "1.094,50", "12.345"), TV)
    assert len(out.frame) == 0
    assert out.rejections[0].message.startswith("Cost '1.094,50' is written with '.' as a")


def test_dotted_counts_beside_whole_ones_are_read_as_decimals() -> None:
    """ "1.062" beside "987" may be 1,062 orders or a fraction of one (V1 F4: linear
    attribution's thirds, whole values written whole): read as written, as before R34."""
    rows = [
        {"Day": "2024-10-01", "Region": "DE-BY", "Orders": "1.062", "NetSales": "70034.39"},
        {"Day": "2024-10-02", "Region": "DE-BY", "Orders": "987", "NetSales": "6034.39"},
    ]
    out = _normalise(rows, ORDERS)
    assert out.rejections == []
    assert out.frame.conversions.tolist() == [1.062, 987.0]


US = Account("shop", "America/New_York", "USD", "US")


@pytest.mark.parametrize(
    "costs",
    [
        ("12.50", "1234.5", "7"),  # US: two decimals, four digits before the point
        ("12.345", "1.5", "99.999"),  # one value with one decimal decides: a decimal point
        ("0.125", "0.250", "0.375"),  # below 1: grouping never writes a leading 0
        ("2.906", "1.094"),  # two values alone: too few to tell
        ("2.906", "1.094", "12.345"),  # three decimals each: ambiguous, read as written
        ("412.500", "87.125", "233.750", "19.990", "640.000"),  # V1 F4: a "%.3f" export
        ("3", "5", "1.333", "2", "2.667"),  # V1 F4: thirds beside whole values
    ],
)
@pytest.mark.parametrize("account", [DE, US], ids=["DE", "US"])
def test_decimal_columns_are_read_as_before(costs: tuple[str, ...], account: Account) -> None:
    out = _normalise(_tv(*costs), TV, account)
    assert out.rejections == []
    assert out.frame.spend.tolist() == [float(c) for c in costs]


def test_us_revenue_and_conversions_to_three_places_are_read() -> None:
    """V1 F4's US orders file: revenue "412.500" …, conversions "1.333" beside whole ones."""
    revenue = ["412.500", "87.125", "233.750", "19.990", "640.000"]
    orders = ["3", "5", "1.333", "2", "2.667"]
    rows = [
        {"Day": f"2024-01-0{k + 1}", "Region": "CA", "Orders": o, "NetSales": r}
        for k, (o, r) in enumerate(zip(orders, revenue, strict=True))
    ]
    out = _normalise(rows, ORDERS, US)
    assert out.rejections == []
    assert out.frame.revenue.tolist() == [float(r) for r in revenue]
    assert out.frame.conversions.tolist() == [float(o) for o in orders]


def test_a_three_decimal_currency_s_amounts_are_decimals() -> None:
    kuwait = Account("tv", "Asia/Kuwait", "KWD", "KW")
    out = _normalise(_tv("2.906", "1.094", "12.345"), TV, kuwait)
    assert out.rejections == []
    assert out.frame.spend.tolist() == [2.906, 1.094, 12.345]


def test_a_decimal_comma_s_refusal_names_the_option() -> None:
    out = _normalise(_tv("1.234,56", "99.50"), TV)
    assert out.rejections[0].message.startswith("Cost '1.234,56' is not a plain number")
    assert "liftos ingest --decimal ','" in out.rejections[0].message


# --- the CLI, over real servers ---


def _ingest(org: str, path: Path, mapping: str, *extra: str, source: str = "generic") -> int:
    return cli.main(["ingest", "--org", org, "--source", source, "--account-id", "a",
                     "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE",
                     "--quiet", "--mapping", mapping, *extra, str(path)])  # fmt: skip


TV_MAP = "date=Day,geo=Region,spend=Cost,channel=tv"
TV_ROWS = "Day,Region,Cost\n2024-10-01,DE-BY,2.906\n2024-10-02,DE-BY,1.094\n2024-10-03,DE-BY,987\n"


def test_cli_reads_a_file_that_may_be_dot_grouped_as_written_says_so_and_restates_when_told(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """ "2.906" beside "987" is 2,906 EUR in Germany and 2.906 in a US file to three places
    (V1 F4): read as written, the warning names the column and --decimal ',', whose re-send
    restates the rows."""
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "tv.csv"
    path.write_text(TV_ROWS)
    assert _ingest("tvq", path, TV_MAP, source="generic_media") == 0
    err = capsys.readouterr().err
    assert f"warning: {path}: Cost: every value with a '.' has exactly three digits" in err
    assert "run liftos ingest again with --decimal ',' --pulled-at " in err
    assert "the re-send then restates the rows stored now" in err
    assert sorted(r.spend for r in stored_records(mesh["memory"], "tvq")) == [1.094, 2.906, 987]
    later = err.split("--pulled-at ")[1].split()[0]  # the advice as given
    assert _ingest("tvq", path, TV_MAP, "--decimal", ",", "--pulled-at", later,
                   source="generic_media") == 0  # fmt: skip
    assert "warning" not in capsys.readouterr().err
    assert sorted(r.spend for r in stored_records(mesh["memory"], "tvq")) == [987, 1094, 2906]
    assert _ingest("tvp", path, TV_MAP, "--decimal", ".", source="generic_media") == 0
    assert "warning" not in capsys.readouterr().err
    assert sorted(r.spend for r in stored_records(mesh["memory"], "tvp")) == [1.094, 2.906, 987]


def test_cli_refuses_a_file_a_grouped_value_proves_before_sending(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "tv.csv"
    path.write_text(TV_ROWS + "2024-10-04,DE-BY,1.234.567\n")
    assert _ingest("tvg", path, TV_MAP, source="generic_media") == 2
    err = capsys.readouterr().err
    assert f"{path}: Cost '1.234.567' is written with '.' as a thousands separator" in err
    assert "--decimal ','" in err
    assert stored_records(mesh["memory"], "tvg") == []
    assert _ingest("tvg", path, TV_MAP, "--decimal", ",", source="generic_media") == 0
    assert sorted(r.spend for r in stored_records(mesh["memory"], "tvg")) == [
        987,
        1094,
        2906,
        1234567,
    ]


def test_cli_keeps_a_us_file_as_it_was(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "us.csv"
    path.write_text("Day,Region,Cost\n2024-10-01,DE-BY,12.50\n2024-10-02,DE-BY,1234.5\n")
    assert _ingest("us", path, TV_MAP, source="generic_media") == 0
    assert sorted(r.spend for r in stored_records(mesh["memory"], "us")) == [12.5, 1234.5]


SEMI = "Datum;Bundesland;Bestellungen;Umsatz\n2024-09-15;DE-BY;1062;70.034,39\n"
SEMI_MAP = "date=Datum,geo=Bundesland,conversions=Bestellungen,revenue=Umsatz"


def test_cli_names_a_semicolon_file_and_reads_it_with_delimiter_and_decimal(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "bestellungen.csv"
    path.write_text(SEMI)
    assert _ingest("semi", path, SEMI_MAP) == 2
    err = capsys.readouterr().err
    assert f"{path} looks ';'-separated" in err and "pass --delimiter ';'" in err
    assert "no such column" not in err
    assert _ingest("semi", path, SEMI_MAP, "--delimiter", ";") == 2  # no --decimal: refused
    assert stored_records(mesh["memory"], "semi") == []
    err = capsys.readouterr().err
    assert "Umsatz '70.034,39' is written with '.' as a thousands separator" in err
    assert "--decimal ','" in err
    assert _ingest("semi", path, SEMI_MAP, "--delimiter", ";", "--decimal", ".") == 2
    assert f"{path} line 2: Umsatz '70.034,39' is not a number with '.'" in (
        capsys.readouterr().err
    )
    assert _ingest("semi", path, SEMI_MAP, "--delimiter", ";", "--decimal", ",") == 0
    (record,) = stored_records(mesh["memory"], "semi")
    assert (record.revenue, record.conversions) == (70034.39, 1062)


@pytest.mark.parametrize(
    ("written", "read"),
    [("1'234.50", 1234.5), ("1 234.50", 1234.5), ("1\u00a0234.50", 1234.5),
     ("1\u202f234.50", 1234.5), ("1,234.50", 1234.5), ("1'234'567", 1234567),
     ("1'234,567.5", None), ("12 34.5", None), ("1.234,5", None)],
)  # fmt: skip
def test_decimal_point_reads_swiss_and_spaced_groups(written: str, read: float | None) -> None:
    """V1 F10: --decimal '.' read only ',' groups, though Swiss "1'234.50" is why the
    separator and the decimal mark are options apart."""
    from mesh.cli.csv_dialect import Dialect

    assert Dialect(decimal=".").number(written) == read


def test_cli_reads_a_swiss_file_with_decimal_point(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "ch.csv"
    path.write_text("Day;Region;Cost\n2024-10-01;DE-BY;1'234.50\n2024-10-02;DE-BY;1 000\n")
    assert _ingest("ch", path, TV_MAP, "--delimiter", ";", "--decimal", ".",
                   source="generic_media") == 0  # fmt: skip
    assert sorted(r.spend for r in stored_records(mesh["memory"], "ch")) == [1000, 1234.5]
