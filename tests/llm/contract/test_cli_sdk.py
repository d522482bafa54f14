"""`liftos explain` / `liftos check-claims` and the SDK's explain, check_claims and
build_context, against real causal and LLM servers on localhost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.tables import frame_to_table
from mesh.sdk import LiftOS, RpcFailure
from tests.llm.support import audit_attribution, audit_demo, failed_attribution

ORG = "acme"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-cli")


@pytest.fixture(scope="module")
def services(data_dir: Path) -> Iterator[dict[str, RunningService]]:
    builds = {"causal": causal_build, "llm": llm_build}
    with running_services(builds, data_dir) as running:
        yield running


@pytest.fixture(scope="module")
def attributions(services: dict[str, RunningService], data_dir: Path) -> tuple[str, str]:
    """The audit's attribution and a failed one, stored as the causal service stores its own
    (its SQLite analysis store, read back through GetAnalysis)."""
    store = AnalysisStore(data_dir / "causal" / "analyses.sqlite")
    now = dt.datetime.now(dt.UTC)
    for analysis in (audit_attribution(org_id=ORG), failed_attribution(org_id=ORG)):
        store.put(StoredAnalysis(ORG, analysis.analysis_id, "attribution", now,
                                 analysis.SerializeToString()))  # fmt: skip
    store.close()
    return "an-audit", "an-failed"


@pytest.fixture(scope="module")
def lift(services: dict[str, RunningService]) -> str:
    rng = np.random.default_rng(3)
    treated = rng.permutation(np.repeat([0, 1], 150))
    frame = pd.DataFrame(
        {"meta_retargeting": treated, "revenue": 50 + 6 * treated + rng.normal(0, 3, 300)}
    )
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
    return stub.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=ORG, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS, randomized=True,
            table=frame_to_table(frame),
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="meta_retargeting"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=3),
        )
    ).analysis_id  # fmt: skip


@pytest.fixture
def peers(services: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> PeerConfig:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    monkeypatch.setenv("LIFTOS_LLM_ADDR", services["llm"].address)
    return PeerConfig.from_env()


def test_sdk(peers: PeerConfig, lift: str) -> None:
    deltas: list[str] = []
    with LiftOS(peers, org_id=ORG) as client:
        done = client.explain(lift, audience="executive", on_delta=deltas.append)
        claims = client.check_claims("Meta retargeting cut revenue by 6.", [lift])
        context = client.build_context([lift], audience="data_scientist")
        with pytest.raises(RpcFailure) as caught:
            client.explain("an-nope")
    assert "".join(deltas).rstrip() == done.text and done.text.startswith(
        "Meta retargeting increased"
    )
    assert done.citations and not done.unsupported_claims
    assert [int(c.verdict) for c in claims] == [2] and "interval" in claims[0].reason
    assert context.insights and f"[{lift}:point_estimate]" in context.context
    assert (
        caught.value.code == grpc.StatusCode.NOT_FOUND
        and caught.value.reason == "ANALYSIS_NOT_FOUND"
    )


def test_explain_verb_streams_to_the_terminal(peers: PeerConfig, lift: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["explain", lift, "--org", ORG, "--audience", "analyst", "--citations"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Meta retargeting increased revenue by ")
    assert f"{lift}:ci_lower" in out


def test_check_claims_verb(peers: PeerConfig, lift: str, capsys) -> None:  # type: ignore[no-untyped-def]
    text = "Meta retargeting increased revenue by 6. Revenue is correlated with Meta retargeting."
    assert cli.main(["check-claims", text, "--analysis", lift, "--org", ORG]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SUPPORTED") and "correlated" not in out
    assert (
        cli.main(
            [
                "check-claims",
                "Meta retargeting cut revenue.",
                "--analysis",
                lift,
                "--org",
                ORG,
                "--strict",
            ]
        )
        == 3
    )
    assert "CONTRADICTED" in capsys.readouterr().out


def test_an_unknown_analysis_is_an_error_not_a_trace(peers: PeerConfig, capsys) -> None:  # type: ignore[no-untyped-def]
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert cli.main(["explain", "an-missing", "--org", ORG]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_an_executive_explanation_of_a_failed_analysis_is_not_empty(  # type: ignore[no-untyped-def]
    peers: PeerConfig, attributions: tuple[str, str], capsys
) -> None:
    _, failed = attributions
    assert cli.main(["explain", failed, "--org", ORG, "--audience", "executive"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("This analysis gives no figure to base a decision on: the model failed")
    assert "holdout" in out and "Next step:" in out


def test_check_claims_on_a_channel_without_spend(  # type: ignore[no-untyped-def]
    peers: PeerConfig, attributions: tuple[str, str], capsys
) -> None:
    audit, _ = attributions
    assert cli.main(["explain", audit, "--org", ORG]) == 0
    assert "Klaviyo email increased revenue by 29,597,531" in capsys.readouterr().out
    text = "Klaviyo email drove 29.6 million in revenue. TikTok had no effect on revenue."
    assert cli.main(["check-claims", text, "--analysis", audit, "--org", ORG]) == 0
    email, tiktok = capsys.readouterr().out.split("\n")[0:3:2]
    assert email.startswith("SUPPORTED") and tiktok.startswith("UNSUPPORTED")


def test_check_claims_on_a_failed_analysis_names_the_failure(  # type: ignore[no-untyped-def]
    peers: PeerConfig, attributions: tuple[str, str], capsys
) -> None:
    """The re-audit's N4, over real servers: the stored failed attribution names the channels
    it modelled; a claim about one is CONTRADICTED by the failure, not "no analysis speaks"."""
    _, failed = attributions
    text = "Meta prospecting drove 40 million in revenue."
    assert cli.main(["check-claims", text, "--analysis", failed, "--org", ORG]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CONTRADICTED"), out
    assert "the analysis failed its health checks (holdout)" in out
    assert "reports no channel effects" in out and "no analysis speaks" not in out


@pytest.fixture(scope="module")
def audit_pair(services: dict[str, RunningService], data_dir: Path) -> tuple[str, str]:
    """The R2 audit's two stored attributions of one window: (uncalibrated, calibrated)."""
    store = AnalysisStore(data_dir / "causal" / "analyses.sqlite")
    ids = []
    for calibrated in (False, True):
        analysis = audit_demo(calibrated=calibrated)
        analysis.org_id = ORG
        store.put(StoredAnalysis(ORG, analysis.analysis_id, "attribution",
                                 analysis.create_time.ToDatetime(tzinfo=dt.UTC),
                                 analysis.SerializeToString()))  # fmt: skip
        ids.append(analysis.analysis_id)
    store.close()
    return ids[0], ids[1]


