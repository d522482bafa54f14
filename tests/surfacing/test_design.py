"""DesignExperiment's domain: assignment, the TBR analysis, placebo power, the plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surfacing_svc.design import (
    AssignmentMethod,
    CellSpec,
    DesignSpec,
    TreatmentKind,
    design_experiment,
    make_blocks,
    mde_at,
    power_at,
    rerandomise,
    significance,
    tbr_estimate,
    tbr_windows,
)
from surfacing_svc.errors import InsufficientData, InvalidRequest
from tests.surfacing.worlds import geo_history


def test_tbr_windows_equal_one_window_at_a_time() -> None:
    rng = np.random.default_rng(1)
    x = 100 + rng.normal(0, 5, 80)
    y = 20 + 0.5 * x + rng.normal(0, 2, 80)
    lifts, cf = tbr_windows(y, x, 30, 10)
    assert lifts.shape == (80 - 30 - 10 + 1,)
    for w in (0, 7, 40):
        one = tbr_estimate(y, x, slice(w, w + 30), slice(w + 30, w + 40))
        assert lifts[w] == pytest.approx(one.lift, rel=1e-9)
        assert cf[w] == pytest.approx(one.counterfactual, rel=1e-9)


def test_tbr_recovers_a_planted_lift() -> None:
    rng = np.random.default_rng(2)
    x = 1000 * np.exp(rng.normal(0, 0.05, 120))
    y = 0.8 * x * np.exp(rng.normal(0, 0.005, 120))
    y[90:] *= 1.10
    est = tbr_estimate(y, x, slice(30, 90), slice(90, 120))
    assert est.lift == pytest.approx(0.10, abs=0.01)
    assert est.slope == pytest.approx(0.8, rel=0.05)


def test_power_is_alpha_at_no_effect_and_rises_with_the_effect() -> None:
    assert power_at(0.0, 0.02, 0.05) == pytest.approx(0.05)
    powers = [power_at(-lift, 0.02, 0.05) for lift in (0.01, 0.02, 0.04, 0.08)]
    assert powers == sorted(powers) and powers[-1] > 0.99
    ups = [power_at(lift, 0.02, 0.05) for lift in (0.01, 0.02, 0.04, 0.08)]
    assert ups == sorted(ups)


@pytest.mark.parametrize("direction", [1, -1])
def test_mde_inverts_power(direction: int) -> None:
    mde = mde_at(0.8, 0.015, 0.05, direction=direction)
    assert power_at(direction * mde, 0.015, 0.05) == pytest.approx(0.8, abs=1e-9)
    assert mde_at(0.8, math.inf, 0.05, direction=direction) == math.inf


def test_the_final_test_rejects_in_the_planned_direction_only() -> None:
    assert significance(-0.05, 0.01, 0.05, direction=-1)[1]
    assert not significance(0.05, 0.01, 0.05, direction=-1)[1]
    p, detected = significance(0.0, 0.01, 0.05, direction=1)
    assert p == pytest.approx(0.5) and not detected


@pytest.mark.parametrize("method", list(AssignmentMethod))
def test_blocks_hold_one_treated_geo_per_cell(method: AssignmentMethod) -> None:
    h = geo_history(n_geos=21)
    blocks = make_blocks(h.outcome, n_cells=2, controls_per_block=1, method=method)
    assert len(blocks.blocks) == 7 and not blocks.leftover
    arms = rerandomise(blocks, np.random.default_rng(0), 50)
    for block in blocks.blocks:
        assert sorted(arms[0, list(block)]) == [0, 1, 2]
    assert len({tuple(a) for a in arms}) > 40  # real randomisations
    if method is AssignmentMethod.STRATIFIED:  # consecutive sizes share a block
        level = h.outcome.mean(axis=1)
        for block in blocks.blocks:
            ranks = np.argsort(np.argsort(-level))[list(block)]
            assert ranks.max() - ranks.min() == 2


def test_too_few_geos_say_how_many_are_needed() -> None:
    with pytest.raises(InsufficientData, match="at least 4 geos"):
        design_experiment(geo_history(n_geos=3), DesignSpec("meta", lift=0.05))


def test_design_power_rises_with_effect_and_duration() -> None:
    h = geo_history(n_geos=24, n_days=240)
    powers = []
    for lift in (0.01, 0.02, 0.04):
        d = design_experiment(h, DesignSpec("meta", lift=lift, durations=(14, 28, 42)))
        curve = d.cells[0].power_curve
        assert [p.power for p in curve] == sorted(p.power for p in curve)
        assert [p.mde_lift for p in curve] == sorted((p.mde_lift for p in curve), reverse=True)
        powers.append(curve[1].power)
    assert powers == sorted(powers)
    cell = d.cells[0]
    assert len(cell.treatment_geos) == 12 and len(d.control_geos) == 12
    assert cell.pre_period_correlation > 0.5
    assert d.pre_period_days >= 28


def test_the_stated_power_matches_detection_on_planted_effects() -> None:
    """Placebo power on the first part of a history predicts how often the analysis detects
    an effect planted in the part after it (coarse here; the benchmark measures it)."""
    rng_seeds = range(40)
    stated, detected = [], []
    for seed in rng_seeds:
        full = geo_history(n_geos=20, n_days=200, seed=seed)
        h = type(full)(full.geos, full.dates[:172], full.outcome[:, :172],
                       {"meta": full.spend["meta"][:, :172]})  # fmt: skip
        d = design_experiment(h, DesignSpec("meta", lift=0.03, durations=(28,), seed=seed))
        cell = d.cells[0]
        treated = np.isin(full.geos, cell.treatment_geos)
        control = np.isin(full.geos, d.control_geos)
        y = full.outcome[treated].sum(axis=0)
        y[172:] *= 0.97
        est = tbr_estimate(y, full.outcome[control].sum(axis=0),
                           slice(172 - d.pre_period_days, 172), slice(172, 200))  # fmt: skip
        point = cell.power_curve[0]
        stated.append(point.power)
        detected.append(significance(est.lift, point.noise, 0.05, direction=-1)[1])
    assert abs(np.mean(stated) - np.mean(detected)) < 0.2


def test_an_unreachable_target_says_why_and_how_long_it_would_take() -> None:
    h = geo_history(n_geos=12, n_days=150)
    d = design_experiment(h, DesignSpec("meta", lift=0.002, durations=(14, 28)))
    cell = d.cells[0]
    assert not cell.feasible and not d.feasible
    assert "smallest change in revenue a 28-day test detects" in cell.reason
    assert "days" in cell.reason
    assert cell.recommended_duration_days == 28


def test_an_expected_effect_from_roas_picks_the_shortest_sufficient_duration() -> None:
    h = geo_history(n_geos=24, n_days=240)
    spec = DesignSpec("meta", cells=(CellSpec(TreatmentKind.GO_DARK, 0.0, roas=3.0),))
    d = design_experiment(h, spec)
    cell = d.cells[0]
    first = cell.power_curve[0]
    assert first.expected_lift == pytest.approx(-3.0 * cell.daily_spend / cell.daily_outcome)
    assert first.spend_change == pytest.approx(-cell.daily_spend * first.duration_days)
    good = [p.duration_days for p in cell.power_curve if p.power >= 0.8]
    assert cell.feasible == bool(good)
    if good:
        assert cell.recommended_duration_days == good[0]


def test_a_heavy_up_budget_caps_the_multiplier() -> None:
    h = geo_history(n_geos=20, n_days=200)
    spec = DesignSpec(
        "meta", cells=(CellSpec(TreatmentKind.HEAVY_UP, 3.0, roas=2.0),), budget=1e4,
        durations=(14, 28),
    )  # fmt: skip
    cell = design_experiment(h, spec).cells[0]
    for p in cell.power_curve:
        assert p.spend_change == pytest.approx(min(1e4, 2.0 * cell.daily_spend * p.duration_days))
        assert p.expected_lift > 0


def test_multi_cell_designs_share_one_control() -> None:
    h = geo_history(n_geos=24, n_days=200)
    spec = DesignSpec(
        "meta",
        cells=(CellSpec(TreatmentKind.GO_DARK), CellSpec(TreatmentKind.HEAVY_UP, 2.0)),
        treatment_share=2 / 3, lift=0.05, durations=(28,),
    )  # fmt: skip
    d = design_experiment(h, spec)
    a, b = (set(c.treatment_geos) for c in d.cells)
    assert len(a) == len(b) == len(d.control_geos) == 8
    assert not a & b and not (a | b) & set(d.control_geos)
    assert any("false positive" in w for w in d.warnings)


def test_history_limits_are_named() -> None:
    h = geo_history(n_geos=10, n_days=60)
    with pytest.raises(InsufficientData, match="days of history"):
        design_experiment(h, DesignSpec("meta", lift=0.05, durations=(42,)))
    with pytest.raises(InvalidRequest) as info:
        design_experiment(h, DesignSpec("tiktok", lift=0.05))
    assert info.value.field == "channel"


def test_a_treatment_share_too_small_for_the_geos_is_named_with_the_least_that_fits() -> None:
    # Before: "... and 9999999999999999038030694...(300 digits) control geo(s) per block".
    h = geo_history(n_geos=20, n_days=200)
    for share in (1e-300, 0.09):
        with pytest.raises(InsufficientData) as info:
            design_experiment(h, DesignSpec("meta", treatment_share=share))
        text = info.value.message
        assert text.startswith(f"treatment_share {share:g} asks for ") and len(text) < 300
        assert text.endswith("with 1 cell(s) the share must be at least 0.096")
    assert design_experiment(h, DesignSpec("meta", treatment_share=0.096)).cells


def _go_dark(roas: float, roas_low: float) -> DesignSpec:
    return DesignSpec(
        "meta", cells=(CellSpec(TreatmentKind.GO_DARK, 0.0, roas=roas, roas_low=roas_low,
                                level=0.9),))  # fmt: skip


def test_power_is_stated_at_the_interval_lower_bound_beside_the_expected_effect() -> None:
    h = geo_history(n_geos=24, n_days=240)
    cell = design_experiment(h, _go_dark(3.0, 1.0)).cells[0]
    for p in cell.power_curve:
        assert p.conservative_lift == pytest.approx(p.expected_lift / 3.0)
        assert p.power_at_conservative == pytest.approx(
            power_at(p.conservative_lift, p.noise, 0.05)
        )
        assert p.power_at_conservative < p.power_at_expected
    assert "at the lower bound of the analysis's 90% interval of its incremental" in (
        cell.conservative
    )
    # The caller's returns (no curve named): the figures, with the bound's share of the estimate.
    assert "(33% of the estimate; iROAS 1 against 3 expected, average returns (" in (
        cell.conservative
    )
    for p in cell.power_curve:
        assert f"{p.power_at_conservative:.0%} at {p.duration_days} days" in cell.conservative


def _powered_at_expected_only(h) -> tuple[float, float]:
    """An expected return that the shortest duration powers, and a lower bound no duration
    does, on this history (read off its noise, not assumed)."""
    probe = design_experiment(h, _go_dark(1.0, 1.0)).cells[0]
    unit = abs(probe.power_curve[0].expected_lift)  # the lift per unit of ROAS
    shortest, longest = probe.power_curve[0], probe.power_curve[-1]
    roas = 1.5 * shortest.mde_lift / unit
    low = 0.5 * longest.mde_lift / unit
    return roas, low


def test_a_lower_bound_no_duration_powers_is_said_and_the_test_may_come_back_null() -> None:
    h = geo_history(n_geos=24, n_days=240)
    roas, low = _powered_at_expected_only(h)
    d = design_experiment(h, _go_dark(roas, low))
    cell = d.cells[0]
    assert cell.power_curve[0].power_at_expected >= 0.8
    assert all(p.power_at_conservative < 0.8 for p in cell.power_curve)
    # The expected effect alone would pick the shortest duration; the text qualifies it.
    assert cell.recommended_duration_days == cell.power_curve[0].duration_days
    longest = cell.power_curve[-1].duration_days
    assert (f"no duration up to {longest} days reaches 80% power at the interval's lower "
            "bound: the test may come back null; the shortest duration powered at the "
            f"expected effect is {cell.power_curve[0].duration_days} days") in cell.conservative  # fmt: skip
    assert d.warnings[0] == cell.conservative


def test_the_recommended_duration_is_powered_at_the_lower_bound_too() -> None:
    h = geo_history(n_geos=24, n_days=240)
    probe = design_experiment(h, _go_dark(1.0, 1.0)).cells[0]
    unit = abs(probe.power_curve[0].expected_lift)
    roas = 1.5 * probe.power_curve[0].mde_lift / unit
    # A lower bound the longest duration powers but the shortest does not.
    low = 1.05 * probe.power_curve[-1].mde_lift / unit
    assert low * unit < probe.power_curve[0].mde_lift
    cell = design_experiment(h, _go_dark(roas, low)).cells[0]
    both = [p.duration_days for p in cell.power_curve
            if p.power_at_conservative >= 0.8 and p.power_at_expected >= 0.8]  # fmt: skip
    assert both and both[0] > cell.power_curve[0].duration_days
    assert cell.recommended_duration_days == both[0]
    assert cell.feasible
    assert f"{both[0]} days reach 80% power there too" in cell.conservative


def test_an_effect_not_established_is_sized_by_what_the_history_can_detect() -> None:
    h = geo_history(n_geos=24, n_days=240)
    roas, _ = _powered_at_expected_only(h)
    cell = design_experiment(h, _go_dark(roas, 0.0)).cells[0]
    longest = cell.power_curve[-1]
    assert all(p.power_at_conservative == pytest.approx(0.05) for p in cell.power_curve)
    assert cell.recommended_duration_days == longest.duration_days
    assert "has not established an effect of meta" in cell.conservative
    assert "this test is what would establish it" in cell.conservative
    assert (f"{longest.duration_days} days detect a {longest.mde_lift:.1%} change in revenue"
            in cell.conservative)  # fmt: skip
    assert (f"the shortest duration powered at the expected effect is "
            f"{cell.power_curve[0].duration_days} days") in cell.conservative  # fmt: skip


def test_without_an_interval_the_recommendation_is_the_expected_effects() -> None:
    h = geo_history(n_geos=24, n_days=240)
    roas, _ = _powered_at_expected_only(h)
    spec = DesignSpec("meta", cells=(CellSpec(TreatmentKind.GO_DARK, 0.0, roas=roas),))
    cell = design_experiment(h, spec).cells[0]
    assert cell.conservative == ""
    assert all(math.isnan(p.power_at_conservative) for p in cell.power_curve)
    assert cell.recommended_duration_days == cell.power_curve[0].duration_days


def test_each_cell_of_a_multi_cell_design_states_its_own_lower_bound() -> None:
    h = geo_history(n_geos=24, n_days=240)
    cells = (
        CellSpec(TreatmentKind.GO_DARK, 0.0, roas=3.0, roas_low=1.0, level=0.9),
        CellSpec(TreatmentKind.HEAVY_UP, 2.0, roas=2.0, roas_low=0.5, level=0.9),
    )
    d = design_experiment(h, DesignSpec("meta", cells=cells, treatment_share=0.6))
    assert d.warnings[0].startswith("cell 1: meta at the lower bound")
    assert d.warnings[1].startswith("cell 2: meta at the lower bound")
    assert "ROAS 0.5 against 2 expected" in d.warnings[1]
    up = d.cells[1].power_curve[0]
    assert (
        up.conservative_lift == pytest.approx(up.expected_lift / 4.0) and up.conservative_lift > 0
    )


@pytest.mark.parametrize("n_geos", [1, 3])
def test_too_few_geos_are_counted_in_words_and_the_export_that_fixes_it_is_named(
    n_geos: int,
) -> None:
    # R48-F5: "1 geos with outcomes: ... needs at least 4 geos", and no word of what to do.
    with pytest.raises(InsufficientData) as info:
        design_experiment(geo_history(n_geos=n_geos, n_days=120), DesignSpec("meta", lift=0.05))
    text = info.value.message
    assert "1 geos" not in text and "geo(s)" not in text and "cell(s)" not in text
    assert text.startswith(f"{n_geos} geo{'' if n_geos == 1 else 's'} with outcomes: ")
    assert "needs at least 4 geos" in text
    assert "export" in text and "ingest them again" in text
    if n_geos == 1:
        assert "by state or region (a geo column in both)" in text
