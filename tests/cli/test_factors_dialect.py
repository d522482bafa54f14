"""`liftos factors register` of a German/French Excel CSV (s18 R34 F3's last line): a
';'-separated file was read as one column and refused as "column(s) date, name, kind, value
missing", and a value with a decimal comma ("1,5") as "is not a number" with no way to read
it. Now the ';' header is named with --delimiter, and --delimiter/--decimal read the file as
``liftos ingest`` reads one (mesh.cli.csv_dialect). Over real memory and ingestion servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS

ORG = "fr"
SEMI = "date;name;kind;value\n2024-11-29;black_week;promotion;1\n2024-11-30;cpi;macro;1.234,5\n"


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[dict[str, RunningService]]:
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


def _values(peers: PeerConfig) -> dict[str, dict[dt.date, float]]:
    with LiftOS(peers, org_id=ORG) as client:
        series = client.list_external_factors(include_values=True)
    return {
        s.name: {dt.date(v.date.year, v.date.month, v.date.day): v.value for v in s.values}
        for s in series
    }


def test_a_semicolon_file_is_named_then_read_with_delimiter_and_decimal(
    tmp_path: Path,
    services: dict[str, RunningService],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, s in services.items():
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", s.address)
    path = tmp_path / "f_semi.csv"
    path.write_text(SEMI)
    register = ["factors", "register", "--org", ORG, str(path)]
    assert commands.main(register) == 2
    err = capsys.readouterr().err
    assert "looks ';'-separated" in err and "pass --delimiter ';'" in err
    assert "missing" not in err
    assert commands.main([*register, "--delimiter", ";"]) == 2
    err = capsys.readouterr().err
    assert "f_semi.csv line 3: value '1.234,5' is not a number" in err
    assert "pass --decimal ','" in err
    assert commands.main([*register, "--delimiter", ";", "--decimal", ","]) == 0
    assert _values(PeerConfig.from_env()) == {
        "black_week": {dt.date(2024, 11, 29): 1.0},
        "cpi": {dt.date(2024, 11, 30): 1234.5},
    }


@pytest.mark.parametrize(
    ("rows", "flags", "message"),
    [
        ("date,name,kind,value\n2024-12-01,a,macro,\"1,5\"\n", [],
         "x.csv line 2: value '1,5' is not a number (a plain number, 1234.56): pass --decimal "
         "',' where ',' is the decimal mark (1,5 or 1.234,56), --decimal '.' where it "
         "separates thousands (1,234.56)"),
        ("date,name,kind,value\n2024-12-01,a,macro,\"1,234.5\"\n", [], "--decimal '.' where it"),
        ("date,name,kind,value\n2024-12-01,a,macro,1.5\n", ["--decimal", ","],
         "x.csv line 2: value '1.5' is not a number with ',' as the decimal mark (--decimal ',')"),
        ("date\tname\tkind\tvalue\n2024-12-01\ta\tmacro\t1\n", ["--delimiter", ";"],
         "looks tab-separated"),
    ],
)  # fmt: skip
def test_a_value_the_rule_does_not_read_is_named_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, flags: list[str], message: str
) -> None:
    """No mesh runs here: a refused file must not reach the network at all."""
    path = tmp_path / "x.csv"
    path.write_text(rows)
    argv = ["factors", "register", "--org", ORG, str(path), "--base-port", "1", *flags]
    assert commands.main(argv) == 2
    assert message in capsys.readouterr().err
