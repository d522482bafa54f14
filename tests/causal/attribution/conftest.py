"""Simulated worlds and fits shared by the attribution tests (each built once per module)."""

from __future__ import annotations

import pytest

from causal_svc.attribution import MMMFit, ModelSpec, fit_mmm

from .world import World, world


@pytest.fixture(scope="package")
def demo() -> World:
    return world("demo", 0)


@pytest.fixture(scope="package")
def demo_fit(demo: World) -> MMMFit:
    return fit_mmm(demo.panel, ModelSpec())
