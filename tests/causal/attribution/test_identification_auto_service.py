"""AUTO identification over a real mesh (memory, ingestion, causal on free ports): the default
request picks GEO on an org whose geos are flighted independently and whose budgets ignore
demand (the fit is GEO's, the reason names the figures, budget_response passes), and NATIONAL
on the simulator's demo org (the fit is NATIONAL's); the SDK and the CLI take ``auto``, and the
CLI's default is it."""

from __future__ import annotations

import json
import re

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc.attribution import Identification
from mesh.cli.commands import main
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS

from .flighted import flighted, records
from .records import world_mesh

FLIGHTED, DEMO = "flighted", "paced"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    demo = sim.simulate("demo", seed=0, dirt=False)
    extra = {FLIGHTED: list(records(flighted(), FLIGHTED))}
    with world_mesh(tmp_path_factory.mktemp("mesh"), {DEMO: demo}, extra=extra) as services:
        yield services


@pytest.fixture(scope="module")
def stub(mesh) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


def _analyze(stub, org: str, **kwargs) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=org, **kwargs)
    return list(stub.AnalyzeAttribution(request, timeout=600))[-1].result


def _iroas(r: pb.AttributionResult) -> dict[str, float]:
    return {c.channel: c.incremental_roas.estimate for c in r.channels}


def _check(r: pb.AttributionResult, name: str) -> pb.HealthCheck:
    return next(c for c in r.health.checks if c.name == name)


@pytest.fixture(scope="module")
def flighted_default(stub) -> pb.AttributionResult:
    return _analyze(stub, FLIGHTED)


def test_the_default_picks_geo_on_independent_unchased_flights(stub, flighted_default) -> None:
    r = flighted_default
    reason = r.identification.reason
    assert reason.startswith(f"{Identification.GEO.text}; chosen automatically: GEO")
    # the deciding figures: the budget response (none here) and the cross-geo spend share
    assert "paid budgets moved with demand on 0.0% of geo-days (below 0.5%)" in reason
    share = re.search(r"(\d+)% of spend variance is cross-geo within a day \(from 80%", reason)
    assert share is not None and int(share.group(1)) >= 85
    assert _check(r, "budget_response").verdict == pb.HEALTH_VERDICT_PASS
    # GEO's fit, as an explicit GEO request fits it
    geo = _analyze(stub, FLIGHTED, identification=pb.ATTRIBUTION_IDENTIFICATION_GEO)
    assert geo.identification.reason == Identification.GEO.text
    assert _iroas(r) == pytest.approx(_iroas(geo), rel=1e-6, abs=1e-9)
    national = _analyze(stub, FLIGHTED, identification=pb.ATTRIBUTION_IDENTIFICATION_NATIONAL)
    assert max(abs(_iroas(r)[c] - v) for c, v in _iroas(national).items()) > 0.05


def test_auto_picks_national_on_the_simulators_paced_demo(stub) -> None:
    auto = _analyze(stub, DEMO, identification=pb.ATTRIBUTION_IDENTIFICATION_AUTO)
    reason = auto.identification.reason
    assert reason.startswith(f"{Identification.NATIONAL.text}; chosen automatically: NATIONAL")
    assert "below 80%" in reason
    national = _analyze(stub, DEMO, identification=pb.ATTRIBUTION_IDENTIFICATION_NATIONAL)
    assert _iroas(auto) == pytest.approx(_iroas(national), rel=1e-6, abs=1e-9)
    # the report's identification sentence is said once: it leads the assumptions as reported
    assert auto.identification.assumptions[0] == reason


def test_the_sdk_takes_auto(mesh, flighted_default) -> None:
    peers = PeerConfig.from_env().with_overrides(causal=mesh["causal"].address)
    with LiftOS(peers, org_id=FLIGHTED) as client:
        r = client.analyze(identification="auto")
    assert r.identification.reason == flighted_default.identification.reason
    got = {c.channel: c.incremental_roas.estimate for c in r.channels}
    assert got == pytest.approx(_iroas(flighted_default), rel=1e-6, abs=1e-9)


def test_the_cli_takes_auto_and_defaults_to_it(mesh, flighted_default, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    for argv in (["--identification", "auto"], []):
        assert main(["analyze", "--org", FLIGHTED, "--json", *argv]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["identification"]["reason"] == flighted_default.identification.reason
