"""What `liftos optimize` and `liftos recommend` say, over real servers (memory, ingestion's
registry, causal, surfacing): one simulated org whose TikTok account bills in GBP (its amounts
the USD world's divided by 1.25, fx_gbp_usd = 1.25 registered) and whose Meta account runs
two campaigns of one name (names repeat across accounts; ids do not).

- R31-F3: optimize and recommend printed every amount with no currency, and TikTok's "current
  → optimal" in USD, the analysis currency, not the GBP its platform bills in.
- R29-F4 / R31-F6: a --campaign-bound the analysis does not know was refused as "no campaign"
  without the campaigns it has, and a name two campaigns carry was "no campaign", not ambiguous.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from mesh.cli import commands as cli
from tests.causal.attribution.records import world_mesh, world_records

ORG = "agency"
RATE = 1.25
SAME = "US | Prospecting | Sales #1"
TWINS = ("120259634145780079", "120282167600719653")  # meta_prospecting, one name
UNIQUE = ("120226640617794432", "US | Broad")


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _records(world: sim.SimResult) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, ORG):
        if r.data_source == common_pb.DATA_SOURCE_TIKTOK:
            r.currency_code = "GBP"
            r.spend /= RATE
            r.revenue /= RATE
        if r.campaign_id in TWINS:
            r.campaign_name = SAME
        elif r.campaign_id == UNIQUE[0]:
            r.campaign_name = UNIQUE[1]
        yield r


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, extra={ORG: _records(world)},
                    surfacing=True) as services:  # fmt: skip
        start = dt.date.fromisoformat(world.truth["start"])
        ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        ).RegisterExternalFactor(ingestion_pb.RegisterExternalFactorRequest(
            org_id=ORG, series=ingestion_pb.ExternalFactorSeries(
                name="fx_gbp_usd", type=md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE, unit="USD per GBP",
                values=[ingestion_pb.DatedValue(date=common_pb.Date(
                    year=start.year, month=start.month, day=start.day), value=RATE)],
            ),
        ), timeout=30)  # fmt: skip
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(causal.AnalyzeAttribution(request, timeout=600))[-1].result


@pytest.fixture
def run(mesh, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)

    def call(*argv: str) -> tuple[int | str, str, str]:
        try:
            rc: int | str = cli.main([*argv, "--org", ORG, "--timeout", "300"])
        except SystemExit as exit_:
            rc = str(exit_.code)
        out = capsys.readouterr()
        return rc, out.out, out.err

    return call


def _budget(analysis: causal_pb.AttributionResult) -> str:
    return f"{sum(c.spend.amount for c in analysis.channels):.2f}"


def test_an_unknown_campaign_bound_lists_the_campaigns(run, analysis) -> None:
    rc, _, err = run("optimize", analysis.analysis_id, "--budget", _budget(analysis),
                     "--campaign-bound", "nonexistent=0.5:2")  # fmt: skip
    assert rc == 1, err  # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert "no campaign 'nonexistent' with spend; it has: " in err
    for c in analysis.campaigns:
        if c.spend.amount > 0:
            assert f"{c.campaign_id} ({c.channel})" in err


def test_a_campaign_name_two_campaigns_carry_is_ambiguous_and_a_unique_one_is_its_id(
    run, analysis
) -> None:
    rc, _, err = run("optimize", analysis.analysis_id, "--budget", _budget(analysis),
                     "--campaign-bound", f"{SAME}=0.5:1.5")  # fmt: skip
    assert f"'{SAME}' is ambiguous: 2 campaigns carry that name" in str(rc), rc
    assert all(f"{t} (meta_prospecting" in str(rc) for t in TWINS) and "campaign id" in str(rc)
    rc, out, err = run("optimize", analysis.analysis_id, "--budget", _budget(analysis),
                       "--campaign-bound", f"{UNIQUE[1]}=0.5:0.5")  # fmt: skip
    assert rc == 0, err
    assert f"'{UNIQUE[1]}' is campaign {UNIQUE[0]} (meta_prospecting)" in err
    assert f"  {UNIQUE[0]}" in out  # its channel's campaigns are split in the table


def test_optimize_and_recommend_state_the_currency_and_the_platforms_figures(
    run, analysis, world: sim.SimResult
) -> None:
    rc, out, err = run("optimize", analysis.analysis_id, "--budget", _budget(analysis))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "amounts in USD" and " USD over " in lines[1]
    assert "current USD" in lines[2] and "optimal USD" in lines[2]
    row = next(i for i, line in enumerate(lines) if line.startswith("tiktok "))
    current, optimal = (float(x.replace(",", "")) for x in lines[row].split()[1:3])
    said = lines[row + 1].strip()
    assert said.startswith("in GBP, what the platform bills in (÷ 1.25 USD per GBP over the "
                           "analysis window, fx_gbp_usd): current "), said  # fmt: skip
    gbp = [float(x.replace(",", "")) for x in re.findall(r"([\d,]+) GBP", said)]
    # the hand conversion: the GBP rows' spend as the account reports it
    p = world.panel
    rows = p["source"].astype(str) == "tiktok"
    assert gbp[0] == pytest.approx(round(p.loc[rows, "spend_org"].sum() / RATE), abs=1.0)
    assert gbp[1] == pytest.approx(optimal / RATE, abs=1.0)
    assert current == pytest.approx(p.loc[rows, "spend_org"].sum(), abs=1.0)
    rc, out, err = run("recommend", analysis.analysis_id, "--no-design")
    assert rc == 0, err
    # The analysis the actions come from, named first with its window and time (R33-F7).
    head, out = out.split("\n", 1)
    assert head.startswith(f"from analysis {analysis.analysis_id} (window 2024-09-15..")
    assert " UTC)" in head and ", made 20" in head
    assert out.startswith("amounts in USD (the analysis's currency; converted channels")
    tiktok = [line for line in out.splitlines() if "GBP" in line]
    assert tiktok, out
    assert all("1.25" in line and "fx_gbp_usd" in line for line in tiktok), tiktok
