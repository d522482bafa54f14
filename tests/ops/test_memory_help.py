"""`python -m memory_svc --help` lists memory's own flags with the common ones (audit R8-F6),
and they still work."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ops.service_cli import run_module


def _memory(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("memory_svc", *args)


def test_help_lists_store_and_memory_budget() -> None:
    out = _memory("--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--store", "--memory-budget", "LIFTOS_MEMORY_BUDGET", "--data-dir", "--port"):
        assert flag in out.stdout, flag


def test_the_flags_are_still_read(tmp_path: Path) -> None:
    bad = _memory("--memory-budget", "lots", "--data-dir", str(tmp_path))
    assert bad.returncode != 0 and "--memory-budget" in bad.stderr, bad.stderr
    unknown = _memory("--store", "ftp://x", "--data-dir", str(tmp_path))
    assert unknown.returncode != 0 and "ftp" in unknown.stderr, unknown.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr
