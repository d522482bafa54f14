"""R52-F5: `liftos explain --llm-url URL` was refused with "the ones in --llm-allowed-urls", a
flag `liftos up` (the README's way to run the mesh) did not take. `liftos up` now takes it and
passes it on to the llm service, and the refusal names the flag of both ways to run the service
and its variable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.runtime.config import SERVICES, PeerConfig
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure
from tests.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = "https://llm.example.com/v1"
OTHER = "https://other.example.com/v1"


def test_up_passes_its_allow_list_to_the_llm_service(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFTOS_")}
    env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'gen'}"
    base = free_port_block(5)
    up = subprocess.Popen(
        [sys.executable, "-m", "mesh.cli", "up", "--base-port", str(base),
         "--data-dir", str(tmp_path / "data"), "--llm-allowed-urls", f"{ALLOWED}, "],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "Ctrl-C" in line:
                break
        else:
            raise AssertionError(f"liftos up did not come up: {up.communicate()}")
        peers = PeerConfig(**{s: f"127.0.0.1:{base + i}" for i, s in enumerate(SERVICES)})
        with LiftOS(peers, org_id="acme") as client:
            # an endpoint on the list passes the endpoint check: what fails is the analysis,
            # which does not exist
            with pytest.raises(RpcFailure) as allowed:
                client.explain("an-none", writer="llm", llm_url=ALLOWED)
            assert allowed.value.reason != "LLM_URL_NOT_ALLOWED", allowed.value
            assert "an-none" in str(allowed.value)
            with pytest.raises(RpcFailure) as other:
                client.explain("an-none", writer="llm", llm_url=OTHER)
            assert other.value.reason == "LLM_URL_NOT_ALLOWED"
            message = str(other.value)
            assert "--llm-allowed-urls of liftos up" in message
            assert "LIFTOS_LLM_ALLOWED_URLS" in message
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
    assert up.returncode == 0
