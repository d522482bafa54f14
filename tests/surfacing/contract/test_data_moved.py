"""What an attribution analysis read is kept with it (audit s18 R33-F3, F4), over real servers:
a fingerprint of its inputs (``data_version``, in GetAnalysis and ListAnalyses) equal on two
analyses of the same data and different once spend moved between two days (each channel's
total unchanged), and each channel's spend per day and per geo, which the surfacing service's
drift check compares: OptimizeBudget on the old analysis says the spend moved."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from tests.causal.attribution.records import world_mesh
from tests.surfacing import drift_world as w

CHANNEL = "meta_prospecting"
SWAPPED = (dt.date(2024, 11, 1), dt.date(2024, 11, 2))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services


def _day(r: md_pb.CausalMarketingData) -> dt.date:
    return dt.date(r.local_date.year, r.local_date.month, r.local_date.day)


def _swapped() -> list[md_pb.CausalMarketingData]:
    """A later pull of CHANNEL's rows on the two SWAPPED days, each (campaign, geo)'s spend
    swapped between them: every total over the window unchanged, its timing not."""
    rows = {(r.campaign_id, r.geo, _day(r)): r for r in w.records(until=w.CUT)
            if r.channel == CHANNEL and _day(r) in SWAPPED}  # fmt: skip
    out = []
    for (campaign, geo, day), r in rows.items():
        other = rows.get((campaign, geo, SWAPPED[1] if day == SWAPPED[0] else SWAPPED[0]))
        if other is None:
            continue
        c = md_pb.CausalMarketingData()
        c.CopyFrom(r)
        c.version = r.version + 1
        c.spend = other.spend
        out.append(c)
    return out


def test_the_data_read_is_kept_and_spend_moved_between_days_is_said(mesh) -> None:
    first, second = w.analyze(mesh["causal"].address), w.analyze(mesh["causal"].address)
    assert first.data_version.startswith("dv1:") and first.data_version == second.data_version
    daily = first.daily
    assert len(daily.geos) == first.geo_count
    kept = {s.channel: s for s in daily.spend}
    for c in first.channels:
        assert sum(kept[c.channel].daily) == pytest.approx(c.spend.amount, rel=1e-9)
        assert sum(kept[c.channel].by_geo) == pytest.approx(c.spend.amount, rel=1e-9)
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    listed = causal.ListAnalyses(causal_pb.ListAnalysesRequest(org_id=w.ORG), timeout=30)
    assert {a.data_version for a in listed.analyses} == {first.data_version}
    # A later pull swaps CHANNEL's spend between two days: totals hold, the data does not.
    moved = _swapped()
    assert len(moved) >= 2
    w.write(mesh["memory"].address, moved)
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    plan = stub.OptimizeBudget(
        pb.OptimizeBudgetRequest(org_id=w.ORG, analysis_id=first.analysis_id,
                                 total_budget=common_pb.Money(amount=1e6)),
        timeout=120,
    )  # fmt: skip
    said = plan.warnings[0]
    assert said.startswith(
        "channel spend in this analysis's window changed since it was made, its total held "
        f"(moved between days or geos: {CHANNEL}: 2 days differ, most 2024-11-0"
    ), list(plan.warnings)
    assert "re-run analyze to refit" in said
    third = w.analyze(mesh["causal"].address)
    assert third.data_version.startswith("dv1:") and third.data_version != first.data_version
