"""bsts with dates written as text (audit R21-F12). ``liftos estimate`` sends a CSV's time
column as read; the US spreadsheet default ``8/20/2024`` was ordered as text ('10/1/2024'
before '8/20/2024'), which scrambled the series, and the scrambled treatment was reported as
the user's error ("treatment must be 0 ... then 1"). The dates are read as dates now, and
text that is not one date format is refused naming the time column."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from causal_svc.errors import InvalidSpec
from causal_svc.estimators.bsts import estimate_bsts
from causal_svc.estimators.result import EffectSpec
from mesh.cli import commands as cli
from mesh.runtime.inprocess import RunningService, running_services

SPEC = EffectSpec(outcome="y", treatment="t", time="day", covariates=("x",))
FIRST = dt.date(2024, 8, 20)


def _series(write: Callable[[dt.date], str], days: int = 60, start: int = 45) -> pd.DataFrame:
    """y = 2x + 30 from day ``start`` on, plus noise: the effect is 30."""
    rng = np.random.default_rng(1)
    x = 100 + rng.normal(0, 3, days)
    t = (np.arange(days) >= start).astype(int)
    y = 2 * x + rng.normal(0, 2, days) + 30 * t
    day = [write(FIRST + dt.timedelta(days=i)) for i in range(days)]
    return pd.DataFrame({"day": day, "y": y.round(2), "t": t, "x": x.round(2)})


def _us(d: dt.date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as s:
        yield s["causal"]


def test_cli_estimate_reads_us_dates_as_dates(
    causal: RunningService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = {}
    for name, write in (("iso", dt.date.isoformat), ("us", _us)):
        csv = tmp_path / f"{name}.csv"
        _series(write).to_csv(csv, index=False)
        for key in [k for k in os.environ if k.startswith("LIFTOS_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)
        args = ["estimate", str(csv), "--method", "bsts", "--outcome", "y", "--treatment",
                "t", "--time", "day", "--covariates", "x", "--no-checks", "--json"]  # fmt: skip
        assert cli.main(args) == 0, capsys.readouterr().err
        results[name] = json.loads(capsys.readouterr().out)
    iso, us = results["iso"], results["us"]
    assert us["point_estimate"] == pytest.approx(iso["point_estimate"], rel=1e-9)
    assert iso["ci_lower"] < 30 < iso["ci_upper"]
    assert "time column 'day' read as month/day/year dates" in us["warnings"]


@pytest.mark.parametrize(
    ("write", "words"),
    [
        # every day of the month <= 12: both readings work and disagree
        (_us, "read both as month/day/year and as day/month/year; write them as yyyy-mm-dd"),
        (lambda d: f"{d.month}/{d.day}/{d.year % 100}", "must be numbers, datetimes or dates"),
        (lambda d: d.strftime("%b %d"), "'Aug 20' is none of these"),
    ],
    ids=["ambiguous", "two_digit_year", "not_a_date"],
)
def test_text_that_is_not_one_date_format_names_the_time_column(
    write: Callable[[dt.date], str], words: str
) -> None:
    days = 12 if write is _us else 60
    frame = _series(write, days=days, start=days - 3)
    if write is _us:
        frame["day"] = [_us(dt.date(2024, 1, 1) + dt.timedelta(days=i)) for i in range(days)]
    with pytest.raises(InvalidSpec) as err:
        estimate_bsts(frame, EffectSpec(outcome="y", treatment="t", time="day"))
    assert err.value.field == "roles.time"
    assert "'day'" in str(err.value) and words in str(err.value)


def test_a_treatment_that_turns_off_names_the_column_and_the_days() -> None:
    frame = _series(dt.date.isoformat)
    frame.loc[50, "t"] = 0
    with pytest.raises(InvalidSpec) as err:
        estimate_bsts(frame, SPEC)
    assert err.value.field == "roles.treatment"
    assert "treatment column 't'" in str(err.value)
    assert "1 from 2024-10-04 and 0 again at 2024-10-09" in str(err.value)


def test_numbers_written_as_text_order_as_numbers() -> None:
    """'10' sorted before '9' as text."""
    frame = _series(lambda d: str((d - FIRST).days + 1))
    got = estimate_bsts(frame, SPEC)
    want = estimate_bsts(frame.assign(day=np.arange(1, 61)), SPEC)
    assert got.point_estimate == pytest.approx(want.point_estimate, rel=1e-9)
