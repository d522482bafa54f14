"""A design saved to the registry although its own text calls it not reachable says so
(R5-F7: "not reachable … (power 31%)" then "registered as q1_tiktok_holdout", nothing more)."""

from __future__ import annotations

from dataclasses import replace

from surfacing_svc.design import DesignSpec
from surfacing_svc.planning import DesignQuestion, answer_design
from tests.surfacing.test_usual_spend import _dark_history, _frame


def test_saving_an_unreachable_design_warns_with_its_power() -> None:
    h, _ = _dark_history()
    frame = _frame(h)
    weak = DesignQuestion("o", DesignSpec("meta", durations=(14, 28), lift=0.001), "revenue",
                          None, None)  # fmt: skip
    design, _ = answer_design(frame, replace(weak, save=True), None)
    assert not design.feasible
    point = design.cells[0].recommended
    (note,) = [w for w in design.warnings if w.startswith("saved to the registry")]
    assert "although it is not reachable" in note
    assert f"power {point.power:.0%} at {point.duration_days} days against the 80% asked" in note
    unsaved, _ = answer_design(frame, weak, None)
    assert not any(w.startswith("saved to the registry") for w in unsaved.warnings)
    strong = replace(weak, spec=replace(weak.spec, lift=0.5), save=True)
    reachable, _ = answer_design(frame, strong, None)
    assert reachable.feasible and not any("saved to the registry" in w for w in reachable.warnings)
