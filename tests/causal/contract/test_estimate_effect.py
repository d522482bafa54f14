"""EstimateEffect, BuildGraph and GetAnalysis on a real causal server, with real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from causaldata import castle, thornton_hiv
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.app import build as causal_build
from mesh.cli import commands as cli
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from tests.support import error_details

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory):
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as services:
        yield services["causal"]


@pytest.fixture(scope="module")
def stub(causal):
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(causal.address))


def _request(frame: pd.DataFrame, method: int, **roles: object) -> pb.EstimateEffectRequest:
    return pb.EstimateEffectRequest(
        org_id="acme",
        method=method,
        table=frame_to_table(frame),
        roles=pb.EffectRoles(**roles),  # type: ignore[arg-type]
        options=pb.EstimationOptions(refutation_simulations=5, seed=1),
    )


def test_randomised_experiment_via_auto(stub) -> None:
    hiv = thornton_hiv.load_pandas().data[["got", "any", "distvct"]].dropna()
    request = _request(hiv, pb.ESTIMATION_METHOD_AUTO, outcome="got", treatment="any")
    request.randomized = True
    reply = stub.EstimateEffect(request)
    e = reply.estimate
    raw = hiv.loc[hiv["any"] == 1, "got"].mean() - hiv.loc[hiv["any"] == 0, "got"].mean()
    assert e.method == pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS
    assert e.strategy.kind == pb.IDENTIFICATION_KIND_RANDOMIZED
    assert e.point_estimate == pytest.approx(raw, rel=1e-9)
    assert e.ci_lower < e.point_estimate < e.ci_upper
    assert e.supported and e.summary.startswith("Supported")
    kinds = {c.kind for c in e.checks}
    assert {pb.CHECK_KIND_PLACEBO_TREATMENT, pb.CHECK_KIND_DATA_SUBSET} <= kinds
    assert all(c.interpretation for c in e.checks)
    stored = stub.GetAnalysis(
        pb.GetAnalysisRequest(org_id="acme", analysis_id=reply.analysis_id)
    ).analysis
    assert stored.estimate == e
    assert stored.request.roles.outcome == "got" and not stored.request.HasField("table")


def test_staggered_panel_auto_names_strategy_and_failed_pretrend(stub) -> None:
    data = castle.load_pandas().data[["sid", "year", "l_homicide", "post"]].copy()
    # Adopting states drift up by 0.1 a year before adoption. The real panel's pre-trend test
    # gives p = 0.10 since the few-cluster reference (R11-F2; chi2(8) gave 0.007), so the
    # drift is what fails it here.
    first = data[data["post"] == 1].groupby("sid")["year"].min()
    years_before = (data["sid"].map(first) - data["year"]).clip(lower=0).fillna(0)
    data["l_homicide"] -= 0.1 * years_before
    reply = stub.EstimateEffect(
        _request(
            data,
            pb.ESTIMATION_METHOD_AUTO,
            outcome="l_homicide",
            treatment="post",
            unit="sid",
            time="year",
        )
    )
    e = reply.estimate
    assert e.method == pb.ESTIMATION_METHOD_STAGGERED_DID
    assert "cohort" in e.strategy.reason
    assert any("parallel trends" in a for a in e.strategy.assumptions)
    pre = [c for c in e.checks if c.kind == pb.CHECK_KIND_PRE_TREND]
    assert pre and pre[0].outcome == pb.CHECK_OUTCOME_FAILED
    assert not e.supported and e.summary.startswith("Not supported")
    assert "twfe_estimate" in e.statistics


def test_not_identifiable_from_default_graph(stub) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"spend": rng.normal(size=200), "revenue": rng.normal(size=200)})
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(
            _request(frame, pb.ESTIMATION_METHOD_AUTO, outcome="revenue", treatment="spend")
        )
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "demand" in info.value.details()
    assert error_details(info.value)[0] == "NOT_IDENTIFIABLE"


@pytest.mark.parametrize(
    ("request_change", "field"),
    [
        ({"roles": pb.EffectRoles(outcome="y")}, "roles.treatment"),
        ({"roles": pb.EffectRoles(outcome="nope", treatment="t")}, "roles.outcome"),
        ({"method": pb.ESTIMATION_METHOD_UNSPECIFIED}, "method"),
        ({"alpha": 1.5}, "alpha"),
        ({"roles": pb.EffectRoles(outcome="y", treatment="const")}, "roles.treatment"),
        ({"roles": pb.EffectRoles(outcome="y", treatment="t", running_variable="x", cutoff=99.0),
          "method": pb.ESTIMATION_METHOD_RDD}, "roles.cutoff"),
        ({"roles": pb.EffectRoles(outcome="y", treatment="t"), "method": pb.ESTIMATION_METHOD_IV},
         "roles.instruments"),
        ({"roles": pb.EffectRoles(outcome="label", treatment="t")}, "roles.outcome"),
        ({"options": pb.EstimationOptions(cluster_inference=9)}, "options.cluster_inference"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(stub, request_change: dict, field: str) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"y": rng.normal(size=100), "t": np.repeat([0, 1], 50), "x": rng.uniform(size=100),
         "const": np.ones(100), "label": ["a"] * 100}
    )  # fmt: skip
    request = _request(frame, pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS, outcome="y", treatment="t")
    for key, value in request_change.items():
        if isinstance(value, pb.EffectRoles):
            request.roles.CopyFrom(value)
        elif isinstance(value, pb.EstimationOptions):
            request.options.CopyFrom(value)
        else:
            setattr(request, key, value)
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert field in error_details(info.value)[1]


def test_ragged_table_is_rejected(stub) -> None:
    request = _request(
        pd.DataFrame({"y": [1.0, 2.0], "t": [0, 1]}),
        pb.ESTIMATION_METHOD_DID,
        outcome="y",
        treatment="t",
    )
    request.table.row_count = 3
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(info.value)[1] == ["table.columns[0]"]


def test_get_analysis_is_org_scoped(stub) -> None:
    hiv = thornton_hiv.load_pandas().data[["got", "any"]].dropna()
    request = _request(
        hiv, pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS, outcome="got", treatment="any"
    )
    request.options.skip_refutation = True
    reply = stub.EstimateEffect(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetAnalysis(pb.GetAnalysisRequest(org_id="intruder", analysis_id=reply.analysis_id))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert error_details(info.value)[0] == "ANALYSIS_NOT_FOUND"


def test_build_graph_default_and_edits(stub) -> None:
    reply = stub.BuildGraph(
        pb.BuildGraphRequest(org_id="acme", treatment="spend", outcome="revenue")
    )
    assert reply.identifiable
    assert {"seasonality", "holiday", "demand"} <= set(reply.confounders)
    assert {"impressions", "clicks", "conversions"} <= set(reply.mediators)
    assert "cost_shock" in reply.instruments
    adjust = set(reply.adjustment_sets[0].variables)
    assert "demand" in adjust and not adjust & {"impressions", "clicks"}
    roles = {n.id: n.role for n in reply.graph.nodes}
    assert (
        roles["spend"] == md_pb.NODE_ROLE_TREATMENT and roles["clicks"] == md_pb.NODE_ROLE_MEDIATOR
    )

    hidden = stub.BuildGraph(
        pb.BuildGraphRequest(org_id="acme", treatment="spend", outcome="revenue",
                             nodes=[md_pb.CausalNode(id="demand", observed=False)])
    )  # fmt: skip
    assert not hidden.identifiable or hidden.frontdoor_available or hidden.instruments
    assert "demand" in hidden.identification_reason

    with pytest.raises(grpc.RpcError) as info:
        stub.BuildGraph(
            pb.BuildGraphRequest(org_id="acme", treatment="spend", outcome="revenue",
                                 add_edges=[md_pb.CausalEdge(source="revenue", target="spend")])
        )  # fmt: skip
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "cycle" in info.value.details() and "revenue" in info.value.details()
    assert error_details(info.value)[1] == ["add_edges[0]"]


def test_cli_estimate_json(causal, tmp_path: Path) -> None:
    data = castle.load_pandas().data[["sid", "year", "l_homicide", "post"]]
    csv = tmp_path / "castle.csv"
    data.to_csv(csv, index=False)
    out = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "estimate", str(csv), "--method", "did", "--outcome", "l_homicide",
         "--treatment", "post", "--unit", "sid", "--time", "year", "--simulations", "3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "LIFTOS_CAUSAL_ADDR": causal.address, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in (
        "method",
        "point_estimate",
        "std_error",
        "ci_lower",
        "ci_upper",
        "p_value",
        "n",
        "supported",
        "checks",
        "details",
    ):
        assert key in result
    assert result["method"] == "did" and result["n"] == len(data)
    assert result["details"]["n_clusters"] == 50
    assert any(c["kind"] == "pre_trend" for c in result["checks"])


def test_cli_estimate_reads_iso_dates_in_the_time_column(
    causal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: ``liftos estimate data.csv --method did ... --time day`` with ISO dates in the CSV
    was refused ("time column 'day' must be numeric or datetime ... got string").

    The CLI runs in this process (``test_cli_estimate_json`` runs it as a child process): the
    bug is in reading the CSV, and two more interpreters importing pandas cost seconds."""
    rng = np.random.default_rng(0)
    rows = [
        {"geo": f"g{g:02d}", "day": (pd.Timestamp("2024-09-01") + pd.Timedelta(days=d)).date().isoformat(),
         "treated_post": int(g < 6 and d >= 20), "y": g + 0.2 * d + 5 * (g < 6 and d >= 20) + rng.normal()}
        for g in range(12) for d in range(30)
    ]  # fmt: skip
    csv = tmp_path / "data.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    for name in [k for k in os.environ if k.startswith("LIFTOS_")]:
        monkeypatch.delenv(name)  # as the child process had: no keys, no peers but causal
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)
    args = ["estimate", str(csv), "--method", "did", "--outcome", "y", "--treatment",
            "treated_post", "--unit", "geo", "--time", "day", "--no-checks"]  # fmt: skip
    assert cli.main([*args, "--json"]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "did" and result["n"] == len(rows)
    assert result["ci_lower"] < 5 < result["ci_upper"]
    # the table's line gives a tail below 0.001 as such, not 'p = 0' (re-audit M13)
    assert result["p_value"] < 1e-3
    assert cli.main(args) == 0
    table = capsys.readouterr()
    assert "p < 0.001" in table.out and "p = 0 " not in table.out, table.err


def test_sharp_rdd_without_treatment_and_running_variable_as_treatment(stub) -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 1500)
    frame = pd.DataFrame({"score": x, "y": 1 + x + 2.0 * (x >= 0) + rng.normal(size=x.size)})
    request = _request(frame, pb.ESTIMATION_METHOD_RDD, outcome="y", running_variable="score")
    request.roles.cutoff = 0.0
    reply = stub.EstimateEffect(request)
    e = reply.estimate
    assert e.method == pb.ESTIMATION_METHOD_RDD and e.treatment == "score >= 0"
    assert e.ci_lower < 2.0 < e.ci_upper
    placebo = next(c for c in e.checks if c.kind == pb.CHECK_KIND_PLACEBO_TREATMENT)
    assert "placebo cutoffs of score" in placebo.interpretation
    assert "below it" in placebo.interpretation and "above it" in placebo.interpretation
    request.roles.treatment = "score"
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    reason, fields = error_details(info.value)
    assert reason == "TREATMENT_IS_RUNNING_VARIABLE" and "roles.treatment" in fields
    # Without a running variable the treatment is still required.
    request.roles.treatment = ""
    request.roles.running_variable = ""
    with pytest.raises(grpc.RpcError) as missing:
        stub.EstimateEffect(request)
    assert missing.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _c_panel() -> pd.DataFrame:
    """The fuzz campaign's table (s8/C repro_estimate.py): 8 geos x 12 days, 4 treated."""
    rng = np.random.default_rng(0)
    rows = []
    for g in range(8):
        for d in range(12):
            tr = int(g < 4 and d >= 6)
            rows.append({"geo": f"g{g}", "day": d, "treated": tr, "x": rng.normal(),
                         "z": rng.normal(), "r": rng.normal(),
                         "y": 10 + g + 0.3 * d + 5 * tr + rng.normal()})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("method", "change", "roles", "field"),
    [
        (pb.ESTIMATION_METHOD_STAGGERED_DID, ("y", "one"),
         {"outcome": "y", "treatment": "treated", "unit": "geo", "time": "day"}, "roles.outcome"),
        (pb.ESTIMATION_METHOD_RDD, ("y", "all"),
         {"outcome": "y", "running_variable": "r", "cutoff": 0.0}, "roles.outcome"),
        (pb.ESTIMATION_METHOD_DML, ("x", "all"),
         {"outcome": "y", "treatment": "treated", "covariates": ["x", "z"]}, "roles.covariates"),
    ],
)  # fmt: skip
def test_overflowing_values_are_invalid_argument_not_internal(
    stub, method: int, change: tuple[str, str], roles: dict, field: str
) -> None:
    """Each was INTERNAL (SVD non-convergence, ZeroDivisionError, sklearn's float32 cast)."""
    frame = _c_panel()
    column, how = change
    if how == "one":
        frame.loc[3, column] = 1e308
    else:
        frame[column] = frame[column] * (1e200 if column == "y" else 1e300)
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(_request(frame, method, **roles))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert f"column {column!r}" in (info.value.details() or "")
    assert field in error_details(info.value)[1]


