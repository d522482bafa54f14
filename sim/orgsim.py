"""One org's run of the data-generating process: demand, plan, design, inputs, outcomes,
potential outcomes and platform delivery, all as dense (geo, day) or (campaign, geo, day) arrays.

Random streams are independent and named, so adding a stream never shifts another::

    np.random.default_rng([seed, STREAM, org_index])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from . import designs
from .channels import CHANNEL_NAMES
from .demand import Demand, simulate_demand
from .designs import Design
from .geo import Geo
from .outcomes import (
    Draws,
    base_lambda,
    channel_index,
    channel_lambda,
    couple,
    draw_media_params,
    draw_outcomes,
)
from .scenarios import Scenario
from .spend import Delivery, Inputs, channel_inputs, deliver, plan_inputs, realise_inputs
from .world import Account, Campaign, Org

STREAM_DEMAND = 11
STREAM_PARAMS = 12
STREAM_PLAN = 13
STREAM_DESIGN = 14
STREAM_OUTCOME = 15  # documented: re-applying the DGP draws from this stream
STREAM_COUNTERFACTUAL = 16
STREAM_DELIVERY = 17


def stream(seed: int, name: int, org_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, name, org_index])


@dataclass(frozen=True, slots=True)
class PotentialOutcomes:
    """Outcomes (G, T) in the factual world and with the design's treatment flipped."""

    orders_fact: np.ndarray
    revenue_fact: np.ndarray
    orders_alt: np.ndarray
    revenue_alt: np.ndarray

    def y1(self, treated: np.ndarray, what: str = "revenue") -> np.ndarray:
        f, a = (
            (self.revenue_fact, self.revenue_alt)
            if what == "revenue"
            else (self.orders_fact, self.orders_alt)
        )
        return np.where(treated, f, a)

    def y0(self, treated: np.ndarray, what: str = "revenue") -> np.ndarray:
        f, a = (
            (self.revenue_fact, self.revenue_alt)
            if what == "revenue"
            else (self.orders_fact, self.orders_alt)
        )
        return np.where(treated, a, f)


@dataclass(frozen=True, slots=True)
class OrgSim:
    org_index: int
    org: Org
    campaigns: list[Campaign]
    accounts: list[Account]
    pop: np.ndarray  # (G,)
    demand: Demand
    media: dict[str, dict[str, Any]]
    aov: float
    inputs: Inputs
    x: np.ndarray  # (7, G, T) channel inputs, factual
    lam_base: np.ndarray
    lam: np.ndarray  # (7, G, T)
    draws: Draws
    delivery: Delivery
    design: Design | None
    potential: PotentialOutcomes | None
    lam_alt: np.ndarray | None  # (G, T) design channel under the flipped regime
    spend_alt: np.ndarray | None  # (C, G, T) account-currency spend under the flipped regime


def _make_design(
    rng: np.random.Generator,
    scenario: Scenario,
    demand: Demand,
    pop: np.ndarray,
    weekdays: np.ndarray,
    n_days: int,
) -> Design:
    ch = scenario.design_channel or "meta_prospecting"
    kind = scenario.design
    if kind == "geo_holdout":
        return designs.geo_holdout(rng, ch, pop, n_days, test_days=min(28, n_days // 3))
    if kind == "staggered":
        return designs.staggered(rng, ch, pop.shape[0], n_days)
    if kind == "synthetic_control":
        return designs.synthetic_control(rng, ch, pop, n_days, post_days=min(56, n_days // 3))
    if kind == "rdd":
        return designs.rdd(rng, ch, demand)
    if kind == "iv":
        return designs.instrument(rng, ch, demand)
    if kind == "observational":
        return designs.observational(rng, ch, demand, pop, weekdays)
    raise ValueError(f"unknown design {kind!r}")


def simulate_org(
    seed: int,
    org_index: int,
    org: Org,
    campaigns: list[Campaign],
    accounts: list[Account],
    geos: tuple[Geo, ...],
    dates: list[date],
    scenario: Scenario,
    with_design: bool,
) -> OrgSim:
    """Run the DGP for one org (see module docstring for the streams)."""
    n_days = len(dates)
    pop = np.array([g.population_m for g in geos])
    weekdays = np.array([d.weekday() for d in dates])
    demand = simulate_demand(
        stream(seed, STREAM_DEMAND, org_index),
        dates,
        len(geos),
        shock_sigma=scenario.shock_sigma,
        shock_rho=scenario.shock_rho,
    )
    prng = stream(seed, STREAM_PARAMS, org_index)
    aov = float(prng.uniform(60.0, 110.0))
    media = draw_media_params(prng, aov, scenario.effect_scale, scenario.no_carryover)
    planned = plan_inputs(
        stream(seed, STREAM_PLAN, org_index),
        campaigns,
        pop,
        demand,
        scenario.confounding,
        org.size,
        weekdays,
    )
    design = None
    if with_design and scenario.design:
        design = _make_design(
            stream(seed, STREAM_DESIGN, org_index), scenario, demand, pop, weekdays, n_days
        )
    fx = {a.account_id: a.fx_to_org for a in accounts}
    if design is not None:
        in_design = np.array([c.channel == design.channel for c in campaigns])
        fact = np.where(in_design[:, None, None], planned * design.mult_fact[None], planned)
        alt = np.where(in_design[:, None, None], planned * design.mult_alt[None], planned)
        inputs = realise_inputs(fact, campaigns, fx)
        inputs_alt = realise_inputs(alt, campaigns, fx)
    else:
        inputs = realise_inputs(planned, campaigns, fx)
        inputs_alt = None
    x = channel_inputs(inputs)
    lam_base = base_lambda(demand.base_rate, pop, demand.affinity, demand.log_index)
    lam = np.stack(
        [
            channel_lambda(x[c], pop, demand.log_index, media[name])
            for c, name in enumerate(CHANNEL_NAMES)
        ]
    )
    draws = draw_outcomes(stream(seed, STREAM_OUTCOME, org_index), lam_base, lam, aov)
    potential = lam_alt = spend_alt = None
    if design is not None and inputs_alt is not None:
        ci = channel_index(design.channel)
        x_alt = channel_inputs(inputs_alt)[ci]
        lam_alt = channel_lambda(x_alt, pop, demand.log_index, media[design.channel])
        n_alt, rev_alt = couple(
            stream(seed, STREAM_COUNTERFACTUAL, org_index),
            draws.channel_orders[ci],
            draws.channel_revenue[ci],
            lam[ci],
            lam_alt,
            aov,
        )
        exact = draws.revenue_exact
        potential = PotentialOutcomes(
            draws.orders,
            np.round(exact, 2),
            draws.orders - draws.channel_orders[ci] + n_alt,
            np.round(exact - draws.channel_revenue[ci] + rev_alt, 2),
        )
        spend_alt = inputs_alt.spend
    cpm_index = {}
    if design is not None and design.cpm_index is not None:
        cpm_index[channel_index(design.channel)] = design.cpm_index
    delivery = deliver(
        stream(seed, STREAM_DELIVERY, org_index),
        inputs,
        campaigns,
        lam_base,
        lam,
        x,
        pop,
        demand.yearly,
        aov,
        cpm_index,
    )
    return OrgSim(
        org_index,
        org,
        campaigns,
        accounts,
        pop,
        demand,
        media,
        aov,
        inputs,
        x,
        lam_base,
        lam,
        draws,
        delivery,
        design,
        potential,
        lam_alt,
        spend_alt,
    )
