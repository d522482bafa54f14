"""examples/observational.csv, the README's sample for `liftos estimate`: it is the table its
script says it is, and the estimate on it through the CLI and a real causal service covers
the simulator's known effect where the naive comparison does not."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from mesh.runtime.inprocess import running_services

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    path = ROOT / "examples" / "make_observational.py"
    spec = importlib.util.spec_from_file_location("make_observational", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def causal(tmp_path_factory: pytest.TempPathFactory):
    with running_services({"causal": causal_build}, tmp_path_factory.mktemp("causal")) as services:
        yield services["causal"]


def test_the_sample_estimate_covers_the_known_effect(causal) -> None:
    script = _script()
    text, truth = script.observational()
    csv = ROOT / "examples" / "observational.csv"
    assert csv.read_text() == text  # the committed file is the simulator's table, byte for byte
    out = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "estimate", "examples/observational.csv",
         *script.ROLES.split(), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "LIFTOS_CAUSAL_ADDR": causal.address,
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    frame = pd.read_csv(csv)
    assert result["n"] == len(frame) >= 1000
    # auto identifies a backdoor adjustment on the named covariates (no unit or time: not a
    # panel design), and its interval holds the effect the simulator drew.
    assert result["method"] == "aipw" and result["estimand"] == "ate"
    assert result["ci_lower"] <= truth <= result["ci_upper"], (result, truth)
    # The comparison the sample exists to show: treated days against the others is confounded
    # by the budget rule's covariates, and lies outside the adjusted interval.
    naive = (
        frame.loc[frame["treatment"] == 1, "revenue"].mean()
        - frame.loc[frame["treatment"] == 0, "revenue"].mean()
    )
    assert naive > result["ci_upper"], (naive, result)
