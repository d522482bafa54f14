"""A media channel no connector knows (TV, radio, out of home) comes in as ``generic_media``
(R4-F1: a spend file through ``--source generic`` was read as the business's own outcome rows,
and analyze answered "no media spend" after 5 channels' spend had been accepted). From the
user's own CSVs through `liftos ingest` to AnalyzeAttribution: TV is a channel, with its spend
and an effect whose interval holds the one planted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS

STATES = ("CA", "TX", "NY", "FL", "PA", "OH", "IL", "GA", "NC", "MI")
DAYS = 182
START = dt.date(2024, 1, 1)
TV_IROAS = 2.0  # revenue per dollar of TV, all of it within the window's carry-over
ACCOUNT = ["--account-id", "acct", "--timezone", "America/New_York", "--currency", "USD",
           "--country", "US"]  # fmt: skip


def _files(out: Path) -> tuple[Path, Path]:
    """A store's own data: daily orders per state, and TV spend per state in two-week flights
    that each state runs on its own schedule; revenue gains 2 per TV dollar (decay 0.5)."""
    rng = np.random.default_rng(7)
    days = [START + dt.timedelta(days=d) for d in range(DAYS)]
    tv_rows, order_rows = [], []
    for geo in STATES:
        size = rng.uniform(0.5, 2.0)
        on = np.repeat(rng.random(DAYS // 14 + 1) < 0.5, 14)[:DAYS]
        spend = np.where(on, 3_000.0 * size * rng.uniform(0.7, 1.3, DAYS), 0.0)
        carried = np.zeros(DAYS)
        for t in range(DAYS):
            carried[t] = spend[t] + (0.5 * carried[t - 1] if t else 0.0)
        weekday = 1 + 0.1 * np.array([d.weekday() >= 5 for d in days])
        revenue = 40_000.0 * size * weekday + TV_IROAS * 0.5 * carried
        revenue *= rng.lognormal(0.0, 0.03, DAYS)
        for d, s, r in zip(days, spend, revenue, strict=True):
            tv_rows.append({"date": d.isoformat(), "state": geo, "cost": round(s, 2)})
            order_rows.append({"date": d.isoformat(), "state": geo, "orders": int(r // 80),
                               "revenue": round(r, 2)})  # fmt: skip
    tv, orders = out / "tv.csv", out / "orders.csv"
    pd.DataFrame(tv_rows).to_csv(tv, index=False)
    pd.DataFrame(order_rows).to_csv(orders, index=False)
    return tv, orders


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


@pytest.fixture
def env(mesh, monkeypatch: pytest.MonkeyPatch) -> PeerConfig:  # type: ignore[no-untyped-def]
    for name in ("ingestion", "memory", "causal"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
    return PeerConfig.from_env()


def _ingest(org: str, source: str, mapping: str, path: Path) -> int:
    return cli.main(["ingest", "--org", org, "--source", source, *ACCOUNT, "--mapping", mapping,
                     str(path)])  # fmt: skip


def test_a_tv_spend_file_is_a_channel_the_model_attributes_to(
    env: PeerConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tv, orders = _files(tmp_path)
    # the audit's mistake: spend through the outcome's source is warned of, naming the way
    assert _ingest("wrong", "generic", "date=date,geo=state,spend=cost,channel=tv", tv) == 0
    assert "--source generic_media" in capsys.readouterr().err
    outcome = "date=date,geo=state,conversions=orders,revenue=revenue"
    assert _ingest("store", "generic", outcome, orders) == 0
    assert _ingest("store", "generic_media", "date=date,geo=state,spend=cost,channel=tv", tv) == 0
    capsys.readouterr()
    with LiftOS(env, org_id="store") as client:
        result = client.analyze(start=START, end=START + dt.timedelta(days=DAYS - 1))
    (channel,) = result.channels
    assert channel.channel == "tv"
    spent = pd.read_csv(tv)["cost"].sum()
    assert channel.spend is not None and channel.spend.amount == pytest.approx(spent, rel=1e-6)
    iroas = channel.incremental_roas
    # Established and near the truth. Each state's TV runs on its own flights, so the default
    # identification is GEO here; its interval is a third as wide as NATIONAL's and, with the
    # model ~4% low on this world's additive TV, holds 2.0 in 5 of 12 seeds of this generator
    # (NATIONAL 9 of 12; docs/performance.md, "AUTO identification").
    assert "chosen automatically: GEO" in result.identification.reason
    assert iroas is not None and iroas.lower > 0.5
    assert iroas.estimate == pytest.approx(TV_IROAS, rel=0.08)


def test_a_media_file_without_its_channel_or_spend_is_refused_naming_the_field(
    env: PeerConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tv, _ = _files(tmp_path)
    assert _ingest("store2", "generic_media", "date=date,geo=state,spend=cost", tv) != 0
    err = capsys.readouterr().err
    assert "mapping.channel" in err and "channel=tv" in err
    assert _ingest("store2", "generic_media", "date=date,geo=state,channel=tv", tv) != 0
    assert "mapping.spend" in capsys.readouterr().err
