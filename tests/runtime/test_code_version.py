"""The code version stored with an analysis names the commit (audit s18 R33-F5: it was
"liftos 0.1.0" for every commit of the repository, and nothing said the commit was unknown)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from causal_svc.convert import code_version as causal_code_version
from mesh.runtime.code_version import ENV, UNKNOWN_COMMIT, code_version, git_commit

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_names_its_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert git_commit(ROOT).startswith(head) or head in git_commit(ROOT)
    said = causal_code_version()
    assert said.startswith("liftos ") and head in said, said


def test_the_environment_names_a_deployed_build_and_no_checkout_says_unknown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, "build-42")
    assert code_version().endswith("(build-42)")
    monkeypatch.delenv(ENV)
    assert git_commit(tmp_path) == ""
    assert code_version(tmp_path).endswith(f"({UNKNOWN_COMMIT})")
