"""A national TV file (geo US) beside per-state orders and media, ingested through `liftos
ingest` (tests/causal/attribution/test_coverage_mesh.py's world): the analysis spreads tv over
the states, and the drift check reads tv as the panel does, so unchanged data says nothing on
OptimizeBudget, Recommend, PredictPerformance and CheckAnalysisData, and a restated tv day
still says the change (audit s18 V2-F2: every one said "tv 6,606,460 -> 0 (-100.0%)")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from causal_svc.attribution.coverage import is_national
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS
from surfacing_svc import data_drift as drift_module
from surfacing_svc.app import build as surfacing_build
from tests.causal.attribution.test_coverage import _world

ACCOUNT = ["--timezone", "America/New_York", "--currency", "USD", "--country", "US"]
CHANGED = "changed since it was made"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {
        "memory": memory_build,
        "ingestion": ingestion_build,
        "causal": causal_build,
        "surfacing": surfacing_build,
    }
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


def _ingest(org: str, source: str, account: str, mapping: str, path: Path) -> int:
    return cli.main(
        [
            "ingest",
            "--org",
            org,
            "--source",
            source,
            "--account-id",
            account,
            *ACCOUNT,
            "--mapping",
            mapping,
            str(path),
        ]
    )


@pytest.fixture(scope="module")
def org(mesh, tmp_path_factory) -> Iterator[PeerConfig]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ingestion", "memory", "causal", "surfacing"):
            mp.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
        tmp_path = tmp_path_factory.mktemp("files")
        outcome, media = _world()
        day = lambda f: f["date"].dt.strftime("%Y-%m-%d")  # noqa: E731
        orders = tmp_path / "orders.csv"
        pd.DataFrame(
            {
                "Day": day(outcome),
                "Region": outcome["geo"].str.removeprefix("US-"),
                "NetSales": outcome["value"].round(2),
            }
        ).to_csv(orders, index=False)
        assert _ingest("c1", "generic", "shop", "date=Day,geo=Region,revenue=NetSales", orders) == 0
        for ch in ("search", "social"):
            m = media.loc[media["channel"] == ch]
            path = tmp_path / f"{ch}.csv"
            pd.DataFrame(
                {
                    "date": day(m),
                    "state": m["geo"].str.removeprefix("US-"),
                    "cost": m["spend"].round(2),
                }
            ).to_csv(path, index=False)
            mapping = f"date=date,geo=state,spend=cost,channel={ch}"
            assert _ingest("c1", "generic_media", ch, mapping, path) == 0
        path = _tv_file(tmp_path / "tv_national.csv")
        assert (
            _ingest("c1", "generic_media", "tv", "date=date,spend=tv_spend,channel=tv", path) == 0
        )
        yield PeerConfig.from_env()


def _tv_file(path: Path, restate: dt.date | None = None) -> Path:
    _, media = _world()
    tv = media.loc[media["channel"] == "tv"].reset_index(drop=True)
    spend = tv["spend"].round(2)
    if restate is not None:
        spend = spend.where(tv["date"].dt.date != restate, spend * 2 + 1000.0)
    pd.DataFrame({"date": tv["date"].dt.strftime("%Y-%m-%d"), "tv_spend": spend}).to_csv(
        path, index=False
    )
    return path


def _warnings(mesh, analysis_id: str) -> dict[str, list[str]]:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    return {
        "optimize": list(stub.OptimizeBudget(pb.OptimizeBudgetRequest(
            org_id="c1", analysis_id=analysis_id, total_budget=common_pb.Money(amount=1e6)),
            timeout=300).warnings),
        "recommend": list(stub.Recommend(pb.RecommendRequest(
            org_id="c1", analysis_ids=[analysis_id], design_tests=False), timeout=300).warnings),
        "predict": list(stub.PredictPerformance(pb.PredictPerformanceRequest(
            org_id="c1", analysis_id=analysis_id, horizon_days=14), timeout=300).warnings),
        "check": list(stub.CheckAnalysisData(pb.CheckAnalysisDataRequest(
            org_id="c1", analysis_id=analysis_id), timeout=300).warnings),
    }  # fmt: skip


def test_national_tv_unchanged_says_nothing_restated_says_the_change(
    org: PeerConfig, mesh, tmp_path: Path
) -> None:
    outcome, _ = _world()
    start = outcome["date"].min().date()
    with LiftOS(org, org_id="c1") as client:
        result = client.analyze(start=start, end=start + dt.timedelta(days=181))
    tv = next(c.spend.amount for c in result.channels if c.channel == "tv")
    assert tv > 0
    got = _warnings(mesh, result.analysis_id)
    assert not [x for ws in got.values() for x in ws if CHANGED in x], got
    # one tv day restated inside the window: every verb says tv's spend changed
    day = start + dt.timedelta(days=40)
    path = _tv_file(tmp_path / "tv_restated.csv", restate=day)
    assert _ingest("c1", "generic_media", "tv", "date=date,spend=tv_spend,channel=tv", path) == 0
    got = _warnings(mesh, result.analysis_id)
    for verb, ws in got.items():
        said = [x for x in ws if "channel spend over this analysis's window changed" in x]
        assert len(said) == 1 and "tv " in said[0], (verb, ws)
        assert f"tv {tv:,.0f} -> " in said[0], (verb, said)


@pytest.mark.parametrize(
    "geo, outcome_geos, national",
    [("US", {"US-CA", "US-NY"}, True), ("", {"US-CA"}, True), ("US", {"US-CA", "DE-BY"}, False),
     ("US-CA", {"US-CA", "US-NY"}, False), ("CA", {"US-CA"}, False), ("US", {"", "US-CA"}, True),
     ("US", set(), False), ("", set(), True), ("DE", {"DE-BY", "DE-BE"}, True)],
)  # fmt: skip
def test_the_national_rule_is_the_panels(geo: str, outcome_geos: set[str], national: bool) -> None:
    # one rule (mesh.runtime.national_geo), read by both: the panel's spread and the drift check
    assert drift_module.is_national is is_national
    assert is_national(geo, outcome_geos) is national
