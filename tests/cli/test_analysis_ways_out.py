"""What an analysis that cannot answer tells the user to do instead, over a real mesh (memory,
ingestion, causal, surfacing; the analysis store's SQLite):

- its stored model was written by an older LiftOS (s19 R39-F1): the refusal has its own
  ErrorInfo reason, MODEL_STATE_OUTDATED, so a client can offer "analyse again" without
  reading the message (it carried the generic FAILED_PRECONDITION);
- it failed its health checks (no ROIs; recommend refuses it): `liftos analyze` names the org's
  latest healthy analysis of the same outcome (id, window, when made), in the text and as
  --json's ``latestHealthy``, so a weekly job can plan on it (R42-F4: one Monday in ten had no
  plan and no hint).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution.fit import state_from_bytes
from mesh.cli.commands import main
from mesh.runtime.inprocess import RunningService
from tests.causal.attribution.records import world_mesh
from tests.support import error_details
from tests.surfacing import drift_world as w

END = w.CUT + dt.timedelta(days=14)  # a window holding BAD
BAD = w.CUT + dt.timedelta(days=7)  # one geo's first-party row mistyped: 1e9 (a day sells ~30k)


def _mistyped() -> Iterator[md_pb.CausalMarketingData]:
    """A newer version of one geo's first-party row of BAD, revenue and orders at 1e9: the
    outcome_outliers check fails any window holding it (R30-F1)."""
    for r in w.records(after=BAD - dt.timedelta(days=1), until=BAD):
        if r.data_source == common_pb.DATA_SOURCE_GENERIC:
            c = md_pb.CausalMarketingData()
            c.CopyFrom(r)
            c.version, c.revenue, c.conversions = r.version + 1, 1e9, 1e9
            yield c
            return


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mesh")


@pytest.fixture(scope="module")
def mesh(data_dir: Path) -> Iterator[dict[str, RunningService]]:
    with world_mesh(data_dir, {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=END))
        w.write(services["memory"].address, _mistyped())
        yield services


@pytest.fixture
def cli(mesh: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("causal", "surfacing", "memory", "ingestion"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)


@pytest.fixture(scope="module")
def healthy(mesh: dict[str, RunningService]) -> causal_pb.AttributionResult:
    """The revenue analysis of START..CUT (national): BAD is outside it, and it passes."""
    result = w.analyze(mesh["causal"].address)
    assert result.health.verdict != causal_pb.HEALTH_VERDICT_FAIL and result.channels
    return result


def _models(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "causal" / "analyses.sqlite")


def test_a_model_stored_by_an_older_liftos_is_refused_with_its_own_reason(
    data_dir: Path, mesh, healthy: causal_pb.AttributionResult, cli, capsys
) -> None:
    aid = healthy.analysis_id
    with _models(data_dir) as db:
        (fresh,) = db.execute(
            "SELECT model FROM analysis_models WHERE org_id = ? AND analysis_id = ?", (w.ORG, aid)
        ).fetchone()
    # bytes naming a class this version no longer has: what a renamed class left behind
    old = zlib.compress(
        pickle.dumps(state_from_bytes(bytes(fresh))).replace(b"FitState", b"FitStat0")
    )
    store = "UPDATE analysis_models SET model = ? WHERE org_id = ? AND analysis_id = ?"
    with _models(data_dir) as db:
        db.execute(store, (old, w.ORG, aid))
    try:
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
        with pytest.raises(grpc.RpcError) as e:
            stub.Counterfactual(causal_pb.CounterfactualRequest(
                org_id=w.ORG, analysis_id=aid,
                changes=[causal_pb.SpendChange(channel="tiktok", multiplier=0.0)],
            ), timeout=300)  # fmt: skip
        assert e.value.code() is grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
        assert error_details(e.value)[0] == "MODEL_STATE_OUTDATED"  # FAILED_PRECONDITION before
        # the CLI prints the reason first and exits 1 (refused: the same request fails again)
        assert main(["counterfactual", aid, "--org", w.ORG, "--set", "tiktok=0"]) == 1
        err = capsys.readouterr().err
        assert ("error [MODEL_STATE_OUTDATED]: FAILED_PRECONDITION: re-run analyze: this "
                "analysis was stored by an older LiftOS") in err, err  # fmt: skip
    finally:
        with _models(data_dir) as db:
            db.execute(store, (fresh, w.ORG, aid))
    assert main(["counterfactual", aid, "--org", w.ORG, "--set", "tiktok=0"]) == 0


def _analyze(*extra: str) -> list[str]:
    return ["analyze", "--org", w.ORG, "--start", str(w.START), "--identification", "national",
            *extra]  # fmt: skip


def _grpc_analyze(
    mesh, outcome: int, channels: tuple[str, ...] = ()
) -> causal_pb.AttributionResult:
    """START..CUT of ``outcome`` (of ``channels``; empty: every channel) over gRPC (as a job
    would have made it last week)."""
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = causal_pb.AnalyzeAttributionRequest(
        org_id=w.ORG, identification=causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL,
        outcome=outcome, channels=channels,  # type: ignore[arg-type]
    )  # fmt: skip
    for field, d in (("start_date", w.START), ("end_date", w.CUT)):
        getattr(request.date_range, field).CopyFrom(
            common_pb.Date(year=d.year, month=d.month, day=d.day)
        )
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result


def test_a_failed_analysis_names_the_latest_healthy_one_of_its_outcome(
    mesh, healthy: causal_pb.AttributionResult, cli, capsys
) -> None:
    org, end = w.ORG, str(END)
    # A conversions analysis over BAD fails; the org's one healthy analysis is of revenue, so
    # there is none to plan on instead, and it says so.
    assert main(_analyze("--end", end, "--outcome", "conversions")) == 0
    out = capsys.readouterr().out
    assert "health: FAIL" in out and "no ROIs: the model failed its health checks" in out
    assert (f"no other conversions analysis of org {org} modelling every channel is stored: "
            "none to plan on instead; "
            "fix what the checks above name and analyse again") in out, out  # fmt: skip

    # Then a healthy conversions analysis, newer than the revenue one: a failed revenue
    # analysis names the revenue one all the same, with its window and when it was made.
    conversions = _grpc_analyze(mesh, common_pb.OUTCOME_METRIC_CONVERSIONS)
    assert conversions.health.verdict != causal_pb.HEALTH_VERDICT_FAIL and conversions.channels
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    stored = causal.GetAnalysis(
        causal_pb.GetAnalysisRequest(org_id=org, analysis_id=healthy.analysis_id)
    ).analysis
    made = stored.create_time.ToDatetime(tzinfo=dt.UTC)
    aid = healthy.analysis_id
    assert main(_analyze("--end", end)) == 0
    out = capsys.readouterr().out
    assert "no ROIs: the model failed its health checks" in out
    assert (f"latest healthy revenue analysis of org {org} modelling every channel: {aid} "
            f"({w.START}..{w.CUT}, made "
            f"{made:%Y-%m-%d %H:%M:%S} UTC, health ") in out, out  # fmt: skip
    assert f"plan on it: liftos recommend {aid} --org {org}" in out

    # --json: latestHealthy, in the document's own shapes; the failed revenue analysis the
    # text run stored (newer) is read and passed over
    assert main(_analyze("--end", end, "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["health"]["verdict"] == "HEALTH_VERDICT_FAIL" and doc["channels"] == []
    assert doc["latestHealthy"] == {
        "analysisId": aid,
        "dateRange": {
            "startDate": {"year": 2024, "month": 9, "day": 15},
            "endDate": {"year": 2024, "month": 12, "day": 8},
        },
        "createTime": stored.create_time.ToJsonString(),
        "verdict": causal_pb.HealthVerdict.Name(healthy.health.verdict),
    }
    listed = [a.analysis_id for a in causal.ListAnalyses(
        causal_pb.ListAnalysesRequest(org_id=org)).analyses]  # fmt: skip
    assert (
        listed.index(doc["analysisId"]) < listed.index(conversions.analysis_id) < listed.index(aid)
    )

    # A healthy analysis is its own: a job reads latestHealthy whatever the verdict
    assert main(_analyze("--end", str(w.CUT), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["health"]["verdict"] != "HEALTH_VERDICT_FAIL" and doc["channels"]
    assert doc["latestHealthy"]["analysisId"] == doc["analysisId"]
    assert doc["latestHealthy"]["createTime"] == doc["createTime"]


def test_a_failed_analysis_names_one_of_the_same_channels_not_a_channel_subset(
    mesh, healthy: causal_pb.AttributionResult, cli, capsys
) -> None:
    """s19 V3 F2: a newer --channel analysis (REVIEW: omitted_channels, the other channels'
    effect credited to the one fitted) is no stand-in for a failed analysis of every channel;
    a failed one of that channel only names it."""
    org, end = w.ORG, str(END)
    full = _grpc_analyze(mesh, common_pb.OUTCOME_METRIC_REVENUE)  # older than the subset
    assert full.health.verdict != causal_pb.HEALTH_VERDICT_FAIL and full.channels
    aid = full.analysis_id
    one = sorted(c.channel for c in full.channels)[0]
    subset = _grpc_analyze(mesh, common_pb.OUTCOME_METRIC_REVENUE, (one,))
    assert subset.health.verdict != causal_pb.HEALTH_VERDICT_FAIL and subset.channels
    assert "omitted_channels" in [c.name for c in subset.health.checks]
    assert main(_analyze("--end", end, "--json")) == 0  # every channel: the full one
    doc = json.loads(capsys.readouterr().out)
    assert doc["health"]["verdict"] == "HEALTH_VERDICT_FAIL"
    assert doc["latestHealthy"]["analysisId"] == aid, (doc["latestHealthy"], subset.analysis_id)
    assert main(_analyze("--end", end)) == 0
    out = capsys.readouterr().out
    assert f"latest healthy revenue analysis of org {org} modelling every channel: {aid} " in out
    assert subset.analysis_id not in out
    assert main(_analyze("--end", end, "--channel", one)) == 0  # that channel only: the subset
    out = capsys.readouterr().out
    assert "no ROIs: the model failed its health checks" in out
    assert (f"latest healthy revenue analysis of org {org} modelling channels {one} only: "
            f"{subset.analysis_id} ") in out, out  # fmt: skip
