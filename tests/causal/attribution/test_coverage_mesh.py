"""A national TV file (no geo column) beside per-state orders, through `liftos ingest` and
AnalyzeAttribution on a real mesh (audit R18 F2: tv was stored on geo US, left out with "1 geo(s)
with media but no first-party outcome left out: US", and its effect went to search). Now tv is
a channel, its whole spend is in the model, and a warning says how it was spread."""

from __future__ import annotations

import datetime as dt
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

from .test_coverage import TRUTH, _world

ACCOUNT = ["--timezone", "America/New_York", "--currency", "USD", "--country", "US"]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


def _ingest(org: str, source: str, account: str, mapping: str, path: Path) -> int:
    return cli.main(["ingest", "--org", org, "--source", source, "--account-id", account,
                     *ACCOUNT, "--mapping", mapping, str(path)])  # fmt: skip


@pytest.fixture(scope="module")
def org(
    mesh: dict[str, RunningService], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PeerConfig]:
    """Org c1: the audit's files (orders and search, social per state; tv national) ingested
    through `liftos ingest`."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ingestion", "memory", "causal"):
            mp.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
        tmp_path = tmp_path_factory.mktemp("files")
        outcome, media = _world()
        day = lambda f: f["date"].dt.strftime("%Y-%m-%d")  # noqa: E731
        orders = tmp_path / "orders.csv"
        pd.DataFrame({"Day": day(outcome), "Region": outcome["geo"].str.removeprefix("US-"),
                      "NetSales": outcome["value"].round(2)}).to_csv(orders, index=False)  # fmt: skip
        assert _ingest("c1", "generic", "shop", "date=Day,geo=Region,revenue=NetSales", orders) == 0
        for ch in ("search", "social"):
            m = media.loc[media["channel"] == ch]
            path = tmp_path / f"{ch}.csv"
            pd.DataFrame({"date": day(m), "state": m["geo"].str.removeprefix("US-"),
                          "cost": m["spend"].round(2)}).to_csv(path, index=False)  # fmt: skip
            mapping = f"date=date,geo=state,spend=cost,channel={ch}"
            assert _ingest("c1", "generic_media", ch, mapping, path) == 0
        tv = media.loc[media["channel"] == "tv"]
        path = tmp_path / "tv_national.csv"
        pd.DataFrame({"date": day(tv), "tv_spend": tv["spend"].round(2)}).to_csv(path, index=False)
        assert (
            _ingest("c1", "generic_media", "tv", "date=date,spend=tv_spend,channel=tv", path) == 0
        )
        yield PeerConfig.from_env()


def test_a_national_tv_file_is_spread_and_attributed(org: PeerConfig) -> None:
    outcome, media = _world()
    tv = media.loc[media["channel"] == "tv"]
    start = outcome["date"].min().date()
    with LiftOS(org, org_id="c1") as client:
        result = client.analyze(start=start, end=start + dt.timedelta(days=181))
    got = {c.channel: c for c in result.channels}
    assert set(got) == set(TRUTH)
    assert got["tv"].spend is not None
    assert got["tv"].spend.amount == pytest.approx(tv["spend"].round(2).sum(), rel=1e-6)
    (said,) = [w for w in result.warnings if w.startswith("national media (US: ")]
    assert f"tv {tv['spend'].round(2).sum():,.0f} USD" in said
    assert not [w for w in result.warnings if "left out: US" in w]
    held = [ch for ch, c in got.items() if c.incremental_roas
            and c.incremental_roas.lower <= TRUTH[ch] <= c.incremental_roas.upper]  # fmt: skip
    assert sorted(held) == sorted(TRUTH)


def test_analyze_channel_says_it_fits_only_those(
    org: PeerConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R18 F16: `--channel search --channel tv` fits a model without social; the help, a note
    before the wait and the health check say so, the check with social's spend."""
    with pytest.raises(SystemExit):
        cli.main(["analyze", "--help"])
    assert "fit a model of only these channels" in " ".join(capsys.readouterr().out.split())
    for name in ("ingestion", "memory", "causal"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", getattr(org, name))
    _, media = _world()
    social = media.loc[media["channel"] == "social", "spend"].round(2).sum()
    assert cli.main(["analyze", "--org", "c1", "--channel", "search", "--channel", "tv"]) == 0
    out, err = capsys.readouterr()
    assert "note: --channel fits a model of search, tv only; every other channel's spend" in err
    assert (
        "  - channels with spend in the window were left out of the model: "
        f"social (spend {social:,.0f}); their effect can be credited" in out
    )
