"""CheckAnalysisData, `liftos counterfactual` and `liftos explain` say when the data under a
stored analysis's window changed since it was made (audit s18 R33-F1, R37-F2: both answered from
the analysis as made without a word, while `predict` said it), over real servers: memory holds
a simulated world, the causal service fits and stores the analysis, the surfacing service reads
both, the llm service explains it (its grounded writer: no LLM endpoint is called)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from memory_svc.app import build as memory_build
from mesh.cli import commands as cli
from mesh.runtime.inprocess import Build, RunningService, running_services
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from surfacing_svc.app import build as surfacing_build
from tests.surfacing import drift_world as w

CHANGED = "changed since it was made"
AS_MADE = ("this answer is computed from the analysis as it was made, not from the data as it "
           "is now; re-run analyze to refit")  # fmt: skip

Mesh = dict[str, RunningService]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build,
              "llm": llm_build, "surfacing": surfacing_build}  # fmt: skip
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services


@pytest.fixture(scope="module")
def analysis(mesh: Mesh) -> causal_pb.AttributionResult:
    return w.analyze(mesh["causal"].address)


@pytest.fixture
def env(mesh: Mesh, monkeypatch: pytest.MonkeyPatch) -> Mesh:
    for service in ("memory", "ingestion", "causal", "llm", "surfacing"):
        monkeypatch.setenv(f"LIFTOS_{service.upper()}_ADDR", mesh[service].address)
    return mesh


def _check(mesh: Mesh, org: str, analysis_id: str) -> pb.CheckAnalysisDataResponse:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    reply: pb.CheckAnalysisDataResponse = stub.CheckAnalysisData(
        pb.CheckAnalysisDataRequest(org_id=org, analysis_id=analysis_id), timeout=120
    )
    return reply


def _counterfactual(
    analysis_id: str, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[str, str]:
    code = cli.main(["counterfactual", analysis_id, "--org", w.ORG,
                     "--set", "meta_prospecting=0.5", *more])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def _explain(analysis_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    code = cli.main(["explain", analysis_id, "--org", w.ORG, "--writer", "grounded"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def test_errors_name_the_field_or_the_analysis(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _check(mesh, w.ORG, "an-nope")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    assert "an-nope" in (caught.value.details() or "")
    with pytest.raises(grpc.RpcError) as caught:
        _check(mesh, "", "")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(decode_status(caught.value).fields) == {"org_id", "analysis_id"}


def test_unchanged_data_says_nothing(
    env: Mesh, analysis: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = _check(env, w.ORG, analysis.analysis_id)
    assert list(reply.warnings) == []
    assert reply.compared_days == len(analysis.daily.dates) > 0
    out, err = _counterfactual(analysis.analysis_id, capsys)
    assert not out.startswith("warning"), out
    assert CHANGED not in out + err and "not checked" not in err, (out, err)
    out, err = _explain(analysis.analysis_id, capsys)
    assert CHANGED not in out + err and "not checked" not in err, (out, err)
    assert not out.startswith("warning") and out.strip()


def test_restated_days_are_said_first(
    env: Mesh, analysis: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str]
) -> None:
    # A later pull restates three days of the window: revenue +5%, Meta prospecting's spend +10%.
    spend_before = {c.channel: c.spend.amount for c in analysis.channels}
    w.write(env["memory"].address,
            w.restated(w.RESTATED, revenue=1.05, channel="meta_prospecting", spend=1.10))  # fmt: skip
    size = 0.05 * w.first_party_revenue(w.RESTATED)
    reply = _check(env, w.ORG, analysis.analysis_id)
    outcome, spend = reply.warnings
    assert outcome.startswith("the outcome of 3 days in this analysis's window changed since "
                              "it was made (2024-12-06..2024-12-08, +"), outcome  # fmt: skip
    assert f"+{size:,.0f} in all" in outcome and outcome.endswith(AS_MADE), outcome
    assert spend.startswith("channel spend over this analysis's window changed since it was "
                            f"made (meta_prospecting {spend_before['meta_prospecting']:,.0f} -> ")  # fmt: skip
    assert reply.compared_days == len(analysis.daily.dates)
    lines = [f"warning: {x}" for x in reply.warnings]
    # counterfactual and explain print them before their answer (they said nothing before)
    out, _ = _counterfactual(analysis.analysis_id, capsys)
    assert out.splitlines()[:2] == lines, out
    assert "outcome as run:" in out
    out, _ = _explain(analysis.analysis_id, capsys)
    assert out.splitlines()[:2] == lines, out
    assert out.splitlines()[2].strip() and not out.splitlines()[2].startswith("warning"), out
    # --json keeps stdout one JSON document: the warnings go to stderr
    out, err = _counterfactual(analysis.analysis_id, capsys, "--json")
    assert json.loads(out)["delta"] and err.splitlines()[:2] == lines, err


def test_a_failed_check_is_one_line_and_the_answer_stands(
    env: Mesh, analysis: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    with socket.socket() as s:  # a port nothing listens on: the surfacing service is down
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("LIFTOS_SURFACING_ADDR", f"127.0.0.1:{s.getsockname()[1]}")
    for run in (lambda: _counterfactual(analysis.analysis_id, capsys),
                lambda: _explain(analysis.analysis_id, capsys)):  # fmt: skip
        out, err = run()
        (note,) = [x for x in err.splitlines() if "not checked" in x]
        assert note.startswith(f"note: whether the data under analysis {analysis.analysis_id}'s "
                               "window changed since it was made was not checked (UNAVAILABLE: "), note  # fmt: skip
        assert not out.startswith("warning") and out.strip(), out


def test_an_effect_estimate_compares_nothing_and_says_nothing(mesh: Mesh) -> None:
    """An analysis that kept no daily series (explain works on effect estimates too): nothing
    compared, no warning, no error."""
    rng = np.random.default_rng(3)
    treated = rng.permutation(np.repeat([0, 1], 100))
    frame = pd.DataFrame({"t": treated, "revenue": 50 + 6 * treated + rng.normal(0, 3, 200)})
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    estimate = causal.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=w.ORG, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS, randomized=True,
            table=frame_to_table(frame), roles=causal_pb.EffectRoles(outcome="revenue", treatment="t"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=3),
        ), timeout=120,
    )  # fmt: skip
    reply = _check(mesh, w.ORG, estimate.analysis_id)
    assert list(reply.warnings) == [] and reply.compared_days == 0
