"""`python -m llm_svc --help` lists the LLM endpoint's flags with the common ones (they were
read but not shown), and an unknown flag is still refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ops.service_cli import run_module


def _llm(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("llm_svc", *args)


def test_help_lists_the_llm_flags() -> None:
    out = _llm("--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--llm-url", "--llm-model", "LIFTOS_LLM_URL", "--llm-allowed-urls", "--port"):
        assert flag in out.stdout, flag


def test_an_unknown_flag_is_still_refused(tmp_path: Path) -> None:
    out = _llm("--llm-urll", "http://127.0.0.1:1", "--data-dir", str(tmp_path))
    assert out.returncode != 0 and "--llm-urll" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
