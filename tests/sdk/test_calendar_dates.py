"""`LiftOS.calendar` and `liftos calendar` (audit R21 F9): ISO date strings raised
AttributeError ('str' object has no attribute 'year') where every other SDK verb takes them,
and the frame printed the ISO week beside the calendar year ("2021 … iso_week 53", a week
that does not exist: it is 2020-W53). Over a real ingestion server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands
from mesh.runtime.config import PeerConfig
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerConfig]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})


def test_iso_strings_are_dates_and_the_iso_week_has_its_year(peers: PeerConfig) -> None:
    with LiftOS(peers) as client:
        frame = client.calendar("US", "2020-12-31", dt.date(2021, 1, 4))
        with pytest.raises(InvalidInput, match="end"):
            client.calendar("US", "2024-12-29", "2025-02-30")
    assert list(frame["date"]) == [dt.date(2020, 12, 31) + dt.timedelta(d) for d in range(5)]
    assert list(zip(frame["year"], frame["iso_year"], frame["iso_week"], strict=True)) == [
        (2020, 2020, 53), (2021, 2020, 53), (2021, 2020, 53), (2021, 2020, 53), (2021, 2021, 1),
    ]  # fmt: skip


def test_the_cli_prints_the_iso_year(
    peers: PeerConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    # the verb's own parser: a hand-built Namespace missed flags added since (--timeout, --json)
    args = commands.build_parser().parse_args(
        ["calendar", "--country", "US", "--start", "2024-12-29", "--end", "2024-12-30"]
    )
    assert commands.cmd_calendar(args) == 0
    header, _, dec30 = capsys.readouterr().out.splitlines()
    assert header.split()[1:5] == ["year", "quarter", "month", "iso_year"]
    assert dec30.split()[1:6] == ["2024", "4", "12", "2025", "1"]