_EMPTY_NAME_CASES = [
    (method, role)
    for method in ("DML", "AIPW", "MATCHING", "NAIVE_REGRESSION", "IV")
    for role in ("covariates", "effect_modifiers", "instruments")
    if (role != "effect_modifiers" or method == "DML") and (role != "instruments" or method == "IV")
]


@pytest.mark.parametrize(("method", "role"), _EMPTY_NAME_CASES)
def test_empty_name_in_a_role_list_is_invalid_argument(stub, method: str, role: str) -> None:
    """s8/C finding 4: ``covariates=["x", ""]`` was INTERNAL (KeyError '') because the column
    check skipped empty names, as it rightly does for an unset single role."""
    roles: dict = {"outcome": "y", "treatment": "treated", "covariates": ["x"]}
    if method == "IV":
        roles["instruments"] = ["z"]
    roles[role] = [*roles.get(role, ["x"]), ""]
    request = _request(_c_panel(), getattr(pb, f"ESTIMATION_METHOD_{method}"), **roles)
    request.options.skip_refutation = True
    with pytest.raises(grpc.RpcError) as info:
        stub.EstimateEffect(request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    field = f"roles.{role}[{len(roles[role]) - 1}]"
    assert f"{field}: empty column name" in (info.value.details() or "")
    assert error_details(info.value)[1] == [field]


def test_an_unbounded_interval_reaches_the_client_as_infinite_bounds(stub) -> None:
    """Synthetic control with 5 donors: its placebo p can never reach 0.05, the interval is
    [-inf, inf]. proto3 doubles carry ±inf, so the client must read them, not 0 to 0 (an unset
    bound), and the estimate is not supported."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        [
            {"u": u, "t": t, "d": int(u == 0 and t >= 15),
             "y": u + 0.1 * t + 3 * (u == 0 and t >= 15) + rng.normal()}
            for u in range(6) for t in range(20)
        ]
    )  # fmt: skip
    request = _request(frame, pb.ESTIMATION_METHOD_SYNTHETIC_CONTROL,
                       outcome="y", treatment="d", unit="u", time="t")  # fmt: skip
    request.options.skip_refutation = True
    e = stub.EstimateEffect(request).estimate
    assert (e.ci_lower, e.ci_upper) == (-np.inf, np.inf)
    assert not e.supported and "-inf to inf" in e.summary
