"""A week missing from the outcome export in every geo is named as the first health check and
the likely cause of the others (audit R4 F7: the FAIL blamed "a slow-moving driver")."""

from __future__ import annotations

import dataclasses

import numpy as np

from causal_svc.attribution import ModelSpec, Verdict, fit_mmm
from causal_svc.attribution.health import assess

from .world import World


def test_a_week_without_outcome_is_named_first(demo: World, demo_fit) -> None:
    y = demo.panel.outcome.copy()
    y[:, 40:47] = 0.0
    y[:, 60] = 0.0
    gap = dataclasses.replace(demo.panel, outcome=y)
    health = assess(fit_mmm(gap, ModelSpec()), holdout=False)
    first = health.checks[0]
    d = demo.panel.dates
    assert (first.name, first.verdict, first.value) == ("outcome_gaps", Verdict.REVIEW, 8.0)
    assert first.message.startswith(
        f"8 day(s) have no outcome in any geo ({d[40]}..{d[46]}, {d[60]}) and are read as zero "
        "sales: a gap in the outcome export is the likely cause"
    )
    assert health.verdict is not Verdict.PASS
    rho = next(c for c in health.checks if c.name == "residual_autocorrelation")
    assert "slow-moving driver" not in rho.message
    assert rho.verdict is Verdict.PASS or "the days without outcome" in rho.message
    # the world as exported: no such check
    assert "outcome_gaps" not in {c.name for c in assess(demo_fit, holdout=False).checks}
    assert not np.any(demo.panel.outcome.sum(axis=0) == 0)
