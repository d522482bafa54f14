"""The user's path of audits R25 F1 / R31 F4 on a real mesh, through `liftos ingest` and
AnalyzeAttribution: media files ingested without --country beside orders with it are refused
naming both geo spellings and the fix; re-ingesting the same files with --country, as told,
restates the stored rows (it was "duplicates" and the org stayed stuck) and the analysis runs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS

from .test_coverage import _world

ACCOUNT = ["--timezone", "America/New_York", "--currency", "USD"]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


def _ingest(source: str, account: str, mapping: str, path: Path, *country: str) -> list[str]:
    return ["ingest", "--org", "c1", "--source", source, "--account-id", account, *ACCOUNT,
            *country, "--mapping", mapping, "--json", "--quiet", str(path)]  # fmt: skip


def test_media_without_country_is_named_and_a_corrected_re_ingest_fixes_it(
    mesh: dict[str, RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("ingestion", "memory", "causal"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
    outcome, media = _world()
    day = lambda f: f["date"].dt.strftime("%Y-%m-%d")  # noqa: E731
    orders = tmp_path / "orders.csv"
    pd.DataFrame({"Day": day(outcome), "Region": outcome["geo"].str.removeprefix("US-"),
                  "NetSales": outcome["value"].round(2)}).to_csv(orders, index=False)  # fmt: skip

    def run(argv: list[str]) -> dict:  # type: ignore[type-arg]
        assert cli.main(argv) == 0
        return json.loads(capsys.readouterr().out)

    run(
        _ingest(
            "generic", "shop", "date=Day,geo=Region,revenue=NetSales", orders, "--country", "US"
        )
    )
    files = []
    for ch in ("search", "social"):
        m = media.loc[media["channel"] == ch]
        path = tmp_path / f"{ch}.csv"
        pd.DataFrame({"date": day(m), "state": m["geo"].str.removeprefix("US-"),
                      "cost": m["spend"].round(2)}).to_csv(path, index=False)  # fmt: skip
        files.append((ch, path, f"date=date,geo=state,spend=cost,channel={ch}"))
        first = run(_ingest("generic_media", ch, files[-1][2], path))  # no --country
        assert first["written"] == first["rows"] > 0
    start = outcome["date"].min().date()
    end = start + dt.timedelta(days=181)
    peers = PeerConfig.from_env()
    with LiftOS(peers, org_id="c1") as client, pytest.raises(Exception) as refused:
        client.analyze(start=start, end=end)
    message = str(refused.value)
    assert "share none with the outcome's" in message and "--country US" in message
    assert "(CA, " in message and "(US-CA, " in message

    for ch, path, mapping in files:  # as the refusal says: the same files, with --country
        again = run(_ingest("generic_media", ch, mapping, path, "--country", "US"))
        assert again["written"] == again["restated"] == again["rows"], again
        assert again["duplicates"] == 0
    with LiftOS(peers, org_id="c1") as client:
        result = client.analyze(start=start, end=end)
    assert {c.channel for c in result.channels} == {"search", "social"}
    for ch, path, mapping in files:  # once more: the ledger answers (same batches), no write
        same = run(_ingest("generic_media", ch, mapping, path, "--country", "US"))
        assert same["replayed_batches"] == same["batches"] > 0, json.dumps(same)


def test_an_account_in_another_time_zone_is_named_by_the_analysis(
    mesh: dict[str, RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R31 F5 through AnalyzeAttribution: orders of a New York store and a Berlin account's
    media are joined by date label; the analysis says how far apart their days start."""
    for name in ("ingestion", "memory", "causal"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
    outcome, media = _world()
    day = lambda f: f["date"].dt.strftime("%Y-%m-%d")  # noqa: E731
    orders = tmp_path / "orders.csv"
    pd.DataFrame({"Day": day(outcome), "Region": outcome["geo"],
                  "NetSales": outcome["value"].round(2)}).to_csv(orders, index=False)  # fmt: skip
    zones = {"search": "America/New_York", "social": "Europe/Berlin"}

    def ingest(source: str, account: str, mapping: str, path: Path, zone: str) -> None:
        argv = ["ingest", "--org", "tz", "--source", source, "--account-id", account,
                "--timezone", zone, "--currency", "USD", "--mapping", mapping, "--json",
                "--quiet", str(path)]  # fmt: skip
        assert cli.main(argv) == 0
        capsys.readouterr()

    ingest("generic", "shop", "date=Day,geo=Region,revenue=NetSales", orders, "America/New_York")
    for ch, zone in zones.items():
        m = media.loc[media["channel"] == ch]
        path = tmp_path / f"{ch}.csv"
        pd.DataFrame({"date": day(m), "geo": m["geo"],
                      "cost": m["spend"].round(2)}).to_csv(path, index=False)  # fmt: skip
        ingest("generic_media", ch, f"date=date,geo=geo,spend=cost,channel={ch}", path, zone)
    start = outcome["date"].min().date()
    with LiftOS(PeerConfig.from_env(), org_id="tz") as client:
        result = client.analyze(start=start, end=start + dt.timedelta(days=181))
    named = [w for w in result.warnings if "days start at" in w]
    assert len(named) == 1 and named[0].startswith("social's days start at"), named
    assert "6 hours apart" in named[0] and "outcome's previous day" in named[0]
