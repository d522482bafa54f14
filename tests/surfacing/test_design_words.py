"""What a design says beside its figures: the significance level as asked (R26-F8), a budget
that caps a heavy-up (R26-F7), and spillover between neighbouring arms (R26-F9)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from surfacing_svc.design import CellSpec, DesignSpec, TreatmentKind, design_experiment
from tests.surfacing.worlds import geo_history


def test_the_shared_control_note_prints_alpha_as_asked() -> None:
    h = geo_history(n_geos=24, n_days=200)
    spec = DesignSpec(
        "meta",
        cells=(CellSpec(TreatmentKind.GO_DARK), CellSpec(TreatmentKind.HEAVY_UP, 2.0)),
        treatment_share=2 / 3, lift=0.05, durations=(28,),
        alpha=1.0 - 0.95,  # as convert reads a 95% level: 0.050000000000000044
    )  # fmt: skip
    (note,) = [w for w in design_experiment(h, spec).warnings if "false positive" in w]
    assert "shared control at alpha 0.05;" in note


def test_the_design_says_estimate_does_not_run_the_analysis_it_powers() -> None:
    h = geo_history(n_geos=12, n_days=200)
    d = design_experiment(h, DesignSpec("meta", durations=(28,), rerandomisations=10))
    (note,) = [w for w in d.warnings if "does not run one" in w]
    assert note.startswith(
        f"the power and MDE above are for a time-based regression on a {d.pre_period_days}-day "
        "pre-period"
    )
    assert "registered pre-period (pre_period_start" in note


def test_a_budget_that_caps_a_heavy_up_says_so_per_duration() -> None:
    h = geo_history(n_geos=12, n_days=200)
    spec = DesignSpec("meta", cells=(CellSpec(TreatmentKind.HEAVY_UP, 2.0),), durations=(14, 28),
                      rerandomisations=10)  # fmt: skip
    cell = design_experiment(h, spec).cells[0]
    # Enough for x1.5 over 28 days: x2 is capped at every duration, more so at 28 days.
    budget = 0.5 * cell.daily_spend * 28
    d = design_experiment(h, replace(spec, budget=budget))
    (note,) = [w for w in d.warnings if "budget allows" in w]
    short, long = d.cells[0].power_curve
    assert long.spend_multiplier == pytest.approx(1.5) and short.spend_multiplier == pytest.approx(
        2.0
    )
    assert note.startswith(
        f"×2 asked; the {budget:,.0f} budget allows ×2 over 14 days, ×1.5 over 28 days"
    )
    assert f"the {d.cells[0].recommended_duration_days}-day recommendation's" in note
    # A budget that covers x2 at every duration: nothing to say.
    ample = design_experiment(h, replace(spec, budget=10 * budget))
    assert not any("budget allows" in w for w in ample.warnings)


def test_the_design_names_spillover_between_neighbouring_arms() -> None:
    d = design_experiment(geo_history(n_geos=12, n_days=200), DesignSpec("meta", durations=(28,)))
    (note,) = [w for w in d.warnings if w.startswith("spillover:")]
    assert "biases the measured lift toward zero" in note
    assert "does not know which geos neighbour each other" in note
