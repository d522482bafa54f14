"""Named scenarios: each is a frozen set of knobs for the one data-generating process.

World scenarios (``demo``, ``confounded``, ``large``) exercise the whole pipeline; study scenarios
embed one identification design whose true effect :func:`sim.study_table` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from .errors import SimError


@dataclass(frozen=True, slots=True)
class Scenario:
    """All knobs of one simulated world.

    ``confounding`` is the elasticity of budgets to the demand index the marketers see: spend is
    multiplied by ``demand_index ** confounding`` (0 = budgets ignore demand; geo size still
    drives both, as in any real account). ``effect_scale`` multiplies a channel's true response
    (0 = a null channel that platforms still claim conversions for).
    """

    name: str
    description: str
    days: int = 180
    start: date = date(2024, 7, 1)
    n_orgs: int = 1
    n_geos: int = 30
    n_campaigns: int = 14  # per org, spread over the seven channels
    confounding: float = 0.8
    effect_scale: dict[str, float] = field(default_factory=dict)
    no_carryover: tuple[str, ...] = ()  # channels whose adstock is switched off (unit-day designs)
    design: str | None = (
        None  # geo_holdout | staggered | rdd | iv | synthetic_control | observational
    )
    design_channel: str | None = None
    dirt_rate: float = 0.002  # share of rows per source given each applicable dirt kind
    min_dirt_per_kind: int = 0
    shock_sigma: float = 0.06  # sd of the geo-day demand shock (log scale)
    shock_rho: float = 0.7  # its AR(1) persistence
    products: int = 0  # product categories of the product layer (sim.products); 0 = off
    product_orders_per_day: float = 600.0  # store orders per day at demand index 0

    def with_overrides(self, **kw: Any) -> Scenario:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_STUDY: dict[str, Any] = dict(n_geos=50, n_campaigns=7, dirt_rate=0.0, min_dirt_per_kind=0)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "demo",
            "one org, 120 days, 20 states, every dirt kind, a Meta prospecting geo holdout",
            days=120,
            start=date(2024, 9, 15),
            n_geos=20,
            n_campaigns=14,
            dirt_rate=0.003,
            min_dirt_per_kind=2,
            design="geo_holdout",
            design_channel="meta_prospecting",
        ),
        Scenario(
            "confounded",
            "budgets chase demand hard (elasticity 2): naive spend-revenue regressions are biased",
            days=365,
            start=date(2023, 7, 1),
            n_geos=40,
            n_campaigns=21,
            confounding=2.0,
            dirt_rate=0.0005,
        ),
        Scenario(
            "large",
            "two years, 200 campaigns, 50 states: the generation benchmark's world",
            days=730,
            start=date(2023, 1, 1),
            n_geos=50,
            n_campaigns=200,
            dirt_rate=0.0002,
            min_dirt_per_kind=1,
        ),
        Scenario(
            "products",
            "a year of a store's products: catalogue campaigns with planted halo and "
            "cannibalisation, Shopify orders with refunds, product-level platform reports",
            days=365,
            start=date(2023, 7, 1),
            n_geos=20,
            n_campaigns=14,
            dirt_rate=0.0005,
            products=5,
        ),
        Scenario(
            "geo_experiment",
            "randomised geo holdout of Meta prospecting for the last 28 days",
            days=120,
            design="geo_holdout",
            design_channel="meta_prospecting",
            **_STUDY,
        ),
        Scenario(
            "null",
            "geo holdout of a channel with no true effect (platform still claims conversions)",
            days=120,
            design="geo_holdout",
            design_channel="meta_prospecting",
            effect_scale={"meta_prospecting": 0.0},
            **_STUDY,
        ),
        Scenario(
            "small_effect",
            "geo holdout of a channel with a small true effect (15% of the default)",
            days=120,
            design="geo_holdout",
            design_channel="meta_prospecting",
            effect_scale={"meta_prospecting": 0.15},
            **_STUDY,
        ),
        Scenario(
            "staggered",
            "TikTok rolled out to states in three cohorts with effects growing in time since launch",
            days=196,
            design="staggered",
            design_channel="tiktok",
            **_STUDY,
        ),
        Scenario(
            "rdd",
            "a bidding rule quadruples search budgets on state-days whose demand forecast >= cutoff",
            days=120,
            design="rdd",
            design_channel="google_search",
            no_carryover=("google_search",),
            **_STUDY,
        ),
        Scenario(
            "instrument",
            "auction-price shocks make a CPM-cap rule pause Meta prospecting (IV for running it)",
            days=120,
            design="iv",
            design_channel="meta_prospecting",
            no_carryover=("meta_prospecting",),
            confounding=1.5,
            **_STUDY,
        ),
        Scenario(
            "synthetic_control",
            "one state alone launches TikTok; every other state never has it",
            days=196,
            design="synthetic_control",
            design_channel="tiktok",
            **_STUDY,
        ),
        Scenario(
            "observational",
            "Meta prospecting budget doublings chosen on observed covariates only",
            days=120,
            design="observational",
            design_channel="meta_prospecting",
            no_carryover=("meta_prospecting",),
            **_STUDY,
        ),
    )
}

STUDY_SCENARIOS: tuple[str, ...] = tuple(n for n, s in SCENARIOS.items() if s.design)


def get_scenario(name: str) -> Scenario:
    """The named scenario, or :class:`SimError` naming the known ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise SimError(f"unknown scenario {name!r}; known: {known}", field="scenario") from None
