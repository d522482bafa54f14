"""Whose holidays a forecast from an analysis knows (audit R21-F10, the PredictPerformance
part): the analysis says which country's holidays its model controlled
(AttributionResult.holiday_calendar_country), and PredictPerformance / ``liftos predict`` use
that country unless the request names one. Before, every forecast without country_code used the
US calendar: an Australian org's forecast carried Martin Luther King Jr. Day, not Australia Day.

Over a real mesh (memory, ingestion, causal, surfacing): the simulated world of
tests/causal/attribution/test_holiday_country.py with its states renamed to Australian ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from causal_svc.attribution.calendar import model_calendar
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from surfacing_svc.convert import forecast_country
from surfacing_svc.planning import ForecastQuestion, PlanningModel
from tests.causal.attribution.records import world_mesh, world_records

ORG = "aushop"
AU = {"CA": "AU-NSW", "TX": "AU-VIC", "FL": "AU-QLD", "NY": "AU-WA", "IL": "AU-SA", "PA": "AU-TAS"}
# The history ends 2025-01-12: a 30-day forecast reaches Australia Day (26 January) and, on the
# US calendar, Martin Luther King Jr. Day (20 January); the history has seen neither, so the
# forecast names the one its calendar has among the holidays of unknown effect.
UNSEEN = "holidays in the horizon the history has not seen"


def _au_records(world: sim.SimResult) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, ORG):
        r.geo = AU[r.geo]
        yield r


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6)
    assert str(world.dates[-1])[:10] == "2025-01-12"
    extra = {ORG: _au_records(world)}
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True, extra=extra) as services:
        yield services


@pytest.fixture(scope="module")
def analysis(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    events = list(causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=ORG),
                                            timeout=600))  # fmt: skip
    return events[-1].result


@pytest.fixture
def peers(mesh, monkeypatch: pytest.MonkeyPatch) -> PeerConfig:
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    return PeerConfig.from_env()


def _unseen(out: str) -> str:
    return next((line for line in out.splitlines() if UNSEEN in line), "")


def test_the_analysis_names_its_holiday_calendar(analysis) -> None:
    assert analysis.holiday_calendar_country == "AU"
    assert "Boxing Day" in {c.split(":", 2)[2] for c in analysis.controls if c.count(":") >= 2}


def test_predict_uses_the_analysiss_country_unless_told(
    peers: PeerConfig, analysis, capsys: pytest.CaptureFixture[str]
) -> None:
    aid = analysis.analysis_id
    assert cli.main(["predict", aid, "--org", ORG, "--days", "30"]) == 0
    out = capsys.readouterr().out
    unseen = _unseen(out)
    assert "Australia Day" in unseen and "Martin Luther King" not in unseen, out
    assert f"warning: holiday calendar: AU, the one analysis '{aid}' controlled" in out, out
    assert "liftos predict --country" in out
    assert cli.main(["predict", aid, "--org", ORG, "--days", "30", "--country", "US"]) == 0
    out = capsys.readouterr().out
    unseen = _unseen(out)
    assert "Martin Luther King Jr. Day" in unseen and "Australia Day" not in unseen, out
    assert "holiday calendar" not in out, out
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert cli.main(["predict", aid, "--org", ORG, "--days", "30", "--country", "XX"]) == 1
    assert "country_code" in capsys.readouterr().err


def test_a_forecast_without_an_analysis_keeps_the_us_calendar(
    peers: PeerConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["predict", "--org", ORG, "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert "Martin Luther King Jr. Day" in _unseen(out) and "holiday calendar" not in out, out


def _model(country: str) -> PlanningModel:
    return PlanningModel("an-old", "revenue", dt.date(2024, 1, 1), dt.date(2024, 3, 31), (), 1.0,
                         holiday_country=country)  # fmt: skip


def test_an_analysis_stored_before_it_named_its_calendar_forecasts_with_the_us_said() -> None:
    q, said = forecast_country(ForecastQuestion("o", "an-old", 7, 0.9, country=""), _model(""))
    assert q.country == "US" and len(said) == 1 and "does not say whose" in said[0]
    q, said = forecast_country(ForecastQuestion("o", "an-old", 7, 0.9, country="GB"), _model("AU"))
    assert q.country == "GB" and said == ()


def test_the_majority_country_is_the_calendars() -> None:
    days = np.arange(np.datetime64("2024-03-25"), np.datetime64("2024-05-01"))
    mixed = model_calendar(("US-CA", "GB-ENG", "GB-SCT"), np.array([[40.0], [35.0], [25.0]])
                           * np.ones(days.size), days)  # fmt: skip
    assert mixed.country == "GB" and "several countries" in mixed.note
    assert model_calendar(("DMA-501",), np.ones((1, days.size)), days).country == "US"
