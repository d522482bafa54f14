"""`liftos report` on an estimate of a registered geo holdout over a real mesh (memory,
ingestion's registry, causal): the page is titled by the experiment's name, id, channel and
window, not "Effect of treated_post on revenue" (R22-F6); with the registry down, by its id."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb

import sim
from mesh.cli.commands import main
from tests.causal.attribution.records import register_holdout, world_mesh

ORG = "holdoutshop"


def _date(text: str) -> common_pb.Date:
    d = dt.date.fromisoformat(text[:10])
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


@pytest.fixture(scope="module")
def estimated(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        register_holdout(grpc.insecure_channel(services["ingestion"].address), world, ORG)
        e = world.experiments[0]
        records = pb.RecordQuery(experiment_id=e["experiment_id"])
        records.date_range.start_date.CopyFrom(_date(e["pre_period_start"]))
        records.date_range.end_date.CopyFrom(_date(e["end_date"]))
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        response = causal.EstimateEffect(pb.EstimateEffectRequest(
            org_id=ORG, method=pb.ESTIMATION_METHOD_AUTO, randomized=True, records=records,
            roles=pb.EffectRoles(outcome="revenue", treatment="treated_post", unit="geo", time="day"),
            options=pb.EstimationOptions(refutation_simulations=2),
        ), timeout=120)  # fmt: skip
        yield services, response.analysis_id, e


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_page_is_titled_by_the_registered_experiment(
    estimated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    services, analysis_id, e = estimated
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", services["ingestion"].address)
    out = tmp_path / "holdout.html"
    args = ["report", analysis_id, "--org", ORG, "--no-explain", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    window = f"{e['start_date'][:10]}..{e['end_date'][:10]}"
    title = f"{e['name']} ({e['experiment_id']}, {e['channel']}, {window}): effect on revenue"
    html = out.read_text()
    assert f"<h1>{title}</h1>" in html, html[:600]
    assert "Effect of treated_post" not in html
    # The registry down: the page still comes, named by the experiment's id.
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", f"127.0.0.1:{_closed_port()}")
    assert main(args) == 0
    assert f"<h1>Experiment {e['experiment_id']}: effect on revenue</h1>" in out.read_text()
    assert f"note: the report names experiment {e['experiment_id']} by id only" in (
        capsys.readouterr().err
    )
