"""`liftos experiments create` re-run after a crash part-way through its file (audit R19 #4):
an experiment already stored as the file gives it is said and skipped and the rest are
registered; one stored under its id with other contents is named with the differing fields.
Real memory + ingestion services."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS

ORG = "org_001"


@pytest.fixture(scope="module")
def entry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("world")
    sim.write(sim.simulate("demo", seed=1, days=60), out)
    entries = json.loads((out / "experiments.json").read_text())
    return next(e for e in entries if e.get("org_id", ORG) == ORG)


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[dict[str, RunningService]]:
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


def _file(tmp_path: Path, name: str, entries: list[dict[str, Any]]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(entries))
    return str(path)


def _as(entry: dict[str, Any], experiment_id: str, **change: Any) -> dict[str, Any]:
    out = copy.deepcopy(entry)
    out["experiment_id"] = experiment_id
    out.update(change)
    return out


def test_a_rerun_skips_the_stored_experiments_and_registers_the_rest(
    entry: dict[str, Any],
    services: dict[str, RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, s in services.items():
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", s.address)
    # Copies of one test on one channel would overlap (refused, R26-F3): b and c test others.
    a = _as(entry, "exp_r19_a")
    b, c = _as(entry, "exp_r19_b", channel="tiktok"), _as(entry, "exp_r19_c", channel="google_pmax")
    # the first run died after a
    assert (
        commands.main(["experiments", "create", "--org", ORG, _file(tmp_path, "1.json", [a])]) == 0
    )
    capsys.readouterr()
    # the operator re-runs the whole file
    rerun = _file(tmp_path, "2.json", [a, b])
    assert commands.main(["experiments", "create", "--org", ORG, rerun]) == 0
    out = capsys.readouterr().out
    assert "exp_r19_a: already registered (identical), skipped" in out
    assert "exp_r19_b: " in out.replace("exp_r19_a: already", "")
    with LiftOS(PeerConfig.from_env(), org_id=ORG) as client:
        assert {e.experiment_id for e in client.list_experiments()} == {"exp_r19_a", "exp_r19_b"}

    # another experiment under a stored id: refused naming the id and the field; c still made
    other = _as(entry, "exp_r19_a", channel="google_search")
    mixed = _file(tmp_path, "3.json", [other, c])
    assert commands.main(["experiments", "create", "--org", ORG, mixed]) == 2
    captured = capsys.readouterr()
    assert "exp_r19_a: already registered with other contents" in captured.err
    assert 'channel: file "google_search", stored "meta_prospecting"' in captured.err
    with LiftOS(PeerConfig.from_env(), org_id=ORG) as client:
        stored = {e.experiment_id: e for e in client.list_experiments()}
    assert set(stored) == {"exp_r19_a", "exp_r19_b", "exp_r19_c"}
    assert stored["exp_r19_a"].channel == "meta_prospecting"
