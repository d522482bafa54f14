"""Two Meta accounts of one org billed in different currencies (R31-F2), over a real mesh
(memory, ingestion's registry, causal): two of meta_prospecting's campaigns in an account
billed in EUR (their amounts the USD world's divided by 1.25), the rest in USD, and
fx_eur_usd = 1.25 registered. The channel's sums hold both currencies, so attribution reads
its records and converts the EUR ones: the analysis is the all-USD org's (same spend per
channel and campaign, same effects), with a note giving the window's EUR spend and what it
came to. Before, the whole analysis was refused ("its sums cannot be converted apart")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.runtime.money import converted_channels

from .records import world_mesh, world_records

USD = "accountsusd"
MIXED = "accountsmixed"
RATE = 1.25
EUR_CAMPAIGNS = ("120259634145780079", "120282167600719653")  # meta_prospecting's, in seed 0


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _two_accounts(world: sim.SimResult) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, MIXED):
        if r.campaign_id in EUR_CAMPAIGNS:
            r.currency_code, r.account_id = "EUR", "eu-account"
            r.spend /= RATE
            r.revenue /= RATE
        yield r


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {USD: world},
                    extra={MIXED: _two_accounts(world)}, surfacing=True) as services:  # fmt: skip
        start = dt.date.fromisoformat(world.truth["start"])
        ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        ).RegisterExternalFactor(ingestion_pb.RegisterExternalFactorRequest(
            org_id=MIXED, series=ingestion_pb.ExternalFactorSeries(
                name="fx_eur_usd", type=md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE, unit="USD per EUR",
                values=[ingestion_pb.DatedValue(date=common_pb.Date(
                    year=start.year, month=start.month, day=start.day), value=RATE)],
            ),
        ), timeout=30)  # fmt: skip
        yield services


def _analyze(mesh, org: str) -> pb.AttributionResult:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    return list(stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=org),
                                        timeout=600))[-1].result  # fmt: skip


def test_a_channel_with_accounts_in_two_currencies_is_converted_record_by_record(
    mesh, world: sim.SimResult
) -> None:
    dollars, mixed = _analyze(mesh, USD), _analyze(mesh, MIXED)
    by = {c.channel: c for c in dollars.channels}
    assert {c.channel for c in mixed.channels} == set(by)
    for c in mixed.channels:
        assert c.spend.currency_code == "USD"
        assert c.spend.amount == pytest.approx(by[c.channel].spend.amount, rel=1e-6)
        assert c.incremental_outcome.estimate == pytest.approx(
            by[c.channel].incremental_outcome.estimate, rel=1e-3, abs=1.0
        )
    campaigns = {k.campaign_id: k.spend.amount for k in dollars.campaigns}
    for k in mixed.campaigns:
        assert k.spend.amount == pytest.approx(campaigns[k.campaign_id], rel=1e-6)
    (said,) = converted_channels(mixed.warnings)
    eur = sum(k.spend.amount for k in dollars.campaigns if k.campaign_id in EUR_CAMPAIGNS) / RATE
    assert (said.channel, said.frm, said.to, said.part) == ("meta_prospecting", "EUR", "USD",
                                                            True)  # fmt: skip
    assert said.amount_from == pytest.approx(eur, abs=0.01 * len(world.panel))
    assert said.rate == pytest.approx(RATE, rel=1e-4)


def test_a_design_reads_the_two_currency_history_in_one(mesh) -> None:
    """DesignExperiment reads the history from memory's sums, as attribution does: the mixed
    org designs the USD org's test (the go-dark's spend in dollars). Before, it was refused
    (and a report of an analysis made before the second account lost its design, R31-F1)."""
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))

    def design(org: str) -> surfacing_pb.DesignExperimentResponse:
        return stub.DesignExperiment(surfacing_pb.DesignExperimentRequest(
            org_id=org, channel="meta_prospecting", duration_days=[28],
        ), timeout=300)  # fmt: skip

    spend = [p.spend_change for p in design(USD).power_curve]
    assert spend and spend[0] != 0
    assert [p.spend_change for p in design(MIXED).power_curve] == pytest.approx(spend, rel=1e-6)
