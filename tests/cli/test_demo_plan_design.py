"""The demo's next-experiment lines say when no duration reaches the target power, with what
would reach it, as `liftos design` does (s20 FE_notes): before, an unreachable cell read
"recommended: 56 days (not reachable: …)", a duration recommended at a few % power."""

from __future__ import annotations

from liftos.v1 import surfacing_pb2 as pb

from mesh.cli.demo_plan import design

# words of the form surfacing gives an unreachable cell (surfacing_svc/design/plan.py)
WHY = (
    "no duration up to 56 days reaches 80% power at the expected effect (power 9% at 56 "
    "days); a ×3 heavy-up would detect it in 28 days"
)


def _cell(feasible: bool) -> pb.CellDesign:
    return pb.CellDesign(
        treatment_units=["CA", "TX"], recommended_duration_days=56, feasible=feasible,
        reason="" if feasible else WHY, outcome_share=0.2, pre_period_correlation=0.9,
        power_curve=[pb.PowerPoint(duration_days=56, power=0.09 if not feasible else 0.85,
                                   minimum_detectable_lift=0.2)],
    )  # fmt: skip


def _lines(cell: pb.CellDesign) -> list[str]:
    lines: list[str] = []
    r = pb.DesignExperimentResponse(cells=[cell], control_units=["NY", "FL", "WA"])
    design(r, "tiktok", "", lines.append)
    return lines


def test_an_unreachable_cell_is_not_recommended_and_says_what_would_reach_it() -> None:
    lines = _lines(_cell(feasible=False))
    assert not any("recommended" in line for line in lines), lines
    assert f"  no duration checked reaches the target power: {WHY}" in lines


def test_a_reachable_cell_keeps_its_recommended_duration() -> None:
    lines = _lines(_cell(feasible=True))
    assert "  recommended: 56 days" in lines
    assert not any("reaches the target power" in line for line in lines)
