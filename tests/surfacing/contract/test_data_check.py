"""CheckAnalysisData, `liftos counterfactual` and Explain (`liftos explain`, the SDK) say when
the data under a stored analysis's window changed since it was made (audit s18 R33-F1, R37-F2:
both answered from the analysis as made without a word, while `predict` said it), over real
servers: memory holds a simulated world, the causal service fits and stores the analysis, the
surfacing service reads both, the llm service explains it (its grounded writer, and an LLM
writer on a local OpenAI-compatible endpoint) and asks surfacing's check itself, so the
explanation an SDK caller reads opens with it (s18 closing: only the CLI printed it)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from memory_svc.app import build as memory_build
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import Build, RunningService, running_services
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from surfacing_svc.app import build as surfacing_build
from tests.llm.fake_openai import Script, fake_openai, words
from tests.surfacing import drift_world as w

CHANGED = "changed since it was made"
AS_MADE = ("this answer is computed from the analysis as it was made, not from the data as it "
           "is now; re-run analyze to refit")  # fmt: skip

Mesh = dict[str, RunningService]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    # surfacing before llm: Explain asks it (running_services feeds each address onward)
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build,
              "surfacing": surfacing_build, "llm": llm_build}  # fmt: skip
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services


@pytest.fixture(scope="module")
def analysis(mesh: Mesh) -> causal_pb.AttributionResult:
    """The analysis over START..CUT, fitted before any restatement of its days."""
    return w.analyze(mesh["causal"].address)


@pytest.fixture(scope="module")
def restated(mesh: Mesh, analysis: causal_pb.AttributionResult) -> causal_pb.AttributionResult:
    """``analysis``, after a later pull restated three days of its window: revenue +5%, Meta
    prospecting's spend +10% (the same rows whichever test asks first, so no test depends on
    another having run)."""
    w.write(mesh["memory"].address,
            w.restated(w.RESTATED, revenue=1.05, channel="meta_prospecting", spend=1.10))  # fmt: skip
    return analysis


@pytest.fixture(scope="module")
def untouched(mesh: Mesh) -> causal_pb.AttributionResult:
    """An analysis whose window ends the day before the restated days: its data is the same
    whether or not a test restated them."""
    return w.analyze(mesh["causal"].address, end=min(w.RESTATED) - dt.timedelta(days=1))


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


def _explained(address: str, analysis_id: str, **kw: object) -> llm_pb.ExplanationDone:
    """Explain over gRPC, as an SDK caller reads it: the Done message (whose text the deltas
    add up to)."""
    stub = llm_grpc.LlmServiceStub(grpc.insecure_channel(address))
    events = list(stub.Explain(
        llm_pb.ExplainRequest(org_id=w.ORG, analysis_id=analysis_id, **kw), timeout=120))  # fmt: skip
    done = events[-1].done
    assert "".join(e.text_delta for e in events[:-1]).rstrip() == done.text
    return done


def _caveats(warnings: list[str]) -> str:
    return "".join(f"Caveat: {x}. " for x in warnings)


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
    env: Mesh, untouched: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str]
) -> None:
    analysis = untouched
    reply = _check(env, w.ORG, analysis.analysis_id)
    assert list(reply.warnings) == []
    assert reply.compared_days == len(analysis.daily.dates) > 0
    out, err = _counterfactual(analysis.analysis_id, capsys)
    assert not out.startswith("warning"), out
    assert CHANGED not in out + err and "not checked" not in err, (out, err)
    out, err = _explain(analysis.analysis_id, capsys)
    assert CHANGED not in out + err and "not checked" not in out + err, (out, err)
    assert not out.startswith("warning") and out.strip()
    done = _explained(env["llm"].address, analysis.analysis_id)
    assert CHANGED not in done.text and "not checked" not in done.text, done.text
    assert not [c for c in done.citations if "data_check" in c.fact]


def test_restated_days_are_said_first(
    env: Mesh, restated: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str]
) -> None:
    analysis = restated
    spend_before = {c.channel: c.spend.amount for c in analysis.channels}
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
    # explain's own text opens with them (the CLI prints them once, as that text)
    out, err = _explain(analysis.analysis_id, capsys)
    assert out.startswith(_caveats(list(reply.warnings))), out
    assert "warning:" not in out and "not checked" not in err, (out, err)
    assert out[len(_caveats(list(reply.warnings))) :].strip(), out  # the explanation follows
    # --json keeps stdout one JSON document: the warnings go to stderr
    out, err = _counterfactual(analysis.analysis_id, capsys, "--json")
    assert json.loads(out)["delta"] and err.splitlines()[:2] == lines, err


def test_explain_carries_the_changes_to_an_sdk_caller_and_its_llm(
    env: Mesh, restated: causal_pb.AttributionResult
) -> None:
    """After a restatement: Explain's answer itself (what an SDK caller reads, which
    said nothing before) opens with the check's lines, each cited to the check's fact; with an
    LLM writer the model reads them as evidence, and its own mention of them goes out
    unflagged, while "no caveats" is contradicted by them."""
    analysis = restated
    warnings = list(_check(env, w.ORG, analysis.analysis_id).warnings)
    assert len(warnings) == 2
    grounded = _explained(env["llm"].address, analysis.analysis_id)
    assert grounded.text.startswith(_caveats(warnings)), grounded.text
    cited = {c.fact: grounded.text[c.start : c.end] for c in grounded.citations}
    assert cited["data_check.warnings[0]"] == warnings[0]
    assert cited["data_check.warnings[1]"] == warnings[1]
    mention = ("The outcome of 3 days in this analysis's window changed since it was made, so "
               "its figures describe the data as it was; re-running the analysis refits them. ")  # fmt: skip
    with fake_openai(Script(pieces=words(mention + "There are no caveats."))) as fake:
        done = _explained(
            env["llm"].address, analysis.analysis_id,
            writer=llm_pb.EXPLANATION_WRITER_LLM, llm=llm_pb.LlmEndpoint(url=fake.url, model="m"),
        )  # fmt: skip
        (request,) = fake.requests
    evidence = request.body["messages"][1]["content"]
    assert f"DATA CHANGED SINCE: {warnings[0]}" in evidence
    assert done.text.startswith(_caveats(warnings) + mention.rstrip()), done.text
    (flagged,) = done.unsupported_claims
    assert flagged.claim == "There are no caveats."
    assert flagged.verdict == llm_pb.CLAIM_VERDICT_CONTRADICTED
    assert "changed since it was made" in flagged.reason


def test_explain_says_when_it_could_not_check(
    env: Mesh, analysis: causal_pb.AttributionResult, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An llm service whose surfacing peer is down still explains, and its last sentence says
    the data was not checked and why (a note, as the CLI's; no finding to read figures by)."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{s.getsockname()[1]}"
    peers = PeerConfig.from_env().with_overrides(causal=env["causal"].address, surfacing=down)
    with running_services({"llm": llm_build}, tmp_path_factory.mktemp("llm"), peers=peers) as llm:
        done = _explained(llm["llm"].address, analysis.analysis_id)
    note = ("Note: whether the data under this analysis's window changed since it was made "
            "was not checked (the surfacing service answered UNAVAILABLE).")  # fmt: skip
    assert done.text.endswith(" " + note) and done.text.count("not checked") == 1, done.text
    assert not done.text.startswith("Caveat") and done.text[: -len(note)].strip(), done.text
    (cite,) = [c for c in done.citations if c.fact == "data_check"]
    assert done.text[cite.start : cite.end] == "the surfacing service answered UNAVAILABLE"


def test_a_failed_check_is_one_line_and_the_answer_stands(
    env: Mesh, restated: causal_pb.AttributionResult, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    analysis = restated
    with socket.socket() as s:  # a port nothing listens on: the surfacing service is down
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("LIFTOS_SURFACING_ADDR", f"127.0.0.1:{s.getsockname()[1]}")
    out, err = _counterfactual(analysis.analysis_id, capsys)
    (note,) = [x for x in err.splitlines() if "not checked" in x]
    assert note.startswith(f"note: whether the data under analysis {analysis.analysis_id}'s "
                           "window changed since it was made was not checked (UNAVAILABLE: "), note  # fmt: skip
    assert not out.startswith("warning") and out.strip(), out
    # explain does not ask from the CLI: the llm service asked its own surfacing peer
    out, err = _explain(analysis.analysis_id, capsys)
    assert "not checked" not in out + err and out.startswith("Caveat: "), (out, err)


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
