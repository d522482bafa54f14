"""A conversions analysis of a CRM export with leads and revenue (s18 R37 F4): a geo-day with
0 leads and revenue from older deals is a row, and a day of zero leads, not a missing row.
Causal asked memory for the conversions sums only, memory marks row presence only on rows
whose four sums are all zero, so such a row looked absent: its day was left out of the fit or
filled with an estimate, and the user was told to re-export a complete file. Over a real mesh
(memory, ingestion, causal): a 90-day demo world whose first-party rows have 0 orders but
their revenue in 8 of the 10 geos on 3 days and on 24 scattered geo-days."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb

import sim

from .records import world_mesh

ORG = "leadsandrevenue"


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    w = sim.simulate("demo", seed=1, days=90, dirt=False, n_geos=10)
    o = w.outcomes
    days = np.sort(o["date"].unique())
    # 8 of 10 geos: the day had leads in 2 (a day of 0 leads in every geo is read as an
    # export gap whatever its rows: fit.gap_days)
    most = o["region"].isin(sorted(o["region"].unique())[:8]).to_numpy()
    whole = o["date"].isin(days[[20, 41, 62]]).to_numpy() & most
    rng = np.random.default_rng(0)
    scattered = np.zeros(len(o), dtype=bool)
    scattered[rng.choice(np.flatnonzero(~whole), 24, replace=False)] = True
    o.loc[whole | scattered, "orders"] = 0
    assert (o.loc[whole | scattered, "revenue"] > 0).all()
    return w


@pytest.fixture(scope="module")
def stub(
    tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult
) -> Iterator[causal_grpc.CausalServiceStub]:
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


def test_zero_lead_rows_with_revenue_are_days_of_zero_leads(
    stub: causal_grpc.CausalServiceStub,
) -> None:
    request = pb.AnalyzeAttributionRequest(org_id=ORG, outcome=common_pb.OUTCOME_METRIC_CONVERSIONS)
    result = list(stub.AnalyzeAttribution(request, timeout=600))[-1].result
    checks = {c.name: c for c in result.health.checks}
    said = [*result.warnings, *(c.message for c in result.health.checks)]
    # before: "the outcome export lacks 24 geo-day(s) on days other geos have (filled with
    # estimates) and 3 day(s) in most geos (left out)", then "3 day(s) have no outcome in any
    # geo" and "re-export those days"
    assert "outcome_gaps" not in checks, checks["outcome_gaps"].message
    assert "outcome_partial_gaps" not in checks, checks["outcome_partial_gaps"].message
    assert not [s for s in said if "re-export" in s], said
    assert result.channels  # the fit ran on every day
