"""`liftos estimate`'s table and its CSV refusals (mesh.cli.estimate)."""

from __future__ import annotations

from typing import Any

from mesh.cli.estimate import render_table


def _out(**details: Any) -> dict[str, Any]:
    """The estimate as to_json holds it."""
    return {
        "analysis_id": "a1", "method": "did", "estimand": "att", "point_estimate": 1.88576,
        "std_error": 0.0377294, "ci_lower": 1.26344, "ci_upper": 2.52999, "alpha": 0.05,
        "p_value": 6 / 216, "n": 120, "supported": True, "strategy": {"reason": "asked"},
        "checks": [], "warnings": [], "summary": "", "details": details,
    }  # fmt: skip


def test_the_se_says_it_is_cr1_when_the_interval_is_the_bootstraps() -> None:
    # R27-F1: "SE 0.0377" beside a bootstrap CI 27× wider than ±2 SE, with nothing to say why.
    table = render_table(_out(wild_bootstrap_draws=216.0, wild_bootstrap_webb=1.0))
    assert "SE (CR1; the CI and p are the wild cluster bootstrap's) 0.0377294" in table
    assert "   SE 0.0377294" in render_table(_out())
