"""Over real servers (memory, ingestion, causal on localhost): memory's names reach the
campaign table (audit R5-F8: two campaigns of one channel, a re-issued one among them, told
apart by name), and a first-party row present with all its sums zero stays a zero in the panel
built from memory's sums while a missing one is filled (memory sends the pair's records count).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from causal_svc.attribution import panel_from_aggregates
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.protoconv import campaign_sources
from mesh.runtime.tables import table_to_frame
from mesh.sdk.client import LiftOS
from tests.causal.attribution.records import world_records, write_records

NAMED = "namedshop"
ZEROS = "zeroshop"
HOLIDAY = " | Holiday"


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _names(world: sim.SimResult) -> dict[str, str]:
    p = world.panel
    return dict(zip(p["campaign_id"].astype(str), p["campaign_name"].astype(str), strict=True))


@pytest.fixture(scope="module")
def renamed(world: sim.SimResult) -> str:
    """The first meta_prospecting campaign: its last day's records carry a longer name (a
    re-issue's, '… | Holiday'), the name memory gives it then."""
    p = world.panel
    return str(p.loc[p["channel"].astype(str).eq("meta_prospecting"), "campaign_id"].iloc[0])


@pytest.fixture(scope="module")
def lost(world: sim.SimResult) -> tuple[str, np.ndarray, np.ndarray]:
    """The busiest geo, three days its first-party rows are sent with all sums zero and the
    three after, on which they are left out."""
    o = world.outcomes
    big = str(o.groupby(o["region"].astype(str))["revenue"].sum().idxmax())
    days = np.sort(o["date"].dt.date.unique())
    return big, days[40:43], days[43:46]


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult, renamed: str, lost
) -> Iterator[dict[str, RunningService]]:
    names, last = _names(world), pd.Timestamp(world.dates[-1]).date()
    named = list(world_records(world, NAMED))
    for r in named:
        if r.campaign_id in names:
            r.campaign_name = names[r.campaign_id]
            day = dt.date(r.local_date.year, r.local_date.month, r.local_date.day)
            if r.campaign_id == renamed and day == last:
                r.campaign_name += HOLIDAY
    big, zero_days, gone_days = lost
    zeros = []
    for r in world_records(world, ZEROS):
        day = dt.date(r.local_date.year, r.local_date.month, r.local_date.day)
        if r.channel == "first_party" and r.geo == big and day in gone_days:
            continue
        if r.channel == "first_party" and r.geo == big and day in zero_days:
            r.conversions = r.revenue = 0
        zeros.append(r)
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("names")) as services:  # type: ignore[arg-type]
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        write_records(memory, NAMED, named)
        write_records(memory, ZEROS, zeros)
        yield services


def test_the_campaign_table_names_each_campaign(
    mesh, world: sim.SimResult, renamed: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    want = _names(world) | {renamed: _names(world)[renamed] + HOLIDAY}
    with LiftOS(PeerConfig.from_env(), org_id=NAMED) as client:
        result = client.analyze()
    got = {k.campaign_id: k.campaign_name for k in result.campaigns}
    assert got and got == {k: want[k] for k in got}
    prospecting = [k for k in result.campaigns if k.channel == "meta_prospecting"]
    assert len({k.campaign_name for k in prospecting}) == len(prospecting) >= 2
    assert cli.main(["analyze", "--org", NAMED, "--campaigns"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for k in prospecting:  # the id, and the whole name at the end of its line
        (line,) = [line for line in lines if line.startswith(k.campaign_id)]
        assert line.endswith(f"  {want[k.campaign_id]}"), line
    (line,) = [line for line in lines if line.startswith(renamed)]
    assert line.endswith(HOLIDAY)


def test_a_zero_row_stays_zero_and_a_missing_one_is_filled(mesh, lost) -> None:
    big, zero_days, gone_days = lost
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address))
    # what the causal service asks for (causal_svc.peers): its sources and sums
    reply = memory.AggregateRecords(
        memory_pb.AggregateRecordsRequest(org_id=ZEROS, sources=campaign_sources(),
                                          measures=["spend", "impressions", "conversions",
                                                    "revenue"]),
        timeout=60,
    )  # fmt: skip
    geo_days = table_to_frame(reply.geo_days)
    assert "generic:first_party:records" in geo_days.columns
    panel = panel_from_aggregates(geo_days, table_to_frame(reply.campaign_days))
    g = panel.geos.index(big)
    at = {d: i for i, d in enumerate(panel.dates.astype("datetime64[D]").tolist())}
    zero = [at[d] for d in zero_days]
    gone = [at[d] for d in gone_days]
    assert (panel.outcome[g, zero] == 0).all()
    assert (panel.outcome[g, gone] > 0).all()
    (warning,) = [w for w in panel.warnings if "geo-day(s)" in w]
    assert warning.startswith("3 geo-day(s) have no first-party outcome rows"), warning
