"""A mistyped number in a service's environment is one line naming the variable, its value and
what it should be, and never stops ``--help`` (audit R28-F5: LIFTOS_MAX_INFLIGHT=abc or
LIFTOS_INGESTION_PORT=5005x was a ValueError traceback raised while the parser was built)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.runtime.config import (
    DEFAULT_MAX_INFLIGHT,
    add_server_arguments,
    env_number,
    env_service_ports,
)

ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svc")
    add_server_arguments(parser, "ingestion")
    return parser


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("LIFTOS_MAX_INFLIGHT", "abc", "a whole number of at least 1"),
        ("LIFTOS_MAX_INFLIGHT", "0", "a whole number of at least 1"),
        ("LIFTOS_MAX_INFLIGHT_PER_ORG", "1.5", "a whole number of at least 1"),
        ("LIFTOS_INGESTION_PORT", "5005x", "a port (0-65535)"),
        ("LIFTOS_METRICS_PORT", "70000", "a port (0-65535)"),
    ],
)
def test_a_bad_number_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str, said: str,
) -> None:  # fmt: skip
    monkeypatch.setenv(variable, value)
    parser = _parser()  # building it reads the variable, and must not fail
    with pytest.raises(SystemExit) as help_exit:
        parser.parse_args(["--help"])
    assert help_exit.value.code == 0
    with pytest.raises(SystemExit) as bad:
        parser.parse_args([])
    assert bad.value.code == 2
    assert f"{variable}={value!r} is not {said}" in capsys.readouterr().err


def test_a_flag_wins_over_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_MAX_INFLIGHT", "abc")
    monkeypatch.setenv("LIFTOS_INGESTION_PORT", "5005x")
    args = _parser().parse_args(["--max-inflight", "12", "--port", "0"])
    assert (args.max_inflight, args.port) == (12, 0)


def test_good_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("LIFTOS_MAX_INFLIGHT", "LIFTOS_INGESTION_PORT", "LIFTOS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    args = _parser().parse_args([])
    assert (args.max_inflight, args.port, args.data_dir) == (
        DEFAULT_MAX_INFLIGHT, 50051, Path(".liftos")
    )  # fmt: skip
    monkeypatch.setenv("LIFTOS_MAX_INFLIGHT", "40")
    monkeypatch.setenv("LIFTOS_INGESTION_PORT", "6001")
    monkeypatch.setenv("LIFTOS_DATA_DIR", str(tmp_path))
    args = _parser().parse_args([])
    assert (args.max_inflight, args.port, args.data_dir) == (40, 6001, tmp_path)


def test_env_number_and_ports_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_MEMORY_NPROBE", "8x")
    with pytest.raises(ValueError, match=r"^LIFTOS_MEMORY_NPROBE='8x' is not a whole number$"):
        env_number("LIFTOS_MEMORY_NPROBE", 8, int)
    monkeypatch.setenv("LIFTOS_MEMORY_NPROBE", "12")
    assert env_number("LIFTOS_MEMORY_NPROBE", 8, int) == 12
    monkeypatch.delenv("LIFTOS_MEMORY_NPROBE")
    assert env_number("LIFTOS_MEMORY_NPROBE", 8, int) == 8
    monkeypatch.setenv("LIFTOS_MEMORY_FOLLOW_S", "soon")
    with pytest.raises(ValueError, match=r"LIFTOS_MEMORY_FOLLOW_S='soon' is not a number"):
        env_number("LIFTOS_MEMORY_FOLLOW_S", 1.0, float)
    monkeypatch.setenv("LIFTOS_CAUSAL_PORT", "0")  # a launcher must name the port
    with pytest.raises(ValueError, match=r"LIFTOS_CAUSAL_PORT='0' is not a port \(1-65535\)"):
        env_service_ports()
    monkeypatch.setenv("LIFTOS_CAUSAL_PORT", "6003")
    assert env_service_ports()["causal"] == 6003


def test_a_service_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
           "LIFTOS_MAX_INFLIGHT": "abc"}  # fmt: skip
    cmd = [sys.executable, "-m", "ingestion_svc", "--port", "0", "--data-dir", str(tmp_path)]
    helped = subprocess.run([*cmd, "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "LIFTOS_MAX_INFLIGHT" in helped.stdout
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines()[-1] == (
        "python -m ingestion_svc: error: argument --max-inflight: "
        "LIFTOS_MAX_INFLIGHT='abc' is not a whole number of at least 1"
    )
