"""`liftos up` and `liftos memory import` read the services' environment fallbacks for the
flags they are not given (audit R28-F1: both wrote to ./.liftos with LIFTOS_DATA_DIR set, and
`up` ignored LIFTOS_LOG_LEVEL, LIFTOS_HOST and LIFTOS_<SERVICE>_PORT), and LIFTOS_METRICS_PORT
is `up`'s metrics base, not one port all five processes bind (R28-F2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mesh.cli.processes import Mesh, fresh_health
from mesh.runtime.config import SERVICES, PeerConfig, port_variable
from mesh.sdk.client import LiftOS
from tests.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFTOS_")}
    return {**env, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", **extra}


def test_up_takes_data_dir_host_ports_log_level_and_metrics_from_the_environment(
    tmp_path: Path,
) -> None:
    block = free_port_block(10)
    # the services in reverse order over the first five ports: only the per-service
    # variables can place them so; metrics on the next five
    ports = {s: block + 4 - i for i, s in enumerate(SERVICES)}
    metrics = block + 5
    data, cwd = tmp_path / "envdata", tmp_path / "cwd"
    cwd.mkdir()
    env = _env(
        LIFTOS_DATA_DIR=str(data), LIFTOS_HOST="localhost", LIFTOS_LOG_LEVEL="WARNING",
        LIFTOS_METRICS_PORT=str(metrics), **{port_variable(s): str(p) for s, p in ports.items()},
    )  # fmt: skip
    up = subprocess.Popen(
        [sys.executable, "-m", "mesh.cli", "up"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        banner = []
        for line in up.stdout:
            banner.append(line)
            if "Ctrl-C" in line:
                break
        else:
            raise AssertionError(f"liftos up did not come up: {up.communicate()}")
        for _ in SERVICES:
            banner.append(up.stdout.readline())
        text = "".join(banner)
        assert f"data dir {data.resolve()}" in text
        for service, port in ports.items():
            assert f"{service:<10} localhost:{port}  SERVING" in text, text
        scraped = []
        for i in range(len(SERVICES)):  # one endpoint per process, M + i
            with urllib.request.urlopen(f"http://localhost:{metrics + i}/metrics", timeout=5) as r:
                scraped.append(r.read().decode())
        assert all("liftos_" in page for page in scraped)
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
    assert up.returncode == 0
    assert not (cwd / ".liftos").exists()  # where the flags' old defaults put everything
    assert " INFO " not in (data / "ingestion.log").read_text()  # LIFTOS_LOG_LEVEL=WARNING


def test_up_refuses_a_port_variable_that_is_no_port(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "up"],
        cwd=tmp_path, env=_env(LIFTOS_MEMORY_PORT="5005x"), capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "liftos up: LIFTOS_MEMORY_PORT='5005x' is not a port (1-65535)"
    assert not (tmp_path / ".liftos").exists()  # nothing started


def test_memory_import_writes_under_liftos_data_dir(tmp_path: Path) -> None:
    data, cwd = tmp_path / "envdata", tmp_path / "cwd"
    cwd.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "memory", "import", "-"],
        cwd=cwd, env=_env(LIFTOS_DATA_DIR=str(data)), input="", capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (data / "memory").is_dir()
    assert not (cwd / ".liftos").exists()
    # a flag given wins over the variable
    flagged = tmp_path / "flagged"
    run = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "memory", "import", "-", "--data-dir", str(flagged)],
        cwd=cwd, env=_env(LIFTOS_DATA_DIR=str(data)), input="", capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (flagged / "memory").is_dir()


def test_a_mesh_without_metrics_ignores_an_inherited_metrics_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Mesh (the demo's, a test's) started without ``metrics_port`` gives its processes none:
    before, each inherited LIFTOS_METRICS_PORT and all but the first failed to bind it."""
    block = free_port_block(3)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{ROOT / 'gen'}")
    monkeypatch.setenv("LIFTOS_METRICS_PORT", str(block + 2))
    mesh = Mesh(
        tmp_path / "data", ports={"memory": block, "llm": block + 1}, services=("memory", "llm")
    )
    peers = PeerConfig(**{s: mesh.address(s) for s in SERVICES})
    mesh.start()
    try:
        status = mesh.wait_serving(fresh_health(lambda: LiftOS(peers)))
        assert mesh.dead() == {}, {s: mesh.tail_log(s) for s in mesh.dead()}
        assert status["memory"] == status["llm"] == "SERVING"
    finally:
        mesh.stop()
