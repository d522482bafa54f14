"""No LIFTOS_API_KEYS on a non-loopback address is refused unless opted in, as keys without
TLS are (audit R8-F5); loopback stays open for development."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.runtime.server import InsecureTransport, create_server

ROOT = Path(__file__).resolve().parents[2]


def _start(address: str, **kwargs: object) -> None:
    async def go() -> None:
        server, _, _ = await create_server([], address, **kwargs)  # type: ignore[arg-type]
        await server.stop(None)

    asyncio.run(go())


def test_an_open_mesh_is_refused_off_loopback(caplog: pytest.LogCaptureFixture) -> None:
    for address in ("0.0.0.0:0", "[::]:0"):
        with pytest.raises(InsecureTransport, match="no LIFTOS_API_KEYS") as refused:
            _start(address)
        assert "LIFTOS_ALLOW_INSECURE" in str(refused.value) and address in str(refused.value)
    caplog.set_level(logging.WARNING)
    _start("0.0.0.0:0", allow_insecure=True)  # opted in: starts, loudly
    assert any("INSECURE: no API keys" in r.getMessage() for r in caplog.records)
    _start("127.0.0.1:0")  # loopback: the laptop mode


def test_a_service_process_refuses_an_open_mesh_on_every_interface(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("LIFTOS_API_KEYS", "LIFTOS_ALLOW_INSECURE")
    }
    env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'gen'}"
    out = subprocess.run(
        [sys.executable, "-m", "llm_svc", "--host", "0.0.0.0", "--port", "0",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode != 0, out.stdout + out.stderr
    assert "no LIFTOS_API_KEYS" in out.stderr and "--allow-insecure" in out.stderr
    assert "Traceback" not in out.stderr
