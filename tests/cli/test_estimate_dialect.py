"""`liftos estimate` on a German Excel CSV (audit s18 R34 F3): a ';'-separated file was one
column ("column 'sales' (role outcome) is not in the data"), decimal commas "words ... it looks
categorical", and whole euros "12.345" were read as 12.345 without a word. Now the separator
and the decimal mark are options, and each refusal names its cause and the option. Over a real
causal server; the CLI runs in this process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from mesh.cli import commands as cli
from mesh.runtime.inprocess import running_services


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as services:
        yield services["causal"]


@pytest.fixture
def env(causal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("LIFTOS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)


def _panel() -> pd.DataFrame:
    """12 geos x 30 days, sales in whole euros of 1,000 and more, +500 in the treated cells."""
    rng = np.random.default_rng(0)
    rows = [
        {"geo": f"g{g:02d}", "day": d, "treated_post": int(g < 6 and d >= 20),
         "sales": float(round(5000 + 100 * g + 10 * d + 500 * (g < 6 and d >= 20)
                              + rng.normal(0, 50)))}
        for g in range(12) for d in range(30)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _german(x: float, decimals: int) -> str:
    text = f"{x:,.{decimals}f}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def _estimate(path: Path, *extra: str) -> int:
    return cli.main(["estimate", str(path), "--method", "did", "--outcome", "sales",
                     "--treatment", "treated_post", "--unit", "geo", "--time", "day",
                     "--no-checks", "--json", *extra])  # fmt: skip


def test_a_semicolon_file_with_decimal_commas_is_named_and_read_with_the_options(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = _panel()
    plain = tmp_path / "plain.csv"
    panel.to_csv(plain, index=False)
    assert _estimate(plain) == 0
    expected = json.loads(capsys.readouterr().out)["point_estimate"]
    semi = tmp_path / "semi.csv"
    panel.assign(sales=panel.sales.map(lambda x: _german(x + 0.25, 2))).to_csv(
        semi, sep=";", index=False
    )
    assert _estimate(semi) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {semi} looks ';'-separated") and err.count(str(semi)) == 1
    assert "pass --delimiter ';'" in err
    assert _estimate(semi, "--delimiter", ";") == 2
    err = capsys.readouterr().err
    assert "column 'sales' (outcome) holds numbers with a decimal comma" in err
    assert "pass --decimal ','" in err and "categorical" not in err
    assert _estimate(semi, "--delimiter", ";", "--decimal", ",") == 0
    got = json.loads(capsys.readouterr().out)["point_estimate"]
    assert got == pytest.approx(expected)  # +0.25 on every cell leaves the DiD unchanged


def test_whole_euros_with_dot_grouping_are_read_as_written_with_a_warning_or_as_told(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "5.012" is 5,012 in Germany and 5.012 in a US file to three places (V1 F4): the file
    cannot tell, so it is estimated as written and the warning names --decimal ','."""
    panel = _panel()
    plain = tmp_path / "plain.csv"
    panel.to_csv(plain, index=False)
    assert _estimate(plain) == 0
    expected = json.loads(capsys.readouterr().out)["point_estimate"]
    grouped = tmp_path / "grouped.csv"
    panel.assign(sales=panel.sales.map(lambda x: _german(x, 0))).to_csv(grouped, index=False)
    assert _estimate(grouped) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["point_estimate"] == pytest.approx(expected / 1000)
    assert captured.err.startswith(f"warning: {grouped}: sales: every value with a '.' has")
    assert "read as decimals" in captured.err
    assert "run liftos estimate again with --decimal ','" in captured.err
    assert _estimate(grouped, "--decimal", ",") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["point_estimate"] == pytest.approx(expected)
    assert "warning" not in captured.err


def test_a_value_only_grouping_writes_refuses_the_column(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = _panel()
    panel.loc[0, "sales"] = 1_234_567.0
    grouped = tmp_path / "grouped.csv"
    panel.assign(sales=panel.sales.map(lambda x: _german(x, 0))).to_csv(grouped, index=False)
    assert _estimate(grouped) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {grouped}: sales '1.234.567' is written with '.' as a")
    assert err.count(str(grouped)) == 1 and "liftos estimate --decimal ','" in err


def test_a_us_outcome_written_to_three_places_is_read_with_a_warning(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """V1 F4: sales in $ thousands, pandas float_format="%.3f" ("5.006"), was refused."""
    panel = _panel()
    plain = tmp_path / "plain.csv"
    panel.to_csv(plain, index=False)
    assert _estimate(plain) == 0
    expected = json.loads(capsys.readouterr().out)["point_estimate"]
    us = tmp_path / "us.csv"
    panel.assign(sales=panel.sales / 1000).to_csv(us, index=False, float_format="%.3f")
    assert _estimate(us) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["point_estimate"] == pytest.approx(expected / 1000)
    assert f"warning: {us}: sales:" in captured.err


def test_a_time_column_written_day_first_is_named(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = _panel()
    day = pd.Timestamp("2024-09-01") + pd.to_timedelta(panel.day, unit="D")
    path = tmp_path / "ddmm.csv"
    panel.assign(day=day.dt.strftime("%d.%m.%Y")).to_csv(path, index=False)
    assert _estimate(path) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: time column 'day' holds dates written day first")
    assert "'01.09.2024'" in err and "yyyy-mm-dd" in err and err.count(str(path)) == 1
