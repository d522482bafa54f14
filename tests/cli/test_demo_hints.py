"""The demo's closing grpcurl hints work as printed when the mesh checks keys (audit R14-F8):
they carry ``-H "authorization: Bearer $LIFTOS_API_KEY"`` (the variable, never the key),
run by a real shell with the real grpcurl against a real keyed causal server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from causal_svc.app import build as causal_build
from mesh.cli.demo import DemoResult, poke
from mesh.runtime.auth import AuthConfig
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services

ROOT = Path(__file__).resolve().parents[2]
ORG = "org_a"
USER_KEY = "key-demo-user-secret"
KEYS_TEXT = f"{USER_KEY}:{ORG}"
HEADER = '-H "authorization: Bearer $LIFTOS_API_KEY"'


def _hints(causal: str, env: dict[str, str]) -> list[str]:
    """The grpcurl lines the demo prints, with the environment it runs in."""
    lines: list[str] = []
    peers = PeerConfig(*(causal,) * 5)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("LIFTOS_API_KEYS", "LIFTOS_API_KEY"):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        poke(peers, ORG, None, DemoResult(ROOT, ORG), lines.append, keep_running=False)
    return [line.strip() for line in lines if "grpcurl" in line]


def _shell(line: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LIFTOS_API_KEY"}
    if key is not None:
        env["LIFTOS_API_KEY"] = key
    return subprocess.run(
        ["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_hints_with_keys_send_the_variable_and_pass_auth(tmp_path: Path) -> None:
    keys = AuthConfig.parse(KEYS_TEXT)
    with running_services({"causal": causal_build}, tmp_path, auth=keys) as services:
        causal = services["causal"].address
        hints = _hints(causal, {"LIFTOS_API_KEYS": KEYS_TEXT, "LIFTOS_API_KEY": USER_KEY})
        assert len(hints) == 2
        for line in hints:
            assert HEADER in line
            assert USER_KEY not in line  # the variable is printed, never the key
        listed = _shell(hints[0], USER_KEY)
        assert listed.returncode == 0, listed.stderr
        assert "liftos.v1.CausalService.GetAnalysis" in listed.stdout
        # the placeholder analysis id is not found: the call got past authentication
        got = _shell(hints[1], USER_KEY)
        assert "NotFound" in got.stderr or "InvalidArgument" in got.stderr, got.stderr
        assert "Unauthenticated" not in got.stderr
        # the same line without the header is what the audit saw fail
        bare = _shell(hints[1].replace(f" {HEADER}", ""), USER_KEY)
        assert "Unauthenticated" in bare.stderr


def test_hints_without_keys_have_no_header(tmp_path: Path) -> None:
    with running_services({"causal": causal_build}, tmp_path) as services:
        hints = _hints(services["causal"].address, {})
        assert len(hints) == 2 and not any("authorization" in line for line in hints)
        listed = _shell(hints[0], None)
        assert listed.returncode == 0, listed.stderr
