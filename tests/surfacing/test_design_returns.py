"""R13-F1/F4: a design read off an analysis prices each duration at the spend multiplier it
runs (a budget sets it per duration) on the channel's curve, and counts only the share of the
effect a test of that length sees through the channel's carry-over."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from surfacing_svc.curves import EXTRAPOLATION_RATIO, HillCurve
from surfacing_svc.design import CellSpec, DesignSpec, ExperimentDesign, TreatmentKind
from surfacing_svc.design.returns import added_return, realised_share
from surfacing_svc.history import GeoHistory
from surfacing_svc.intervals import Interval
from surfacing_svc.planning import DesignQuestion, PlanningModel, answer_design
from surfacing_svc.recommend import AnalysisEffect
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.worlds import geo_history

HEAVY_UP = TreatmentKind.HEAVY_UP


@pytest.fixture(scope="module")
def history() -> GeoHistory:
    return geo_history(n_geos=20, n_days=200)


def _frame(h: GeoHistory) -> pd.DataFrame:
    """The history as the long records frame memory's sums become."""
    rows = []
    for g, geo in enumerate(h.geos):
        for t, day in enumerate(h.dates):
            rows.append((day, "generic", "first_party", geo, 0.0, h.outcome[g, t]))
            rows.append((day, "meta", "meta", geo, h.spend["meta"][g, t], 0.0))
    frame = pd.DataFrame(rows, columns=["local_date", "data_source", "channel", "geo", "spend",
                                        "revenue"])  # fmt: skip
    return frame.assign(conversions=frame["revenue"] / 80.0, impressions=0.0)


def _model(curve: HillCurve) -> PlanningModel:
    # A concave curve (half-saturation at current spend): the next unit returns twice what
    # the added spend of a doubling does on average, so pricing at the wrong one shows.
    return PlanningModel("an-1", "revenue", dt.date(2024, 1, 1), dt.date(2024, 1, 30),
                         (curve,), baseline_total=1e7)  # fmt: skip


CURVE = hill("meta", spend=1e5, scale=6e5, kappa=1.0, spread=0.3)


def _design(
    frame: pd.DataFrame, curve: HillCurve, cell: CellSpec, **spec: object
) -> ExperimentDesign:
    question = DesignQuestion("o", DesignSpec("meta", cells=(cell,), **spec), None, None, None,  # type: ignore[arg-type]
                              analysis_id="an-1")  # fmt: skip
    return answer_design(frame, question, _model(curve))[0]


def test_a_budget_and_the_multiplier_it_buys_give_the_same_expected_lift_and_power(
    history: GeoHistory,
) -> None:
    frame = _frame(history)
    funded = _design(frame, CURVE, CellSpec(HEAVY_UP, 0.0), budget=2e4, durations=(14, 28))
    cell = funded.cells[0]
    assert cell.power_curve[0].spend_multiplier > cell.power_curve[1].spend_multiplier > 1.0
    for p in cell.power_curve:
        m = p.spend_multiplier
        assert p.spend_change == pytest.approx(2e4)
        given = _design(frame, CURVE, CellSpec(HEAVY_UP, m), durations=(p.duration_days,))
        (q,) = given.cells[0].power_curve
        assert q.spend_multiplier == pytest.approx(m)
        assert p.expected_lift == pytest.approx(q.expected_lift, rel=1e-9)
        assert p.power_at_expected == pytest.approx(q.power_at_expected, rel=1e-9)
        assert p.min_detectable_roas == pytest.approx(q.min_detectable_roas, rel=1e-9)
        # The average return on the added spend, below the next unit's at current spend.
        s0 = CURVE.reference_spend
        average = (CURVE.mean_outcome(m * s0) - CURVE.mean_outcome(s0)) / ((m - 1) * s0)
        assert p.expected_roas == pytest.approx(float(average))
        assert p.expected_roas < 0.9 * float(CURVE.mean_marginal(s0))


def test_a_budget_that_caps_the_multiplier_prices_the_spend_it_buys(
    history: GeoHistory,
) -> None:
    frame = _frame(history)
    capped = _design(frame, CURVE, CellSpec(HEAVY_UP, 3.0), budget=5e3, durations=(28,))
    (p,) = capped.cells[0].power_curve
    assert 1.0 < p.spend_multiplier < 3.0
    assert p.expected_roas == pytest.approx(added_return(CURVE, p.spend_multiplier))
    assert p.expected_roas > added_return(CURVE, 3.0) * 1.1
    (q,) = (
        _design(frame, CURVE, CellSpec(HEAVY_UP, p.spend_multiplier), durations=(28,))
        .cells[0]
        .power_curve
    )
    assert p.expected_lift == pytest.approx(q.expected_lift, rel=1e-9)


