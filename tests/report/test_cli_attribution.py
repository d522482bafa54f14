"""`liftos report` on an attribution over a real mesh on localhost: memory holds a simulated
world's records, the causal service fits and stores the model, the surfacing service plans on
it; the page is opened in Chromium. Then the same report with the surfacing service down."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from mesh.cli.commands import main
from tests.causal.attribution.records import world_mesh
from tests.report.conftest import open_report

ORG = "simshop"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def result(mesh) -> causal_pb.AttributionResult:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(causal.AnalyzeAttribution(request, timeout=180))[-1].result


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(monkeypatch: pytest.MonkeyPatch, mesh, *, surfacing: bool) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    address = mesh["surfacing"].address if surfacing else f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", address)


def test_get_analysis_returns_the_daily_series(mesh, result) -> None:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    stored = causal.GetAnalysis(
        causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=result.analysis_id)
    ).analysis.attribution
    assert stored.daily == result.daily
    daily = stored.daily
    assert len(daily.dates) == stored.day_count == len(daily.predicted_outcome)
    assert sum(daily.holdout) == stored.health.holdout_days > 0
    assert [c.channel for c in daily.channels] == list(stored.model.model_config.channels)


def test_the_attribution_report_has_its_plan(
    mesh, result, browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _env(monkeypatch, mesh, surfacing=True)
    out = tmp_path / "attribution.html"
    rc = main(["report", result.analysis_id, "--org", ORG, "--out", str(out), "--no-explain"])
    assert rc == 0, capsys.readouterr().err
    html = out.read_text()
    for section in ("health", "channels", "decomposition", "recommendations", "budget",
                    "forecast", "design"):  # fmt: skip
        assert f'<section id="{section}">' in html, section
    assert 'id="notes"' not in html and "note:" not in capsys.readouterr().err
    # The forecast is PredictPerformance's fan.
    forecast = html[html.index('data-figure="forecast"') :]
    assert all(f">{p}<" in forecast[: forecast.index("</figure>")] for p in ("50%", "80%", "95%"))
    opened = open_report(browser, html, tmp_path / "opened.html", screenshot=False)
    assert not opened.errors and not opened.overlaps, (opened.errors, opened.overlaps)
    kinds = {f["kind"] for f in opened.figures}
    assert {"model-fit", "decomposition", "budget-shift", "forecast", "power-curve"} <= kinds
    assert all(f["width"] > 100 and f["height"] > 50 for f in opened.figures)


def test_a_surfacing_failure_is_a_note_not_a_crash(
    mesh, result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _env(monkeypatch, mesh, surfacing=False)
    out = tmp_path / "no-plan.html"
    rc = main(["report", result.analysis_id, "--org", ORG, "--out", str(out), "--no-explain"])
    assert rc == 0
    html = out.read_text()
    assert '<section id="notes">' in html and "UNAVAILABLE" in html
    for what in ("recommendations", "budget shift", "forecast", "experiment design"):
        assert f"No {what}" in html, what
    assert 'data-figure="budget-shift"' not in html and 'data-figure="model-fit"' in html
    assert "note: No budget shift" in capsys.readouterr().err
    # --no-plan asks nothing of the surfacing service, so there is nothing to note.
    rc = main(["report", result.analysis_id, "--org", ORG, "--out", str(out), "--no-explain",
               "--no-plan"])  # fmt: skip
    assert rc == 0 and 'id="notes"' not in out.read_text()
