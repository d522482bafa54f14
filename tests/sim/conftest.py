"""Shared simulated worlds (module-scoped: each is generated once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim


@pytest.fixture(scope="session")
def demo() -> sim.SimResult:
    return sim.simulate("demo", seed=7)


@pytest.fixture(scope="session")
def demo_dir(demo: sim.SimResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    sim.write(demo, out)
    return out
