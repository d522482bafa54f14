"""The ``simulate`` subcommand writes the files, prints a summary and rejects bad requests."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from sim.cli import main, register


def test_cli_writes_files_and_summary(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(
        [
            "simulate",
            "--scenario",
            "rdd",
            "--seed",
            "3",
            "--days",
            "60",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "study: rdd" in out
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 3 and truth["days"] == 60 and truth["study"]["method_hint"] == "rdd"
    for name in (
        "meta.ndjson",
        "google_ads.ndjson",
        "klaviyo.ndjson",
        "tiktok.ndjson",
        "orders.csv",
        "experiments.json",
        "accounts.json",
        "manifest.json",
    ):
        assert (tmp_path / name).stat().st_size > 0


def test_cli_rejects_unknown_scenario(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["simulate", "--scenario", "nope", "--out", str(tmp_path)]) == 2
    assert "scenario" in capsys.readouterr().err


def test_register_adds_subcommand_and_list() -> None:
    parser = argparse.ArgumentParser(prog="liftos")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", "--list"])
    assert args.func(args) == 0


def test_python_dash_m_sim(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "simulate",
            "--scenario",
            "null",
            "--days",
            "40",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "null" in proc.stdout and "%" in proc.stderr  # progress on stderr
