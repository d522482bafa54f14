"""`liftos --help` and the verbs that only talk to a service start without pandas, numpy or
matplotlib (R17-F1: every command, `--help` included, paid ~1.4 CPU-s importing them; `liftos
explain` spent >95% of its wall time starting). Checked in a fresh interpreter, on what
``sys.modules`` holds after the command ran, not on a timing."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from mesh.cli.commands import SIMULATE_HELP, build_parser

HEAVY = ("pandas", "numpy", "matplotlib", "scipy", "sim", "mesh.report.render")

# `python -m mesh.cli ARGS` as the entry point runs it, then which of HEAVY it left loaded.
_RUN = """
import json, runpy, sys
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["liftos", *args]
try:
    runpy.run_module("mesh.cli", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)
"""


def _loaded(args: list[str]) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.stdout.startswith("usage: liftos"), run.stderr
    return list(json.loads(run.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["explain", "--help"], ["status", "--help"], ["products", "--help"],
     ["report", "--help"], ["analyses", "--help"], ["estimate", "--help"],
     ["memory", "delete", "--help"], ["memory", "accounts", "--help"]],
)  # fmt: skip
def test_help_loads_no_heavy_module(args: list[str]) -> None:
    assert _loaded(args) == []


def test_the_guard_sees_a_heavy_import() -> None:
    """The check above is real: a verb that needs pandas (`simulate` imports sim) shows it."""
    assert {"pandas", "numpy", "sim"} <= set(_loaded(["simulate", "--help"]))


def test_importing_the_entry_package_loads_no_heavy_module() -> None:
    code = (
        "import sys, mesh.cli, mesh.cli.commands, mesh.sdk.client, mesh.report.explanation, "
        "mesh.report.products; from mesh.sdk.client import LiftOS; from mesh.report import "
        f"UnsupportedAnalysis; print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert run.stdout.strip() == "[]", run.stderr


def test_simulate_is_listed_with_sims_own_help() -> None:
    """Other verbs list `simulate` without importing sim; its line is the one sim registers."""

    def listed(parser: argparse.ArgumentParser) -> str:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return next(str(c.help) for c in action._choices_actions if c.dest == "simulate")

    assert listed(build_parser()) == SIMULATE_HELP
    assert listed(build_parser("status")) == SIMULATE_HELP
    assert build_parser("simulate").parse_args(["simulate", "--seed", "3"]).seed == 3
