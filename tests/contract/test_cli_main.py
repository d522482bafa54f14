"""The `liftos` entry point: ports another mesh holds, Ctrl-C, and LIFTOS_ORG."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.cli import commands
from tests.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def test_up_refuses_ports_in_use_and_starts_nothing(tmp_path: Path) -> None:
    """A listener on one of the five ports (another mesh) is named, and no service starts:
    before, the other mesh answered health and `up` printed SERVING for all five."""
    base = free_port_block(5)
    with socket.socket() as held:
        held.bind(("127.0.0.1", base + 3))
        held.listen()
        run = subprocess.run(
            [sys.executable, "-m", "mesh.cli", "up", "--base-port", str(base),
             "--data-dir", str(tmp_path / "data")],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{base + 3} (llm)" in run.stderr and "--base-port" in run.stderr
    assert "SERVING" not in run.stdout
    assert not (tmp_path / "data" / "ingestion.log").exists()  # nothing was started


def test_ctrl_c_ends_with_a_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "cmd_status", interrupted)
    assert commands.main(["status"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted"


def test_org_defaults_to_liftos_org(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFTOS_ORG", raising=False)
    assert commands.build_parser().parse_args(["analyze"]).org == "default"
    monkeypatch.setenv("LIFTOS_ORG", "org_001")
    parser = commands.build_parser()
    for argv in (["analyze"], ["counterfactual", "an-1"], ["optimize", "an-1"], ["recommend", "an-1"],
                 ["report", "an-1"], ["design", "--channel", "meta"], ["products", "an-1"]):  # fmt: skip
        assert parser.parse_args(argv).org == "org_001", argv
    assert parser.parse_args(["analyze", "--org", "other"]).org == "other"
    # an import names its org: --org or LIFTOS_ORG (R12-F4), never the "default" org
    assert parser.parse_args(["ingest", "--source", "meta", "f.ndjson"]).org == "org_001"
    monkeypatch.delenv("LIFTOS_ORG")
    assert commands.build_parser().parse_args(["ingest", "--source", "meta", "f.ndjson"]).org == ""
    assert commands.main(["ingest", "--source", "meta", "f.ndjson"]) == 2


def test_ctrl_c_while_the_verbs_load_is_quiet_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first ~2 s of any `liftos` call import pandas and gRPC; a Ctrl-C then printed a
    25-line traceback."""
    import builtins

    import mesh.cli

    real = builtins.__import__

    def interrupted(name: str, *args: object, **kwargs: object) -> object:
        if name == "mesh.cli.commands":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert mesh.cli.main(["status"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