def test_check_claims_gives_one_verdict_whatever_the_order_of_analysis(  # type: ignore[no-untyped-def]
    peers: PeerConfig, audit_pair: tuple[str, str], capsys
) -> None:
    """R2 F16 over real servers: UNSUPPORTED or SUPPORTED depended on which --analysis came
    first; the calibrated analysis of the same window is read either way, the other named."""
    uncalibrated, calibrated = audit_pair
    text = "Meta prospecting drove 4.3 million in revenue. Meta prospecting's iROAS was 3.5."
    outs = []
    for first, second in ((uncalibrated, calibrated), (calibrated, uncalibrated)):
        args = ["check-claims", text, "--analysis", first, "--analysis", second, "--org", ORG]
        assert cli.main(args) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    lines = outs[0].splitlines()
    assert lines[0].startswith("SUPPORTED") and lines[2].startswith("CONTRADICTED"), outs[0]
    assert f"read from {calibrated}" in lines[1] and f"{uncalibrated} is set aside" in lines[1]


def test_explain_question_focuses_the_grounded_writer(  # type: ignore[no-untyped-def]
    peers: PeerConfig, attributions: tuple[str, str], capsys
) -> None:
    """R2 F12 over real servers: `liftos explain --question` gave the same text as without."""
    audit, _ = attributions
    assert cli.main(["explain", audit, "--org", ORG]) == 0
    plain = capsys.readouterr().out
    question = "Should I increase TikTok spend?"
    assert cli.main(["explain", audit, "--org", ORG, "--question", question]) == 0
    asked = capsys.readouterr().out
    assert asked != plain and asked.startswith("The question names tiktok:")
    assert "Klaviyo email" not in asked and "effect of tiktok on revenue" in asked
