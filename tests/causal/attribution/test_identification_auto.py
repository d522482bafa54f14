"""AUTO identification (R4-F11), in process: GEO where the data show budgets not chasing demand
and geos flighted independently; NATIONAL on the simulator's nationally paced worlds, and on a
world whose chase the budget-response detector misses; the reason names the deciding figures."""

from __future__ import annotations

import dataclasses

import pytest

from bench.confounder_detection import campaign_geo_sums, simulated_sums
from causal_svc.attribution import (
    Identification,
    IdentificationChoice,
    ModelSpec,
    analyze,
    choose_identification,
)
from causal_svc.attribution.identification_choice import (
    AUTO_MAX_BUDGET_RESPONSE,
    AUTO_MIN_CROSS_GEO_SHARE,
    cross_geo_shares,
)
from causal_svc.confounders_retro import budget_response_finding

from .flighted import Flighted, flighted, panel, sums
from .world import World, world


@pytest.fixture(scope="module")
def fl() -> Flighted:
    return flighted()


def _sim_choice(w: World) -> IdentificationChoice:
    geo_days, campaign_days = simulated_sums(w.result)
    _, share = budget_response_finding(geo_days, campaign_days, campaign_geo_sums(w.result))
    return choose_identification(w.panel, share)


def _flighted_choice(fl: Flighted) -> IdentificationChoice:
    _, share = budget_response_finding(*sums(fl), None)
    return choose_identification(panel(fl), share)


def test_independent_unchased_flights_pick_geo_and_say_why(fl: Flighted) -> None:
    choice = _flighted_choice(fl)
    assert choice.identification is Identification.GEO
    assert choice.budget_response is not None and choice.budget_response < AUTO_MAX_BUDGET_RESPONSE
    assert set(choice.per_channel) == set(fl.truth)
    assert min(choice.per_channel.values()) > AUTO_MIN_CROSS_GEO_SHARE
    # the reason: the choice and both figures, as numbers
    assert choice.reason.startswith("chosen automatically: GEO")
    assert f"{choice.budget_response:.1%} of geo-days" in choice.reason
    assert f"{choice.cross_geo_share:.0%} of spend variance is cross-geo" in choice.reason


def test_the_simulators_paced_demo_world_picks_national() -> None:
    w = world("demo", 0)
    choice = _sim_choice(w)
    assert choice.identification is Identification.NATIONAL
    # both figures say so: budgets chase demand on a few % of geo-days, pacing is national
    assert choice.budget_response is not None and choice.budget_response > 0.02
    assert choice.cross_geo_share < 0.4
    assert choice.reason.startswith("chosen automatically: NATIONAL")
    assert "not below 0.5%" in choice.reason and "below 80%" in choice.reason


def test_a_missed_chase_is_caught_by_the_spread_figure() -> None:
    """``null`` seed 7: budgets chase demand (confounding 0.8) but the detector flags almost
    no geo-day; GEO reads the no-effect channel at 0.54 [0.31, 0.77] there (measured). The
    nationally paced spend keeps AUTO on NATIONAL."""
    choice = _sim_choice(world("null", 7))
    assert choice.budget_response is not None and choice.budget_response < AUTO_MAX_BUDGET_RESPONSE
    assert choice.cross_geo_share < AUTO_MIN_CROSS_GEO_SHARE
    assert choice.identification is Identification.NATIONAL
    assert "below 80%" in choice.reason


def test_an_unassessed_window_or_few_geos_stay_national(fl: Flighted) -> None:
    p = panel(fl)
    unassessed = choose_identification(p, None)
    assert unassessed.identification is Identification.NATIONAL
    assert "budget response not assessed" in unassessed.reason
    few = dataclasses.replace(
        p, geos=p.geos[:3], outcome=p.outcome[:3], media=p.media[:, :3], spend=p.spend[:, :3],
        population=p.population[:3],
    )  # fmt: skip
    three = choose_identification(few, 0.0)
    assert three.identification is Identification.NATIONAL
    assert "3 geos (GEO from 5)" in three.reason


def test_the_cross_geo_share_reads_the_geos_own_moves(fl: Flighted) -> None:
    """Independent flights: about 1 - 1/12; the same spend with one national flight for
    every geo (each geo's series its share of the national one): about 0."""
    p = panel(fl)
    assert min(cross_geo_shares(p).values()) > 0.85
    national = p.spend.sum(axis=1, keepdims=True) * (p.population / p.population.sum())[:, None]
    common = dataclasses.replace(p, spend=national, media=national)
    assert max(cross_geo_shares(common).values()) < 0.01


def test_analyze_with_the_choice_fits_geo_and_reports_the_reason(fl: Flighted) -> None:
    p = panel(fl)
    choice = _flighted_choice(fl)
    auto = analyze(p, ModelSpec(), choice=choice)
    geo = analyze(p, ModelSpec(identification=Identification.GEO))
    assert auto.identification == f"{Identification.GEO.text}; {choice.reason}"
    assert [c.iroas.estimate for c in auto.channels if c.iroas] == pytest.approx(
        [c.iroas.estimate for c in geo.channels if c.iroas], rel=1e-9, abs=1e-12
    )
    # GEO holds the truth here (the audit's world read social at 5x under NATIONAL)
    held = [c.channel for c in auto.channels
            if c.iroas and c.iroas.lower <= fl.truth[c.channel] <= c.iroas.upper]  # fmt: skip
    assert len(held) >= 3