def test_spend_beyond_what_the_model_saw_is_called_extrapolation(history: GeoHistory) -> None:
    frame = _frame(history)
    far = _design(frame, CURVE, CellSpec(HEAVY_UP, 2.5), durations=(14, 28))
    (note,) = [w for w in far.warnings if "extrapolation" in w]
    assert note.startswith(
        "meta: the treatment geos' spend in the test is 2.5× its current level over 14 days, "
        "2.5× over 28 days, beyond"
    )
    assert f"beyond the {EXTRAPOLATION_RATIO:g}× the model saw" in note
    near = _design(frame, CURVE, CellSpec(HEAVY_UP, 1.5), durations=(14, 28))
    assert not [w for w in near.warnings if "extrapolation" in w]


def test_the_realised_share_is_the_mean_of_the_cumulative_carry_over_weights() -> None:
    # Geometric adstock, decay λ: W_t = 1 − λ^(t+1), so a D-day test sees
    # 1 − λ (1 − λ^D) / ((1 − λ) D) (R13-F4's 0.91 / 0.96 / 0.98 at λ = 0.38).
    for decay in (0.38, 0.8):
        w = decay ** np.arange(400)
        for days in (7, 14, 28):
            closed = 1 - decay * (1 - decay**days) / ((1 - decay) * days)
            assert realised_share(w / w.sum(), days) == pytest.approx(closed, abs=1e-9)
    assert [round(realised_share(0.38 ** np.arange(60) / (0.38 ** np.arange(60)).sum(), d), 2)
            for d in (7, 14, 28)] == [0.91, 0.96, 0.98]  # fmt: skip
    assert realised_share(np.ones(1), 7) == 1.0
    assert realised_share(np.array([0.5, 0.5]), 4) == pytest.approx((0.5 + 1 + 1 + 1) / 4)


@pytest.mark.parametrize("kind", [TreatmentKind.GO_DARK, HEAVY_UP])
def test_a_long_carry_over_leaves_a_short_test_less_of_the_effect(
    history: GeoHistory, kind: TreatmentKind
) -> None:
    frame = _frame(history)
    w = 0.8 ** np.arange(120)
    slow = replace(CURVE, carryover=w / w.sum())
    cell = CellSpec(kind, 0.0 if kind is TreatmentKind.GO_DARK else 1.5)
    d = _design(frame, slow, cell, durations=(7, 28))
    short, long = d.cells[0].power_curve
    assert short.realised_share == pytest.approx(realised_share(slow.carryover, 7))
    assert 0.5 < short.realised_share < long.realised_share < 0.9
    assert abs(short.expected_lift) < abs(long.expected_lift)
    # The same return at both durations (one multiplier); only the share seen differs.
    assert short.expected_roas == pytest.approx(long.expected_roas)
    assert short.expected_lift / long.expected_lift == pytest.approx(
        short.realised_share / long.realised_share
    )
    assert short.min_detectable_roas * short.realised_share == pytest.approx(
        short.mde_absolute / abs(short.spend_change)
    )
    (note,) = [w for w in d.warnings if "carry-over" in w]
    assert f"{short.realised_share:.0%} at 7 days, {long.realised_share:.0%} at 28 days" in note
    # Without carry-over a test sees it all, and nothing is said.
    flat = _design(frame, CURVE, cell, durations=(7, 28))
    a, b = flat.cells[0].power_curve
    assert a.realised_share == b.realised_share == 1.0
    assert a.expected_lift == pytest.approx(b.expected_lift)
    assert not [w for w in flat.warnings if "carry-over" in w]


def test_the_lower_bound_is_priced_the_same_way(history: GeoHistory) -> None:
    # The analysis's 90% interval of the channel's incremental outcome: lower bound a quarter
    # of the estimate, which scales the return at every multiplier.
    effect = AnalysisEffect("meta", Interval(2e5, 5e4, 4e5, 0.9), None, 30)
    model = replace(_model(CURVE), effects=(effect,))
    spec = DesignSpec("meta", cells=(CellSpec(HEAVY_UP, 0.0),), budget=2e4, durations=(14, 28))
    question = DesignQuestion("o", spec, None, None, None, analysis_id="an-1")
    design, _ = answer_design(_frame(history), question, model)
    cell = design.cells[0]
    for p in cell.power_curve:
        assert p.expected_roas == pytest.approx(added_return(CURVE, p.spend_multiplier))
        assert p.conservative_roas == pytest.approx(0.25 * p.expected_roas)
        assert p.conservative_lift == pytest.approx(0.25 * p.expected_lift)
    # The text gives each end's returns with the multiplier the budget buys there.
    first, last = cell.power_curve
    assert (
        f"added-spend ROAS {first.conservative_roas:.3g} against {first.expected_roas:.3g} "
        f"expected at 14 days (spend ×{first.spend_multiplier:.3g}) to "
        f"{last.conservative_roas:.3g} against {last.expected_roas:.3g} at 28 days "
        f"(×{last.spend_multiplier:.3g}: " in cell.conservative
    ), cell.conservative
