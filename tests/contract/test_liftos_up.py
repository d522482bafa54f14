"""`liftos up` runs five processes that answer health and stop cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import sim
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS
from tests.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def wait_for_up(up: subprocess.Popen[str]) -> None:
    """Until `up` prints its "Ctrl-C to stop" line (every service SERVING); it failing first
    (it exits, closing stdout) is an error with its output."""
    assert up.stdout is not None
    for line in up.stdout:
        if "Ctrl-C" in line:
            return
    raise AssertionError(up.communicate())


def test_up_status_and_clean_stop(tmp_path: Path, grpcurl: str) -> None:
    base = free_port_block(5)  # the five services' ports
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    cmd = [sys.executable, "-m", "mesh.cli"]
    up = subprocess.Popen(
        [*cmd, "up", "--base-port", str(base), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wait for up's own "all SERVING" line, then run `status` once: polling `status` every
        # 0.5 s started a Python process each time, on the cores the five services start on.
        wait_for_up(up)
        status = subprocess.run(
            [*cmd, "status", "--base-port", str(base)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("SERVING") == 5
        listed = subprocess.run(
            [grpcurl, "-plaintext", f"127.0.0.1:{base + 2}", "list"], capture_output=True, text=True
        )
        assert "liftos.v1.CausalService" in listed.stdout
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    assert up.returncode == 0, err
    assert "stopped" in out
    down = subprocess.run(
        [*cmd, "status", "--base-port", str(base)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    # 4: retry later (mesh.cli.exits; 1 before s19 R41-F1)
    assert down.returncode == 4 and down.stdout.count("UNREACHABLE") == 5
    assert (tmp_path / "data" / "ingestion.log").exists()


def test_up_with_tls_dir_and_a_key_per_service(tmp_path: Path) -> None:
    """`liftos certs` + `liftos up --tls-dir`: five processes over mTLS, each calling its
    peers with its own scoped key; a user's ingest lands in memory; every file is private."""
    base = free_port_block(5)  # the five services' ports
    tls = tmp_path / "tls"
    keys = "user:org_a,ing:service=ingestion,cau:service=causal"
    env = {
        **os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "LIFTOS_API_KEYS": keys,
        "LIFTOS_INGESTION_API_KEY": "ing", "LIFTOS_CAUSAL_API_KEY": "cau",
    }  # fmt: skip
    env.pop("LIFTOS_API_KEY", None)
    cmd = [sys.executable, "-m", "mesh.cli"]
    subprocess.run([*cmd, "certs", "--out", str(tls)], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    up = subprocess.Popen(
        [*cmd, "up", "--base-port", str(base), "--data-dir", str(tmp_path / "data"),
         "--tls-dir", str(tls)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_up(up)
        world = sim.simulate("demo", seed=1)
        account = {**next(a for a in world.accounts if a["source"] == "meta"), "country": "US"}
        lines = [json.dumps(world.raw["meta"].base_row(k)) for k in range(20)]
        peers = PeerConfig(**{s: f"localhost:{base + i}" for i, s in enumerate(
            ("ingestion", "memory", "causal", "llm", "surfacing"))})  # fmt: skip
        with LiftOS(
            peers, org_id="org_a", api_key="user", tls_ca=str(tls / "ca.pem"),
            tls_client_cert=str(tls / "client.pem"), tls_client_key=str(tls / "client.key"),
        ) as client:  # fmt: skip
            assert client.ingest("meta", lines, account=account, retries=0).written == 20
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
    assert up.returncode == 0
    for path in (tmp_path / "data").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
