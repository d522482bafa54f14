"""staggered_did's comparison units on every surface (R27-F5): a rollout where every unit is
eventually treated was refused with advice ("control_group='not_yet_treated'") that no CLI flag,
SDK argument or request field carried. The estimate with not-yet-treated controls is checked
against Callaway & Sant'Anna's ATT(g,t) computed here from cell means, on a simulated panel
whose effects are known, through a real causal server (SDK and CLI)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.tables import frame_to_table
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure

COHORTS = (4, 6, 8)  # every unit adopts by period 8 of 0..9: no never-treated unit
SLOPE = {4: 1.0, 6: 0.5, 8: 2.0}  # effect s_g * (t - g + 1): grows with exposure, by cohort
UNITS_PER_COHORT = 12
PERIODS = range(10)
# ATT(g,t) is a difference of four means, computed here and by the estimator: equal to rounding.
ATT_ATOL = 1e-9
ROLES: dict[str, Any] = {"outcome": "y", "treatment": "d", "unit": "store", "time": "week"}


def _panel(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(UNITS_PER_COHORT * len(COHORTS)):
        g = COHORTS[i % len(COHORTS)]
        level = rng.normal(0, 2)
        for t in PERIODS:
            effect = SLOPE[g] * (t - g + 1) if t >= g else 0.0
            y = level + 0.3 * t + effect + rng.normal(0, 0.5)
            rows.append({"store": f"s{i:02d}", "week": t, "d": int(t >= g), "y": y})
    return pd.DataFrame(rows)


def _reference(frame: pd.DataFrame) -> tuple[dict[tuple[int, int], float], float, float]:
    """CS 2021 with not-yet-treated controls, from cell means: every ATT(g,t) (base g-1 after
    adoption, t-1 before), the cohort-share-weighted average of each cohort's mean
    post-treatment ATT (θ_sel^O), and the same average of the true effects."""
    wide = frame.pivot(index="store", columns="week", values="y")
    cohort = frame[frame.d == 1].groupby("store").week.min().reindex(wide.index)
    att: dict[tuple[int, int], float] = {}
    for g in COHORTS:
        for t in PERIODS:
            b = g - 1 if t >= g else t - 1
            if b < 0:
                continue
            controls = (cohort > max(t, b)) & (cohort != g)
            if not controls.any():
                continue  # the last cohort after it adopts: nobody left to compare with
            change = wide[t] - wide[b]
            att[(g, t)] = change[cohort == g].mean() - change[controls].mean()
    size = cohort.value_counts()
    post = {g: [t for (h, t) in att if h == g and t >= g] for g in COHORTS}
    used = [g for g in COHORTS if post[g]]
    weight = {g: size[g] / sum(size[h] for h in used) for g in used}
    estimate = sum(weight[g] * np.mean([att[(g, t)] for t in post[g]]) for g in used)
    truth = sum(weight[g] * np.mean([SLOPE[g] * (t - g + 1) for t in post[g]]) for g in used)
    return att, float(estimate), float(truth)


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("cg")) as services:
        yield services["causal"]


@pytest.fixture(scope="module")
def client(causal: RunningService) -> Iterator[LiftOS]:
    with LiftOS(PeerConfig.from_env().with_overrides(causal=causal.address), org_id="acme") as c:
        yield c


def test_not_yet_treated_matches_the_reference_through_the_sdk(client: LiftOS) -> None:
    frame = _panel(seed=5)
    att, expected, truth = _reference(frame)
    assert (8, 8) not in att and (6, 7) in att  # the design leaves the last cohort's post out
    reply = client.estimate(
        frame, method="staggered_did", control_group="not_yet_treated", skip_refutation=True,
        **ROLES,
    )  # fmt: skip
    e = reply.estimate
    assert e is not None
    cells = {c.name: c.estimate for c in e.coefficients if c.name.startswith("att(")}
    assert set(cells) == {f"att(g={g},t={t})" for g, t in att}
    for (g, t), value in att.items():
        assert cells[f"att(g={g},t={t})"] == pytest.approx(value, abs=ATT_ATOL)
    assert e.point_estimate == pytest.approx(expected, abs=ATT_ATOL)
    assert e.ci_lower <= truth <= e.ci_upper
    assert any("had no controls" in w for w in e.warnings)


def test_default_is_refused_naming_the_option_on_every_surface(client: LiftOS) -> None:
    with pytest.raises(RpcFailure) as err:
        client.estimate(_panel(seed=5), method="staggered_did", skip_refutation=True, **ROLES)
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
    message = err.value.message
    assert "--control-group not_yet_treated" in message
    assert "control_group='not_yet_treated'" in message
    assert "options.control_group = CONTROL_GROUP_NOT_YET_TREATED" in message
    # never_treated asked for explicitly is the same refusal
    with pytest.raises(RpcFailure, match="no never-treated units"):
        client.estimate(
            _panel(seed=5), method="staggered_did", control_group="never_treated",
            skip_refutation=True, **ROLES,
        )  # fmt: skip


def test_a_method_without_control_groups_warns_that_it_ignored_it(client: LiftOS) -> None:
    reply = client.estimate(
        _panel(seed=5), method="did", control_group="not_yet_treated",
        skip_refutation=True, **ROLES,
    )  # fmt: skip
    assert reply.estimate is not None
    assert any(
        w.startswith("options.control_group = not_yet_treated was not applied")
        for w in reply.estimate.warnings
    ), reply.estimate.warnings


def test_unknown_values_are_refused_naming_the_field(
    causal: RunningService, client: LiftOS
) -> None:
    with pytest.raises(InvalidInput, match="control_group 'last' must be one of never_treated"):
        client.estimate(_panel(seed=5), method="staggered_did", control_group="last", **ROLES)
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(causal.address))
    request = pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_STAGGERED_DID,
        table=frame_to_table(_panel(seed=5)),
        roles=pb.EffectRoles(**ROLES),
        options=pb.EstimationOptions(control_group=7, skip_refutation=True),  # type: ignore[arg-type]
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.EstimateEffect(request)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "options.control_group" in (err.value.details() or "")


def test_cli_flag(
    causal: RunningService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = _panel(seed=11)
    _, expected, _ = _reference(frame)
    csv = tmp_path / "rollout.csv"
    frame.to_csv(csv, index=False)
    for name in [k for k in os.environ if k.startswith("LIFTOS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)
    args = ["estimate", str(csv), "--method", "staggered_did", "--outcome", "y", "--treatment",
            "d", "--unit", "store", "--time", "week", "--no-checks"]  # fmt: skip
    assert cli.main(args) != 0
    assert "--control-group not_yet_treated" in capsys.readouterr().err
    assert cli.main([*args, "--control-group", "not_yet_treated", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "staggered_did"
    assert result["point_estimate"] == pytest.approx(expected, abs=ATT_ATOL)
