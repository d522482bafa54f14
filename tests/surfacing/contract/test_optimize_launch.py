"""OptimizeBudget on an analysis whose window holds a channel's launch, over real servers
(R48-F2): its "current" spend is the window mean, which counts the days before the launch as
none; the answer names the channel with what it spends since, and the plan's change from
both (Meta launched on day 40 of 90 read "current 543, +27%" where it spent 963 a month: a
29% cut)."""

from __future__ import annotations

import re
from dataclasses import replace

import grpc
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from tests.causal.attribution.records import world_mesh

ORG = "launched"


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    """The demo world with tiktok's first 40 days of spend rows left out: a launch on day 41
    (the outcome keeps tiktok's small early effect, which the baseline takes)."""
    r = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    p = r.panel
    late = (p["channel"].astype(str) == "tiktok") & (
        p["date"] < p["date"].min() + pd.Timedelta(days=40)
    )
    return replace(r, panel=p.loc[~late].reset_index(drop=True))


def test_a_channel_launched_in_the_window_is_named_with_what_it_spends_since(
    tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult
) -> None:
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as mesh:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
        events = list(causal.AnalyzeAttribution(
            causal_pb.AnalyzeAttributionRequest(org_id=ORG), timeout=300))  # fmt: skip
        result = events[-1].result
        (said,) = [w for w in result.warnings if "read as a launch inside the window" in w]
        m = re.match(r"tiktok has spend only from \S+ \((\d+) of the window's (\d+) days\)", said)
        assert m is not None, said
        ran, window = int(m[1]), int(m[2])
        # the same days, sent for planning as fields (not read back from the note's words)
        model = next(r for r in result.response_models if r.channel == "tiktok")
        assert (model.active_days, model.period_days, model.stopped) == (ran, window, False)
        assert not [r.channel for r in result.response_models
                    if r.channel != "tiktok" and r.active_days]  # fmt: skip
        stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
        paid = sum(c.spend.amount for c in result.channels if c.spend.amount > 0)
        plan = stub.OptimizeBudget(pb.OptimizeBudgetRequest(
            org_id=ORG, analysis_id=result.analysis_id,
            total_budget=common_pb.Money(amount=paid, currency_code="USD")))  # fmt: skip
    tiktok = next(a for a in plan.allocations if a.channel == "tiktok")
    days = plan.horizon_days
    spent = next(c.spend.amount for c in result.channels if c.channel == "tiktok")
    # "current" stays the window's mean (the curve's reference): the analysis's own total.
    assert tiktok.current_spend == pytest.approx(spent, rel=1e-6)
    (note,) = [w for w in plan.warnings if w.startswith("tiktok: its current spend")]
    rate = spent * window / ran  # the window's total over the days it ran, at the horizon
    assert note.startswith(
        f"tiktok: its current spend ({tiktok.current_spend:,.0f} over {days} days) is its mean "
        f"over the analysis window, which counts the {window - ran} days of the window's "
        f"{window} it did not run as none: since it started it spends {rate:,.0f} per {days} "
        f"days, against which the plan's {tiktok.optimal_spend:,.0f} is "
        f"{tiktok.optimal_spend / rate - 1:+.0%}, not the "
        f"{tiktok.optimal_spend / tiktok.current_spend - 1:+.0%} shown"
    )
    # The channels that ran throughout are not named.
    others = {a.channel for a in plan.allocations} - {"tiktok"}
    assert not [w for w in plan.warnings if any(w.startswith(f"{c}: its current") for c in others)]
