"""`liftos factors register` says a series dated one weekday a week apart is weekly and how
analyses read it (audit R4 F10: a promotions calendar dated Mondays was registered as "52
daily values" and read as Monday promotions with six average days between)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mesh.cli import commands
from mesh.runtime.inprocess import RunningService

ORG = "weekly_org"


def _write(path: Path, days: list[dt.date], name: str) -> Path:
    rows = [f"{d.isoformat()},{name},promotion,{int(d.month in (3, 11))},flag" for d in days]
    path.write_text("date,name,kind,value,unit\n" + "\n".join(rows) + "\n")
    return path


def test_a_weekly_series_is_said_weekly_and_a_daily_one_daily(
    services: dict[str, RunningService],  # the real memory + ingestion (conftest)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, s in services.items():
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", s.address)
    mondays = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(52)]
    weekly = _write(tmp_path / "weekly.csv", mondays, "promo")
    assert commands.main(["factors", "register", "--org", ORG, str(weekly)]) == 0
    out = capsys.readouterr().out
    assert "52 weekly values (every date a Monday): analyses carry each value over the six " \
           "days after its date" in out  # fmt: skip
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    daily = _write(tmp_path / "daily.csv", days, "promo_daily")
    assert commands.main(["factors", "register", "--org", ORG, str(daily)]) == 0
    out = capsys.readouterr().out
    assert "60 daily values" in out and "weekly" not in out
    # a few events that share a weekday but are not a week apart stay as given
    events = [dt.date(2024, 3, 4), dt.date(2024, 5, 27), dt.date(2024, 11, 25)]
    sparse = _write(tmp_path / "events.csv", events, "launches")
    assert commands.main(["factors", "register", "--org", ORG, str(sparse)]) == 0
    assert "3 daily values" in capsys.readouterr().out
