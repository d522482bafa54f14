"""Method AUTO: each data shape maps to the expected method, with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.default_graph import CALENDAR_CONFOUNDERS, default_marketing_graph
from causal_svc.errors import InvalidSpec, NotIdentifiable
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.graph import CausalGraph, Node, analyze_graph
from causal_svc.identification import (
    FEW_TREATED_UNITS,
    FEW_UNITS,
    MIN_SC_DONORS,
    MIN_SC_PRE_PERIODS,
    MIN_SDID_PRE_PERIODS,
    Strategy,
    choose_strategy,
)

RNG = np.random.default_rng(7)
ADJUST = (*CALENDAR_CONFOUNDERS, "demand_index")


def cross_section(
    n: int = 200, *, binary: bool = True, extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    cols = {c: RNG.normal(size=n) for c in (*ADJUST, "cost_shock", "impressions", *extra)}
    spend = RNG.integers(0, 2, n) if binary else RNG.gamma(2.0, size=n)
    return pd.DataFrame({"spend": spend, "revenue": RNG.normal(size=n), **cols})


def panel(starts: dict[int, int | None], n_periods: int) -> pd.DataFrame:
    rows = []
    for unit, start in starts.items():
        for t in range(n_periods):
            treated = int(start is not None and t >= start)
            rows.append({"geo": unit, "week": t, "treated": treated, "sales": RNG.normal()})
    return pd.DataFrame(rows)


def assert_explained(s: Strategy) -> None:
    assert s.reason and not s.reason[0].islower() and s.reason.endswith(".")
    assert s.assumptions


PANEL_SPEC = EffectSpec(outcome="sales", treatment="treated", unit="geo", time="week")


def test_randomised_cross_section_is_difference_in_means() -> None:
    frame = cross_section()
    spec = EffectSpec(outcome="revenue", treatment="spend", covariates=("seasonality",))
    s = choose_strategy(frame, spec, randomised=True)
    assert s.method is Method.DIFFERENCE_IN_MEANS
    assert "randomly assigned" in s.reason
    assert s.alternatives == (Method.AIPW,)
    assert_explained(s)
    continuous = choose_strategy(cross_section(binary=False), spec, randomised=True)
    assert continuous.method is Method.NAIVE_REGRESSION


def test_graph_with_only_experiment_parent_counts_as_randomised() -> None:
    removals = [(p, "spend") for p in (*CALENDAR_CONFOUNDERS, "demand", "cost_shock")]
    g = default_marketing_graph().with_edits(remove_edges=removals)
    s = choose_strategy(
        cross_section(), EffectSpec("revenue", "spend"), analyze_graph(g, "spend", "revenue")
    )
    assert s.method is Method.DIFFERENCE_IN_MEANS


def test_running_variable_and_cutoff_is_rdd() -> None:
    frame = cross_section().assign(score=RNG.normal(size=200))
    s = choose_strategy(frame, EffectSpec("revenue", "spend", running_variable="score", cutoff=0.0))
    assert s.method is Method.RDD
    assert "cutoff 0" in s.reason
    assert_explained(s)
    with pytest.raises(InvalidSpec) as err:
        choose_strategy(frame, EffectSpec("revenue", "spend", running_variable="score"))
    assert err.value.field == "roles.cutoff"


def test_large_panel_with_treated_group_is_did() -> None:
    starts = {u: (6 if u < 10 else None) for u in range(FEW_UNITS)}
    s = choose_strategy(panel(starts, 10), PANEL_SPEC)
    assert s.method is Method.DID
    assert f"10 units treated together against {FEW_UNITS - 10} untreated units" in s.reason
    assert s.alternatives == (Method.EVENT_STUDY, Method.SDID)
    assert_explained(s)


def test_few_units_or_few_treated_is_synthetic_did() -> None:
    starts = {u: (6 if u < 5 else None) for u in range(12)}
    s = choose_strategy(panel(starts, 10), PANEL_SPEC)
    assert s.method is Method.SDID
    assert "5 units treated together against 7 untreated units, 6 pre-periods" in s.reason
    assert s.alternatives == (Method.DID, Method.EVENT_STUDY)
    assert_explained(s)
    few_treated = {u: (6 if u < FEW_TREATED_UNITS - 1 else None) for u in range(2 * FEW_UNITS)}
    assert choose_strategy(panel(few_treated, 10), PANEL_SPEC).method is Method.SDID
    # too few pre-periods to weight: DiD
    short = {u: (MIN_SDID_PRE_PERIODS - 1 if u < 5 else None) for u in range(12)}
    assert choose_strategy(panel(short, 10), PANEL_SPEC).method is Method.DID


def test_randomised_panel_compares_unit_means_adjusted_by_the_pre_period() -> None:
    starts = {u: (6 if u < 5 else None) for u in range(12)}
    s = choose_strategy(panel(starts, 10), PANEL_SPEC, randomised=True)
    assert s.method is Method.DIFFERENCE_IN_MEANS
    assert "CUPED/ANCOVA" in s.reason
    assert s.alternatives == (Method.SDID, Method.DID)


def test_staggered_adoption_is_staggered_did() -> None:
    starts = {0: 3, 1: 3, 2: 5, 3: 7, 4: None, 5: None}
    s = choose_strategy(panel(starts, 10), PANEL_SPEC)
    assert s.method is Method.STAGGERED_DID
    assert "3 different times" in s.reason
    # no never-treated units: not-yet-treated cohorts still compare
    s2 = choose_strategy(panel({0: 3, 1: 5, 2: 7}, 10), PANEL_SPEC)
    assert s2.method is Method.STAGGERED_DID and "not-yet-treated" in s2.reason


def test_one_treated_unit_with_donors_is_synthetic_control() -> None:
    # 19 donors: the placebo p-value can reach 1/20 = alpha (fewer: see the SDID test below)
    starts = {u: (MIN_SC_PRE_PERIODS if u == 0 else None) for u in range(20)}
    s = choose_strategy(panel(starts, MIN_SC_PRE_PERIODS + 5), PANEL_SPEC)
    assert s.method is Method.SYNTHETIC_CONTROL
    assert "19 untreated donors" in s.reason
    assert s.alternatives == (Method.DID,)
    few = {u: (MIN_SC_PRE_PERIODS if u == 0 else None) for u in range(MIN_SC_DONORS + 3)}
    s = choose_strategy(panel(few, MIN_SC_PRE_PERIODS + 5), PANEL_SPEC)
    assert s.method is Method.SDID and "cannot fall below 0.125" in s.reason


def test_one_treated_unit_with_few_donors_falls_back_to_did_with_a_warning() -> None:
    s = choose_strategy(panel({0: 12, 1: None, 2: None}, 15), PANEL_SPEC)
    assert s.method is Method.DID
    assert any("synthetic control needs" in w for w in s.warnings)


def test_panel_without_pre_period_or_controls_is_not_identifiable() -> None:
    with pytest.raises(NotIdentifiable, match="no pre-treatment period"):
        choose_strategy(panel({0: 0, 1: 0, 2: None}, 5), PANEL_SPEC)
    with pytest.raises(NotIdentifiable, match="no untreated comparison"):
        choose_strategy(panel({0: 3, 1: 3}, 6), PANEL_SPEC)
    with pytest.raises(NotIdentifiable, match="no unit is ever treated"):
        choose_strategy(panel({0: None, 1: None}, 6), PANEL_SPEC)


def test_switching_treatment_warns_about_absorbing_assumption() -> None:
    frame = panel({u: (4 if u < 3 else None) for u in range(8)}, 10)
    frame.loc[(frame["geo"] == 0) & (frame["week"] == 8), "treated"] = 0
    s = choose_strategy(frame, PANEL_SPEC)
    assert any("switches off again for units [0]" in w for w in s.warnings)


def test_single_series_with_controls_is_bsts() -> None:
    n = 60
    frame = pd.DataFrame(
        {
            "day": np.arange(n),
            "post": (np.arange(n) >= 45).astype(int),
            "sales": RNG.normal(size=n),
            "control_a": RNG.normal(size=n),
            "control_b": RNG.normal(size=n),
        }
    )
    spec = EffectSpec("sales", "post", time="day", covariates=("control_a", "control_b"))
    s = choose_strategy(frame, spec)
    assert s.method is Method.BSTS
    assert "2 control series and 45 pre-periods" in s.reason
    with pytest.raises(NotIdentifiable, match="no control series"):
        choose_strategy(frame, EffectSpec("sales", "post", time="day"))


def test_given_instruments_are_iv() -> None:
    s = choose_strategy(
        cross_section(), EffectSpec("revenue", "spend", instruments=("cost_shock",))
    )
    assert s.method is Method.IV
    assert s.instruments == ("cost_shock",)
    assert_explained(s)


def test_given_instrument_the_graph_rejects_is_flagged() -> None:
    g = default_marketing_graph()
    a = analyze_graph(g, "spend", "revenue")
    spec = EffectSpec("revenue", "spend", instruments=("impressions",))
    s = choose_strategy(cross_section(), spec, a)
    assert s.method is Method.IV
    assert any("does not support ['impressions']" in w for w in s.warnings)
    assert s.alternatives == (Method.AIPW,)


def test_graph_backdoor_set_gives_aipw_with_that_set() -> None:
    frame = cross_section()
    a = analyze_graph(
        default_marketing_graph(), "spend", "revenue", available_columns=frame.columns
    )
    spec = EffectSpec("revenue", "spend", covariates=("impressions",))
    s = choose_strategy(frame, spec, a)
    assert s.method is Method.AIPW
    assert set(s.adjustment_set) == set(ADJUST)
    assert "per the causal graph" in s.reason
    assert any("['impressions'] lie on the causal path" in w for w in s.warnings)
    assert Method.IV in s.alternatives  # the graph found cost_shock
    assert set(s.apply(spec).covariates) == set(ADJUST)
    assert_explained(s)


def test_backdoor_method_depends_on_treatment_and_covariate_count() -> None:
    a = analyze_graph(default_marketing_graph(), "spend", "revenue")
    continuous = choose_strategy(cross_section(binary=False), EffectSpec("revenue", "spend"), a)
    assert continuous.method is Method.DML
    assert Method.AIPW not in continuous.alternatives
    matching = choose_strategy(
        cross_section(), EffectSpec("revenue", "spend"), a, backdoor=Method.MATCHING
    )
    assert matching.method is Method.MATCHING and "as requested" in matching.reason
    with pytest.raises(InvalidSpec, match="needs a 0/1 treatment"):
        choose_strategy(
            cross_section(binary=False), EffectSpec("revenue", "spend"), a, backdoor=Method.IPW
        )
    with pytest.raises(InvalidSpec, match="not a backdoor"):
        choose_strategy(cross_section(), EffectSpec("revenue", "spend"), a, backdoor=Method.DID)
    many = tuple(f"x{i}" for i in range(12))
    s = choose_strategy(cross_section(extra=many), EffectSpec("revenue", "spend", covariates=many))
    assert s.method is Method.DML and "no causal graph was given" in s.reason


def test_no_backdoor_path_is_a_plain_comparison() -> None:
    g = default_marketing_graph().with_edits(
        remove_edges=[(p, "spend") for p in (*CALENDAR_CONFOUNDERS, "demand")]
    )
    a = analyze_graph(g, "spend", "revenue")
    assert a.minimal_adjustment_set == ()
    # the optimal set keeps the outcome's other causes: not needed, but they cut variance
    s = choose_strategy(cross_section(), EffectSpec("revenue", "spend"), a)
    assert s.method is Method.AIPW
    assert set(s.adjustment_set) == set(ADJUST)
    assert "no backdoor path" in s.reason and "for precision" in s.reason
    bare = CausalGraph((Node("spend"), Node("revenue")), (("spend", "revenue"),))
    plain = choose_strategy(
        cross_section(), EffectSpec("revenue", "spend"), analyze_graph(bare, "spend", "revenue")
    )
    assert plain.method is Method.DIFFERENCE_IN_MEANS
    assert plain.adjustment_set == ()


def test_hidden_confounder_with_instrument_column_is_iv() -> None:
    frame = cross_section().drop(columns=["demand_index"])
    a = analyze_graph(
        default_marketing_graph(), "spend", "revenue", available_columns=frame.columns
    )
    s = choose_strategy(frame, EffectSpec("revenue", "spend"), a)
    assert s.method is Method.IV
    assert s.instruments == ("cost_shock",)
    assert "spend ← demand → revenue" in s.reason


def test_hidden_confounder_without_instrument_is_not_identifiable() -> None:
    frame = cross_section().drop(columns=["demand_index", "cost_shock"])
    a = analyze_graph(
        default_marketing_graph(), "spend", "revenue", available_columns=frame.columns
    )
    with pytest.raises(NotIdentifiable) as err:
        choose_strategy(frame, EffectSpec("revenue", "spend"), a)
    assert "unobserved demand (spend ← demand → revenue)" in err.value.message
    assert "frontdoor" in err.value.message
    assert err.value.subject == "spend → revenue"


def test_graph_analysed_without_the_data_columns_is_caught() -> None:
    frame = cross_section().drop(columns=["demand_index"])
    a = analyze_graph(default_marketing_graph(), "spend", "revenue")
    with pytest.raises(NotIdentifiable, match="'demand_index'"):
        choose_strategy(frame, EffectSpec("revenue", "spend"), a)


def test_nothing_to_go_on_is_not_identifiable() -> None:
    with pytest.raises(NotIdentifiable, match="merely share causes"):
        choose_strategy(cross_section(), EffectSpec("revenue", "spend"))


def test_missing_column_is_invalid_spec() -> None:
    with pytest.raises(InvalidSpec) as err:
        choose_strategy(cross_section(), EffectSpec("revenue", "tv_spend"))
    assert err.value.field == "roles.treatment"


def test_auto_prefers_sdid_when_synthetic_controls_placebo_test_cannot_reach_alpha() -> None:
    """Audit M14: one treated unit, 14 donors: SC's smallest placebo p is 1/15 > 0.05, so its
    interval is [-inf, inf] whatever the data; SDID can test the effect."""
    from tests.causal.estimators.test_synthetic_control import _factor_panel

    frame = _factor_panel(seed=3, effect=3.0, n_donors=14)
    spec = EffectSpec(outcome="sales", treatment="treated", unit="geo", time="week")
    assert choose_strategy(frame, spec).method is Method.SDID
    assert choose_strategy(frame, spec, alpha=0.1).method is Method.SYNTHETIC_CONTROL  # 1/15 <= 0.1
    assert choose_strategy(_factor_panel(seed=3, effect=3.0, n_donors=19), spec).method is (
        Method.SYNTHETIC_CONTROL
    )
